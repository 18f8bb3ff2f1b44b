/** This package's version, read from its package.json (works from source and from dist/). */
import * as fs from 'node:fs';
import * as path from 'node:path';

let cached: string | undefined;

/** The `version` field of the rexxjs-address-virt package.json above this file. */
export function packageVersion(): string {
  if (cached) return cached;
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (!fs.existsSync(file)) continue;
    const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === 'rexxjs-address-virt') return (cached = pkg.version ?? '0.0.0');
  }
  return (cached = '0.0.0');
}
