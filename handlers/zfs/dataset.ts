/**
 * Dataset operations over the zfs CLI (handlers/zfs/zfs.ts), for the ZFS verbs and for
 * ADDRESS LXCRI and QEMU: existence and properties, the dataset under a path, destroy
 * and rename with zfs-fuse's "dataset is busy" handled, clones and dependents.
 */
import * as path from 'node:path';
import { AddressError } from '../../shared/errors';
import { sleep } from '../../shared/poll';
import type { Ctx } from '../../shared/verb';
import { implementation, rows, zfs } from './zfs';

const isKind = (e: unknown, kind: string) => e instanceof AddressError && e.kind === kind;

/** True when the dataset, volume or snapshot exists (`zfs list -H -o name`; a read). RC 6 when ZFS is down. */
export async function datasetExists(ctx: Ctx, name: string): Promise<boolean> {
  try {
    await zfs(ctx, ['list', '-H', '-o', 'name', '-t', 'all', name], { readOnly: true });
    return true;
  } catch (e) {
    if (isKind(e, 'notFound')) return false;
    throw e;
  }
}

/** Parsed values of some properties of one dataset (`zfs get -H -p -o property,value`; raw bytes and epoch seconds). RC 3 if missing. */
export async function getProps(ctx: Ctx, name: string, props: string[]): Promise<Record<string, string>> {
  const r = await zfs(ctx, ['get', '-H', '-p', '-o', 'property,value', props.join(','), name], { readOnly: true });
  return Object.fromEntries(rows(r.stdout).map(([k, v]) => [k!, v ?? '']));
}

/** Set one property (`zfs set K=V NAME`; zfs-fuse takes one pair per call). */
export async function setProp(ctx: Ctx, name: string, key: string, value: string): Promise<void> {
  await zfs(ctx, ['set', `${key}=${value}`, name]);
}

/**
 * The mounted filesystem whose mountpoint is `p` or contains it (longest match), from
 * `zfs list -H -o name,mountpoint,mounted -t filesystem`; undefined when none.
 */
export async function datasetForPath(ctx: Ctx, p: string): Promise<string | undefined> {
  const abs = path.resolve(p);
  const r = await zfs(ctx, ['list', '-H', '-o', 'name,mountpoint,mounted', '-t', 'filesystem'], { readOnly: true });
  let best: { name: string; len: number } | undefined;
  for (const [name, mp, mounted] of rows(r.stdout)) {
    if (!name || !mp || mounted !== 'yes' || !mp.startsWith('/')) continue;
    const m = mp === '/' ? '/' : mp.replace(/\/+$/, '');
    const inside = abs === m || abs.startsWith(m === '/' ? '/' : `${m}/`);
    if (inside && (!best || m.length > best.len)) best = { name, len: m.length };
  }
  return best?.name;
}

/**
 * `zfs destroy [-r|-R] NAME`. zfs-fuse answers "dataset is busy" for a mounted
 * filesystem (OpenZFS unmounts by itself): the busy dataset named in the message is
 * unmounted and the destroy retried (up to 4 retries per dataset, the later ones after
 * 50/100/200 ms). RC 7 (with the tool's
 * list of dependents) when it has children/clones and no recursion was asked, RC 3 when missing.
 */
export async function destroyDataset(
  ctx: Ctx,
  name: string,
  o: { recursive?: boolean; dependents?: boolean; defer?: boolean; timeoutMs?: number } = {},
): Promise<void> {
  const args = ['destroy'];
  if (o.dependents) args.push('-R');
  else if (o.recursive) args.push('-r');
  if (o.defer) args.push('-d');
  args.push(name);
  const tries = new Map<string, number>();
  for (;;) {
    try {
      await zfs(ctx, args, { timeoutMs: o.timeoutMs ?? 120_000 });
      return;
    } catch (e) {
      const busy = /cannot destroy '([^']+)': dataset is busy/.exec(e instanceof Error ? e.message : '');
      const which = busy?.[1];
      const n = which ? (tries.get(which) ?? 0) : 0;
      if (!which || which.includes('@') || n >= 4 || tries.size > 64) throw e;
      tries.set(which, n + 1);
      // First time: unmount it. After that zfs-fuse sometimes needs a moment (seen right
      // after parallel clones): wait 50, 100, 200 ms.
      if (n === 0) await ctx.run(['zfs', 'unmount', which], { timeoutMs: 60_000 });
      else await sleep(50 * 2 ** (n - 1));
    }
  }
}

