/**
 * The base registry on LXD. The registry lives in LXD itself: a base is an instance
 * with `user.rexx.base.*` keys and a fixed snapshot `rexx-base`; a clone is
 * `lxc copy BASE/rexx-base NAME -c user.rexx.cloned_from=BASE`, one command, no
 * lookup first (copy-on-write on btrfs: a subvolume snapshot). Any later process
 * finds the base by those keys.
 */
import { AddressError, alreadyExists, isReason, notFound, usageError } from '../../../shared/errors';
import { BASES_VARS, basesOutput, CLONE_PARAMS, CLONE_VARS, cloneAll, cloneNames, DESCRIPTION_PARAM } from '../../../shared/bases';
import { EXEC_VARS, GUEST_COMMAND_PARAMS, guestArgv } from '../../../shared/guest-exec';
import { configPair, cpuValue, lxdImageRef, lxdInstanceName, lxdObjectName, memoryValue } from '../names';
import { epochName } from '../../../shared/snapshot-names';
import { allOrNothing, type Step } from '../../../shared/undo';
import { defineVerb, type Ctx } from '../../../shared/verb';
import { checkConfigPairs } from '../config-policy';
import { execInInstance } from '../guest';
import { BASE_SNAPSHOT, deleteBaseSnapshot, getInstance, initArgs, KEYS, lxc, query, ref, requireInstance, shutdownFlags, type Instance } from '../tool';
import { NAME, REMOTE, timeout, WAIT } from '../params';
import { startAndWait } from '../start';

/**
 * Stop the instance cleanly (within `timeoutMs`) unless it is stopped or gone. `running`:
 * this call has made it run, so under dryrun, where it did not, it is taken to be Running.
 */
async function ensureStopped(ctx: Ctx, remote: string | undefined, name: string, timeoutMs: number, running: boolean) {
  const read = async () => (await getInstance(ctx, remote, name))?.status;
  const status = running ? await ctx.effect(read, 'Running') : await read();
  if (status !== undefined && status !== 'Stopped') {
    await lxc(ctx, ['stop', ref(remote, name), ...shutdownFlags(false, timeoutMs)], { timeoutMs: timeoutMs + 30_000 });
  }
}

