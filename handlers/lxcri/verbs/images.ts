/**
 * OCI images (the Proxmox LXCRI v0.2.0 seed): `skopeo copy` imports an OCI layout
 * directory or a docker-archive tar into the local layout, `umoci unpack` makes a
 * bundle. With ZFS the image is unpacked once into `<pool>/images/<digest>`, registered
 * as a base (handlers/zfs/registry.ts), and each bundle is a clone of it mounted at the
 * bundle directory — copy-on-write, not a copy.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AddressError, alreadyExists, classify, notFound, usageError, type Classifier } from '../../../shared/errors';
import { ociContainerId, ociImageRef, regexRule, zfsPoolName } from '../../../shared/names';
import { stem } from '../../../shared/result';
import { defineVerb, type Ctx } from '../../../shared/verb';
import { getBase, registerBase, cloneFromBase } from '../../zfs/registry';
import { datasetExists, destroyDataset, getProps } from '../../zfs/dataset';
import { defaultPool, zfs } from '../../zfs/zfs';
import { ociDir } from '../checkpoints';
import { entryFromLayout, imageDataset, layoutDir, readIndex, skopeoSource, splitRef, writeIndex } from '../images';
import { absHostPath } from '../params';
import { containerDataset } from '../rootfs';
import { patchProcess } from './spec';

/** skopeo/umoci messages mapped to the RC table. */
export const IMAGE_ERRORS: Classifier = {
  patterns: [
    ['notFound', /no such file or directory|does not exist|not found|no descriptor found|unable to find/i],
    ['exists', /already exists/i],
  ],
};

async function tool(ctx: Ctx, argv: string[], timeoutMs = 600_000) {
  const r = await ctx.run(argv, { timeoutMs });
  if (!r.ok) throw classify(r, IMAGE_ERRORS);
  return r;
}

/** A source path skopeo can parse: absolute, no ":" (its transport separator). */
const imageSource = regexRule('image source path', /^\/[^:\0]*$/, 'an absolute path without ":"', (v) => absHostPath.check(v));
const sourceRef = regexRule('reference in the source', /^[A-Za-z0-9][A-Za-z0-9._/:-]{0,254}$/, 'letters, digits, ".", "_", "/", ":", "-"', (v) =>
  v.split('/').some((s) => s === '..' || s === '.') ? 'must not contain "." or ".." path segments' : undefined,
);

const IMAGE = { image: { type: 'string', required: true, rule: ociImageRef, doc: 'image name[:tag] in the local index (tag default latest)' } } as const;

function findImage(ctx: Ctx, image: string) {
  const [name, tag] = splitRef(image);
  const e = readIndex(ctx).find((x) => x.name === name && x.tag === tag);
  return { name, tag, entry: e };
}

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
  async run(p, ctx) {
    const { name, tag, entry } = findImage(ctx, p.name);
    if (entry && !p.force) throw alreadyExists(`image ${name}:${tag} is already imported (force=true replaces it)`);
    const layout = layoutDir(ctx);
    if (!ctx.dryrun) fs.mkdirSync(ociDir(ctx), { recursive: true });
    const src = skopeoSource(p.source, p.source_ref);
    await tool(ctx, ['skopeo', 'copy', '--quiet', src, `oci:${layout}:${name}:${tag}`]);
    if (ctx.dryrun) return { result: `${name}:${tag}` };
    const e = entryFromLayout(layout, name, tag, src);
    writeIndex(ctx, [...readIndex(ctx).filter((x) => !(x.name === name && x.tag === tag)), e]);
    return { result: `${name}:${tag}`, vars: { DIGEST: e.digest, SIZE: e.size, LAYERS: e.layers.length } };
  },
});

export const imageList = defineVerb({
  name: 'image_list',
  summary: 'imported images from the on-disk index: stem IMAGES (name:tag), DIGESTS, SIZES (bytes), LAYERS (counts); RESULT "name tag digest size layers"',
  params: { filter: { type: 'string', doc: 'only names containing this text' } },
  positional: ['filter'],
  async run(p, ctx) {
    const all = readIndex(ctx)
      .filter((e) => (p.filter ? e.name.includes(p.filter) : true))
      .sort((a, b) => `${a.name}:${a.tag}`.localeCompare(`${b.name}:${b.tag}`));
    return {
      result: all.map((e) => `${e.name} ${e.tag} ${e.digest} ${e.size} ${e.layers.length}`).join('\n'),
      vars: {
        IMAGES: stem(all.map((e) => `${e.name}:${e.tag}`)),
        DIGESTS: stem(all.map((e) => e.digest)),
        SIZES: stem(all.map((e) => e.size)),
        LAYERS: stem(all.map((e) => e.layers.length)),
      },
    };
  },
});

/** Pool to use: zfs=false → none; true → the pool (RC 6 if ZFS is down); auto → the pool when it answers. */
async function usablePool(ctx: Ctx, mode: string, pool: string | undefined): Promise<string | undefined> {
  if (mode === 'false') return undefined;
  const name = pool ?? defaultPool(ctx);
  try {
    if (await datasetExists(ctx, name)) return name;
    if (mode === 'true') throw notFound(`ZFS pool ${name} not found`);
  } catch (e) {
    if (mode === 'true') throw e;
  }
  return undefined;
}

