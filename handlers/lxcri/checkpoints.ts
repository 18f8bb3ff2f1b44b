/**
 * Where checkpoints live and how each records its backend. A ZFS checkpoint is the
 * snapshot `<dataset>@checkpoint-<unix seconds>[-N]` carrying the user property
 * `org.rexxjs:checkpoint-kind=zfs`; a CRIU checkpoint is an image directory
 * `<REXX_OCI_DIR>/checkpoints/<id>/<name>/` holding `rexx-checkpoint.json`. Listing
 * merges both kinds, oldest first.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { readState } from '../../shared/state-file';
import type { Ctx } from '../../shared/verb';
import { listSnapshots } from '../zfs/snapshot';
import { rows, zfs } from '../zfs/tool';
import { datasetOf } from './rootfs';

/** User property on a checkpoint snapshot naming its backend. */
export const KIND_PROP = 'org.rexxjs:checkpoint-kind';
/** File in a CRIU image directory recording the checkpoint. */
export const CRIU_META = 'rexx-checkpoint.json';

/** State directory for images and CRIU checkpoints: env REXX_OCI_DIR, default /var/lib/rexx-address/oci. */
export const ociDir = (ctx: Pick<Ctx, 'env'>) => ctx.env.REXX_OCI_DIR || '/var/lib/rexx-address/oci';
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
  const base = `checkpoint-${secs}`;
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

/** What `rexx-checkpoint.json` records (checked when read; written atomically by checkpoint-criu.ts). */
export const CriuMetaSchema = z.object({
  kind: z.literal('criu'),
  runtime: z.string(),
  bundle: z.string(),
  /** Epoch ms. */
  createdMs: z.number().int().nonnegative(),
  leaveRunning: z.boolean(),
});

/**
 * CRIU checkpoints of a container, oldest first (from each image directory's
 * rexx-checkpoint.json). A directory without one is not a finished checkpoint and is
 * skipped; one whose file is damaged is RC 1 naming it (CorruptStateError), not
 * silently dropped from the list.
 */
export function criuCheckpoints(ctx: Ctx, id: string): Checkpoint[] {
  const dir = criuDir(ctx, id);
  if (!fs.existsSync(dir)) return [];
  const out: Checkpoint[] = [];
  for (const ent of fs.readdirSync(dir, { withFileTypes: true })) {
    if (!ent.isDirectory()) continue;
    const name = ent.name;
    const m = readState(path.join(dir, name, CRIU_META), CriuMetaSchema, `remove that checkpoint (rm -r ${path.join(dir, name)}) or move it out of ${dir}`);
    if (m) out.push({ name, kind: 'criu', createdEpoch: Math.floor(m.createdMs / 1000), order: m.createdMs, where: path.join(dir, name) });
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

/** The error lines of CRIU's own log (dump.log / restore.log) in an image directory, for ERRORTEXT. */
export function criuLogErrors(dir: string): string {
  for (const f of ['dump.log', 'restore.log']) {
    try {
      const lines = fs.readFileSync(path.join(dir, f), 'utf8').split('\n').filter((l) => /Error|error/.test(l));
      if (lines.length) return `${f}: ${lines.slice(0, 5).map((l) => l.trim()).join(' | ')}`;
    } catch {
      /* no such log */
    }
  }
  return '';
}
