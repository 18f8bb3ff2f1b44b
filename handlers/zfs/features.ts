/**
 * What a pool can do, for the send/receive options that need an OpenZFS feature: read
 * once per pool and side (this host, or `ssh HOST`) from `zpool get all POOL` and kept in
 * the handler's ctx.cache. `zpool get all` is the one form both implementations answer:
 * zfs-fuse 0.7 has no `zpool get -H`, and refuses a `feature@…` property by name
 * ("bad property list"). Its table is `NAME PROPERTY VALUE SOURCE`, whitespace-separated;
 * a feature-flags pool (OpenZFS, zpool-features(7)) shows `version -` (or 5000) and one
 * `feature@NAME` row each (disabled, enabled or active); zfs-fuse pools show `version 23`
 * and no feature rows.
 */
import { unavailable } from '../../shared/errors';
import type { Ctx } from '../../shared/verb';
import { REPL_ERRORS, zfsError } from './errors';

/** Where a command runs: this host, or `ssh [-F CONFIG] HOST` (see replication's Peer). */
export interface Side {
  ssh?: string;
  /** The argv prefix that runs a command on that side ([] for this host). */
  prefix: string[];
}

/** A pool's version and feature flags as `zpool get all` reported them. */
export interface PoolFeatures {
  pool: string;
  /** The host it was read on ('' for this host). */
  host: string;
  /** The pool version: 23 on zfs-fuse; 5000 for a feature-flags pool (OpenZFS prints "-"). */
  version: number;
  /** feature@NAME → disabled | enabled | active (empty below version 5000). */
  features: Record<string, string>;
}

/** The version a feature-flags pool reports (zpool-features(7): "version 5000"). */
export const FEATURE_FLAGS_VERSION = 5000;

/** Parse `zpool get all POOL` (table form, either implementation). */
export function parsePoolGetAll(pool: string, host: string, stdout: string): PoolFeatures {
  const out: PoolFeatures = { pool, host, version: 0, features: {} };
  for (const line of stdout.split('\n')) {
    const [name, prop, value] = line.trim().split(/\s+/);
    if (name !== pool || !prop || value === undefined) continue;
    if (prop === 'version') out.version = value === '-' ? FEATURE_FLAGS_VERSION : Number(value) || 0;
    else if (prop.startsWith('feature@')) out.features[prop.slice('feature@'.length)] = value;
  }
  return out;
}

/**
 * The pool's features on `side`, from one `zpool get all POOL` there (a read; it runs
 * under dryrun too), cached per handler instance. RC 3 when the pool does not exist,
 * RC 6 when zpool or ssh cannot be run.
 */
export async function poolFeatures(ctx: Ctx, pool: string, side: Side, timeoutMs = 30_000): Promise<PoolFeatures> {
  const key = `zfs.features:${side.ssh ?? ''}:${pool}`;
  const hit = ctx.cache.get(key) as PoolFeatures | undefined;
  if (hit) return hit;
  const r = await ctx.run([...side.prefix, 'zpool', 'get', 'all', pool], { readOnly: true, timeoutMs });
  if (!r.ok) throw zfsError(r, REPL_ERRORS);
  const f = parsePoolGetAll(pool, side.ssh ?? '', r.stdout);
  ctx.cache.set(key, f);
  return f;
}

/** Why `f` lacks `feature` (undefined when it is enabled or active). */
export function missingFeature(f: PoolFeatures, feature: string): string | undefined {
  const where = `pool ${f.pool}${f.host ? ` on ${f.host}` : ''}`;
  if (f.version < FEATURE_FLAGS_VERSION) {
    return `${where} is version ${f.version}${f.version === 23 ? ' (zfs-fuse)' : ''}, without feature flags`;
  }
  const v = f.features[feature];
  if (v === 'enabled' || v === 'active') return undefined;
  return `${where} has feature@${feature} ${v ?? 'unknown to its zpool'}`;
}

/** One requirement: `option` needs `feature` on the pool `f`. */
export interface Need {
  option: string;
  feature: string;
  /** What the option does with it, for the message ("receive -s / send -t"). */
  what: string;
  pool: PoolFeatures;
}

/** RC 6 naming the first unmet need: "resume=true needs feature@extensible_dataset (…); pool P is version 23 (zfs-fuse)". */
export function requireFeatures(needs: Need[]): void {
  for (const n of needs) {
    const why = missingFeature(n.pool, n.feature);
    if (why) throw unavailable(`${n.option} needs feature@${n.feature} (${n.what}); ${why}`);
  }
}
