/**
 * The ZFS base registry, kept in ZFS itself as user properties so any later process
 * (or ADDRESS LXCRI, for bundle rootfs datasets) finds it: a base is a dataset or
 * volume with a fixed snapshot `@rexx-base` and, set locally on the dataset,
 * `org.rexxjs:base=on`, `org.rexxjs:base-snapshot=rexx-base` and optionally
 * `org.rexxjs:base-description`; a clone carries `org.rexxjs:cloned-from=BASE`.
 *
 * **Registered** means one thing everywhere (list_bases, register_base, clone_from_base,
 * the destroy guards): `org.rexxjs:base-snapshot` is set locally on the dataset AND
 * that snapshot exists. A dataset with the properties but without its snapshot is
 * half-registered: list_bases reports it apart (BROKEN_BASES), clone_from_base refuses
 * it (RC 3), and register_base registers it again (a repair). The base snapshot of a
 * registered base is never destroyed by another verb (RC 7; see refuseBaseSnapshots).
 *
 * register_base and unregister_base hold a per-dataset lock on this host (parallel
 * calls take turns) and either complete or undo what they did. These functions take
 * ctx and plain full dataset names.
 */
import { alreadyExists, isReason, notFound, refused, usageError } from '../../shared/errors';
import type { BaseInfo } from '../../shared/bases';
import type { NameRule } from '../../shared/names';
import { stem } from '../../shared/result';
import { createUnderFreeName, epochName } from '../../shared/snapshot-names';
import type { Ctx } from '../../shared/verb';
import { undoAll, type Undo } from '../../shared/undo';
import { createOrUndo, destroyDataset, getProps } from './dataset';
import { namesIn, onlyMissing } from './errors';
import { MAX_PROP_VALUE_BYTES } from './params';
import { rows, zfs, zfsLockFile, zfsTimeout } from './tool';

/** User properties of the registry (namespace `org.rexxjs:`). */
export const PROPS = {
  /** On a base: `on`. */
  base: 'org.rexxjs:base',
  /** On a base: short name of the snapshot clones are made from. */
  baseSnapshot: 'org.rexxjs:base-snapshot',
  /** On a base: free text given at registration. */
  description: 'org.rexxjs:base-description',
  /** On a clone: the base dataset it came from. */
  clonedFrom: 'org.rexxjs:cloned-from',
} as const;

import { BASE_SNAPSHOT } from '../../shared/bases';
export { BASE_SNAPSHOT };

/**
 * A base description: free text of at most 8191 bytes (UTF-8; MAX_PROP_VALUE_BYTES),
 * without control characters (a tab or newline would break `zfs get -H` output).
 * It reaches zfs only inside one `org.rexxjs:base-description=TEXT` argument, so it may
 * start with "-" and hold any other character.
 */
export const baseDescription: NameRule = {
  label: 'base description',
  allowed: `free text of at most ${MAX_PROP_VALUE_BYTES} bytes (UTF-8), no control characters`,
  check(v) {
    if (/[\u0000-\u001f\u007f]/.test(v)) return 'must not contain control characters (NUL, newline, tab, ...)';
    const n = Buffer.byteLength(v, 'utf8');
    return n > MAX_PROP_VALUE_BYTES ? `is ${n} bytes; ZFS keeps at most ${MAX_PROP_VALUE_BYTES} bytes in a user property` : undefined;
  },
};

/** A registered base as the registry reports it. */
export interface ZfsBase extends BaseInfo {
  /** Creation of the base snapshot, epoch seconds (0 when unknown). */
  createdEpoch: number;
}

/** What the registry properties of one dataset say, and whether its snapshot is there. */
export interface BaseRecord extends ZfsBase {
  /** The snapshot exists: the dataset is a registered base. False: half-registered. */
  intact: boolean;
}

/** `-` is how zfs shows an unset user property. */
const local = (v: string | undefined) => (v && v !== '-' ? v : undefined);

/**
 * The registry properties of one dataset and its snapshots, from one
 * `zfs get -H -p -o name,property,value,source base-snapshot,base-description,creation,defer_destroy -d 1 DATASET`
 * (a read). RC 3 when the dataset does not exist.
 */
