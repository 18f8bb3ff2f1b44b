/**
 * `spec`: write a runtime-spec config.json into a bundle with `<runtime> spec
 * --bundle DIR`, then set process.args/env/cwd/terminal (terminal=false by default,
 * so detached runs work without a console socket; bundle-config.ts).
 */
import { alreadyExists, notFound, toolFailed } from '../../../shared/errors';
import { envPair, guestPath } from '../../../shared/names';
import { ociContainerId } from '../names';
import { requireUnsafeAllowed } from '../../../shared/policy';
import { defineVerb } from '../../../shared/verb';
import { configFile, isOciConfig, patchConfig } from '../bundle-config';
import { BUNDLE, RUNTIME } from '../params';
import { pickRuntime } from '../runtime';
import { rtRun } from '../tool';

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
    const file = configFile(p.bundle);
    if (!ctx.fs.exists(p.bundle)) throw notFound(`bundle directory ${p.bundle} does not exist`);
    if (ctx.fs.exists(file)) {
      if (!p.force) throw alreadyExists(`${file} exists (force=true replaces it)`);
      if (!isOciConfig(ctx, file)) requireUnsafeAllowed(ctx, `spec force=true over ${file}`, 'that file is not an OCI runtime config (no ociVersion), so it belongs to something else on the host');
      // rm of one file: a folder named config.json is not removed with everything in it.
      if (ctx.fs.lstat(file)?.isDirectory()) throw toolFailed(`${file} is a directory, not a file spec can replace`);
      ctx.fs.remove(file);
    }
    const rt = await pickRuntime(ctx, p.runtime);
    await rtRun(ctx, rt, ['spec', '--bundle', p.bundle]);
    // The file `spec` just wrote (under dryrun it was not written).
    await ctx.effect(() => void patchConfig(ctx, p.bundle, { args: p.arg, env: p.env, cwd: p.cwd, terminal: p.terminal, hostname: p.hostname, readonly: p.readonly }), undefined);
    return { result: file, vars: { CONFIG: file } };
  },
});
