/**
 * Retention selection, shared by every `prune` verb (ZFS snapshots, LXCRI
 * checkpoints): which of a list of timestamped items to delete, given "keep the newest
 * N" and/or "only older than D". Pure: no tool runs here; the caller filters its list
 * first (e.g. by a name prefix) and deletes what this returns.
 */

/** What to keep: at least one of `keep` / `olderThanMs` is normally given. */
export interface RetentionOptions {
  /** Keep this many of the newest items (never selected); undefined: no count limit. */
  keep?: number;
  /** Select only items created before `nowMs − olderThanMs` (ms); undefined: any age. */
  olderThanMs?: number;
  /** The current time, Unix epoch ms (`Date.now()`; a parameter so tests can fix it). */
  nowMs: number;
}

/**
 * The items of `oldestFirst` (sorted oldest first; `createdEpoch` in Unix epoch
 * seconds) to prune: all but the newest `keep`, and of those (when `olderThanMs` is
 * given) only the ones created strictly before `(nowMs − olderThanMs) / 1000`.
 * Returned oldest first; `oldestFirst` is not changed.
 */
export function selectForPrune<T extends { createdEpoch: number }>(oldestFirst: readonly T[], o: RetentionOptions): T[] {
  const candidates = o.keep === undefined ? [...oldestFirst] : oldestFirst.slice(0, Math.max(0, oldestFirst.length - o.keep));
  if (o.olderThanMs === undefined) return candidates;
  const limit = (o.nowMs - o.olderThanMs) / 1000;
  return candidates.filter((s) => s.createdEpoch < limit);
}

/** keep= and older_than=, the parameters of every prune verb; `items` names what is pruned ("checkpoints"). */
export const retentionParams = (items: string) =>
  ({
    keep: { type: 'int', min: 0, doc: `keep this many newest ${items}` },
    older_than: { type: 'duration', doc: `only prune ${items} older than this (7d, 12h)` },
  }) as const;
