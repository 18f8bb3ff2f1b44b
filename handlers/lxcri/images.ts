/**
 * The local OCI image store: one OCI image layout at `<REXX_OCI_DIR>/layout` (written
 * by `skopeo copy`, read by `umoci unpack`, tags as `org.opencontainers.image.ref.name`
 * "name:tag") and a small JSON index `<REXX_OCI_DIR>/images.json` with what listing
 * needs (manifest/config/layer digests and sizes), so image_list never re-reads blobs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { toolFailed } from '../../shared/errors';
import type { Ctx } from '../../shared/verb';
import { ociDir } from './checkpoints';

/** One imported image as the index keeps it. */
export interface ImageEntry {
  name: string;
  tag: string;
  /** Manifest digest, `sha256:…`. */
  digest: string;
  configDigest: string;
  /** Layer digests, bottom first. */
  layers: string[];
  /** Bytes: manifest + config + compressed layers. */
  size: number;
  /** Where it came from (path and transport). */
  source: string;
  /** ISO 8601. */
  imported: string;
}

export const layoutDir = (ctx: Pick<Ctx, 'env'>) => path.join(ociDir(ctx), 'layout');
const indexFile = (ctx: Pick<Ctx, 'env'>) => path.join(ociDir(ctx), 'images.json');

/** `name[:tag]` → [name, tag] (tag default latest). */
export function splitRef(ref: string): [string, string] {
  const i = ref.lastIndexOf(':');
  return i > 0 ? [ref.slice(0, i), ref.slice(i + 1)] : [ref, 'latest'];
}

export function readIndex(ctx: Pick<Ctx, 'env'>): ImageEntry[] {
  try {
    return JSON.parse(fs.readFileSync(indexFile(ctx), 'utf8')) as ImageEntry[];
  } catch {
    return [];
  }
}

/** Look `name[:tag]` up in the index: its name, tag and entry (undefined when not imported). */
export function findImage(ctx: Ctx, image: string) {
  const [name, tag] = splitRef(image);
  const e = readIndex(ctx).find((x) => x.name === name && x.tag === tag);
  return { name, tag, entry: e };
}

/** Replace the index atomically (write + rename). */
export function writeIndex(ctx: Pick<Ctx, 'env'>, entries: ImageEntry[]): void {
  const f = indexFile(ctx);
  fs.mkdirSync(path.dirname(f), { recursive: true });
  fs.writeFileSync(`${f}.tmp`, `${JSON.stringify(entries, null, 2)}\n`);
  fs.renameSync(`${f}.tmp`, f);
}

const blob = (layout: string, digest: string) => path.join(layout, 'blobs', ...digest.split(':'));

/**
 * Read one tag's manifest from an OCI layout (index.json → manifest → config) into an
 * index entry. Throws RC 1 when the tag is missing or the JSON is not an image manifest.
 */
export function entryFromLayout(layout: string, name: string, tag: string, source: string): ImageEntry {
  const ref = `${name}:${tag}`;
  const idx = JSON.parse(fs.readFileSync(path.join(layout, 'index.json'), 'utf8')) as {
    manifests: Array<{ digest: string; size: number; annotations?: Record<string, string> }>;
  };
  const m = idx.manifests.find((d) => d.annotations?.['org.opencontainers.image.ref.name'] === ref);
  if (!m) throw toolFailed(`${ref} is not in ${layout}/index.json after the copy`);
  const manifest = JSON.parse(fs.readFileSync(blob(layout, m.digest), 'utf8')) as {
    config: { digest: string; size: number };
    layers: Array<{ digest: string; size: number }>;
  };
  if (!manifest.config || !Array.isArray(manifest.layers)) throw toolFailed(`${m.digest} is not an OCI image manifest`);
  return {
    name,
    tag,
    digest: m.digest,
    configDigest: manifest.config.digest,
    layers: manifest.layers.map((l) => l.digest),
    size: m.size + manifest.config.size + manifest.layers.reduce((a, l) => a + l.size, 0),
    source,
    imported: new Date().toISOString(),
  };
}

/** The skopeo source for a path: an OCI layout directory (`oci:DIR[:REF]`) or a docker-archive tar. */
export function skopeoSource(source: string, ref: string | undefined): string {
  let isDir = false;
  try {
    isDir = fs.statSync(source).isDirectory();
  } catch {
    /* missing: let skopeo say so */
  }
  if (isDir) return ref ? `oci:${source}:${ref}` : `oci:${source}`;
  return ref ? `docker-archive:${source}:${ref}` : `docker-archive:${source}`;
}

/** ZFS dataset holding an image's unpacked bundle: `<pool>/images/<first 16 hex of the manifest digest>`. */
export const imageDataset = (pool: string, digest: string) => `${pool}/images/${digest.replace(/^sha256:/, '').slice(0, 16)}`;