async function readDataset(ctx: Ctx, dataset: string) {
  const r = await zfs(ctx, ['get', '-H', '-p', '-o', 'name,property,value,source', `${PROPS.baseSnapshot},${PROPS.description},creation,defer_destroy`, '-d', '1', dataset], { readOnly: true });
  const own: Record<string, string> = {};
  const snaps = new Map<string, { creation: number; deferred: boolean }>();
  for (const [n, k, v, source] of rows(r.stdout)) {
    if (n === dataset && source === 'local') own[k!] = v ?? '';
    else if (n?.startsWith(`${dataset}@`)) {
      const s = n.slice(dataset.length + 1);
      const cur = snaps.get(s) ?? { creation: 0, deferred: false };
      if (k === 'creation') cur.creation = Number(v);
      if (k === 'defer_destroy') cur.deferred = v === 'on';
      snaps.set(s, cur);
    }
  }
  return { own, snaps };
}

/** The one definition of "registered" (see the file comment), as a record. */
function record(name: string, props: Record<string, string>, createdEpoch: number | undefined): BaseRecord | undefined {
  const snapshot = local(props[PROPS.baseSnapshot]);
  if (!snapshot) return undefined;
  const epoch = createdEpoch ?? 0;
  return {
    name,
    snapshot,
    created: epoch ? new Date(epoch * 1000).toISOString() : undefined,
    description: local(props[PROPS.description]),
    createdEpoch: epoch,
    intact: createdEpoch !== undefined,
  };
}

/** The registry record of one dataset (registered or half-registered), or undefined when it has no registry properties. RC 3 when it does not exist. */
export async function readBase(ctx: Ctx, dataset: string): Promise<BaseRecord | undefined> {
  const { own, snaps } = await readDataset(ctx, dataset);
  const snap = local(own[PROPS.baseSnapshot]);
  return record(dataset, own, snap ? snaps.get(snap)?.creation : undefined);
}

/** The registered base info of one dataset, or undefined when it is not a registered base (see the file comment). */
export async function getBase(ctx: Ctx, dataset: string): Promise<ZfsBase | undefined> {
  const b = await readBase(ctx, dataset);
  return b?.intact ? b : undefined;
}

/**
 * RC 3 unless `base` is a registered base with the snapshot `rexx-base`; the message
 * says when it is only half-registered and how to repair it. A read: under dryrun too.
 */
export async function requireBase(ctx: Ctx, base: string): Promise<void> {
  const snapshot = BASE_SNAPSHOT;
  let b: BaseRecord | undefined;
  try {
    b = await readBase(ctx, base);
  } catch (e) {
    if (isReason(e, 'notFound')) throw notFound(`base '${base}' is not registered: the dataset does not exist`, { cause: e });
    throw e;
  }
  if (!b) throw notFound(`base '${base}' is not registered (register_base name=${base} makes it one)`);
  if (!b.intact) throw notFound(`base '${base}' is not registered: its snapshot ${base}@${b.snapshot} is missing (register_base name=${base} repairs it)`);
  if (b.snapshot !== snapshot) throw notFound(`base '${base}' is registered with snapshot ${b.snapshot}, not ${snapshot}`);
}

/**
 * Every dataset under `root` (a pool or dataset; all pools when omitted) with registry
 * properties set locally — not their children that inherit them — registered or not:
 * `zfs get -H -p -o name,property,value -s local ... [-r ROOT]`, then the creation time
 * of each base snapshot in one `zfs get` (a snapshot it does not print is missing).
 */
export async function listBaseRecords(ctx: Ctx, root?: string): Promise<BaseRecord[]> {
  const args = ['get', '-H', '-p', '-o', 'name,property,value', '-s', 'local', `${PROPS.baseSnapshot},${PROPS.description}`];
  if (root) args.push('-r', root);
  const r = await zfs(ctx, args, { readOnly: true });
  const by = new Map<string, Record<string, string>>();
  for (const [n, k, v] of rows(r.stdout)) if (n && !n.includes('@')) by.set(n, { ...by.get(n), [k!]: v ?? '' });
  const candidates = [...by.entries()].filter(([, p]) => local(p[PROPS.baseSnapshot]));
  if (!candidates.length) return [];
  const c = await ctx.run(['zfs', 'get', '-H', '-p', '-o', 'name,value', 'creation', ...candidates.map(([n, p]) => `${n}@${p[PROPS.baseSnapshot]}`)], { readOnly: true });
  // zfs prints the snapshots that exist and names each missing one on stderr (exit 1).
  if (!onlyMissing(c)) await zfs(ctx, c.argv.slice(1), { readOnly: true }); // throws the classified error
  const created = new Map(rows(c.stdout).map(([n, v]) => [n!, Number(v)]));
  return candidates.map(([name, p]) => record(name, p, created.get(`${name}@${p[PROPS.baseSnapshot]}`))!);
}