export const registerBase = defineVerb({
  name: 'register_base',
  summary: 'make an instance a base: optionally create it from image= and run prepare= once, stop it, take the fixed snapshot clones start from; all or nothing',
  params: {
    ...NAME,
    image: { type: 'string', rule: lxdImageRef, doc: 'create the instance from this image first (RC 4 when it exists: leave image= out to register it as it is)' },
    memory: { type: 'string', rule: memoryValue, doc: 'with image=: limits.memory, e.g. 256MiB' },
    cpus: { type: 'string', rule: cpuValue, doc: 'with image=: limits.cpu: a count or a CPU set' },
    storage: { type: 'string', rule: lxdObjectName, doc: 'with image=: storage pool for the root disk' },
    profile: { type: 'list', rule: lxdObjectName, doc: 'with image=: profile to apply (repeat; default: the default profile)' },
    config: { type: 'list', rule: configPair, doc: 'with image=: config KEY=VALUE (repeat)' },
    prepare: { ...GUEST_COMMAND_PARAMS.command, doc: "command line run once in the started instance before the snapshot, by its /bin/sh -c (its changes are undone if a later step fails)" },
    ...DESCRIPTION_PARAM,
    refresh: { type: 'bool', default: false, doc: 're-take the snapshot of an already registered base (also repairs a base whose snapshot was deleted outside the handler)' },
    ...timeout(120_000, 'how long start, prepare and stop may take'),
    ...REMOTE,
  },
  positional: ['name'],
  examples: ['register_base name=web image=tiny prepare="echo ready > /etc/motd"', 'register_base name=web refresh=true'],
  vars: { BASE: 'the base name', SNAPSHOT: 'the fixed snapshot clones come from', CREATED: 'registration time (ISO 8601)', ...EXEC_VARS },
  async run(p, ctx) {
    const target = ref(p.remote, p.name);
    if (!p.image && (p.memory || p.cpus || p.storage || p.profile.length || p.config.length)) {
      throw usageError('register_base: memory=, cpus=, storage=, profile= and config= apply only when image= creates the instance');
    }
    checkConfigPairs(ctx, 'register_base', p.config);
    const steps: Step[] = [];
    let inst: Instance | undefined;
    // A read of the instance that image= makes: under dryrun it is not there, so the planned answer.
    const readNew = <T>(read: () => Promise<T>, planned: T) => (p.image ? ctx.effect(read, planned) : read());
    if (p.image) {
      steps.push({
        run: async () => {
          await lxc(ctx, initArgs(p.image!, target, p), { timeoutMs: 300_000 }).catch((e) => {
            if (isReason(e, 'exists')) throw alreadyExists(`instance ${target} already exists: leave image= out to register it as it is`, { cause: e });
            throw e;
          });
        },
        undo: { what: `delete ${target}`, run: () => lxc(ctx, ['delete', target, '--force'], { timeoutMs: 120_000 }) },
      });
    }
    steps.push({
      run: async () => {
        inst = await readNew(() => getInstance(ctx, p.remote, p.name), { name: p.name, status: 'Stopped', status_code: 102, type: 'container', config: {}, profiles: p.profile, created_at: '' });
        if (!inst) throw notFound(`instance ${target} not found (give image= to create it)`);
        if (inst?.config[KEYS.baseSnapshot] && !p.refresh) throw alreadyExists(`${p.name} is already a registered base (refresh=true re-takes its snapshot)`);
      },
    });
    // What prepare changes in an instance that existed before is undone by restoring this.
    const before = p.prepare !== undefined && !p.image ? epochName('rexx-pre-register') : undefined;
    if (p.prepare !== undefined) {
      const g = guestArgv('register_base', { command: p.prepare, arg: [], shell: 'always' });
      let wasRunning = false;
      if (before) {
        steps.push({
          run: () => lxc(ctx, ['snapshot', target, before!], { timeoutMs: 600_000 }),
          undo: {
            what: `restore ${target} to ${before} (what prepare changed)`,
            run: async () => {
              await lxc(ctx, ['stop', target, '--force'], { timeoutMs: 120_000 }).catch(() => undefined);
              await lxc(ctx, ['restore', target, before!], { timeoutMs: 600_000 });
              await lxc(ctx, ['delete', ref(p.remote, `${p.name}/${before}`)]).catch(() => undefined);
              if (wasRunning) await startAndWait(ctx, p.remote, p.name, 'running', p.timeout);
            },
          },
        });
      }
      steps.push({
        run: async () => {
          wasRunning = inst?.status === 'Running';
          if (!wasRunning) await startAndWait(ctx, p.remote, p.name, 'running', p.timeout);
          const r = await execInInstance(ctx, p.remote, p.name, g, { env: [], timeoutMs: p.timeout });
          if (r.rc) throw new AddressError('toolFailed', `prepare failed with exit code ${r.rc}: ${r.errorText ?? ''}`, { output: r.result, vars: r.vars });
        },
      });
    }
    steps.push({ run: () => ensureStopped(ctx, p.remote, p.name, p.timeout, p.prepare !== undefined) });
    const created = new Date().toISOString();
    const old = () => (inst?.config[KEYS.baseSnapshot] ? inst : undefined);
    const aside = epochName(`${BASE_SNAPSHOT}-old`);
    let oldAside = false;
    // Refresh: the snapshot must not carry the base keys (every clone would look like a
    // base), and an old rexx-base (of this base, or copied from another with `copy`)
    // stays, renamed, until the new registration is complete.
    steps.push({
      run: async () => {
        if (old()) await lxc(ctx, ['config', 'unset', target, KEYS.baseSnapshot]);
        const snaps = await readNew(() => query<string[]>(ctx, p.remote, `/1.0/instances/${encodeURIComponent(p.name)}/snapshots`), []);
        if (snaps.some((u) => u.endsWith(`/${BASE_SNAPSHOT}`))) {
          await lxc(ctx, ['rename', ref(p.remote, `${p.name}/${BASE_SNAPSHOT}`), ref(p.remote, `${p.name}/${aside}`)]);
          oldAside = true;
        }
      },
      undo: {
        what: `put the old ${BASE_SNAPSHOT} of ${target} back`,
        run: async () => {
          if (oldAside) await lxc(ctx, ['rename', ref(p.remote, `${p.name}/${aside}`), ref(p.remote, `${p.name}/${BASE_SNAPSHOT}`)]);
          if (old()) await lxc(ctx, ['config', 'set', target, `${KEYS.baseSnapshot}=${old()!.config[KEYS.baseSnapshot]}`]);
        },
      },
    });
    steps.push({
      run: () => lxc(ctx, ['snapshot', target, BASE_SNAPSHOT], { timeoutMs: 600_000 }),
      undo: { what: `delete ${target}/${BASE_SNAPSHOT}`, run: () => deleteBaseSnapshot(ctx, p.remote, p.name) },
    });
    steps.push({
      run: async () => {
        const description = p.description ?? old()?.config[KEYS.baseDescription];
        const keys = [`${KEYS.baseSnapshot}=${BASE_SNAPSHOT}`, `${KEYS.baseCreated}=${created}`];
        if (description !== undefined) keys.push(`${KEYS.baseDescription}=${description}`);
        await lxc(ctx, ['config', 'set', target, ...keys]);
      },
    });
    await allOrNothing(steps);
    // Done: what was kept for an undo goes (a failure here loses nothing).
    if (oldAside) await lxc(ctx, ['delete', ref(p.remote, `${p.name}/${aside}`)]).catch(() => undefined);
    if (before) await lxc(ctx, ['delete', ref(p.remote, `${p.name}/${before}`)]).catch(() => undefined);
    return { result: p.name, vars: { BASE: p.name, SNAPSHOT: BASE_SNAPSHOT, CREATED: created } };
  },
});

/** RC 3 saying why `base` cannot be cloned: no such instance, not a base, or its snapshot was deleted outside the handler. */
async function whyNoBase(ctx: Ctx, remote: string | undefined, base: string, e: AddressError): Promise<AddressError> {
  const inst = await getInstance(ctx, remote, base).catch(() => undefined);
  if (!inst) return notFound(`base '${base}' not found: no such instance`, { cause: e });
  if (!inst.config[KEYS.baseSnapshot]) return notFound(`'${base}' is not a registered base (register_base name=${base} first)`, { cause: e });
  return notFound(`base '${base}' is registered but its snapshot ${BASE_SNAPSHOT} is gone (deleted outside this handler): register_base name=${base} refresh=true re-takes it`, { cause: e });
}

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
  vars: CLONE_VARS,
  async run(p, ctx) {
    checkConfigPairs(ctx, 'clone_from_base', p.config);
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
        if (isReason(e, 'notFound')) throw await whyNoBase(ctx, p.remote, p.base, e);
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
  vars: BASES_VARS,
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
  vars: {},
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
