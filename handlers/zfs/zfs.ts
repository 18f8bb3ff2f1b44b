/**
 * The `zfs` and `zpool` CLIs as the ZFS verbs (and ADDRESS LXCRI) use them: run through
 * the shared runner, failures classified into the shared error family, and the few
 * lookups everything needs. Every command here is understood by both OpenZFS 2.x and
 * zfs-fuse 0.7 (no `-p` on `zfs list`, one property per `zfs set`, `-t snapshot` not
 * `-t snap`); see ../../../shared/host-notes.md.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AddressError, classify, type Classifier } from '../../shared/errors';
import type { RunOptions, RunResult } from '../../shared/runner';
import { sleep } from '../../shared/poll';
import type { Ctx } from '../../shared/verb';

/** zfs/zpool messages (OpenZFS 2.x and zfs-fuse 0.7) mapped to the RC table. */
export const ZFS_ERRORS: Classifier = {
  patterns: [
    // zfs-fuse daemon down: "connect: No such file or directory / Please make sure that
    // the zfs-fuse daemon is running. / internal error: failed to initialize ZFS library";
    // OpenZFS without its module: "The ZFS modules are not loaded" / "/dev/zfs".
    ['unavailable', /zfs-fuse daemon is running|failed to initialize ZFS library|The ZFS modules are not loaded|\/dev\/zfs and \/proc\/self\/mounts|Function not implemented/i],
    ['exists', /already exists|dataset exists|pool already exists|is part of (?:active|exported) pool/i],
    ['notFound', /does not exist|no such pool|no such dataset|could not find any snapshots to destroy|no such device|cannot open '[^']*': (?:No such file|no such)/i],
    ['refused', /has children|has dependent clones|more recent snapshots|snapshot is cloned|use '-[rRf]' to/i],
    ['timedOut', /timed out/i],
  ],
};

/** Run `zfs ARGS`; throws the classified AddressError when it fails. */
export async function zfs(ctx: Ctx, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await ctx.run(['zfs', ...args], { timeoutMs: 60_000, ...opts });
  if (!r.ok) {
    const e = classify(r, ZFS_ERRORS);
    const hint = deadMountHint(r.stderr);
    throw hint ? new AddressError(e.kind, `${e.message} (${hint})`, { cause: e }) : e;
  }
  return r;
}

/**
 * "cannot mount '/P/x': failed to create mountpoint" says nothing about why. When the
 * reason is a FUSE mount left by a zfs-fuse that died (access fails with ENOTCONN,
 * "Transport endpoint is not connected"), name it and the fix. Undefined otherwise.
 */
export function deadMountHint(stderr: string): string | undefined {
  const m = /cannot mount '([^']+)': failed to create mountpoint/.exec(stderr);
  if (!m) return undefined;
  // The nearest ancestor that is not simply missing decides.
  for (let dir = path.dirname(m[1]!); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    try {
      fs.opendirSync(dir).closeSync(); // stat may answer from the attribute cache; opendir asks the daemon
      return undefined;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOTCONN' || code === 'ECONNABORTED') return `${dir} is a dead mount left by a zfs-fuse that stopped: umount -l ${dir} && zfs mount -a, or run scripts/setup-host.sh`;
      if (code !== 'ENOENT') return undefined;
    }
  }
  return undefined;
}

/** Run `zpool ARGS`; throws the classified AddressError when it fails. */
export async function zpool(ctx: Ctx, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await ctx.run(['zpool', ...args], { timeoutMs: 60_000, ...opts });
  if (!r.ok) throw classify(r, ZFS_ERRORS);
  return r;
}

/** Rows of tab-separated `-H` output. */
export const rows = (stdout: string): string[][] =>
  stdout.split('\n').filter((l) => l.trim() !== '').map((l) => l.split('\t'));

const isKind = (e: unknown, kind: string) => e instanceof AddressError && e.kind === kind;

/** The default pool: env REXX_ZFS_POOL, else `rexxpool` (what scripts/setup-host.sh creates). */
export function defaultPool(ctx: Pick<Ctx, 'env'>): string {
  return ctx.env.REXX_ZFS_POOL || 'rexxpool';
}

/**
 * The full dataset name for `name=` given `pool=`: a name whose first component is the
 * pool is already full (`rexxpool/web`), anything else is relative to it (`web` →
 * `rexxpool/web`); the pool's own name is its root dataset.
 */