/** Every registered base under `root` (see listBaseRecords; half-registered ones left out). */
export async function listBases(ctx: Ctx, root?: string): Promise<ZfsBase[]> {
  return (await listBaseRecords(ctx, root)).filter((b) => b.intact);
}

/**
 * RC 7 when any of `snapshots` (full names) is the base snapshot of a registered base:
 * destroying it would leave the base half-registered. `action` starts the message.
 */
export async function refuseBaseSnapshots(ctx: Ctx, snapshots: string[], action: string): Promise<void> {
  const datasets = [...new Set(snapshots.map((s) => s.split('@')[0]!))];
  const hits: string[] = [];
  for (const d of datasets) {
    const b = await getBase(ctx, d).catch((e) => (isReason(e, 'notFound') ? undefined : Promise.reject(e)));
    if (b && snapshots.includes(`${d}@${b.snapshot}`)) hits.push(`${d}@${b.snapshot}`);
  }
  if (hits.length) {
    throw refused(`${action}: ${hits.join(', ')} is the snapshot of a registered base; unregister_base ${hits.map((h) => h.split('@')[0]).join(' ')} first`, {
      vars: { BASES: stem(hits.map((h) => h.split('@')[0]!)) },
    });
  }
}

/**
 * Register `dataset` as a base: take `@rexx-base` (or opts.snapshot), then mark the
 * dataset. RC 4 when it is already registered (refresh=true re-takes the snapshot: the
 * old one is renamed aside and destroyed when nothing was cloned from it, else its
 * destroy is deferred with `zfs destroy -d` until the last clone goes). A half-registered
 * dataset is registered again. A snapshot of that name left by unregister_base (deferred
 * destroy) is moved aside the same way; any other one is RC 4 unless refresh=true.
 * RC 3 when the dataset is missing, RC 2 for a description over 8191 bytes. Either every
 * step is done or the ones done are undone (the error says if an undo failed).
 */
export async function registerBase(
  ctx: Ctx,
  dataset: string,
  opts: { description?: string; refresh?: boolean; snapshot?: string } = {},
): Promise<ZfsBase> {
  const why = opts.description === undefined ? undefined : baseDescription.check(opts.description);
  if (why) throw usageError(`register_base: description ${why}`);
  const snap = opts.snapshot ?? BASE_SNAPSHOT;
  return ctx.state.lock(zfsLockFile(ctx, dataset), async () => {
    const { own, snaps } = await readDataset(ctx, dataset);
    const cur = local(own[PROPS.baseSnapshot]);
    const intact = !!cur && snaps.has(cur);
    if (intact && !opts.refresh) throw alreadyExists(`${dataset} is already a registered base (refresh=true re-takes its snapshot)`);
    const undo: Undo[] = [];
    const aside: string[] = [];
    try {
      // Clear the name the new snapshot takes, and the old base snapshot on refresh.
      for (const s of new Set([snap, ...(intact ? [cur!] : [])])) {
        const info = snaps.get(s);
        if (!info) continue;
        if (!opts.refresh && !info.deferred) {
          throw alreadyExists(`${dataset}@${s} exists but is not the snapshot of a registered base; register_base refresh=true replaces it (clones of it keep working)`);
        }
        // Renamed, not destroyed: clones made from it keep working.
        const { name } = await createUnderFreeName(epochName(s, ctx.clock.now()), (n) => zfs(ctx, ['rename', `${dataset}@${s}`, `${dataset}@${n}`]));
        undo.push({ what: `rename ${dataset}@${name} back to @${s}`, run: () => zfs(ctx, ['rename', `${dataset}@${name}`, `${dataset}@${s}`]) });
        if (!info.deferred) aside.push(name);
      }
      try {
        await zfs(ctx, ['snapshot', `${dataset}@${snap}`]);
      } catch (e) {
        if (isReason(e, 'exists')) throw alreadyExists(`${dataset}@${snap} was just made by another call: ${e.message}`, { cause: e });
        throw e;
      }
      undo.push({ what: `destroy ${dataset}@${snap}`, run: () => destroyDataset(ctx, `${dataset}@${snap}`) });
      undo.push({ what: `restore the org.rexxjs: properties of ${dataset}`, run: () => restoreProps(ctx, dataset, own) });
      await zfs(ctx, ['set', `${PROPS.base}=on`, dataset]);
      await zfs(ctx, ['set', `${PROPS.baseSnapshot}=${snap}`, dataset]);
      if (opts.description !== undefined) await zfs(ctx, ['set', `${PROPS.description}=${opts.description}`, dataset]);
    } catch (e) {
      throw await undoAll(undo, e);
    }
    // The old snapshots go now when nothing was cloned from them, else with the last clone.
    for (const a of aside) {
      await destroyDataset(ctx, `${dataset}@${a}`, { defer: true }).catch((e) => ctx.log(`register_base: ${dataset}@${a} stays: ${(e as Error).message}`));
    }
    const now = Math.floor(ctx.clock.now() / 1000);
    return { name: dataset, snapshot: snap, created: new Date(now * 1000).toISOString(), description: opts.description, createdEpoch: now };
  });
}

