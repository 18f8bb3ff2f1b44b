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
import { getInstance, initArgs, lxc, ref, shutdownFlags, waitStatus } from '../tool';
import { startAndWait, waitRunning } from '../start';
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
  summary: 'start an instance and wait until it is Running, has a global IPv4 (wait=ip) or IPv6 (wait=ipv6), cloud-init is done (wait=cloud-init) or a VM\'s agent answers (wait=agent); already running is RC 0 (the wait still applies); on RC 5 it is stopped again',
  long: true,
  params: { ...NAME, ...WAIT, ...timeout(60_000, 'give up after this long (RC 5; the instance is stopped again)'), ...REMOTE },
  positional: ['name'],
  examples: ['start name=web', 'start name=web wait=ip timeout=30s', 'start name=web wait=cloud-init timeout=5m'],
  vars: {
    STATUS: 'Running (Started with wait=none; after RC 5 the state it was left in)',
    IPV4: 'its first global IPv4 (wait=ip)',
    IPV6: 'its first global IPv6 (wait=ipv6)',
    CLOUD_INIT: 'cloud-init\'s status (wait=cloud-init): done, or on failure error / disabled',
    START_MS: 'ms from lxc start to the state waited for',
  },
  async run(p, ctx) {
    // One task for the whole start (lxc start included); each wait inside shows as its own.
    const task = ctx.progress(`starting ${p.name}`, { unit: 'ms', total: p.timeout });
    const out = (s: { status: string; ips: string[]; ipv6: string[]; cloudInit: string; ms: number }) => ({
      result: s.status, vars: { STATUS: s.status, IPV4: s.ips[0] ?? '', IPV6: s.ipv6[0] ?? '', CLOUD_INIT: s.cloudInit, START_MS: s.ms },
    });
    try {
      return out(await startAndWait(ctx, p.remote, p.name, p.wait, p.timeout));
    } catch (e) {
      if (!isReason(e, 'already')) throw e;
      // Already running: the wait still applies (nothing to stop again on RC 5).
      return out({ ...(await waitRunning(ctx, p.remote, p.name, p.wait, p.timeout)), ms: 0 });
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
