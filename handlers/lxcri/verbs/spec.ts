/**
 * `spec`: write a runtime-spec config.json into a bundle with `<runtime> spec
 * --bundle DIR`, then set process.args/env/cwd/terminal (terminal=false by default,
 * so detached runs work without a console socket).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { alreadyExists, notFound } from '../../../shared/errors';
import { envPair, guestPath } from '../../../shared/names';
import { ociContainerId } from '../names';
import { requireUnsafeAllowed } from '../../../shared/policy';
import { defineVerb } from '../../../shared/verb';
import { BUNDLE, RUNTIME } from '../params';
import { pickRuntime } from '../runtime';
import { rtRun } from '../tool';

/** Patch process.* of a runtime-spec config object (pure, unit-tested). */
export function patchProcess(
  config: Record<string, unknown>,
  o: { args?: string[]; env?: string[]; cwd?: string; terminal?: boolean; hostname?: string; readonly?: boolean },
): Record<string, unknown> {
  const proc = { ...((config.process as Record<string, unknown>) ?? {}) };
  if (o.args?.length) proc.args = o.args;
  if (o.env?.length) {
    const keep = ((proc.env as string[]) ?? []).filter((e) => !o.env!.some((n) => n.split('=')[0] === e.split('=')[0]));
    proc.env = [...keep, ...o.env];
  }
  if (o.cwd) proc.cwd = o.cwd;
  if (o.terminal !== undefined) proc.terminal = o.terminal;
  const out: Record<string, unknown> = { ...config, process: proc };
  if (o.hostname) out.hostname = o.hostname;
  if (o.readonly !== undefined) out.root = { ...((config.root as object) ?? { path: 'rootfs' }), readonly: o.readonly };
  return out;
}

/** True when `file` is JSON with an `ociVersion`: a runtime config that spec force=true may replace. */
function isOciConfig(file: string): boolean {
  try {
    return typeof (JSON.parse(fs.readFileSync(file, 'utf8')) as { ociVersion?: unknown }).ociVersion === 'string';
  } catch {
    return false;
  }
}

export const spec = defineVerb({
  name: 'spec',
  summary: 'write config.json into a bundle (runtime spec), with args, env, cwd, terminal=false; force=true replaces an existing one',
  params: {
    ...BUNDLE,
    arg: { type: 'list', free: true, doc: 'the process argv, one word each (repeat: arg=sleep arg=1000)' },
    env: { type: 'list', rule: envPair, doc: 'environment NAME=value (repeat)' },
    cwd: { type: 'string', rule: guestPath, doc: 'working directory in the container' },
    terminal: { type: 'bool', default: false, doc: 'allocate a terminal (needs a console socket; keep false for run -d)' },
    hostname: { type: 'string', rule: ociContainerId, doc: 'hostname in the container' },
    readonly: { type: 'bool', doc: 'mount the rootfs read-only' },
    force: { type: 'bool', default: false, doc: 'replace an existing config.json' },
    ...RUNTIME,
  },
  positional: ['bundle'],
  examples: ['spec bundle=/srv/oci/web arg=sleep arg=1000 env=MODE=test'],
  vars: { CONFIG: 'the config.json written' },
  async run(p, ctx) {
    const file = path.join(p.bundle, 'config.json');
    if (!ctx.dryrun) {
      if (!fs.existsSync(p.bundle)) throw notFound(`bundle directory ${p.bundle} does not exist`);
      if (fs.existsSync(file)) {
        if (!p.force) throw alreadyExists(`${file} exists (force=true replaces it)`);
        if (!isOciConfig(file)) requireUnsafeAllowed(ctx, `spec force=true over ${file}`, 'that file is not an OCI runtime config (no ociVersion), so it belongs to something else on the host');
        fs.rmSync(file);
      }
    }
    const rt = await pickRuntime(ctx, p.runtime);
    await rtRun(ctx, rt, ['spec', '--bundle', p.bundle]);
    if (!ctx.dryrun) {
      const c = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
      const patched = patchProcess(c, { args: p.arg, env: p.env, cwd: p.cwd, terminal: p.terminal, hostname: p.hostname, readonly: p.readonly });
      fs.writeFileSync(file, `${JSON.stringify(patched, null, 2)}\n`);
    }
    return { result: file, vars: { CONFIG: file } };
  },
});
