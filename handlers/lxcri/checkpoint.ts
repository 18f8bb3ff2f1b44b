/**
 * Checkpoints of a container, both kinds: where they live, how each records its backend,
 * how each is taken, and the merged list. A ZFS checkpoint is the snapshot
 * `<dataset>@checkpoint-<unix seconds>[-N]` carrying the user property
 * `org.rexxjs:checkpoint-kind=zfs`, taken with the container frozen (`<runtime> pause`)
 * and resumed in a finally. A CRIU checkpoint (rootfs not on ZFS) is an image directory
 * `<REXX_OCI_DIR>/checkpoints/<id>/<name>/` written by `<runtime> checkpoint
 * --image-path` and recorded by `rexx-checkpoint.json` in it. Listing merges both
 * kinds, oldest first. The verbs are verbs/checkpoint.ts.
 */
import * as path from 'node:path';
import { lazySchema } from '../../shared/schema';
import { AddressError, isReason, toolFailed, toolMessage, unavailable } from '../../shared/errors';
import { createUnderFreeName, epochName } from '../../shared/snapshot-names';
import { createEntry, entryDir, markInvalid, transition } from '../../shared/state-catalog';
import type { Ctx } from '../../shared/verb';
import { listSnapshots } from '../zfs/snapshot';
import { rows, zfs } from '../zfs/tool';
import { getState, mustState } from './container';
import { freeze, freezerOf, hasProcesses, isFrozen, thaw } from './freezer';
import { criuErrorLines } from './errors';
import { datasetExists, getProps } from '../zfs/dataset';
import { containerDataset, datasetOf } from './rootfs';
import { ociDir, type Runtime } from './runtime';
import { rtArgv, rtDetached, rtRun } from './tool';

/** User property on a checkpoint snapshot naming its backend. */
export const KIND_PROP = 'org.rexxjs:checkpoint-kind';
/** File in a CRIU image directory recording the checkpoint. */
export const CRIU_META = 'rexx-checkpoint.json';
/** Prefix of every checkpoint name (shared/snapshot-names.ts: `checkpoint-<unix seconds>[-N]`). */
const PREFIX = 'checkpoint';

/** `<REXX_OCI_DIR>/checkpoints/<id>`: the CRIU image directories of container `id`. */
export const criuDir = (ctx: Pick<Ctx, 'env'>, id: string) => path.join(ociDir(ctx), 'checkpoints', id);

/** One checkpoint of either kind. */
export interface Checkpoint {
  name: string;
  kind: 'zfs' | 'criu';
  /** Unix seconds. */
  createdEpoch: number;
  /** Order within the same second (ZFS createtxg; CRIU: ms timestamp). */
  order: number;
  /** Full snapshot name (zfs) or image directory (criu). */
  where: string;
  /** Bytes on disk: the snapshot's `used` (zfs), or the image directory's files (criu). */
  bytes?: number;
}

/** The `kind` of the state catalog entries LXCRI writes (a CRIU checkpoint; QEMU's saved states are `qemu`). */
export const LXCRI_STATE_KIND = 'lxcri';

/** Bytes of the regular files under `dir` (a checkpoint's size on disk). */
function treeBytes(ctx: Pick<Ctx, 'fs'>, dir: string): number {
  let n = 0;
  for (const f of ctx.fs.list(dir)) {
    const p = path.join(dir, f);
    const st = ctx.fs.lstat(p);
    if (st?.isDirectory()) n += treeBytes(ctx, p);
    else if (st?.isFile()) n += st.size;
  }
  return n;
}

/** A failed dump's images (the .img files, pre-dump too): its logs and snapshot.json stay, to say why it is Invalid. */
function dropImages(ctx: Pick<Ctx, 'fs'>, dir: string): void {
  for (const f of ctx.fs.list(dir)) {
    const p = path.join(dir, f);
    if (ctx.fs.lstat(p)?.isDirectory()) dropImages(ctx, p);
    else if (f.endsWith('.img')) ctx.fs.remove(p);
  }
}

