/**
 * A checkpoint as one file that moves a container to another host: `checkpoint
 * export=FILE` writes it, `restore import=FILE bundle=DIR` brings the container back from
 * it under a fresh state directory (REXX_OCI_DIR / REXX_OCI_ROOT) and, for ZFS, into a
 * dataset of your choice. The idea is podman's (`podman container checkpoint --export`:
 * one tar with the CRIU images, the container's config and its rootfs changes); the
 * layout is this handler's own, a plain (uncompressed) GNU tar:
 *
 * | member | what |
 * |---|---|
 * | `rexx-export.json` | the manifest (first member): format, kind (zfs or criu), container id, checkpoint name, runtime, when, and per kind the details below |
 * | `config.json` | the bundle's OCI config (in the stream instead when the dataset is the whole bundle, as bundle_from_image makes it) |
 * | `rootfs.zfs` | ZFS: `zfs send DATASET@CHECKPOINT` (a full stream, no properties), received with `zfs receive` |
 * | `rootfs/` | CRIU: the whole rootfs (a plain folder has no base to take a difference from, unlike podman's overlay `rootfs-diff.tar`) |
 * | `checkpoint-<secs>/` | CRIU: the image directory with its `rexx-checkpoint.json` (and `pre-dump/` after pre_dump=true) |
 *
 * Every step is an argv through the runner (`tar`, `zfs send … | dd`, `tar -xO … | zfs
 * receive`), and the file is written aside and moved into place (shared/new-file.ts):
 * never over an existing file unless force=true, never through a symlink.
 */
import * as path from 'node:path';
import { alreadyExists, notFound, toolFailed, toolMessage, usageError } from '../../shared/errors';
import { requireInputFile, writeNewFile } from '../../shared/new-file';
import type { RunResult } from '../../shared/runner';
import { lazySchema, type Infer } from '../../shared/schema';
import type { Ctx } from '../../shared/verb';
import { datasetExists, destroyDataset, getProps, setProp } from '../zfs/dataset';
import { zfs } from '../zfs/tool';
import { CRIU_META, criuDir, KIND_PROP, type CriuFlags } from './checkpoint';
import { bundleDataset, requireEmptyDir } from './rootfs';

/** The manifest's name in the tarball (its first member). */
export const MANIFEST = 'rexx-export.json';
/** The ZFS stream's name in the tarball. */
export const ZFS_STREAM = 'rootfs.zfs';
/** Format tag of the manifest. */
export const EXPORT_FORMAT = 'rexx-lxcri-checkpoint/1';

/** A checkpoint name as this handler makes them: the only member folder name a manifest may give. */
const CHECKPOINT_NAME = /^checkpoint-\d{1,12}(?:-\d{1,6})?$/;

/** The manifest `rexx-export.json` (checked when read: an archive is input from elsewhere). */
export const ManifestSchema = lazySchema((z) => z.object({
  format: z.literal(EXPORT_FORMAT),
  kind: z.enum(['zfs', 'criu']),
  container: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}$/),
  checkpoint: z.string().regex(CHECKPOINT_NAME),
  runtime: z.string(),
  /** Epoch ms. */
  createdMs: z.number().int().nonnegative(),
  /** ZFS: the dataset it came from, and whether its mountpoint was the bundle's rootfs or the whole bundle. */
  zfs: z.object({ dataset: z.string(), mount: z.enum(['rootfs', 'bundle']) }).optional(),
  /** CRIU: the options it was dumped with (restore passes them again). */
  criu: z.object({ flags: z.object({ tcpEstablished: z.boolean(), fileLocks: z.boolean(), shellJob: z.boolean(), extUnixSk: z.boolean() }), preDump: z.boolean() }).optional(),
}));
export type Manifest = Infer<typeof ManifestSchema>;

/** A failed tar/zfs step → RC 1 with the tool's message. */
function ok(r: RunResult, what: string): RunResult {
  if (!r.ok) throw toolFailed(`${what}: ${toolMessage(r)}`, { cause: r });
  return r;
}

/** Write the manifest into a fresh staging folder `dir` (beside the temporary archive). */
function stage(ctx: Ctx, dir: string, m: Manifest): void {
  ctx.fs.mkdir(dir);
  ctx.fs.writeText(path.join(dir, MANIFEST), `${JSON.stringify(m, null, 2)}\n`);
}

