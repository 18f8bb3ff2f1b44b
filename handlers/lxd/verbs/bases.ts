/**
 * The base registry on LXD. The registry lives in LXD itself: a base is an instance
 * with `user.rexx.base.*` keys and a fixed snapshot `rexx-base`; a clone is
 * `lxc copy BASE/rexx-base NAME -c user.rexx.cloned_from=BASE`, one command, no
 * lookup first (copy-on-write on btrfs: a subvolume snapshot). Any later process
 * finds the base by those keys.
 */
import { AddressError, alreadyExists, notFound } from '../../../shared/errors';
import { basesOutput, CLONE_PARAMS, cloneAll, cloneNames } from '../../../shared/bases';
import { configPair, lxdImageRef, lxdInstanceName, lxdObjectName } from '../../../shared/names';
import { defineVerb, type Ctx } from '../../../shared/verb';
import { BASE_SNAPSHOT, deleteBaseSnapshot, getInstance, KEYS, lxc, query, ref, requireInstance, shutdownFlags, type Instance } from '../lxc';
import { NAME, REMOTE, timeout, WAIT } from '../params';
import { exec } from './exec';
import { startAndWait } from './lifecycle';

async function ensureStopped(ctx: Ctx, remote: string | undefined, name: string, timeoutMs: number) {
  const inst = await getInstance(ctx, remote, name);
  if (inst && inst.status !== 'Stopped') {
    await lxc(ctx, ['stop', ref(remote, name), ...shutdownFlags(false, timeoutMs)], { timeoutMs: timeoutMs + 30_000 });
  }
}

export const registerBase = defineVerb({
  name: 'register_base',
  summary: 'make an instance a base: optionally create it from image= and run prepare= once, stop it, take the fixed snapshot clones start from',
  params: {
    ...NAME,
    image: { type: 'string', rule: lxdImageRef, doc: 'create the instance from this image first' },
    prepare: { type: 'string', free: true, doc: 'command run once in the started instance before the snapshot (sh -c when it has shell syntax)' },
    description: { type: 'string', free: true, doc: 'free text kept with the base' },
    refresh: { type: 'bool', default: false, doc: 're-take the snapshot of an already registered base' },
    ...timeout(120_000, 'how long start, prepare and stop may take'),
    ...REMOTE,
  },
  positional: ['name'],
  examples: ['register_base name=web image=tiny prepare="echo ready > /etc/motd"', 'register_base name=web refresh=true'],
  async run(p, ctx) {
    const target = ref(p.remote, p.name);
    if (p.image) await lxc(ctx, ['init', p.image, target], { timeoutMs: 300_000 });
    const inst = await getInstance(ctx, p.remote, p.name);
    if (!inst && !ctx.dryrun) throw notFound(`instance ${target} not found (give image= to create it)`);
    const registered = Boolean(inst?.config[KEYS.baseSnapshot]);
    if (registered && !p.refresh) throw alreadyExists(`${p.name} is already a registered base (refresh=true re-takes its snapshot)`);
    if (p.prepare) {
      if (inst?.status !== 'Running') await startAndWait(ctx, p.remote, p.name, 'running', p.timeout);
      const r = await exec.run(
        { name: p.name, command: p.prepare, arg: [], shell: 'auto', env: [], timeout: p.timeout, remote: p.remote },
        ctx,
      );
      if (r.rc) throw new AddressError('toolFailed', `prepare failed with exit code ${r.rc}: ${r.errorText ?? ''}`, { output: r.result, vars: r.vars });
    }
    await ensureStopped(ctx, p.remote, p.name, p.timeout);
    if (registered) {
      // The snapshot must not carry the base keys, or every clone would look like a base.
      await lxc(ctx, ['config', 'unset', target, KEYS.baseSnapshot]);
      await deleteBaseSnapshot(ctx, p.remote, p.name);
    }
    await lxc(ctx, ['snapshot', target, BASE_SNAPSHOT], { timeoutMs: 600_000 });
    const created = new Date().toISOString();
    const keys = [`${KEYS.baseSnapshot}=${BASE_SNAPSHOT}`, `${KEYS.baseCreated}=${created}`];
    if (p.description !== undefined) keys.push(`${KEYS.baseDescription}=${p.description}`);
    await lxc(ctx, ['config', 'set', target, ...keys]);
    return { result: p.name, vars: { BASE: p.name, SNAPSHOT: BASE_SNAPSHOT, CREATED: created } };
  },
});