/** Filesystems and volumes cloned from any snapshot of `dataset` (from the `origin` column; zfs-fuse has no `clones` property). */
export async function clonesOf(ctx: Ctx, dataset: string, pool?: string): Promise<Array<{ name: string; origin: string }>> {
  const args = ['list', '-H', '-o', 'name,origin', '-t', 'filesystem,volume'];
  if (pool) args.push('-r', pool);
  const r = await zfs(ctx, args, { readOnly: true });
  return rows(r.stdout)
    .filter(([, origin]) => origin?.startsWith(`${dataset}@`))
    .map(([name, origin]) => ({ name: name!, origin: origin! }));
}

/** Everything that keeps `dataset` from a plain destroy: child datasets, its snapshots, clones of those snapshots. */
export async function dependentsOf(ctx: Ctx, dataset: string): Promise<{ children: string[]; snapshots: string[]; clones: string[] }> {
  const r = await zfs(ctx, ['list', '-H', '-o', 'name,type,origin', '-t', 'all', '-r', dataset.split('/')[0]!], { readOnly: true });
  const children: string[] = [];
  const snapshots: string[] = [];
  const clones: string[] = [];
  for (const [name, type, origin] of rows(r.stdout)) {
    if (!name) continue;
    if (name.startsWith(`${dataset}/`) && type !== 'snapshot') children.push(name);
    else if (name.startsWith(`${dataset}@`)) snapshots.push(name);
    if (origin && (origin.startsWith(`${dataset}@`) || origin.startsWith(`${dataset}/`)) && !name.startsWith(`${dataset}/`)) clones.push(name);
  }
  return { children, snapshots, clones };
}

/**
 * `zfs rename [-p] FROM TO`. zfs-fuse answers "dataset is busy" for a mounted
 * filesystem (measured: every time here, not just once): the source is then unmounted,
 * the rename retried (up to 3 times, 100 ms apart), and the new name mounted again.
 */
export async function renameDataset(ctx: Ctx, from: string, to: string, o: { parents?: boolean } = {}): Promise<void> {
  const args = o.parents ? ['rename', '-p', from, to] : ['rename', from, to];
  try {
    await zfs(ctx, args);
    return;
  } catch (e) {
    if (!(e instanceof AddressError) || !/dataset is busy/.test(e.message) || from.includes('@')) throw e;
  }
  const wasMounted = (await getProps(ctx, from, ['mounted'])).mounted === 'yes';
  if (wasMounted) await zfs(ctx, ['unmount', from]);
  for (let i = 1; ; i++) {
    try {
      await zfs(ctx, args);
      break;
    } catch (e) {
      if (i >= 3 || !(e instanceof AddressError) || !/dataset is busy/.test(e.message)) {
        if (wasMounted) await ctx.run(['zfs', 'mount', from]);
        throw e;
      }
      await sleep(100);
    }
  }
  if (wasMounted) await zfs(ctx, ['mount', to]);
}

/**
 * zfs-fuse does not invalidate the FUSE cache when a receive changes a mounted
 * filesystem (the old file contents stay visible until a remount; measured here).
 * On zfs-fuse, unmount and mount `dataset` again when it is mounted; elsewhere nothing.
 * A failed remount is logged (trace) and otherwise ignored: the data on disk is right.
 */
export async function refreshMount(ctx: Ctx, dataset: string): Promise<void> {
  if (ctx.dryrun || (await implementation(ctx)).impl !== 'zfs-fuse') return;
  const m = await getProps(ctx, dataset, ['mounted']).catch(() => ({}) as Record<string, string>);
  if (m.mounted !== 'yes') return;
  const u = await ctx.run(['zfs', 'unmount', dataset]);
  const r = u.ok ? await ctx.run(['zfs', 'mount', dataset]) : u;
  if (!r.ok) ctx.log(`remount of ${dataset} after receive failed: ${(r.stderr || r.stdout).trim()}`);
}