/**
 * `export=` of a CRIU checkpoint: one tar of the manifest, the bundle's `config.json`
 * and `rootfs/`, and the image directory `checkpoint-<secs>/`
 * (`tar --create --file TMP --numeric-owner -C STAGE rexx-export.json -C BUNDLE config.json rootfs -C CKDIR NAME`).
 * RC 3/4/7 for the file as shared/new-file.ts says. Returns the archive's size in bytes.
 */
export async function exportCriu(ctx: Ctx, o: { file: string; force: boolean; id: string; name: string; bundle: string; runtime: string; flags: CriuFlags; preDump: boolean; timeoutMs: number }): Promise<number> {
  const m: Manifest = { format: EXPORT_FORMAT, kind: 'criu', container: o.id, checkpoint: o.name, runtime: o.runtime, createdMs: ctx.clock.now(), criu: { flags: o.flags, preDump: o.preDump } };
  return writeNewFile(ctx, o.file, { force: o.force, what: 'export', key: 'export' }, async (tmp) => {
    const dir = `${tmp}.d`;
    try {
      stage(ctx, dir, m);
      ok(
        await ctx.run(['tar', '--create', '--file', tmp, '--numeric-owner', '-C', dir, MANIFEST, '-C', o.bundle, 'config.json', 'rootfs', '-C', criuDir(ctx, o.id), o.name], { timeoutMs: o.timeoutMs }),
        'export: tar',
      );
    } finally {
      ctx.fs.remove(dir);
    }
  });
}

/**
 * `export=` of a ZFS checkpoint: `zfs send DATASET@NAME | dd of=STAGE/rootfs.zfs`, then one
 * tar of the manifest, the stream and (when the dataset is the rootfs, not the whole
 * bundle) the bundle's `config.json`. Returns the archive's size in bytes.
 */
export async function exportZfs(ctx: Ctx, o: { file: string; force: boolean; id: string; name: string; bundle: string; dataset: string; runtime: string; timeoutMs: number }): Promise<number> {
  const d = await bundleDataset(ctx, o.bundle);
  const mount = d && d.dataset === o.dataset && d.mountpoint === path.resolve(o.bundle) ? 'bundle' : 'rootfs';
  const m: Manifest = { format: EXPORT_FORMAT, kind: 'zfs', container: o.id, checkpoint: o.name, runtime: o.runtime, createdMs: ctx.clock.now(), zfs: { dataset: o.dataset, mount } };
  return writeNewFile(ctx, o.file, { force: o.force, what: 'export', key: 'export' }, async (tmp) => {
    const dir = `${tmp}.d`;
    try {
      stage(ctx, dir, m);
      ok(await ctx.runPipeline([['zfs', 'send', `${o.dataset}@${o.name}`], ['dd', `of=${path.join(dir, ZFS_STREAM)}`, 'bs=1M', 'status=none']], { timeoutMs: o.timeoutMs }), 'export: zfs send');
      const config = mount === 'rootfs' ? ['-C', o.bundle, 'config.json'] : [];
      ok(await ctx.run(['tar', '--create', '--file', tmp, '-C', dir, MANIFEST, ZFS_STREAM, ...config], { timeoutMs: o.timeoutMs }), 'export: tar');
    } finally {
      ctx.fs.remove(dir);
    }
  });
}

/**
 * The manifest of archive `file` (`tar -xO --occurrence -f FILE rexx-export.json`),
 * schema-checked. RC 3 when the file is missing, RC 7 when it is a symlink or not a
 * regular file, RC 2 when it is not an export of this handler (no or a bad manifest).
 * A read: it runs under dryrun.
 */
export async function readManifest(ctx: Ctx, file: string): Promise<Manifest> {
  requireInputFile(ctx, file, { what: 'import', key: 'import' });
  const r = await ctx.run(['tar', '--extract', '--to-stdout', '--occurrence', '--file', file, MANIFEST], { readOnly: true, timeoutMs: 60_000 });
  if (!r.ok) throw usageError(`import: ${file} is not a checkpoint export (no ${MANIFEST} in it: ${toolMessage(r)})`);
  let json: unknown;
  try {
    json = JSON.parse(r.stdout);
  } catch {
    throw usageError(`import: ${file}: ${MANIFEST} is not JSON`);
  }
  const m = ManifestSchema().safeParse(json);
  if (!m.success) throw usageError(`import: ${file}: ${MANIFEST} is not a ${EXPORT_FORMAT} manifest (${m.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')})`);
  return m.data;
}

