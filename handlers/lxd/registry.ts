/**
 * The base registry on LXD. The registry lives in LXD itself: a base is an instance
 * with `user.rexx.base.*` keys and a fixed snapshot `rexx-base`; a clone is
 * `lxc copy BASE/rexx-base NAME -c user.rexx.cloned_from=BASE`, one command, no
 * lookup first (copy-on-write on btrfs: a subvolume snapshot). Any later process
 * finds the base by those keys. The verbs (verbs/bases.ts) validate their parameters
 * and call these functions.
 */
import { AddressError, alreadyExists, isReason, notFound } from '../../shared/errors';
import { BASE_SNAPSHOT, type BaseInfo } from '../../shared/bases';
import type { GuestArgv } from '../../shared/guest-exec';
import { epochName } from '../../shared/snapshot-names';
import { allOrNothing, type Step } from '../../shared/undo';
import type { Ctx } from '../../shared/verb';
import { execInInstance } from './guest';
import { startAndWait } from './start';
import { getInstance, initArgs, lxc, query, ref, requireInstance, shutdownFlags, type InitOptions, type Instance } from './tool';

export { BASE_SNAPSHOT };

/** user.* keys this package keeps in LXD (the base registry lives in LXD itself). */
export const KEYS = {
  /** On a base instance: the name of its fixed snapshot that clones are made from. */
  baseSnapshot: 'user.rexx.base.snapshot',
  /** On a base instance: ISO 8601 time of registration. */
  baseCreated: 'user.rexx.base.created',
  /** On a base instance: description given at registration. */
  baseDescription: 'user.rexx.base.description',
  /** On a clone: the base it came from. */
  clonedFrom: 'user.rexx.cloned_from',
} as const;

/** The keys that make an instance a base (a copy must not carry them; unregister removes them). */
export const BASE_KEYS = [KEYS.baseSnapshot, KEYS.baseCreated, KEYS.baseDescription] as const;

/** True when the instance is a registered base. */
export const isBase = (inst: Instance | undefined): boolean => Boolean(inst?.config[KEYS.baseSnapshot]);

/** `lxc delete NAME/rexx-base`; a base snapshot that is already gone is fine. */
export async function deleteBaseSnapshot(ctx: Ctx, remote: string | undefined, name: string): Promise<void> {
  await lxc(ctx, ['delete', ref(remote, `${name}/${BASE_SNAPSHOT}`)]).catch((e) => {
    if (!isReason(e, 'notFound')) throw e;
  });
}

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

/** What register_base does, its parameters validated. */
export interface RegisterOptions {
  remote?: string;
  name: string;
  /** Create the instance from this image first (with `init`), else register it as it is. */
  image?: string;
  /** With image=: what `lxc init` gets. */
  init: InitOptions;
  /** Run once in the started instance before the snapshot (its changes are undone if a later step fails). */
  prepare?: GuestArgv;
  description?: string;
  /** Re-take the snapshot of a registered base. */
  refresh: boolean;
  /** How long start, prepare and stop may each take (ms). */
  timeoutMs: number;
}

/**
 * Make an instance a base, all or nothing: create it (image=), run prepare in it,
 * stop it, take the fixed snapshot, set the base keys. A failed step undoes the ones
 * before it (ERRORTEXT names them). RC 4 when image= names an existing instance or the
 * instance is a base already (unless refresh); RC 3 when it does not exist; RC 1 when
 * prepare fails (its output is kept); else the RC of the failed lxc call. Returns the
 * registration time (ISO 8601).
 */
