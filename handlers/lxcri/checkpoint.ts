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
import { toolFailed, toolMessage } from '../../shared/errors';
import { createUnderFreeName, epochName } from '../../shared/snapshot-names';
import type { Ctx } from '../../shared/verb';
import { listSnapshots } from '../zfs/snapshot';
import { rows, zfs } from '../zfs/tool';
import { getState } from './container';
import { criuErrorLines } from './errors';
import { datasetOf } from './rootfs';
import { ociDir, type Runtime } from './runtime';
import { rtArgv, rtRun } from './tool';

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
}

/** `checkpoint-<secs>`, or with `-2`, `-3`… when that name is taken (two checkpoints in one second). */
export function uniqueName(secs: number, taken: Set<string>): string {
  const base = epochName(PREFIX, secs * 1000);
  if (!taken.has(base)) return base;
  for (let i = 2; ; i++) if (!taken.has(`${base}-${i}`)) return `${base}-${i}`;
}

/** ZFS checkpoints of a dataset, oldest first: snapshots whose kind property is zfs (one `zfs get`). */
export async function zfsCheckpoints(ctx: Ctx, dataset: string): Promise<Checkpoint[]> {
  const snaps = await listSnapshots(ctx, dataset);
  if (!snaps.length) return [];
  const r = await zfs(ctx, ['get', '-H', '-o', 'name,value', KIND_PROP, ...snaps.map((s) => s.name)], { readOnly: true });
  const kind = new Map(rows(r.stdout).map(([n, v]) => [n!, v]));
  return snaps
    .filter((s) => kind.get(s.name) === 'zfs')
    .map((s) => ({ name: s.snapshot, kind: 'zfs' as const, createdEpoch: s.createdEpoch, order: s.createtxg, where: s.name }));
}

/** What `rexx-checkpoint.json` records (checked when read; written atomically by {@link criuCheckpoint}). */
export const CriuMetaSchema = lazySchema((z) => z.object({
  kind: z.literal('criu'),
  runtime: z.string(),
  bundle: z.string(),
  /** Epoch ms. */
  createdMs: z.number().int().nonnegative(),
  leaveRunning: z.boolean(),
}));

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
    const m = ctx.state.read(path.join(where, CRIU_META), CriuMetaSchema(), `remove that checkpoint (rm -r ${where}) or move it out of ${dir}`);
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
  const ds = await datasetOf(ctx, id, bundle);
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
 * taken (shared/snapshot-names.ts). Returns the checkpoint name.
 */
export async function zfsCheckpoint(ctx: Ctx, rt: Runtime, id: string, ds: string, running: boolean): Promise<string> {
  const base = epochName(PREFIX, ctx.clock.now());
  if (running) await rtRun(ctx, rt, ['pause', id]);
  try {
    return (await createUnderFreeName(base, (name) => zfs(ctx, ['snapshot', '-o', `${KIND_PROP}=zfs`, `${ds}@${name}`]))).name;
  } finally {
    if (running) await rtRun(ctx, rt, ['resume', id]);
  }
}

/**
 * `<runtime> checkpoint --image-path DIR [--leave-running] ID` into a new image directory
 * under {@link criuDir}, then `rexx-checkpoint.json` recording it. On failure (RC 1) the
 * directory goes and CRIU's own log lines join ERRORTEXT; variables STATUS (the
 * container's status after it) and KIND=criu. Returns the checkpoint name.
 */
export async function criuCheckpoint(ctx: Ctx, rt: Runtime, id: string, bundle: string, leaveRunning: boolean, timeoutMs: number): Promise<string> {
  const secs = Math.floor(ctx.clock.now() / 1000);
  const name = uniqueName(secs, new Set(ctx.fs.list(criuDir(ctx, id))));
  const dir = path.join(criuDir(ctx, id), name);
  ctx.fs.mkdir(dir);
  const args = ['checkpoint', '--image-path', dir];
  if (leaveRunning) args.push('--leave-running');
  args.push(id);
  const r = await ctx.run(rtArgv(rt, args), { timeoutMs });
  if (!r.ok) {
    const criu = criuLogErrors(ctx, dir);
    ctx.fs.remove(dir);
    const s = await getState(ctx, rt, id).catch(() => undefined);
    throw toolFailed(`CRIU checkpoint failed: ${toolMessage(r)}${criu ? `\n${criu}` : ''}`, { cause: r, vars: { STATUS: s?.status ?? '', KIND: 'criu' } });
  }
  ctx.state.write(path.join(dir, CRIU_META), { kind: 'criu', runtime: rt.name, bundle, createdMs: ctx.clock.now(), leaveRunning });
  return name;
}