/** ZFS checkpoints of a dataset, oldest first: snapshots whose kind property is zfs (one `zfs get`). */
export async function zfsCheckpoints(ctx: Ctx, dataset: string): Promise<Checkpoint[]> {
  const snaps = await listSnapshots(ctx, dataset);
  if (!snaps.length) return [];
  const r = await zfs(ctx, ['get', '-H', '-o', 'name,value', KIND_PROP, ...snaps.map((s) => s.name)], { readOnly: true });
  const kind = new Map(rows(r.stdout).map(([n, v]) => [n!, v]));
  return snaps
    .filter((s) => kind.get(s.name) === 'zfs')
    .map((s) => ({ name: s.snapshot, kind: 'zfs' as const, createdEpoch: s.createdEpoch, order: s.createtxg, where: s.name, bytes: s.usedBytes }));
}

/** CRIU options a checkpoint is taken with, and restored with again (runc 1.1's flag names). */
export interface CriuFlags {
  /** `--tcp-established`: allow open TCP connections. */
  tcpEstablished: boolean;
  /** `--file-locks`: dump and restore file locks. */
  fileLocks: boolean;
  /** `--shell-job`: allow a process group of a terminal session (e.g. started from a shell). */
  shellJob: boolean;
  /** `--ext-unix-sk`: allow unix sockets connected to a peer outside the container. */
  extUnixSk: boolean;
}

/** Each flag's runc 1.1 option (`runc checkpoint --help`, `runc restore --help`: the same four on both). */
const CRIU_FLAG_ARGS: ReadonlyArray<[keyof CriuFlags, string]> = [
  ['tcpEstablished', '--tcp-established'],
  ['fileLocks', '--file-locks'],
  ['shellJob', '--shell-job'],
  ['extUnixSk', '--ext-unix-sk'],
];

/** The runtime options for `f`, in a fixed order. Pure. */
export const criuFlagArgs = (f: Partial<CriuFlags>): string[] => CRIU_FLAG_ARGS.filter(([k]) => f[k]).map(([, a]) => a);

/** No CRIU options. */
export const NO_CRIU_FLAGS: CriuFlags = { tcpEstablished: false, fileLocks: false, shellJob: false, extUnixSk: false };

/** Subfolder of a CRIU image directory holding the pre-dump of `pre_dump=true` (the final dump's `--parent-path`). */
export const PRE_DUMP_DIR = 'pre-dump';

/** What `rexx-checkpoint.json` records (checked when read; written atomically by {@link criuCheckpoint}). */
export const CriuMetaSchema = lazySchema((z) => z.object({
  kind: z.literal('criu'),
  runtime: z.string(),
  bundle: z.string(),
  /** Epoch ms. */
  createdMs: z.number().int().nonnegative(),
  leaveRunning: z.boolean(),
  /** The CRIU options it was taken with (restore uses them again); absent in older records = none. */
  flags: z.object({ tcpEstablished: z.boolean(), fileLocks: z.boolean(), shellJob: z.boolean(), extUnixSk: z.boolean() }).optional(),
  /** True when a pre-dump (in {@link PRE_DUMP_DIR}) is this dump's parent. */
  preDump: z.boolean().optional(),
}));

/** The record of CRIU checkpoint directory `dir`, or undefined when it has none (a damaged one is RC 1). */
export function criuMeta(ctx: Ctx, dir: string) {
  return ctx.state.read(path.join(dir, CRIU_META), CriuMetaSchema(), `remove that checkpoint (rm -r ${dir}) or move it out of ${path.dirname(dir)}`);
}

/**
 * CRIU checkpoints of a container, oldest first (from each image directory's
 * rexx-checkpoint.json). A directory without one is not a finished checkpoint and is
 * skipped; one whose file is damaged is RC 1 naming it (CorruptStateError), not
 * silently dropped from the list.
 */
export function criuCheckpoints(ctx: Ctx, id: string): Checkpoint[] {
  const dir = criuDir(ctx, id);
  const out: Checkpoint[] = [];
  for (const name of ctx.fs.list(dir)) {
    const where = path.join(dir, name);
    if (!ctx.fs.lstat(where)?.isDirectory()) continue;
    const m = criuMeta(ctx, where);
    if (m) out.push({ name, kind: 'criu', createdEpoch: Math.floor(m.createdMs / 1000), order: m.createdMs, where });
  }
  return out.sort((a, b) => a.order - b.order);
}

