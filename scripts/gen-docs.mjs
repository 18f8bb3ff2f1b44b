// Rewrites the generated blocks of README.md from the verb tables (needs `npm run build`).
// `--check` only reports whether README.md is up to date (exit 1 when stale).
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { TABLES } = require(join(root, 'dist', 'handlers', 'index.js'));
const { renderReadme } = require(join(root, 'dist', 'shared', 'readme.js'));
const file = join(root, 'README.md');
const before = readFileSync(file, 'utf8');
const after = renderReadme(before, TABLES, root);
if (process.argv.includes('--check')) {
  if (before !== after) { console.error('README.md is stale: run npm run docs'); process.exit(1); }
  console.log('README.md is up to date');
} else if (before !== after) {
  writeFileSync(file, after);
  console.log('README.md updated');
} else console.log('README.md already up to date');
