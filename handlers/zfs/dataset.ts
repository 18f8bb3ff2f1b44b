/**
 * Dataset operations over the zfs CLI (handlers/zfs/tool.ts), for the ZFS verbs and for
 * ADDRESS LXCRI and QEMU: existence and properties, the dataset under a path, create or
 * clone undone on failure, destroy and rename with zfs-fuse's "dataset is busy" handled
 * and never while the dataset is in use (in-use.ts), clones and dependents.
 */
import * as path from 'node:path';
import { isReason, toolMessage } from '../../shared/errors';
import { undoAll, type Undo } from '../../shared/undo';
import type { Ctx } from '../../shared/verb';
import { busyDataset, onlyMissing } from './errors';
import { holdersOf, requireNotInUse } from './in-use';
import { implementation, rows, zfs, zfsLockFile, zfsTimeout } from './tool';

/** The ancestors of `name` (below the pool) that do not exist, shallowest first; [] when that cannot be told. */
async function missingAncestors(ctx: Ctx, name: string): Promise<string[]> {
  const parts = name.split('/');
  const anc = parts.slice(2).map((_, i) => parts.slice(0, i + 2).join('/'));
  if (!anc.length) return [];
  // zfs list prints the ones that exist and names each missing one on stderr (exit 1).
  const r = await ctx.run(['zfs', 'list', '-H', '-o', 'name', ...anc], { readOnly: true, timeoutMs: zfsTimeout(ctx, 60_000) });
  if (!onlyMissing(r)) return [];
  const have = new Set(rows(r.stdout).map(([n]) => n));
  return anc.filter((a) => !have.has(a));
}

/**
 * Run a `zfs create`/`zfs clone` (`args`) that makes `name`. With `parents` (-p in
 * `args`), the missing parents are made first (`zfs create -p PARENT`) and `name` itself
 * without -p: `zfs create -p` and `zfs clone -p` answer 0 when the target already exists,
 * so parallel creates of one name would all succeed; this way exactly one does and the
 * rest are RC 4. When it fails after zfs made the dataset (e.g. "filesystem successfully
 * created, but not mounted"), the dataset is destroyed again, and so are the parents
 * made for it; RC 4 (it existed) undoes nothing. The error says what was undone.
 *
 * The parents are looked up and made under a per-pool host lock (zfsLockFile
 * `pool:NAME`): on zfs-fuse, parallel `zfs create -p` into one new parent mount that
 * parent while others mount children below it, which failed with "cannot mount: Input/
 * output error" and, with distinct children, wedged the daemon (10 parallel
 * `zfs create -p P/x/b/cN`, measured 2026-11-30). Under the lock a call that finds the
 * parents there finds them mounted too; making `name` itself runs outside the lock.
 */
export async function createOrUndo(ctx: Ctx, name: string, args: string[], o: { parents?: boolean; timeoutMs?: number } = {}): Promise<void> {
  const timeoutMs = o.timeoutMs ?? zfsTimeout(ctx, 60_000);
  const strict = o.parents ? args.filter((a, i) => !(a === '-p' && i > 0)) : args;
  let made: string[] = [];
  const undo = (e: unknown) =>
    undoAll([...made, name].map((d) => ({
      what: `destroy ${d}`,
      run: async () => {
        if (await datasetExists(ctx, d)) await destroyDataset(ctx, d);
      },
    })), e);
  if (o.parents && name.split('/').length > 2) {
    await ctx.state.lock(zfsLockFile(ctx, `pool:${name.split('/')[0]}`), async () => {
      made = await missingAncestors(ctx, name);
      if (!made.length) return;
      try {
        await zfs(ctx, ['create', '-p', name.slice(0, name.lastIndexOf('/'))], { timeoutMs });
      } catch (e) {
        throw await undo(e);
      }
    });
  }
  try {
    await zfs(ctx, strict, { timeoutMs });
  } catch (e) {
    if (isReason(e, 'exists')) throw e;
    throw await undo(e);
  }
}