export async function registerBase(ctx: Ctx, o: RegisterOptions): Promise<{ created: string }> {
  const target = ref(o.remote, o.name);
  const steps: Step[] = [];
  let inst: Instance | undefined;
  // A read of the instance that image= makes: under dryrun it is not there, so the planned answer.
  const readNew = <T>(read: () => Promise<T>, planned: T) => (o.image ? ctx.effect(read, planned) : read());
  if (o.image) {
    steps.push({
      run: async () => {
        await lxc(ctx, initArgs(o.image!, target, o.init), { timeoutMs: 300_000 }).catch((e) => {
          if (isReason(e, 'exists')) throw alreadyExists(`instance ${target} already exists: leave image= out to register it as it is`, { cause: e });
          throw e;
        });
      },
      undo: { what: `delete ${target}`, run: () => lxc(ctx, ['delete', target, '--force'], { timeoutMs: 120_000 }) },
    });
  }
  steps.push({
    run: async () => {
      inst = await readNew(() => getInstance(ctx, o.remote, o.name), { name: o.name, status: 'Stopped', status_code: 102, type: 'container', config: {}, profiles: [...o.init.profile], created_at: '' });
      if (!inst) throw notFound(`instance ${target} not found (give image= to create it)`);
      if (isBase(inst) && !o.refresh) throw alreadyExists(`${o.name} is already a registered base (refresh=true re-takes its snapshot)`);
    },
  });
  // What prepare changes in an instance that existed before is undone by restoring this.
  const before = o.prepare !== undefined && !o.image ? epochName('rexx-pre-register', ctx.clock.now()) : undefined;
  if (o.prepare !== undefined) {
    const g = o.prepare;
    let wasRunning = false;
    if (before) {
      steps.push({
        run: () => lxc(ctx, ['snapshot', target, before], { timeoutMs: 600_000 }),
        undo: {
          what: `restore ${target} to ${before} (what prepare changed)`,
          run: async () => {
            await lxc(ctx, ['stop', target, '--force'], { timeoutMs: 120_000 }).catch(() => undefined);
            await lxc(ctx, ['restore', target, before], { timeoutMs: 600_000 });
            await lxc(ctx, ['delete', ref(o.remote, `${o.name}/${before}`)]).catch(() => undefined);
            if (wasRunning) await startAndWait(ctx, o.remote, o.name, 'running', o.timeoutMs);
          },
        },
      });
    }
    steps.push({
      run: async () => {
        wasRunning = inst?.status === 'Running';
        if (!wasRunning) await startAndWait(ctx, o.remote, o.name, 'running', o.timeoutMs);
        const r = await execInInstance(ctx, o.remote, o.name, g, { env: [], timeoutMs: o.timeoutMs });
        if (r.rc) throw new AddressError('toolFailed', `prepare failed with exit code ${r.rc}: ${r.errorText ?? ''}`, { output: r.result, vars: r.vars });
      },
    });
  }
  steps.push({ run: () => ensureStopped(ctx, o.remote, o.name, o.timeoutMs, o.prepare !== undefined) });
  const created = new Date(ctx.clock.now()).toISOString();
  const old = () => (isBase(inst) ? inst : undefined);
  const aside = epochName(`${BASE_SNAPSHOT}-old`, ctx.clock.now());
  let oldAside = false;
  // Refresh: the snapshot must not carry the base keys (every clone would look like a
  // base), and an old rexx-base (of this base, or copied from another with `copy`)
  // stays, renamed, until the new registration is complete.
  steps.push({
    run: async () => {
      if (old()) await lxc(ctx, ['config', 'unset', target, KEYS.baseSnapshot]);
      const snaps = await readNew(() => query<string[]>(ctx, o.remote, `/1.0/instances/${encodeURIComponent(o.name)}/snapshots`), []);
      if (snaps.some((u) => u.endsWith(`/${BASE_SNAPSHOT}`))) {
        await lxc(ctx, ['rename', ref(o.remote, `${o.name}/${BASE_SNAPSHOT}`), ref(o.remote, `${o.name}/${aside}`)]);
        oldAside = true;
      }
    },
    undo: {
      what: `put the old ${BASE_SNAPSHOT} of ${target} back`,
      run: async () => {
        if (oldAside) await lxc(ctx, ['rename', ref(o.remote, `${o.name}/${aside}`), ref(o.remote, `${o.name}/${BASE_SNAPSHOT}`)]);
        if (old()) await lxc(ctx, ['config', 'set', target, `${KEYS.baseSnapshot}=${old()!.config[KEYS.baseSnapshot]}`]);
      },
    },
  });
  steps.push({
    run: () => lxc(ctx, ['snapshot', target, BASE_SNAPSHOT], { timeoutMs: 600_000 }),
    undo: { what: `delete ${target}/${BASE_SNAPSHOT}`, run: () => deleteBaseSnapshot(ctx, o.remote, o.name) },
  });
  steps.push({
    run: async () => {
      const description = o.description ?? old()?.config[KEYS.baseDescription];
      const keys = [`${KEYS.baseSnapshot}=${BASE_SNAPSHOT}`, `${KEYS.baseCreated}=${created}`];
      if (description !== undefined) keys.push(`${KEYS.baseDescription}=${description}`);
      await lxc(ctx, ['config', 'set', target, ...keys]);
    },
  });
  await allOrNothing(steps);
  // Done: what was kept for an undo goes (a failure here loses nothing).
  if (oldAside) await lxc(ctx, ['delete', ref(o.remote, `${o.name}/${aside}`)]).catch(() => undefined);
  if (before) await lxc(ctx, ['delete', ref(o.remote, `${o.name}/${before}`)]).catch(() => undefined);
  return { created };
}