/**
 * Unpack a CRIU export for container `id`: `config.json` and `rootfs/` into `bundle`
 * (which must be empty or absent: RC 4), the image directory into
 * `<REXX_OCI_DIR>/checkpoints/<id>/<name>` (RC 4 when that checkpoint is there already).
 * GNU tar keeps members inside the target folder (no absolute names, no `..`).
 * Returns the image directory.
 */
export async function importCriu(ctx: Ctx, file: string, m: Manifest, id: string, bundle: string, timeoutMs: number): Promise<string> {
  requireEmptyDir(ctx, bundle);
  const dir = path.join(criuDir(ctx, id), m.checkpoint);
  if (ctx.fs.exists(dir)) throw alreadyExists(`import: container ${id} already has checkpoint ${m.checkpoint} (${dir})`);
  ctx.fs.mkdir(bundle);
  ctx.fs.mkdir(criuDir(ctx, id));
  const x = (into: string, members: string[]) =>
    ctx.run(['tar', '--extract', '--file', file, '--numeric-owner', '--same-permissions', '-C', into, '--', ...members], { timeoutMs });
  ok(await x(bundle, ['config.json', 'rootfs']), 'import: tar (bundle)');
  ok(await x(criuDir(ctx, id), [m.checkpoint]), 'import: tar (checkpoint)');
  if (!ctx.fs.exists(path.join(dir, CRIU_META))) throw notFound(`import: ${file} has no ${m.checkpoint}/${CRIU_META}`);
  return dir;
}

/**
 * Unpack a ZFS export into dataset `ds` (RC 4 when it exists; its parent is created
 * when missing): `tar -xO -f FILE rootfs.zfs | zfs receive DS`, the checkpoint snapshot's
 * kind property set again (a plain stream carries no properties), the mountpoint set to
 * `bundle/rootfs` (or `bundle` when the dataset was the whole bundle), and `config.json`
 * written from the archive. `bundle` must be empty or absent (RC 4). On a failure after
 * the receive the dataset is destroyed again.
 */
export async function importZfs(ctx: Ctx, file: string, m: Manifest, ds: string, bundle: string, timeoutMs: number): Promise<void> {
  requireEmptyDir(ctx, bundle);
  if (await datasetExists(ctx, ds)) throw alreadyExists(`import: dataset ${ds} already exists (give dataset= for another one)`);
  const parent = ds.slice(0, ds.lastIndexOf('/'));
  if (parent && !(await datasetExists(ctx, parent))) await zfs(ctx, ['create', '-p', parent]);
  ok(await ctx.runPipeline([['tar', '--extract', '--to-stdout', '--occurrence', '--file', file, ZFS_STREAM], ['zfs', 'receive', ds]], { timeoutMs }), 'import: zfs receive');
  try {
    await setProp(ctx, `${ds}@${m.checkpoint}`, KIND_PROP, 'zfs');
    const mount = m.zfs?.mount === 'bundle' ? bundle : path.join(bundle, 'rootfs');
    ctx.fs.mkdir(mount);
    await setProp(ctx, ds, 'mountpoint', mount);
    // zfs-fuse mounts a received dataset and remounts it on the new mountpoint; make sure.
    await ctx.effect(async () => {
      if ((await getProps(ctx, ds, ['mounted'])).mounted !== 'yes') await zfs(ctx, ['mount', ds]);
    }, undefined);
    if (m.zfs?.mount !== 'bundle') {
      const c = ok(await ctx.run(['tar', '--extract', '--to-stdout', '--occurrence', '--file', file, 'config.json'], { timeoutMs }), 'import: tar (config.json)');
      ctx.fs.writeText(path.join(bundle, 'config.json'), c.stdout, { atomic: true, mode: 0o644 });
    }
  } catch (e) {
    await destroyDataset(ctx, ds, { recursive: true }).catch(() => undefined);
    throw e;
  }
}
