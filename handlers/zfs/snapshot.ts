/** Snapshots of one dataset over the zfs CLI: list (oldest first), take, roll back, choose what prune destroys. */
import { isReason, refused } from '../../shared/errors';
import { selectForPrune, type RetentionOptions } from '../../shared/retention';
import type { RunOptions } from '../../shared/runner';
import type { Ctx } from '../../shared/verb';
import { requireNotInUse } from './in-use';
import { refuseBaseSnapshots } from './registry';
import { rows, zfs, zfsTimeout } from './tool';

/** One snapshot of a dataset, as listSnapshots reports it. */
export interface SnapshotInfo {
  /** Full name `dataset@short`. */
  name: string;
  /** The short name after `@`. */
  snapshot: string;
  /** Creation time, Unix epoch seconds. */
  createdEpoch: number;
  /** Space used by the snapshot alone, bytes (lags up to one txg, ~30 s, on zfs-fuse). */
  usedBytes: number;
  /** Transaction group it was taken in: orders snapshots taken in the same second. */
  createtxg: number;
}

/**
 * Snapshots of one dataset, oldest first, from
 * `zfs get -H -p -o name,property,value createtxg,creation,used -d 1 DATASET` (a read).
 * RC 3 when the dataset does not exist.
 */
export async function listSnapshots(ctx: Ctx, dataset: string, o: Pick<RunOptions, 'timeoutMs'> = {}): Promise<SnapshotInfo[]> {
  const r = await zfs(ctx, ['get', '-H', '-p', '-o', 'name,property,value', 'createtxg,creation,used', '-d', '1', dataset], { readOnly: true, ...o });
  const by = new Map<string, Record<string, string>>();
  for (const [n, k, v] of rows(r.stdout)) {
    if (!n || !n.startsWith(`${dataset}@`)) continue;
    by.set(n, { ...by.get(n), [k!]: v ?? '' });
  }
  return [...by.entries()]
    .map(([name, p]) => ({
      name,
      snapshot: name.slice(dataset.length + 1),
      createdEpoch: Number(p.creation ?? 0),
      usedBytes: Number(p.used ?? 0),
      createtxg: Number(p.createtxg ?? 0),
    }))
    .sort((a, b) => a.createtxg - b.createtxg || a.createdEpoch - b.createdEpoch);
}

/** `zfs snapshot [-r] DATASET@SHORT`; returns the full snapshot name. RC 4 when it exists, RC 3 when the dataset is missing. */
export async function snapshot(ctx: Ctx, dataset: string, short: string, o: { recursive?: boolean; timeoutMs?: number } = {}): Promise<string> {
  const full = `${dataset}@${short}`;
  await zfs(ctx, o.recursive ? ['snapshot', '-r', full] : ['snapshot', full], o.timeoutMs ? { timeoutMs: o.timeoutMs } : {});
  return full;
}

/**
 * `zfs rollback [-r] DATASET@SHORT`. Without discardNewer, a snapshot that is not the
 * latest is refused by zfs (RC 7, "more recent snapshots exist", told as "not the latest
 * snapshot; give discard_newer=true"); with it (`-r`) the
 * newer snapshots are destroyed — refused (RC 7) when one of them is the snapshot of a
 * registered base. A dataset in use is refused (RC 7, in-use.ts): the rollback would
 * swap its files under its users (zfs-fuse rolls back without unmounting, measured, and
 * its FUSE cache then keeps serving the old files). Returns the full names of the
 * snapshots that were destroyed (computed from listSnapshots before the rollback).
 */
export async function rollback(ctx: Ctx, dataset: string, short: string, o: { discardNewer?: boolean; snapshots?: SnapshotInfo[] } = {}): Promise<string[]> {
  let destroyed: string[] = [];
  if (o.discardNewer) {
    const snaps = o.snapshots ?? (await listSnapshots(ctx, dataset));
    const i = snaps.findIndex((s) => s.snapshot === short);
    destroyed = i < 0 ? [] : snaps.slice(i + 1).map((s) => s.name);
    await refuseBaseSnapshots(ctx, destroyed, `rollback ${dataset}@${short} discard_newer=true`);
  }
  await requireNotInUse(ctx, [dataset], `rollback ${dataset}`);
  try {
    await zfs(ctx, o.discardNewer ? ['rollback', '-r', `${dataset}@${short}`] : ['rollback', `${dataset}@${short}`], { timeoutMs: zfsTimeout(ctx, 300_000) });
  } catch (e) {
    // Without -r the one refusal of zfs rollback is "more recent snapshots exist" (errors.ts).
    if (!o.discardNewer && isReason(e, 'refused')) {
      throw refused(`rollback: ${dataset}@${short} is not the latest snapshot; give discard_newer=true to destroy the newer ones — ${e.message}`, { cause: e });
    }
    throw e;
  }
  return destroyed;
}

/**
 * Which of `snaps` (oldest first) prune destroys: those matching `prefix`, not among the
 * newest `keep` of them, and (with olderThanMs) created before nowMs − olderThanMs
 * (the selection itself is ../../shared/retention.ts; the prefix is ZFS's own).
 */
export function pruneSelect(snaps: SnapshotInfo[], o: RetentionOptions & { prefix: string }): SnapshotInfo[] {
  return selectForPrune(snaps.filter((s) => s.snapshot.startsWith(o.prefix)), o);
}
