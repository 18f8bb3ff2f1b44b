/**
 * The ZFS base registry, kept in ZFS itself as user properties so any later process
 * (or ADDRESS LXCRI, for bundle rootfs datasets) finds it: a base is a dataset or
 * volume with a fixed snapshot `@rexx-base` and, set locally on the dataset,
 * `org.rexxjs:base=on`, `org.rexxjs:base-snapshot=rexx-base` and optionally
 * `org.rexxjs:base-description`; a clone carries `org.rexxjs:cloned-from=BASE`.
 * A clone is one command, `zfs clone -o org.rexxjs:cloned-from=BASE BASE@rexx-base NAME`,
 * with no lookup first. These functions take ctx and plain full dataset names.
 */
import { AddressError, alreadyExists, notFound } from '../../shared/errors';
import type { BaseInfo } from '../../shared/bases';
import type { Ctx } from '../../shared/verb';
import { destroyDataset, getProps, setProp } from './dataset';
import { snapshot } from './snapshot';
import { rows, zfs } from './zfs';

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

/** The fixed snapshot every base's clones are made from. */
export const BASE_SNAPSHOT = 'rexx-base';

/** A registered base as the registry reports it. */
export interface ZfsBase extends BaseInfo {
  /** Creation of the base snapshot, epoch seconds (0 when unknown). */
  createdEpoch: number;
}

/**
 * Register `dataset` as a base: take `@rexx-base` (or opts.snapshot), then mark the
 * dataset. RC 4 when it is already registered (refresh=true re-takes the snapshot; the
 * old one is destroyed when nothing was cloned from it, else its destroy is deferred
 * with `zfs destroy -d` until the last clone goes). RC 3 when the dataset is missing.
 */
export async function registerBase(
  ctx: Ctx,
  dataset: string,
  opts: { description?: string; refresh?: boolean; snapshot?: string } = {},
): Promise<ZfsBase> {
  const snap = opts.snapshot ?? BASE_SNAPSHOT;
  const current = (await getBase(ctx, dataset))?.snapshot;
  if (current && !opts.refresh) throw alreadyExists(`${dataset} is already a registered base (refresh=true re-takes its snapshot)`);
  if (current) {
    // Rename the old snapshot out of the way: clones made from it keep working.
    const old = `${dataset}@${current}`;
    const aside = `${current}-${Math.floor(Date.now() / 1000)}`;
    await zfs(ctx, ['rename', old, `${dataset}@${aside}`]).catch((e) => ignoreKind(e, 'notFound'));
    await destroyDataset(ctx, `${dataset}@${aside}`, { defer: true }).catch((e) => ignoreKind(e, 'notFound'));
  }
  await snapshot(ctx, dataset, snap);
  await setProp(ctx, dataset, PROPS.base, 'on');
  await setProp(ctx, dataset, PROPS.baseSnapshot, snap);
  if (opts.description !== undefined) await setProp(ctx, dataset, PROPS.description, opts.description);
  const now = Math.floor(Date.now() / 1000);
  return { name: dataset, snapshot: snap, created: new Date(now * 1000).toISOString(), description: opts.description, createdEpoch: now };
}

/**
 * Clone `base@rexx-base` to `target` (one `zfs clone`, marked cloned-from). RC 3 when
 * the base is not registered (its snapshot is missing), RC 4 when target exists.
 * `properties` are extra `K=V` set at creation (`-o`); `parents` creates missing parents (`-p`).
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
    await zfs(ctx, args, { timeoutMs: opts.timeoutMs ?? 120_000 });
  } catch (e) {
    if (e instanceof AddressError && e.kind === 'notFound' && new RegExp(`'${escape(base)}@`).test(e.message)) {
      throw notFound(`base '${base}' is not registered (no snapshot ${base}@${opts.snapshot ?? BASE_SNAPSHOT}): ${e.message}`, { cause: e });
    }
    throw e;
  }
}

/**
 * Every registered base under `root` (a pool or dataset; all pools when omitted), from
 * `zfs get -H -p -o name,property,value -s local ... -r` — only datasets where the
 * properties are set locally, not their children that inherit them.
 */
export async function listBases(ctx: Ctx, root?: string): Promise<ZfsBase[]> {
  const args = ['get', '-H', '-p', '-o', 'name,property,value', '-s', 'local', `${PROPS.baseSnapshot},${PROPS.description}`];
  if (root) args.push('-r', root);
  const r = await zfs(ctx, args, { readOnly: true });
  const by = new Map<string, Record<string, string>>();
  for (const [n, k, v] of rows(r.stdout)) if (n && !n.includes('@')) by.set(n, { ...by.get(n), [k!]: v ?? '' });
  const bases = [...by.entries()].filter(([, p]) => p[PROPS.baseSnapshot]);
  if (!bases.length) return [];
  // Creation times of the base snapshots in one call.
  const snaps = bases.map(([n, p]) => `${n}@${p[PROPS.baseSnapshot]}`);
  const c = await ctx.run(['zfs', 'get', '-H', '-p', '-o', 'name,value', 'creation', ...snaps], { readOnly: true });
  const created = new Map(rows(c.stdout).map(([n, v]) => [n!, Number(v)]));
  return bases.map(([name, p]) => {
    const epoch = created.get(`${name}@${p[PROPS.baseSnapshot]}`) ?? 0;
    return {
      name,
      snapshot: p[PROPS.baseSnapshot]!,
      created: epoch ? new Date(epoch * 1000).toISOString() : undefined,
      description: p[PROPS.description],
      createdEpoch: epoch,
    };
  });
}

/** The registered base info of one dataset, or undefined when it is not a base. */
export async function getBase(ctx: Ctx, dataset: string): Promise<ZfsBase | undefined> {
  const r = await zfs(ctx, ['get', '-H', '-p', '-o', 'name,property,value', '-s', 'local', `${PROPS.baseSnapshot},${PROPS.description}`, dataset], { readOnly: true });
  const p = Object.fromEntries(rows(r.stdout).map(([, k, v]) => [k!, v ?? '']));
  if (!p[PROPS.baseSnapshot]) return undefined;
  return { name: dataset, snapshot: p[PROPS.baseSnapshot], description: p[PROPS.description], createdEpoch: 0 };
}

/**
 * Stop treating `dataset` as a base: remove the properties (`zfs inherit`) and destroy
 * its base snapshot — deferred (`zfs destroy -d`) when clones still depend on it, so
 * they keep working. RC 3 when it is not a registered base. Returns the snapshot name.
 */
export async function unregisterBase(ctx: Ctx, dataset: string): Promise<string> {
  const b = await getBase(ctx, dataset);
  if (!b && !ctx.dryrun) throw notFound(`${dataset} is not a registered base`);
  const snap = b?.snapshot ?? BASE_SNAPSHOT;
  for (const k of [PROPS.base, PROPS.baseSnapshot, PROPS.description]) await zfs(ctx, ['inherit', k, dataset]);
  await destroyDataset(ctx, `${dataset}@${snap}`, { defer: true }).catch((e) => ignoreKind(e, 'notFound'));
  return snap;
}

/** The base a clone came from (its local cloned-from property), or '' when none. */
export async function clonedFrom(ctx: Ctx, dataset: string): Promise<string> {
  const p = await getProps(ctx, dataset, [PROPS.clonedFrom]);
  return local(p[PROPS.clonedFrom]) ?? '';
}

/** `-` is how zfs shows an unset user property. */
const local = (v: string | undefined) => (v && v !== '-' ? v : undefined);

function ignoreKind(e: unknown, kind: string): void {
  if (!(e instanceof AddressError && e.kind === kind)) throw e;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
