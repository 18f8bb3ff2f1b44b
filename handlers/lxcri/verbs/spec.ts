/**
 * `spec`: write a runtime-spec config.json into a bundle. The runtime's own template
 * (`<runtime> spec --bundle TMP`, in a fresh folder inside the bundle) is patched —
 * process args/env/cwd/terminal/user/capabilities, hostname, read-only rootfs, bind
 * mounts, resource limits, network namespace (bundle-config.ts, limits.ts) — then
 * checked against the OCI runtime-spec JSON schema (oci-schema.ts; RC 2 naming the
 * failing path) and against the bundle policy (bundle-policy.ts: a bind mount, the
 * host's network or a capability beyond Docker's defaults is RC 7 unless
 * REXX_LXCRI_ALLOW_UNSAFE=1), and only then written, atomically, as BUNDLE/config.json.
 * A refused call leaves the bundle as it was.
 */
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { alreadyExists, notFound, toolFailed, usageError } from '../../../shared/errors';
import { envPair, guestPath } from '../../../shared/names';
import { requireUnsafeAllowed } from '../../../shared/policy';
import { defineVerb } from '../../../shared/verb';
import { configFile, isOciConfig, patchProcess, readConfig, writeConfig } from '../bundle-config';
import { unsafeSettings } from '../bundle-policy';
import { LIMIT_PARAMS, readLimits } from '../limits';
import { bindMountSpec, capabilityName, ociContainerId, uidGid } from '../names';
import { OCI_SCHEMA_VERSION, ociConfigProblem } from '../oci-schema';
import { BUNDLE, RUNTIME } from '../params';
import { pickRuntime } from '../runtime';
import { rtRun } from '../tool';

export const spec = defineVerb({
  name: 'spec',
  summary: 'write config.json into a bundle (runtime spec), with args, env, cwd, terminal=false, user, bind mounts, limits, network, capabilities; checked against the OCI runtime-spec schema before it is written; force=true replaces an existing one',
  params: {
    ...BUNDLE,
    arg: { type: 'list', free: true, doc: 'the process argv, one word each (repeat: arg=sleep arg=1000)' },
    env: { type: 'list', rule: envPair, doc: 'environment NAME=value (repeat)' },
    cwd: { type: 'string', rule: guestPath, doc: 'working directory in the container' },
    terminal: { type: 'bool', default: false, doc: 'allocate a terminal (needs a console socket; keep false for run -d)' },
    hostname: { type: 'string', rule: ociContainerId, doc: 'hostname in the container' },
    readonly: { type: 'bool', doc: 'mount the rootfs read-only' },
    mount: { type: 'list', rule: bindMountSpec, doc: 'bind mount SRC:DST[:ro|rw] (repeat): SRC an existing host path, DST a path in the container; RC 7 unless REXX_LXCRI_ALLOW_UNSAFE=1' },
    ...LIMIT_PARAMS,
    user: { type: 'string', rule: uidGid, doc: 'UID:GID the process runs as (numbers)' },
    network: { type: 'enum', values: ['none', 'host'], doc: "none: a network namespace of its own (only lo; runc's default); host: the host's network (RC 7 unless REXX_LXCRI_ALLOW_UNSAFE=1)" },
    cap_add: { type: 'list', rule: capabilityName, doc: "capability to add (CAP_CHOWN, repeat; ALL): beyond Docker's default set RC 7 unless REXX_LXCRI_ALLOW_UNSAFE=1" },
    cap_drop: { type: 'list', rule: capabilityName, doc: 'capability to remove from every set (repeat; ALL), after cap_add' },
    force: { type: 'bool', default: false, doc: 'replace an existing config.json' },
    ...RUNTIME,
  },
  positional: ['bundle'],
  examples: [
    'spec bundle=/srv/oci/web arg=sleep arg=1000 env=MODE=test',
    'spec bundle=/srv/oci/web arg=sh arg=-c arg="id -u" user=1000:1000 memory=64M cpus=0.5 pids_limit=100 cap_drop=ALL',
  ],
  vars: { CONFIG: 'the config.json written' },
  async run(p, ctx) {
    const file = configFile(p.bundle);
    if (!ctx.fs.exists(p.bundle)) throw notFound(`bundle directory ${p.bundle} does not exist`);
    for (const m of p.mount) {
      const src = m.split(':')[0]!;
      if (!ctx.fs.exists(src)) throw notFound(`mount=${m}: host path ${src} does not exist`);
    }
    if (ctx.fs.exists(file)) {
      if (!p.force) throw alreadyExists(`${file} exists (force=true replaces it)`);
      if (!isOciConfig(ctx, file)) requireUnsafeAllowed(ctx, `spec force=true over ${file}`, 'that file is not an OCI runtime config (no ociVersion), so it belongs to something else on the host');
      if (ctx.fs.lstat(file)?.isDirectory()) throw toolFailed(`${file} is a directory, not a file spec can replace`);
    }
    const patch = {
      args: p.arg, env: p.env, cwd: p.cwd, terminal: p.terminal, hostname: p.hostname, readonly: p.readonly,
      mounts: p.mount, limits: readLimits(p), user: p.user, network: p.network, capAdd: p.cap_add, capDrop: p.cap_drop,
    };
    const rt = await pickRuntime(ctx, p.runtime);
    // The runtime writes its template into a folder of its own: the bundle's config.json
    // is only ever replaced by a checked file, in one rename.
    const tmp = path.join(p.bundle, `.rexx-spec-${randomBytes(6).toString('hex')}`);
    ctx.fs.mkdir(tmp);
    try {
      await rtRun(ctx, rt, ['spec', '--bundle', tmp]);
      // The file `spec` just wrote (under dryrun it was not written).
      await ctx.effect(async () => {
        const config = patchProcess(readConfig(ctx, configFile(tmp)), patch);
        const bad = await ociConfigProblem(ctx, config);
        if (bad) throw usageError(`spec: the config these values make is not a valid OCI runtime config (runtime-spec ${OCI_SCHEMA_VERSION} schema): ${bad}; nothing was written`);
        const unsafe = unsafeSettings(config);
        if (unsafe.length) requireUnsafeAllowed(ctx, `spec bundle=${p.bundle}`, `${unsafe.join('; ')} — a container started from it could reach the host`);
        writeConfig(ctx, file, config);
      }, undefined);
    } finally {
      ctx.fs.remove(tmp);
    }
    return { result: file, vars: { CONFIG: file } };
  },
});