/** Both kinds merged, oldest first. */
export function merge(a: Checkpoint[], b: Checkpoint[]): Checkpoint[] {
  return [...a, ...b].sort((x, y) => x.createdEpoch - y.createdEpoch || (x.kind === y.kind ? x.order - y.order : 0));
}

/** A container's checkpoints of both kinds, oldest first, with its ZFS dataset (undefined without one). */
export async function allCheckpoints(ctx: Ctx, id: string, bundle: string | undefined) {
  // Looked up afresh (not the dataset kept for the bundle): restore and prune act on what this finds.
  const ds = await datasetOf(ctx, id, bundle, { fresh: true });
  return { ds, list: merge(ds ? await zfsCheckpoints(ctx, ds) : [], criuCheckpoints(ctx, id)) };
}

/** The error lines of CRIU's own log (dump.log / restore.log) in an image directory, for ERRORTEXT ('' when none). */
export function criuLogErrors(ctx: Pick<Ctx, 'fs'>, dir: string): string {
  for (const f of ['dump.log', 'restore.log']) {
    const lines = criuErrorLines(ctx.fs.readText(path.join(dir, f)) ?? '');
    if (lines) return `${f}: ${lines}`;
  }
  return '';
}

/**
 * pause → `zfs snapshot -o org.rexxjs:checkpoint-kind=zfs DS@checkpoint-<secs>` → resume
 * (in a finally, even when the snapshot fails); `-N` suffix when the second's name is
 * taken (shared/snapshot-names.ts). With runc, while the container has processes, the
 * pause and resume are its cgroup freezer written directly, as `runc pause`/`resume` do
 * (freezer.ts): no runc process starts while it is frozen (it stays frozen for the
 * snapshot alone; a container someone else paused stays paused). Otherwise
 * `<runtime> pause`/`resume`. `status` is the container's, or `unknown` (runc's
 * state.json gave the bundle without `runc state`): then the pause is tried, and only
 * when it is refused (paused, stopped) is `<runtime> state` asked what it is. With `end`
 * (checkpoint leave_running=false) a successful snapshot is followed by `delete --force`
 * of the still frozen container instead of the resume, so the snapshot is its last
 * state. Returns the checkpoint name and the container's status before it.
 */
export async function zfsCheckpoint(ctx: Ctx, rt: Runtime, id: string, ds: string, status: string, end = false): Promise<{ name: string; status: string }> {
  const base = epochName(PREFIX, ctx.clock.now());
  let paused = false;
  // runc: freeze through the cgroup freezer runc recorded (what `runc pause` does), when the container has processes to freeze.
  const fz = freezerOf(ctx, rt, id);
  const frozenBy = fz && hasProcesses(ctx, fz) ? fz : undefined;
  if (frozenBy) {
    if (isFrozen(ctx, frozenBy)) status = 'paused'; // paused by someone else: leave it so
    else {
      await freeze(ctx, frozenBy, 10_000, `container ${id}`);
      paused = true;
      status = 'running';
    }
  } else if (status === 'unknown') {
    try {
      await rtRun(ctx, rt, ['pause', id]);
      paused = true;
      status = 'running';
    } catch (e) {
      if (!isReason(e, 'refused', 'already')) throw e;
      status = (await mustState(ctx, rt, id)).status;
    }
  }
  if (!frozenBy && !paused && status === 'running') {
    await rtRun(ctx, rt, ['pause', id]);
    paused = true;
  }
  let ended = false;
  try {
    const name = (await createUnderFreeName(base, (n) => zfs(ctx, ['snapshot', '-o', `${KIND_PROP}=zfs`, `${ds}@${n}`]))).name;
    if (end) {
      await rtRun(ctx, rt, ['delete', '--force', id], { timeoutMs: 60_000 });
      ended = true;
    }
    return { name, status };
  } finally {
    if (paused && !ended) {
      if (frozenBy) thaw(ctx, frozenBy);
      else await rtRun(ctx, rt, ['resume', id]);
    }
  }
}

/** Where the result of `criu check` is kept in `ctx.cache` (per handler instance), per PATH. */
const criuCacheKey = (ctx: Pick<Ctx, 'env'>) => `lxcri:criu-check:${ctx.env.PATH ?? ''}`;