export const cloneFromBase = defineVerb({
  name: 'clone_from_base',
  summary: 'copy-on-write clone(s) of a registered base: count=N makes NAME-1..NAME-N in parallel; start=true starts them',
  params: {
    ...NAME,
    ...CLONE_PARAMS,
    base: { ...CLONE_PARAMS.base, rule: lxdInstanceName },
    start: { type: 'bool', default: false, doc: 'start each clone (and wait as wait= says)' },
    ...WAIT,
    profile: { type: 'list', rule: lxdObjectName, doc: 'profile for the clones (repeat; default: the base\'s profiles)' },
    config: { type: 'list', rule: configPair, doc: 'config KEY=VALUE for the clones (repeat)' },
    storage: { type: 'string', rule: lxdObjectName, doc: 'storage pool (default: the base\'s pool, where the copy is copy-on-write)' },
    ...timeout(120_000, 'how long each clone (and its start) may take'),
    ...REMOTE,
  },
  positional: ['base', 'name'],
  examples: ['clone_from_base base=web name=web-1', 'clone_from_base base=web name=web count=3 start=true'],
  async run(p, ctx) {
    const names = cloneNames(p.name, p.count, lxdInstanceName);
    const source = ref(p.remote, `${p.base}/${BASE_SNAPSHOT}`);
    return cloneAll(names, p.concurrency, async (name) => {
      const args = ['copy', source, ref(p.remote, name), '--config', `${KEYS.clonedFrom}=${p.base}`];
      for (const pr of p.profile) args.push('--profile', pr);
      for (const c of p.config) args.push('--config', c);
      if (p.storage) args.push('--storage', p.storage);
      try {
        await lxc(ctx, args, { timeoutMs: p.timeout });
      } catch (e) {
        if (e instanceof AddressError && e.kind === 'notFound') {
          throw notFound(`base '${p.base}' is not registered (no snapshot ${p.base}/${BASE_SNAPSHOT}): ${e.message}`, { cause: e });
        }
        throw e;
      }
      if (p.start) await startAndWait(ctx, p.remote, name, p.wait, p.timeout);
    });
  },
});

export const listBases = defineVerb({
  name: 'list_bases',
  summary: 'list registered bases: stem BASES, BASE_SNAPSHOTS; RESULT "name snapshot created" per line',
  params: { ...REMOTE },
  async run(p, ctx) {
    const all = await query<Instance[]>(ctx, p.remote, '/1.0/instances?recursion=1');
    const bases = all
      .filter((i) => i.config[KEYS.baseSnapshot])
      .map((i) => ({
        name: i.name,
        snapshot: i.config[KEYS.baseSnapshot]!,
        created: i.config[KEYS.baseCreated],
        description: i.config[KEYS.baseDescription],
      }));
    return basesOutput(bases);
  },
});

export const unregisterBase = defineVerb({
  name: 'unregister_base',
  summary: 'stop treating an instance as a base: remove its keys and its fixed snapshot (existing clones are independent copies and stay)',
  params: { ...NAME, ...REMOTE },
  positional: ['name'],
  async run(p, ctx) {
    const inst = await requireInstance(ctx, p.remote, p.name);
    if (!inst.config[KEYS.baseSnapshot]) throw notFound(`${p.name} is not a registered base`);
    const target = ref(p.remote, p.name);
    for (const k of [KEYS.baseSnapshot, KEYS.baseCreated, KEYS.baseDescription]) {
      if (inst.config[k] !== undefined) await lxc(ctx, ['config', 'unset', target, k]);
    }
    await deleteBaseSnapshot(ctx, p.remote, p.name);
    return { result: p.name };
  },
});
