/**
 * OCI images (the Proxmox LXCRI v0.2.0 seed): `skopeo copy` imports an OCI layout
 * directory or a docker-archive tar into the local layout and its index, image_list
 * reads that index, image_delete removes an image (and its ZFS dataset when no bundle
 * is a clone of it). Making a bundle from an image is bundle.ts.
 */
import { alreadyExists, isReason, notFound } from '../../../shared/errors';
import { regexRule } from '../../../shared/names';
import { ociImageRef } from '../names';
import { stem } from '../../../shared/result';
import { defineVerb } from '../../../shared/verb';
import { datasetExists, destroyDataset } from '../../zfs/dataset';
import { imageTool } from '../tool';
import { diskBytes, entryFromLayout, findImage, imageDataset, layoutDir, readIndex, skopeoSource, withStore, writeIndex } from '../images';
import { absHostPath, IMAGE, POOL } from '../params';
import { usablePool } from '../rootfs';

/** A source path skopeo can parse: absolute, no ":" (its transport separator). */
const imageSource = regexRule('image source path', /^\/[^:\0]*$/, 'an absolute path without ":"', (v) => absHostPath.check(v));
const sourceRef = regexRule('reference in the source', /^[A-Za-z0-9][A-Za-z0-9._/:-]{0,254}$/, 'letters, digits, ".", "_", "/", ":", "-"', (v) =>
  v.split('/').some((s) => s === '..' || s === '.') ? 'must not contain "." or ".." path segments' : undefined,
);

export const imageImport = defineVerb({
  name: 'image_import',
  summary: 'import an OCI image layout directory or a docker-archive tar into the local store (skopeo copy) and index it',
  params: {
    source: { type: 'string', required: true, rule: imageSource, doc: 'OCI layout directory or docker-archive tar (absolute path)' },
    name: { type: 'string', required: true, rule: ociImageRef, doc: 'name[:tag] to keep it under (tag default latest)' },
    source_ref: { type: 'string', rule: sourceRef, doc: 'which image in the source (OCI ref name, or name:tag in a docker archive) when it holds several' },
    force: { type: 'bool', default: false, doc: 'replace an image already indexed under this name:tag' },
  },
  positional: ['source', 'name'],
  examples: ['image_import source=/tmp/busybox-oci name=busybox:1.36', 'image_import source=/tmp/app.tar name=app'],
  vars: { DIGEST: 'manifest digest (sha256:…)', SIZE: 'bytes: manifest, config and compressed layers', LAYERS: 'how many layers' },
  async run(p, ctx) {
    // The check, the copy into the shared layout and the index update are one step under
    // the store lock: of parallel imports of one tag exactly one wins (the rest RC 4), and
    // parallel imports of different tags never overwrite each other's index.json entries.
    return withStore(ctx, async () => {
      const { name, tag, entry } = findImage(ctx, p.name);
      if (entry && !p.force) throw alreadyExists(`image ${name}:${tag} is already imported (force=true replaces it)`);
      const layout = layoutDir(ctx);
      const src = skopeoSource(ctx, p.source, p.source_ref);
      await imageTool(ctx, ['skopeo', 'copy', '--quiet', src, `oci:${layout}:${name}:${tag}`]);
      // What the copy wrote is read back into the index (under dryrun there is nothing to read).
      const e = await ctx.effect(() => {
        const entry = entryFromLayout(ctx, layout, name, tag, src);
        writeIndex(ctx, [...readIndex(ctx).filter((x) => !(x.name === name && x.tag === tag)), entry]);
        return entry;
      }, undefined);
      return { result: `${name}:${tag}`, vars: e ? { DIGEST: e.digest, SIZE: e.size, LAYERS: e.layers.length } : {} };
    });
  },
});

export const imageList = defineVerb({
  name: 'image_list',
  summary:
    'images in the local store, from the on-disk index: stem IMAGES (name:tag), DIGESTS, SIZES (bytes of the image), DISK_SIZES (bytes it takes here), LAYERS (counts); RESULT "name tag digest size disk_bytes layers"',
  params: { filter: { type: 'string', doc: 'only names containing this text' }, ...POOL },
  positional: ['filter'],
  vars: {
    IMAGES: { stem: 'name:tag of each image' },
    DIGESTS: { stem: 'manifest digests' },
    SIZES: { stem: 'bytes: manifest, config and compressed layers' },
    DISK_SIZES: { stem: 'bytes on disk here: its blobs in the layout (allocated) plus its unpacked dataset on ZFS (used)' },
    LAYERS: { stem: 'layer counts' },
  },
  async run(p, ctx) {
    const all = readIndex(ctx)
      .filter((e) => (p.filter ? e.name.includes(p.filter) : true))
      .sort((a, b) => `${a.name}:${a.tag}`.localeCompare(`${b.name}:${b.tag}`));
    const disk = await diskBytes(ctx, all, all.length ? await usablePool(ctx, 'auto', p.pool) : undefined);
    return {
      result: all.map((e) => `${e.name} ${e.tag} ${e.digest} ${e.size} ${disk.get(e.digest) ?? 0} ${e.layers.length}`).join('\n'),
      vars: {
        IMAGES: stem(all.map((e) => `${e.name}:${e.tag}`)),
        DIGESTS: stem(all.map((e) => e.digest)),
        SIZES: stem(all.map((e) => e.size)),
        DISK_SIZES: stem(all.map((e) => disk.get(e.digest) ?? 0)),
        LAYERS: stem(all.map((e) => e.layers.length)),
      },
    };
  },
});

export const imageDelete = defineVerb({
  name: 'image_delete',
  summary: 'remove an image from the store (umoci rm + gc) and the index; its ZFS dataset goes too unless bundles are still clones of it',
  params: { ...IMAGE, ...POOL },
  positional: ['image'],
  vars: { KEPT_DATASET: 'the image dataset kept because bundles are still clones of it' },
  async run(p, ctx) {
    // umoci rm and gc rewrite the layout's index.json and remove blobs: under the store
    // lock, so a parallel import or unpack never sees a half-written index or loses blobs.
    return withStore(ctx, async () => {
      const { name, tag, entry } = findImage(ctx, p.image);
      if (!entry) throw notFound(`image ${name}:${tag} is not imported`);
      const layout = layoutDir(ctx);
      await imageTool(ctx, ['umoci', 'rm', '--image', `${layout}:${name}:${tag}`]);
      await imageTool(ctx, ['umoci', 'gc', '--layout', layout]);
      const rest = readIndex(ctx).filter((x) => !(x.name === name && x.tag === tag));
      writeIndex(ctx, rest);
      let kept = '';
      const pool = await usablePool(ctx, 'auto', p.pool);
      const img = pool ? imageDataset(pool, entry.digest) : '';
      if (img && !rest.some((x) => x.digest === entry.digest) && (await datasetExists(ctx, img))) {
        try {
          await destroyDataset(ctx, img, { recursive: true });
        } catch (e) {
          if (!isReason(e, 'refused', 'busy')) throw e;
          kept = img;
        }
      }
      return { result: `${name}:${tag}`, vars: { KEPT_DATASET: kept } };
    });
  },
});