/**
 * Whether CRIU can work on this host: `criu check` (CRIU's own test of the kernel's
 * features, ~120 ms), run once per handler instance and PATH (`ctx.cache`). Returns
 * undefined when it passes, else why not: "criu is not installed", or CRIU's own error
 * lines, e.g. on kernel 6.18 with CRIU 3.17 "Error (criu/vdso.c:381): vdso: Unexpected rt
 * vDSO area bounds | Error (criu/vdso.c:613): vdso: Failed to fill self vdso symtable | …".
 * A read: it runs under dryrun too.
 */
export async function criuProblem(ctx: Ctx): Promise<string | undefined> {
  const key = criuCacheKey(ctx);
  if (ctx.cache.has(key)) return ctx.cache.get(key) as string | undefined;
  const r = await ctx.run(['criu', 'check'], { readOnly: true, timeoutMs: 30_000 });
  const why = r.ok ? undefined : r.missing ? 'criu is not installed (run scripts/setup-host.sh)' : criuErrorLines(`${r.stderr}\n${r.stdout}`) || toolMessage(r);
  ctx.cache.set(key, why);
  return why;
}

/**
 * RC 6 (unavailable) before anything is touched when CRIU cannot work here
 * ({@link criuProblem}) or the runtime has no checkpoint/restore (crun 1.8 as Debian
 * builds it: "unknown command checkpoint"). ERRORTEXT carries CRIU's exact error lines;
 * `vars` are set on the error (STATUS, KIND).
 */
export async function requireCriu(ctx: Ctx, rt: Runtime, what: 'checkpoint' | 'restore', vars: Record<string, string>): Promise<void> {
  const why = await criuProblem(ctx);
  if (why) throw unavailable(`CRIU ${what} cannot work on this host: criu check failed: ${why}`, { vars });
  if (rt.name !== 'runc') {
    const r = await ctx.run(rtArgv(rt, [what, '--help']), { readOnly: true, timeoutMs: 10_000 });
    if (!r.ok && /unknown command/i.test(`${r.stderr}${r.stdout}`)) throw unavailable(`CRIU ${what}: ${rt.name} has no ${what} command (${toolMessage(r)}); use runtime=runc`, { vars });
  }
}

/** Options of {@link criuCheckpoint}. */
export interface CriuCheckpointOptions {
  leaveRunning: boolean;
  /** Take an iterative pre-copy first (`--pre-dump` into {@link PRE_DUMP_DIR}), then the final dump on top of it. */
  preDump: boolean;
  flags: CriuFlags;
  timeoutMs: number;
}

/**
 * A CRIU checkpoint into a new image directory DIR under {@link criuDir}, then
 * `rexx-checkpoint.json` recording it (written atomically):
 * - with `preDump`: `<runtime> checkpoint --pre-dump --image-path DIR/pre-dump [flags] ID`
 *   (memory only, the container keeps running), then
 * - `<runtime> checkpoint --image-path DIR [--parent-path pre-dump] [--leave-running] [flags] ID`
 *   (the parent path is relative to the image directory, as CRIU's `--prev-images-dir`).
 * First {@link requireCriu}: RC 6 with CRIU's own error lines when CRIU cannot work here,
 * nothing run. On a failed dump (RC 1) the directory goes and CRIU's log lines join
 * ERRORTEXT. Variables STATUS (the container's status after it) and KIND=criu on failure.
 * Returns the checkpoint name and its directory.
 */
