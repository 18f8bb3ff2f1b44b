/**
 * Instance lifecycle: create (`lxc init`, never `lxc launch`), start with a wait,
 * stop, restart, delete. Start/stop/restart share one state helper, as pylxd does.
 */
import { AddressError, refused } from '../../../shared/errors';
import { configPair, cpuValue, lxdImageRef, lxdObjectName, memoryValue } from '../../../shared/names';
import { defineVerb, type Ctx } from '../../../shared/verb';
import { getInstance, KEYS, lxc, ref, shutdownFlags, waitIpv4, waitStatus } from '../lxc';
import { FORCE, NAME, REMOTE, timeout, WAIT } from '../params';

export const create = defineVerb({
  name: 'create',
  aliases: ['init'],
  summary: 'create an instance from an image without starting it (lxc init)',
  params: {
    ...NAME,
    image: { type: 'string', required: true, rule: lxdImageRef, doc: 'image alias or fingerprint (remote:alias for another image server)' },
    profile: { type: 'list', rule: lxdObjectName, doc: 'profile to apply (repeat for several; default: the default profile)' },
    storage: { type: 'string', rule: lxdObjectName, doc: 'storage pool for the root disk' },
    memory: { type: 'string', rule: memoryValue, doc: 'limits.memory, e.g. 256MiB' },
    cpus: { type: 'string', rule: cpuValue, doc: 'limits.cpu: a count or a CPU set' },
    config: { type: 'list', rule: configPair, doc: 'config KEY=VALUE (repeat for several)' },
    type: { type: 'enum', values: ['container', 'virtual-machine'], default: 'container', doc: 'instance type' },
    target: { type: 'string', rule: lxdObjectName, doc: 'cluster member to create it on' },
    ...REMOTE,
  },
  positional: ['name', 'image'],
  examples: ['create name=web image=tiny memory=256MiB', 'create web tiny profile=default profile=rexx-net'],
  async run(p, ctx) {
    const args = ['init', p.image, ref(p.remote, p.name)];
    for (const pr of p.profile) args.push('--profile', pr);
    if (p.storage) args.push('--storage', p.storage);
    if (p.memory) args.push('--config', `limits.memory=${p.memory}`);
    if (p.cpus) args.push('--config', `limits.cpu=${p.cpus}`);
    for (const c of p.config) args.push('--config', c);
    if (p.type === 'virtual-machine') args.push('--vm');
    if (p.target) args.push('--target', p.target);
    await lxc(ctx, args, { timeoutMs: 300_000 });
    return { result: p.name };
  },
});

/**
 * `lxc start`, then wait as `wait` says (running | ip | none) within one `timeoutMs`
 * budget; returns the status reached, the IPv4s (wait=ip) and the ms it all took.
 */
export async function startAndWait(ctx: Ctx, remote: string | undefined, name: string, wait: string, timeoutMs: number) {
  const t0 = performance.now();
  await lxc(ctx, ['start', ref(remote, name)], { timeoutMs });
  const left = () => Math.max(1000, timeoutMs - (performance.now() - t0));
  let ips: string[] = [];
  if (wait !== 'none') await waitStatus(ctx, remote, name, 'Running', left());
  if (wait === 'ip') ips = (await waitIpv4(ctx, remote, name, left())).value ?? [];
  return { status: wait === 'none' ? 'Started' : 'Running', ips, ms: Math.round(performance.now() - t0) };
}

const already = (e: unknown, what: RegExp) => e instanceof AddressError && what.test(e.message);

export const start = defineVerb({
  name: 'start',
  summary: 'start an instance and wait until it is Running (or has an IPv4 with wait=ip); already running is RC 0',
  params: { ...NAME, ...WAIT, ...timeout(60_000, 'give up after this long (RC 5)'), ...REMOTE },
  positional: ['name'],
  examples: ['start name=web', 'start name=web wait=ip timeout=30s'],
  async run(p, ctx) {
    try {
      const s = await startAndWait(ctx, p.remote, p.name, p.wait, p.timeout);
      return { result: s.status, vars: { STATUS: s.status, IPV4: s.ips[0] ?? '', START_MS: s.ms } };
    } catch (e) {
      if (!already(e, /already running/i)) throw e;
      return { result: 'Running', vars: { STATUS: 'Running', IPV4: '', START_MS: 0 } };
    }
  },
});

export const stop = defineVerb({
  name: 'stop',
  summary: 'stop an instance cleanly within timeout (RC 5 if it does not), or at once with force=true; already stopped is RC 0',
  params: { ...NAME, ...FORCE, ...timeout(30_000, 'how long a clean shutdown may take'), ...REMOTE },
  positional: ['name'],
  examples: ['stop name=web', 'stop name=web force=true'],
  async run(p, ctx) {
    const args = ['stop', ref(p.remote, p.name), ...shutdownFlags(p.force, p.timeout)];
    try {
      await lxc(ctx, args, { timeoutMs: p.timeout + 30_000 });
    } catch (e) {
      if (already(e, /already stopped|not running/i)) return { result: 'Stopped', vars: { STATUS: 'Stopped' } };
      if (e instanceof AddressError && e.kind === 'timedOut') {
        throw new AddressError('timedOut', `${p.name} did not shut down within ${p.timeout} ms (use force=true): ${e.message}`, { cause: e });
      }
      throw e;
    }
    return { result: 'Stopped', vars: { STATUS: 'Stopped' } };
  },
});

export const restart = defineVerb({
  name: 'restart',
  summary: 'restart an instance (lxc restart) and wait until it is Running',
  params: { ...NAME, ...FORCE, ...timeout(60_000, 'how long the restart may take'), ...REMOTE },
  positional: ['name'],
  async run(p, ctx) {
    const args = ['restart', ref(p.remote, p.name), ...shutdownFlags(p.force, p.timeout)];
    await lxc(ctx, args, { timeoutMs: p.timeout + 30_000 });
    await waitStatus(ctx, p.remote, p.name, 'Running', p.timeout);
    return { result: 'Running', vars: { STATUS: 'Running' } };
  },
});

export const del = defineVerb({
  name: 'delete',
  summary: 'delete an instance; a running one or a registered base only with force=true (RC 7)',
  params: { ...NAME, ...FORCE, ...REMOTE },
  positional: ['name'],
  async run(p, ctx) {
    if (!p.force) {
      const inst = await getInstance(ctx, p.remote, p.name);
      if (inst?.config[KEYS.baseSnapshot]) {
        throw refused(`${p.name} is a registered base; unregister_base first, or delete with force=true`);
      }
      if (inst && inst.status !== 'Stopped') {
        throw refused(`${p.name} is ${inst.status}; stop it first, or delete with force=true`);
      }
    }
    const args = ['delete', ref(p.remote, p.name)];
    if (p.force) args.push('--force');
    await lxc(ctx, args, { timeoutMs: 120_000 });
    return { result: p.name };
  },
});