/** RC 3 saying why `base` cannot be cloned: no such instance, not a base, or its snapshot was deleted outside the handler. */
async function whyNoBase(ctx: Ctx, remote: string | undefined, base: string, e: AddressError): Promise<AddressError> {
  const inst = await getInstance(ctx, remote, base).catch(() => undefined);
  if (!inst) return notFound(`base '${base}' not found: no such instance`, { cause: e });
  if (!isBase(inst)) return notFound(`'${base}' is not a registered base (register_base name=${base} first)`, { cause: e });
  return notFound(`base '${base}' is registered but its snapshot ${BASE_SNAPSHOT} is gone (deleted outside this handler): register_base name=${base} refresh=true re-takes it`, { cause: e });
}

/** How clone_from_base makes each clone, its parameters validated. */
export interface CloneOptions {
  remote?: string;
  base: string;
  profile: readonly string[];
  /** KEY=VALUE pairs (checked by config-policy.ts first). */
  config: readonly string[];
  storage?: string;
  /** Cluster member every clone goes to (lxc --target); else the cluster places each. */
  target?: string;
  /** Start the clone, and wait as `wait` says (running | ip | none). */
  start: boolean;
  wait: string;
  /** How long the copy, and the start, may each take (ms). */
  timeoutMs: number;
}

/**
 * One clone: `lxc copy BASE/rexx-base NAME -c user.rexx.cloned_from=BASE`, then start it
 * if asked. RC 3 naming why when the base (or its snapshot) is not there; RC 4 when NAME
 * exists; RC 5 when the start does not finish in time (the clone is stopped again).
 */
export async function cloneFromBase(ctx: Ctx, o: CloneOptions, name: string): Promise<void> {
  const args = ['copy', ref(o.remote, `${o.base}/${BASE_SNAPSHOT}`), ref(o.remote, name), '--config', `${KEYS.clonedFrom}=${o.base}`];
  for (const pr of o.profile) args.push('--profile', pr);
  for (const c of o.config) args.push('--config', c);
  if (o.storage) args.push('--storage', o.storage);
  if (o.target) args.push('--target', o.target);
  try {
    await lxc(ctx, args, { timeoutMs: o.timeoutMs });
  } catch (e) {
    if (isReason(e, 'notFound')) throw await whyNoBase(ctx, o.remote, o.base, e);
    throw e;
  }
  if (o.start) await startAndWait(ctx, o.remote, name, o.wait, o.timeoutMs);
}

/** The registered bases, from one request for all instances (`GET /1.0/instances?recursion=1`). */
export async function listBases(ctx: Ctx, remote: string | undefined): Promise<BaseInfo[]> {
  const all = await query<Instance[]>(ctx, remote, '/1.0/instances?recursion=1');
  return all.filter(isBase).map((i) => ({
    name: i.name,
    snapshot: i.config[KEYS.baseSnapshot]!,
    created: i.config[KEYS.baseCreated],
    description: i.config[KEYS.baseDescription],
  }));
}

/**
 * Stop treating an instance as a base: remove the base keys it has and its fixed
 * snapshot (clones are independent copies and stay). RC 3 when the instance does not
 * exist or is not a base.
 */
export async function unregisterBase(ctx: Ctx, remote: string | undefined, name: string): Promise<void> {
  const inst = await requireInstance(ctx, remote, name);
  if (!isBase(inst)) throw notFound(`${name} is not a registered base`);
  for (const k of BASE_KEYS) {
    if (inst.config[k] !== undefined) await lxc(ctx, ['config', 'unset', ref(remote, name), k]);
  }
  await deleteBaseSnapshot(ctx, remote, name);
}