export function fullName(ctx: Pick<Ctx, 'env'>, pool: string | undefined, name: string): string {
  const p = pool ?? defaultPool(ctx);
  return name === p || name.startsWith(`${p}/`) ? name : `${p}/${name}`;
}

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
export async function listSnapshots(ctx: Ctx, dataset: string): Promise<SnapshotInfo[]> {
  const r = await zfs(ctx, ['get', '-H', '-p', '-o', 'name,property,value', 'createtxg,creation,used', '-d', '1', dataset], { readOnly: true });
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

/** `zfs snapshot [-r] DATASET@SHORT`; returns the full snapshot name. RC 4 when it exists, RC 3 when the dataset is missing. */
export async function snapshot(ctx: Ctx, dataset: string, short: string, o: { recursive?: boolean } = {}): Promise<string> {
  const full = `${dataset}@${short}`;
  await zfs(ctx, o.recursive ? ['snapshot', '-r', full] : ['snapshot', full]);
  return full;
}

/**
 * `zfs rollback [-r] DATASET@SHORT`. Without discardNewer, a snapshot that is not the
 * latest is refused by zfs (RC 7, "more recent snapshots exist"); with it (`-r`) the
 * newer snapshots are destroyed. Returns the full names of the snapshots that were
 * destroyed (computed from listSnapshots before the rollback).
 */
export async function rollback(ctx: Ctx, dataset: string, short: string, o: { discardNewer?: boolean; snapshots?: SnapshotInfo[] } = {}): Promise<string[]> {
  let destroyed: string[] = [];
  if (o.discardNewer) {
    const snaps = o.snapshots ?? (await listSnapshots(ctx, dataset));
    const i = snaps.findIndex((s) => s.snapshot === short);
    destroyed = i < 0 ? [] : snaps.slice(i + 1).map((s) => s.name);
  }
  await zfs(ctx, o.discardNewer ? ['rollback', '-r', `${dataset}@${short}`] : ['rollback', `${dataset}@${short}`], { timeoutMs: 300_000 });
  return destroyed;
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

/** Which ZFS this is: OpenZFS answers `zfs version`; zfs-fuse (and old ZoL) do not. */
export type Implementation = 'openzfs' | 'zfs-fuse' | 'unknown';

/**
 * Detect the implementation: env REXX_ZFS_IMPL (openzfs|zfs-fuse) wins; else `zfs
 * version` succeeding means OpenZFS; else a `zfs-fuse` binary on PATH means zfs-fuse
 * (the daemon is not run to ask). Cached per PATH for the process.
 */
export async function implementation(ctx: Ctx): Promise<{ impl: Implementation; version: string }> {
  const forced = ctx.env.REXX_ZFS_IMPL;
  if (forced === 'openzfs' || forced === 'zfs-fuse') return { impl: forced, version: '' };
  const key = ctx.env.PATH ?? '';
  const hit = implCache.get(key);
  if (hit) return hit;
  const v = await ctx.run(['zfs', 'version'], { readOnly: true, timeoutMs: 10_000 });
  let out: { impl: Implementation; version: string };
  if (v.ok) out = { impl: 'openzfs', version: v.stdout.split('\n')[0]?.trim() ?? '' };
  else if (v.missing) return { impl: 'unknown', version: '' };
  else {
    const fuse = (key || '/usr/bin:/bin').split(':').some((d) => d && fs.existsSync(path.join(d, 'zfs-fuse')));
    out = fuse ? { impl: 'zfs-fuse', version: 'zfs-fuse (pool version 23)' } : { impl: 'unknown', version: '' };
  }
  implCache.set(key, out);
  return out;
}
const implCache = new Map<string, { impl: Implementation; version: string }>();

/** Throw RC 6 with a clear ERRORTEXT when a verb needs OpenZFS and this is zfs-fuse. */
export async function requireOpenZfs(ctx: Ctx, what: string): Promise<void> {
  const { impl } = await implementation(ctx);
  if (impl === 'zfs-fuse') {
    throw new AddressError(
      'unavailable',
      `${what} needs OpenZFS 2.x; this host runs zfs-fuse 0.7 (pool version 23), which lacks it (zfs-fuse's own answer: "internal error: Function not implemented" and abort)`,
      { vars: { IMPLEMENTATION: impl } },
    );
  }
}

const UNITS: Record<string, number> = { '': 1, B: 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40, P: 2 ** 50, E: 2 ** 60 };

/** Bytes of a zfs size (`16k`, `3.97G`, `512MiB`, `1024`; units are powers of 1024 as zfs prints them); NaN when not a size. */
export function parseSize(v: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGTPE]?)(?:i?B)?$/i.exec(v.trim());
  if (!m) return Number.NaN;
  return Math.round(Number(m[1]) * UNITS[m[2]!.toUpperCase()]!);
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
