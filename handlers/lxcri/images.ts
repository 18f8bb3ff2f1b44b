/**
 * The local OCI image store: one OCI image layout at `<REXX_OCI_DIR>/layout` (written
 * by `skopeo copy`, read by `umoci unpack`, tags as `org.opencontainers.image.ref.name`
 * "name:tag") and a small JSON index `<REXX_OCI_DIR>/images.json` with what listing
 * needs (manifest/config/layer digests and sizes), so image_list never re-reads blobs.
 *
 * Both are shared by every script on the host, and both are read-modify-write: `skopeo
 * copy` and `umoci rm`/`gc` rewrite the layout's index.json (not atomically), the verbs
 * rewrite images.json. So every change to the store, and every `umoci unpack` that
 * reads it, runs under one lock ({@link withStore}, ctx.state.lock); images.json is
 * validated when read (ctx.state.read) and written atomically (ctx.state.write, a
 * uniquely named temporary file renamed into place).
 */
import * as path from 'node:path';
import { lazySchema, type Infer } from '../../shared/schema';
import { toolFailed } from '../../shared/errors';
import type { Ctx } from '../../shared/verb';
import { createOrUndo, datasetExists, destroyDataset, getProps } from '../zfs/dataset';
import { getBase, registerBase } from '../zfs/registry';
import { rows, zfs } from '../zfs/tool';
import { patchConfig, readJson } from './bundle-config';
import { ociDir } from './runtime';
import { imageTool } from './tool';

/** One imported image as the index keeps it (checked with this schema when read). */
export const ImageEntrySchema = lazySchema((z) => {
  const Digest = z.string().regex(/^[a-z0-9]+:[a-f0-9]{32,}$/);
  return z.object({
  name: z.string().min(1),
  tag: z.string().min(1),
  /** Manifest digest, `sha256:…`. */
  digest: Digest,
  configDigest: Digest,
  /** Layer digests, bottom first. */
  layers: z.array(Digest),
  /** Bytes: manifest + config + compressed layers. */
  size: z.number().int().nonnegative(),
  /** Where it came from (path and transport). */
  source: z.string(),
  /** ISO 8601. */
  imported: z.string(),
  });
});
export type ImageEntry = Infer<typeof ImageEntrySchema>;
const IndexSchema = lazySchema((z) => z.array(ImageEntrySchema()));

export const layoutDir = (ctx: Pick<Ctx, 'env'>) => path.join(ociDir(ctx), 'layout');
/** `<REXX_OCI_DIR>/images.json`, the image index; also the name of the store's lock (`images.json.lock`). */
export const indexFile = (ctx: Pick<Ctx, 'env'>) => path.join(ociDir(ctx), 'images.json');

/**
 * How long a store operation waits for another one's lock (ms): as long as the longest
 * skopeo/umoci call may take (tool.ts), since that is what the holder may be doing.
 */
export const STORE_WAIT_MS = 600_000;

/** `name[:tag]` → [name, tag] (tag default latest). */
export function splitRef(ref: string): [string, string] {
  const i = ref.lastIndexOf(':');
  return i > 0 ? [ref.slice(0, i), ref.slice(i + 1)] : [ref, 'latest'];
}

/**
 * The index, validated; [] when there is none yet. RC 1 (CorruptStateError, variable
 * CORRUPT) naming the file when it is not a list of image entries, so nothing that
 * reads it goes on as if the store were empty.
 */
export function readIndex(ctx: Pick<Ctx, 'env' | 'state'>): ImageEntry[] {
  const f = indexFile(ctx);
  const repair =
    `move it away (mv ${f} ${f}.bad) and image_import again what it listed ` +
    `(umoci ls --layout ${layoutDir(ctx)} shows the tags still in the store)`;
  return ctx.state.read(f, IndexSchema(), repair) ?? [];
}

/** Look `name[:tag]` up in the index: its name, tag and entry (undefined when not imported). */
export function findImage(ctx: Ctx, image: string) {
  const [name, tag] = splitRef(image);
  const e = readIndex(ctx).find((x) => x.name === name && x.tag === tag);
  return { name, tag, entry: e };
}

/** Replace the index atomically (a uniquely named temporary file, then rename). Call it only inside {@link withStore}. */
export function writeIndex(ctx: Pick<Ctx, 'env' | 'state'>, entries: ImageEntry[]): void {
  ctx.state.write(indexFile(ctx), entries);
}

/**
 * Run `fn` holding the store's one lock (`<REXX_OCI_DIR>/images.json.lock`, proper-lockfile):
 * parallel scripts take turns for skopeo copy, umoci rm/gc/unpack and the index. A caller
 * waits up to {@link STORE_WAIT_MS}, then RC 5. Under dryrun nothing changes, so no lock.
 */
export async function withStore<R>(ctx: Ctx, fn: () => Promise<R>): Promise<R> {
  return ctx.state.lock(indexFile(ctx), fn, STORE_WAIT_MS);
}

const blob = (layout: string, digest: string) => path.join(layout, 'blobs', ...digest.split(':'));

/**
 * Read one tag's manifest from an OCI layout (index.json → manifest → config) into an
 * index entry stamped with the time now (ctx.clock). Throws RC 1 when the tag is
 * missing or the JSON is not an image manifest.
 */