/** Put the registry properties of `dataset` back to `own` (their local values before; absent = inherited). */
async function restoreProps(ctx: Ctx, dataset: string, own: Record<string, string>): Promise<void> {
  for (const k of [PROPS.base, PROPS.baseSnapshot, PROPS.description]) {
    const v = local(own[k]);
    // PROPS.base is not read back; it is `on` wherever base-snapshot is set.
    const before = k === PROPS.base ? (local(own[PROPS.baseSnapshot]) ? 'on' : undefined) : v;
    await zfs(ctx, before === undefined ? ['inherit', k, dataset] : ['set', `${k}=${before}`, dataset]);
  }
}

/**
 * Clone `base@rexx-base` to `target` (one `zfs clone`, marked cloned-from; callers check
 * the base once with requireBase). RC 3 when the base snapshot is missing, RC 4 when
 * target exists. `properties` are extra `K=V` set at creation (`-o`); `parents` creates
 * missing parents (`-p`). A clone that zfs made but then failed on (e.g. "created, but
 * not mounted") is destroyed again, with the parents this call made.
 */
export async function cloneFromBase(
  ctx: Ctx,
  base: string,
  target: string,
  opts: { snapshot?: string; properties?: string[]; parents?: boolean; timeoutMs?: number } = {},
): Promise<void> {
  const args = ['clone'];
  if (opts.parents) args.push('-p');
  args.push('-o', `${PROPS.clonedFrom}=${base}`);
  for (const kv of opts.properties ?? []) args.push('-o', kv);
  args.push(`${base}@${opts.snapshot ?? BASE_SNAPSHOT}`, target);
  try {
    await createOrUndo(ctx, target, args, { parents: opts.parents, timeoutMs: opts.timeoutMs ?? zfsTimeout(ctx, 120_000) });
  } catch (e) {
    if (isReason(e, 'notFound') && namesIn(e).some((n) => n.startsWith(`${base}@`))) {
      throw notFound(`base '${base}' is not registered (no snapshot ${base}@${opts.snapshot ?? BASE_SNAPSHOT}): ${e.message}`, { cause: e });
    }
    throw e;
  }
}

/**
 * Stop treating `dataset` as a base: remove the properties (`zfs inherit`) and destroy
 * its base snapshot — deferred (`zfs destroy -d`) when clones still depend on it, so
 * they keep working. A half-registered dataset only loses its properties. RC 3 when it
 * has no registry properties. If the destroy fails, the properties are put back.
 * Returns the snapshot name.
 */
export async function unregisterBase(ctx: Ctx, dataset: string): Promise<string> {
  return ctx.state.lock(zfsLockFile(ctx, dataset), async () => {
    const { own, snaps } = await readDataset(ctx, dataset);
    const cur = local(own[PROPS.baseSnapshot]);
    if (!cur) throw notFound(`${dataset} is not a registered base`);
    const snap = cur;
    const undo: Undo[] = [{ what: `restore the org.rexxjs: properties of ${dataset}`, run: () => restoreProps(ctx, dataset, own) }];
    try {
      for (const k of [PROPS.base, PROPS.baseSnapshot, PROPS.description]) await zfs(ctx, ['inherit', k, dataset]);
      if (snaps.has(snap)) await destroyDataset(ctx, `${dataset}@${snap}`, { defer: true });
    } catch (e) {
      throw await undoAll(undo, e);
    }
    return snap;
  });
}

/** The base a clone came from (its local cloned-from property), or '' when none. */
export async function clonedFrom(ctx: Ctx, dataset: string): Promise<string> {
  const p = await getProps(ctx, dataset, [PROPS.clonedFrom]);
  return local(p[PROPS.clonedFrom]) ?? '';
}