/** True when the dataset, volume or snapshot exists (`zfs list -H -o name`; a read). RC 6 when ZFS is down. */
export async function datasetExists(ctx: Ctx, name: string): Promise<boolean> {
  try {
    await zfs(ctx, ['list', '-H', '-o', 'name', '-t', 'all', name], { readOnly: true });
    return true;
  } catch (e) {
    if (isReason(e, 'notFound')) return false;
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
 * `zfs destroy [-r|-R] NAME`. A filesystem in use (it or a dataset below it, or one of
 * `o.alsoInUse`, e.g. the clones -R takes along) is refused first with RC 7 naming its
 * users (in-use.ts), since zfs destroy unmounts it. zfs-fuse answers "dataset is busy"
 * for a mounted filesystem (OpenZFS unmounts by itself): the busy dataset named in the
 * message is unmounted and the destroy retried (up to 4 retries per dataset, the later
 * ones after 50/100/200 ms). RC 7 (with the tool's list of dependents) when it has
 * children/clones and no recursion was asked, RC 3 when missing.
 */
export async function destroyDataset(
  ctx: Ctx,
  name: string,
  o: { recursive?: boolean; dependents?: boolean; defer?: boolean; timeoutMs?: number; alsoInUse?: string[] } = {},
): Promise<void> {
  if (!name.includes('@')) await requireNotInUse(ctx, [name, ...(o.alsoInUse ?? [])], 'destroy');
  const args = ['destroy'];
  if (o.dependents) args.push('-R');
  else if (o.recursive) args.push('-r');
  if (o.defer) args.push('-d');
  args.push(name);
  const tries = new Map<string, number>();
  for (;;) {
    try {
      await zfs(ctx, args, { timeoutMs: o.timeoutMs ?? zfsTimeout(ctx, 120_000) });
      return;
    } catch (e) {
      const which = isReason(e, 'busy') ? busyDataset(e) : undefined;
      const n = which ? (tries.get(which) ?? 0) : 0;
      if (!which || which.includes('@') || n >= 4 || tries.size > 64) throw e;
      tries.set(which, n + 1);
      // First time: unmount it. After that zfs-fuse sometimes needs a moment (seen right
      // after parallel clones): wait 50, 100, 200 ms.
      if (n === 0) await ctx.run(['zfs', 'unmount', which], { timeoutMs: zfsTimeout(ctx, 60_000) });
      else await ctx.clock.sleep(50 * 2 ** (n - 1));
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
 * `zfs rename [-p] FROM TO`. A filesystem in use is refused first (RC 7, in-use.ts):
 * a rename unmounts it and its children. zfs-fuse answers "dataset is busy" for a mounted
 * filesystem (measured: every time here, not just once): the source is then unmounted,
 * the rename retried (up to 3 times, 100 ms apart), and the new name mounted again; if
 * that mount fails, the rename is undone (renamed back and mounted) and the error says so.
 */
export async function renameDataset(ctx: Ctx, from: string, to: string, o: { parents?: boolean } = {}): Promise<void> {
  const args = o.parents ? ['rename', '-p', from, to] : ['rename', from, to];
  if (!from.includes('@')) await requireNotInUse(ctx, [from], 'rename');
  try {
    await zfs(ctx, args);
    return;
  } catch (e) {
    if (!isReason(e, 'busy') || from.includes('@')) throw e;
  }
  const wasMounted = (await getProps(ctx, from, ['mounted'])).mounted === 'yes';
  if (wasMounted) await zfs(ctx, ['unmount', from]);
  for (let i = 1; ; i++) {
    try {
      await zfs(ctx, args);
      break;
    } catch (e) {
      if (i >= 3 || !isReason(e, 'busy')) {
        if (wasMounted) await ctx.run(['zfs', 'mount', from]);
        throw e;
      }
      await ctx.clock.sleep(100);
    }
  }
  if (!wasMounted) return;
  try {
    await zfs(ctx, ['mount', to]);
  } catch (e) {
    const undo: Undo[] = [
      { what: `rename ${to} back to ${from}`, run: () => zfs(ctx, ['rename', to, from]) },
      { what: `mount ${from}`, run: () => zfs(ctx, ['mount', from]) },
    ].reverse(); // undoAll runs last-first: rename back, then mount
    throw await undoAll(undo, e);
  }
}

/**
 * zfs-fuse does not invalidate the FUSE cache when a receive changes a mounted
 * filesystem (the old file contents stay visible until a remount; measured here).
 * On zfs-fuse, unmount and mount `dataset` again when it is mounted and nobody uses it
 * (in-use.ts); elsewhere nothing. Returns false when the remount was skipped or failed
 * (logged under trace): the data on disk is right, the mount may show old contents until
 * the next remount. Under dryrun nothing was received: nothing to refresh (true).
 */
export async function refreshMount(ctx: Ctx, dataset: string): Promise<boolean> {
  return ctx.effect(async () => {
    if ((await implementation(ctx)).impl !== 'zfs-fuse') return true;
    const m = await getProps(ctx, dataset, ['mounted']).catch(() => ({}) as Record<string, string>);
    if (m.mounted !== 'yes') return true;
    const users = await holdersOf(ctx, [dataset]).catch(() => [{ pid: 0, command: 'unknown' }]);
    if (users.length) {
      ctx.log(`remount of ${dataset} after receive skipped: in use by ${users.map((u) => u.pid).join(' ')}`);
      return false;
    }
    const u = await ctx.run(['zfs', 'unmount', dataset]);
    const r = u.ok ? await ctx.run(['zfs', 'mount', dataset]) : u;
    if (!r.ok) ctx.log(`remount of ${dataset} after receive failed: ${toolMessage(r)}`);
    return r.ok;
  }, true);
}