export function entryFromLayout(ctx: Pick<Ctx, 'fs' | 'clock'>, layout: string, name: string, tag: string, source: string): ImageEntry {
  const ref = `${name}:${tag}`;
  const idx = readJson(ctx, path.join(layout, 'index.json')) as
    | { manifests?: Array<{ digest: string; size: number; annotations?: Record<string, string> }> }
    | undefined;
  const m = (idx?.manifests ?? []).find((d) => d.annotations?.['org.opencontainers.image.ref.name'] === ref);
  if (!m) throw toolFailed(`${ref} is not in ${layout}/index.json after the copy`);
  const manifest = readJson(ctx, blob(layout, m.digest)) as
    | { config?: { digest: string; size: number }; layers?: Array<{ digest: string; size: number }> }
    | undefined;
  if (!manifest?.config || !Array.isArray(manifest.layers)) throw toolFailed(`${m.digest} is not an OCI image manifest`);
  return {
    name,
    tag,
    digest: m.digest,
    configDigest: manifest.config.digest,
    layers: manifest.layers.map((l) => l.digest),
    size: m.size + manifest.config.size + manifest.layers.reduce((a, l) => a + l.size, 0),
    source,
    imported: new Date(ctx.clock.now()).toISOString(),
  };
}

/** The skopeo source for a path: an OCI layout directory (`oci:DIR[:REF]`) or a docker-archive tar (also when missing: skopeo says so). */
export function skopeoSource(ctx: Pick<Ctx, 'fs'>, source: string, ref: string | undefined): string {
  let isDir = false;
  try {
    isDir = ctx.fs.stat(source)?.isDirectory() ?? false;
  } catch {
    /* unreadable: let skopeo say so */
  }
  if (isDir) return ref ? `oci:${source}:${ref}` : `oci:${source}`;
  return ref ? `docker-archive:${source}:${ref}` : `docker-archive:${source}`;
}

/** ZFS dataset holding an image's unpacked bundle: `<pool>/images/<first 16 hex of the manifest digest>`. */
export const imageDataset = (pool: string, digest: string) => `${pool}/images/${digest.replace(/^sha256:/, '').slice(0, 16)}`;

/**
 * The image unpacked once on ZFS: `<pool>/images/<digest>` made (`zfs create`, parents
 * under the pool lock), `umoci unpack --image LAYOUT:NAME:TAG` into its mountpoint,
 * `terminal` set to false (umoci writes true, and `runc run -d` refuses a tty), and
 * registered as a base (snapshot `rexx-base`) so bundles are `zfs clone`s of it. Nothing
 * is done when the dataset is there already. When the unpack fails the dataset is
 * destroyed again, so a retry starts clean. Call it inside {@link withStore} (umoci
 * reads the layout). Returns the dataset.
 */
export async function unpackOnce(ctx: Ctx, pool: string, e: Pick<ImageEntry, 'name' | 'tag' | 'digest'>): Promise<string> {
  const ds = imageDataset(pool, e.digest);
  if (!(await datasetExists(ctx, ds))) {
    await createOrUndo(ctx, ds, ['create', '-p', ds], { parents: true });
    try {
      // The dataset was just made: its mountpoint is read back (zfs' default under dryrun).
      const mp = await ctx.effect(async () => (await getProps(ctx, ds, ['mountpoint'])).mountpoint!, `/${ds}`);
      await imageTool(ctx, ['umoci', 'unpack', '--image', `${layoutDir(ctx)}:${e.name}:${e.tag}`, mp]);
      await ctx.effect(() => void patchConfig(ctx, mp, { terminal: false, args: [], readonly: false }), undefined);
    } catch (err) {
      await destroyDataset(ctx, ds, { recursive: true }).catch(() => undefined);
      throw err;
    }
  }
  // Under dryrun the dataset may be one this call would have made: taken as not registered yet.
  if (!(await ctx.effect(() => getBase(ctx, ds), undefined))) await registerBase(ctx, ds, { description: `OCI image ${e.name}:${e.tag}` });
  return ds;
}

/**
 * Bytes each image takes on this host: its blobs in the layout as allocated on disk
 * (st_blocks × 512 of the manifest, config and layer files; a blob two images share is
 * counted for both), plus, when `pool` is given, the `used` bytes of its unpacked
 * dataset `<pool>/images/<digest>` (one `zfs get -Hp -r used <pool>/images`). Keyed by
 * manifest digest.
 */
export async function diskBytes(ctx: Ctx, entries: ImageEntry[], pool: string | undefined): Promise<Map<string, number>> {
  const layout = layoutDir(ctx);
  const onDisk = (d: string) => {
    const st = ctx.fs.stat(blob(layout, d));
    return st ? st.blocks * 512 : 0;
  };
  const used = new Map<string, number>();
  if (pool && entries.length && (await datasetExists(ctx, `${pool}/images`))) {
    // zfs-fuse's `zfs list` has no -p; `zfs get -p` gives exact bytes on both.
    const r = await zfs(ctx, ['get', '-H', '-p', '-o', 'name,value', '-r', 'used', `${pool}/images`], { readOnly: true });
    for (const [n, u] of rows(r.stdout)) used.set(n!, Number(u));
  }
  const out = new Map<string, number>();
  for (const e of entries) {
    const blobs = [e.digest, e.configDigest, ...e.layers].reduce((a, d) => a + onDisk(d), 0);
    out.set(e.digest, blobs + (pool ? (used.get(imageDataset(pool, e.digest)) ?? 0) : 0));
  }
  return out;
}
