/**
 * Instance lifecycle: create (`lxc init`, never `lxc launch`), start with a wait,
 * stop, restart, delete. Start/stop/restart share one state helper, as pylxd does.
 */
import { AddressError, isReason, refused } from '../../../shared/errors';
import { configPair, cpuValue, lxdImageRef, lxdObjectName, memoryValue } from '../names';
import { defineVerb } from '../../../shared/verb';
import { checkConfigPairs } from '../config-policy';
import { LXC_STOP_ERRORS } from '../errors';
import { isBase } from '../registry';
import { getInstance, initArgs, lxc, ref, shutdownFlags, waitIpv4, waitStatus } from '../tool';
import { requireNic, startAndWait } from '../start';
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
  vars: {},
  async run(p, ctx) {
    checkConfigPairs(ctx, 'create', p.config);
    const args = initArgs(p.image, ref(p.remote, p.name), p);
    if (p.type === 'virtual-machine') args.push('--vm');
    if (p.target) args.push('--target', p.target);
    await lxc(ctx, args, { timeoutMs: 300_000 });
    return { result: p.name };
  },
});

export const start = defineVerb({
  name: 'start',
  summary: 'start an instance and wait until it is Running (or has an IPv4 with wait=ip); already running is RC 0; on RC 5 it is stopped again',
  long: true,
  params: { ...NAME, ...WAIT, ...timeout(60_000, 'give up after this long (RC 5; the instance is stopped again)'), ...REMOTE },
  positional: ['name'],
  examples: ['start name=web', 'start name=web wait=ip timeout=30s'],
  vars: { STATUS: 'Running (Started with wait=none; after RC 5 the state it was left in)', IPV4: 'its first global IPv4 (wait=ip)', START_MS: 'ms from lxc start to the state waited for' },
  async run(p, ctx) {
    // One task for the whole start (lxc start included); each wait inside shows as its own.
    const task = ctx.progress(`starting ${p.name}`, { unit: 'ms', total: p.timeout });
    try {
      const s = await startAndWait(ctx, p.remote, p.name, p.wait, p.timeout);
      return { result: s.status, vars: { STATUS: s.status, IPV4: s.ips[0] ?? '', START_MS: s.ms } };
    } catch (e) {
      if (!isReason(e, 'already')) throw e;
      if (p.wait !== 'ip') return { result: 'Running', vars: { STATUS: 'Running', IPV4: '', START_MS: 0 } };
      await requireNic(ctx, p.remote, p.name);
      const ips = (await waitIpv4(ctx, p.remote, p.name, p.timeout)).value ?? [];
      return { result: 'Running', vars: { STATUS: 'Running', IPV4: ips[0] ?? '', START_MS: 0 } };
    } finally {
      task.end();
    }
  },
});

export const stop = defineVerb({
  name: 'stop',
  summary: 'stop an instance cleanly within timeout (RC 5 if it does not: it is still running), or at once with force=true; already stopped is RC 0',
  params: { ...NAME, ...FORCE, ...timeout(30_000, 'how long a clean shutdown may take'), ...REMOTE },
  positional: ['name'],
  examples: ['stop name=web', 'stop name=web force=true'],
  vars: { STATUS: 'Stopped' },
  async run(p, ctx) {
    const args = ['stop', ref(p.remote, p.name), ...shutdownFlags(p.force, p.timeout)];
    try {
      await lxc(ctx, args, { timeoutMs: p.timeout + 30_000, errors: LXC_STOP_ERRORS });
    } catch (e) {
      if (isReason(e, 'already')) return { result: 'Stopped', vars: { STATUS: 'Stopped' } };
      if (isReason(e, 'timedOut')) {
        const now = (await getInstance(ctx, p.remote, p.name).catch(() => undefined))?.status ?? '';
        throw new AddressError('timedOut', `${p.name} did not shut down within ${p.timeout} ms and is still ${now || 'running'} (use force=true): ${e.message}`, { cause: e, vars: { STATUS: now } });
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
  vars: { STATUS: 'Running' },
  async run(p, ctx) {
    const args = ['restart', ref(p.remote, p.name), ...shutdownFlags(p.force, p.timeout)];
    await lxc(ctx, args, { timeoutMs: p.timeout + 30_000 });
    await waitStatus(ctx, p.remote, p.name, 'Running', p.timeout);
    return { result: 'Running', vars: { STATUS: 'Running' } };
  },
});

export const del = defineVerb({
  name: 'delete',
  aliases: ['remove'],
  summary: 'delete an instance; a running one or a registered base only with force=true (RC 7)',
  params: { ...NAME, ...FORCE, ...REMOTE },
  positional: ['name'],
  vars: {},
  async run(p, ctx) {
    if (!p.force) {
      const inst = await getInstance(ctx, p.remote, p.name);
      if (isBase(inst)) {
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