/** Set terminal=false (and optionally args, writable rootfs) in a bundle's config.json. */
function patchBundle(bundle: string, args: string[], readonly: boolean) {
  const f = path.join(bundle, 'config.json');
  const c = JSON.parse(fs.readFileSync(f, 'utf8')) as Record<string, unknown>;
  fs.writeFileSync(f, `${JSON.stringify(patchProcess(c, { terminal: false, args, readonly }), null, 2)}\n`);
}

export const bundleFromImage = defineVerb({
  name: 'bundle_from_image',
  summary: 'make a bundle from an image (umoci unpack); with ZFS a copy-on-write clone <pool>/containers/<name> of the image unpacked once',
  params: {
    ...IMAGE,
    bundle: { type: 'string', required: true, rule: absHostPath, doc: 'bundle directory to make (absent or empty)' },
    name: { type: 'string', rule: ociContainerId, doc: 'container id for the dataset <pool>/containers/<name> (default: the bundle directory\'s name)' },
    zfs: { type: 'enum', values: ['auto', 'true', 'false'], default: 'auto', doc: 'rootfs on ZFS: auto = when the pool answers' },
    pool: { type: 'string', rule: zfsPoolName, doc: 'ZFS pool (default: env REXX_ZFS_POOL, else rexxpool)' },
    arg: { type: 'list', free: true, doc: 'replace the image\'s command (repeat: arg=sleep arg=1000)' },
    readonly: { type: 'bool', default: false, doc: 'mount the rootfs read-only' },
  },
  positional: ['image', 'bundle'],
  examples: ['bundle_from_image image=busybox bundle=/srv/oci/web-1'],
  async run(p, ctx) {
    const t0 = performance.now();
    const { name, tag, entry } = findImage(ctx, p.image);
    if (!entry) throw notFound(`image ${name}:${tag} is not imported (image_list shows the index)`);
    const id = p.name ?? path.basename(p.bundle);
    if (ociContainerId.check(id)) throw usageError(`bundle_from_image: give name= (the bundle's directory name '${id}' is not a container id)`);
    if (!ctx.dryrun && fs.existsSync(p.bundle) && fs.readdirSync(p.bundle).length) throw alreadyExists(`bundle directory ${p.bundle} is not empty`);
    const ref = `${layoutDir(ctx)}:${name}:${tag}`;
    const pool = await usablePool(ctx, p.zfs, p.pool);
    let dataset = '';
    let cloned = 0;
    if (!pool) {
      await tool(ctx, ['umoci', 'unpack', '--image', ref, p.bundle]);
    } else {
      const img = imageDataset(pool, entry.digest);
      if (!(await datasetExists(ctx, img))) {
        await zfs(ctx, ['create', '-p', img]);
        const mp = ctx.dryrun ? `/${img}` : (await getProps(ctx, img, ['mountpoint'])).mountpoint!;
        await tool(ctx, ['umoci', 'unpack', '--image', ref, mp]);
        if (!ctx.dryrun) patchBundle(mp, [], false);
      }
      if (ctx.dryrun || !(await getBase(ctx, img))) await registerBase(ctx, img, { description: `OCI image ${name}:${tag}` });
      dataset = containerDataset(ctx, id, pool);
      await cloneFromBase(ctx, img, dataset, { properties: [`mountpoint=${p.bundle}`], parents: true });
      cloned = 1;
    }
    if (!ctx.dryrun) patchBundle(p.bundle, p.arg, p.readonly);
    return { result: p.bundle, vars: { BUNDLE: p.bundle, DATASET: dataset, CLONED: cloned, BUNDLE_MS: Math.round(performance.now() - t0) } };
  },
});

export const imageDelete = defineVerb({
  name: 'image_delete',
  summary: 'remove an image from the store (umoci rm + gc) and the index; its ZFS dataset goes too unless bundles are still clones of it',
  params: { ...IMAGE, pool: { type: 'string', rule: zfsPoolName, doc: 'ZFS pool (default: env REXX_ZFS_POOL, else rexxpool)' } },
  positional: ['image'],
  async run(p, ctx) {
    const { name, tag, entry } = findImage(ctx, p.image);
    if (!entry) throw notFound(`image ${name}:${tag} is not imported`);
    const layout = layoutDir(ctx);
    await tool(ctx, ['umoci', 'rm', '--image', `${layout}:${name}:${tag}`]);
    await tool(ctx, ['umoci', 'gc', '--layout', layout]);
    const rest = readIndex(ctx).filter((x) => !(x.name === name && x.tag === tag));
    if (!ctx.dryrun) writeIndex(ctx, rest);
    let kept = '';
    const pool = await usablePool(ctx, 'auto', p.pool);
    const img = pool ? imageDataset(pool, entry.digest) : '';
    if (img && !rest.some((x) => x.digest === entry.digest) && (await datasetExists(ctx, img))) {
      try {
        await destroyDataset(ctx, img, { recursive: true });
      } catch (e) {
        if (!(e instanceof AddressError && e.kind === 'refused')) throw e;
        kept = img;
      }
    }
    return { result: `${name}:${tag}`, vars: { KEPT_DATASET: kept } };
  },
});
