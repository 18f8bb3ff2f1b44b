/**
 * Container rootfs on ZFS, through the ZFS handler's client (handlers/zfs/tool.ts, dataset.ts).
 * A container's dataset is `<pool>/containers/<id>`. Two shapes are recognised by the
 * dataset's mountpoint, whoever made it: the dataset is the bundle's `rootfs`
 * (create zfs=true, register_base of a plain bundle), or it is the whole bundle
 * (bundle_from_image: config.json + rootfs unpacked by umoci, then cloned). Verbs that
 * work without ZFS ask here which pool answers and which dataset a container has.
 */
import * as path from 'node:path';
import { alreadyExists, isReason, notFound, toolFailed } from '../../shared/errors';
import type { Ctx } from '../../shared/verb';
import { datasetExists, datasetForPath, destroyDataset, getProps } from '../zfs/dataset';
import { defaultPool, zfs } from '../zfs/tool';

/** `<pool>/containers/<id>`. */
export const containerDataset = (ctx: Ctx, id: string, pool?: string) => `${pool ?? defaultPool(ctx)}/containers/${id}`;

/** The mounted dataset whose mountpoint is the bundle's rootfs or the bundle itself, else undefined. */
export async function bundleDataset(ctx: Ctx, bundle: string, rootfs = 'rootfs'): Promise<{ dataset: string; mountpoint: string } | undefined> {
  const root = path.resolve(bundle, rootfs);
  const ds = await datasetForPath(ctx, root);
  if (!ds) return undefined;
  const mp = (await getProps(ctx, ds, ['mountpoint'])).mountpoint ?? '';
  return mp === root || mp === path.resolve(bundle) ? { dataset: ds, mountpoint: mp } : undefined;
}

/** Where {@link datasetOf} keeps what it found for a bundle in `ctx.cache` (per handler instance). */
const datasetKey = (bundle: string) => `lxcri:dataset:${path.resolve(bundle)}`;

/** Forget what {@link datasetOf} found for `bundle` (its dataset was destroyed, or another is mounted there now). */
export const forgetDataset = (ctx: Pick<Ctx, 'cache'>, bundle: string) => ctx.cache.delete(datasetKey(bundle));

/**
 * The container's ZFS dataset: from its bundle's mountpoint, else `<pool>/containers/<id>`
 * if it exists; undefined when there is none or ZFS is absent (no zfs binary, daemon
 * down), so the CRIU path still works on hosts without ZFS. What a bundle's mountpoint
 * gave is kept per handler instance (`ctx.cache`: the lookup is a `zfs list` of every
 * filesystem plus a `zfs get`, ~10 ms, most of what a checkpoint added to pause +
 * snapshot + resume); `fresh` looks again. A verb that acts on a kept answer and gets
 * RC 3 from zfs looks again once (the dataset was destroyed or renamed meanwhile).
 */
export async function datasetOf(ctx: Ctx, id: string, bundle: string | undefined, o: { fresh?: boolean } = {}): Promise<string | undefined> {
  try {
    if (bundle) {
      const hit = o.fresh ? undefined : (ctx.cache.get(datasetKey(bundle)) as string | undefined);
      if (hit) return hit;
      const d = await bundleDataset(ctx, bundle);
      if (d) {
        ctx.cache.set(datasetKey(bundle), d.dataset);
        return d.dataset;
      }
      forgetDataset(ctx, bundle);
    }
    const guess = containerDataset(ctx, id);
    return (await datasetExists(ctx, guess)) ? guess : undefined;
  } catch (e) {
    if (isReason(e, 'unavailable', 'notFound')) return undefined;
    throw e;
  }
}

/** Pool to use: zfs=false → none; true → the pool (RC 6 if ZFS is down); auto → the pool when it answers. */
export async function usablePool(ctx: Ctx, mode: string, pool: string | undefined): Promise<string | undefined> {
  if (mode === 'false') return undefined;
  const name = pool ?? defaultPool(ctx);
  try {
    if (await datasetExists(ctx, name)) return name;
    if (mode === 'true') throw notFound(`ZFS pool ${name} not found`);
  } catch (e) {
    if (mode === 'true') throw e;
  }
  return undefined;
}

/**
 * create/run with zfs=true: when the rootfs is not already on its own dataset, move it
 * onto `<pool>/containers/<id>` — rename rootfs aside, `zfs create -p -o
 * mountpoint=BUNDLE/rootfs`, `cp -a` the files in, remove the old copy. Returns the
 * dataset, or undefined when zfs is off. RC 4 when the dataset already exists.
 */
export async function placeRootfsOnZfs(ctx: Ctx, p: { name: string; bundle: string; zfs?: boolean; pool?: string }): Promise<string | undefined> {
  const on = p.zfs ?? ctx.env.REXX_LXCRI_ZFS === '1';
  if (!on) return undefined;
  const have = await bundleDataset(ctx, p.bundle);
  if (have) return have.dataset;
  const ds = containerDataset(ctx, p.name, p.pool);
  if (await datasetExists(ctx, ds)) throw alreadyExists(`dataset ${ds} already exists (delete purge=true removes it)`);
  const rootfs = path.join(p.bundle, 'rootfs');
  const aside = path.join(p.bundle, '.rootfs-pre-zfs');
  ctx.fs.rename(rootfs, aside);
  try {
    await zfs(ctx, ['create', '-p', '-o', `mountpoint=${rootfs}`, ds]);
    const r = await ctx.run(['cp', '-a', '--', `${aside}/.`, `${rootfs}/`], { timeoutMs: 600_000 });
    if (!r.ok) throw toolFailed(`copying the rootfs onto ${ds} failed: ${r.stderr.trim()}`);
  } catch (e) {
    await destroyDataset(ctx, ds).catch(() => undefined);
    ctx.fs.remove(rootfs);
    ctx.fs.rename(aside, rootfs);
    throw e;
  }
  ctx.fs.remove(aside);
  return ds;
}

/** delete purge=true: destroy `<pool>/containers/<id>` with its snapshots; returns it, or undefined when absent. */
export async function purgeContainerDataset(ctx: Ctx, id: string, pool?: string): Promise<string | undefined> {
  const ds = containerDataset(ctx, id, pool);
  // Under dryrun the dataset is taken to be there (an earlier step of the script may make it).
  if (!(await ctx.effect(() => datasetExists(ctx, ds), true))) return undefined;
  await destroyDataset(ctx, ds, { recursive: true });
  return ds;
}

/**
 * RC 4 when `dir` exists and has entries: a new bundle (an unpacked image, a clone
 * mounted there) is never put over a host directory's files. A read, so a dryrun says
 * so too.
 */
export function requireEmptyDir(ctx: Pick<Ctx, 'fs'>, dir: string): void {
  if (ctx.fs.list(dir).length) throw alreadyExists(`bundle directory ${dir} is not empty`);
}