export async function criuCheckpoint(ctx: Ctx, rt: Runtime, id: string, bundle: string, o: CriuCheckpointOptions): Promise<{ name: string; dir: string }> {
  const failVars = async () => ({ STATUS: (await getState(ctx, rt, id).catch(() => undefined))?.status ?? '', KIND: 'criu' });
  await requireCriu(ctx, rt, 'checkpoint', await failVars());
  // An entry of the state catalog QEMU's saved states use (shared/state-catalog.ts): Creating
  // while CRIU dumps, then Ready, or Invalid with CRIU's error (its logs kept, its images not).
  const catalog = criuDir(ctx, id);
  const entry = await createEntry(ctx, catalog, { kind: LXCRI_STATE_KIND, target: id, parent: '', data: { backend: 'criu', runtime: rt.name, bundle } }, { prefix: PREFIX, pid: process.pid });
  const name = entry.id;
  const dir = entryDir(catalog, name);
  const flags = criuFlagArgs(o.flags);
  const steps: string[][] = [];
  if (o.preDump) steps.push(['checkpoint', '--pre-dump', '--image-path', path.join(dir, PRE_DUMP_DIR), ...flags, id]);
  steps.push(['checkpoint', '--image-path', dir, ...(o.preDump ? ['--parent-path', PRE_DUMP_DIR] : []), ...(o.leaveRunning ? ['--leave-running'] : []), ...flags, id]);
  for (const args of steps) {
    const r = await ctx.run(rtArgv(rt, args), { timeoutMs: o.timeoutMs });
    if (r.ok) continue;
    const pre = args.includes('--pre-dump');
    const criu = criuLogErrors(ctx, pre ? path.join(dir, PRE_DUMP_DIR) : dir);
    const why = `CRIU ${pre ? 'pre-dump' : 'checkpoint'} failed: ${toolMessage(r)}${criu ? `\n${criu}` : ''}`;
    dropImages(ctx, dir);
    await markInvalid(ctx, catalog, name, why);
    throw toolFailed(why, { cause: r, vars: await failVars() });
  }
  ctx.state.write(path.join(dir, CRIU_META), { kind: 'criu', runtime: rt.name, bundle, createdMs: ctx.clock.now(), leaveRunning: o.leaveRunning, flags: o.flags, preDump: o.preDump });
  await transition(ctx, catalog, name, 'Ready', { size: treeBytes(ctx, dir) });
  return { name, dir };
}

/**
 * `<runtime> restore -d --image-path DIR --bundle B [flags] ID` (detached; the runtime's
 * messages in `--log`, tool.ts rtDetached), after {@link requireCriu} (RC 6 when CRIU
 * cannot work here). `flags` default to those the checkpoint was taken with (CRIU
 * needs the same ones back). On failure CRIU's restore.log lines join ERRORTEXT.
 */
export async function criuRestore(ctx: Ctx, rt: Runtime, id: string, dir: string, bundle: string, flags: Partial<CriuFlags>, timeoutMs: number): Promise<void> {
  await requireCriu(ctx, rt, 'restore', { KIND: 'criu' });
  const recorded = criuMeta(ctx, dir)?.flags ?? NO_CRIU_FLAGS;
  const use = { ...recorded, ...Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined)) };
  try {
    await rtDetached(ctx, rt, id, ['restore', '-d', '--image-path', dir, '--bundle', bundle, ...criuFlagArgs(use), id], timeoutMs);
  } catch (e) {
    const criu = criuLogErrors(ctx, dir);
    if (criu && e instanceof AddressError) e.message = `${e.message}\n${criu}`;
    throw e;
  }
}

/**
 * The bundle of a container that no longer exists (checkpoint leave_running=false ended
 * it), so restore needs no bundle=: the bundle a CRIU checkpoint recorded (`snapshot`,
 * else the newest), else from the mountpoint of `<pool>/containers/<id>` (its parent when
 * it is the rootfs). Undefined when neither is there.
 */
export async function recordedBundle(ctx: Ctx, id: string, snapshot: string | undefined, pool: string | undefined): Promise<string | undefined> {
  const criu = criuCheckpoints(ctx, id);
  const c = snapshot ? criu.find((x) => x.name === snapshot) : criu[criu.length - 1];
  const m = c && criuMeta(ctx, c.where);
  if (m) return m.bundle;
  const ds = containerDataset(ctx, id, pool);
  try {
    if (!(await datasetExists(ctx, ds))) return undefined;
    const mp = (await getProps(ctx, ds, ['mountpoint'])).mountpoint ?? '';
    if (!mp.startsWith('/')) return undefined;
    return path.basename(mp) === 'rootfs' ? path.dirname(mp) : mp;
  } catch (e) {
    if (isReason(e, 'unavailable', 'notFound')) return undefined;
    throw e;
  }
}
