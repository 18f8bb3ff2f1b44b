/**
 * bundle_from_image (the Proxmox LXCRI v0.2.0 seed): `umoci unpack` makes a bundle from
 * an imported image. With ZFS the image is unpacked once into `<pool>/images/<digest>`,
 * registered as a base (handlers/zfs/registry.ts), and each bundle is a clone of it
 * mounted at the bundle directory — copy-on-write, not a copy.
 */
import * as path from 'node:path';
import { notFound, usageError } from '../../../shared/errors';
import { ociContainerId } from '../names';
import { defineVerb } from '../../../shared/verb';
import { cloneFromBase } from '../../zfs/registry';
import { imageTool } from '../tool';
import { patchConfig } from '../bundle-config';
import { findImage, layoutDir, unpackOnce, withStore } from '../images';
import { absHostPath, IMAGE, POOL } from '../params';
import { containerDataset, requireEmptyDir, usablePool } from '../rootfs';

export const bundleFromImage = defineVerb({
  name: 'bundle_from_image',
  summary: 'make a bundle from an image (umoci unpack); with ZFS a copy-on-write clone <pool>/containers/<name> of the image unpacked once',
  params: {
    ...IMAGE,
    bundle: { type: 'string', required: true, rule: absHostPath, doc: 'bundle directory to make (absent or empty)' },
    name: { type: 'string', rule: ociContainerId, doc: 'container id for the dataset <pool>/containers/<name> (default: the bundle directory\'s name)' },
    zfs: { type: 'enum', values: ['auto', 'true', 'false'], default: 'auto', doc: 'rootfs on ZFS: auto = when the pool answers' },
    ...POOL,
    arg: { type: 'list', free: true, doc: 'replace the image\'s command (repeat: arg=sleep arg=1000)' },
    readonly: { type: 'bool', default: false, doc: 'mount the rootfs read-only' },
  },
  positional: ['image', 'bundle'],
  examples: ['bundle_from_image image=busybox bundle=/srv/oci/web-1'],
  vars: { BUNDLE: 'the bundle directory', DATASET: 'its rootfs dataset (ZFS)', CLONED: '1 when the rootfs is a clone of the image unpacked once', BUNDLE_MS: 'ms it took' },
  async run(p, ctx) {
    const t0 = ctx.clock.monotonic();
    const id = p.name ?? path.basename(p.bundle);
    if (ociContainerId.check(id)) throw usageError(`bundle_from_image: give name= (the bundle's directory name '${id}' is not a container id)`);
    requireEmptyDir(ctx, p.bundle);
    const pool = await usablePool(ctx, p.zfs, p.pool);
    // umoci unpack reads the layout, which a parallel import or delete may be rewriting,
    // and the image dataset is made once however many scripts ask at the same moment:
    // both under the store lock. The clone of it is outside (it does not touch the store).
    const img = await withStore(ctx, async () => {
      const { name, tag, entry } = findImage(ctx, p.image);
      if (!entry) throw notFound(`image ${name}:${tag} is not imported (image_list shows the index)`);
      if (!pool) {
        await imageTool(ctx, ['umoci', 'unpack', '--image', `${layoutDir(ctx)}:${name}:${tag}`, p.bundle]);
        return undefined;
      }
      return unpackOnce(ctx, pool, entry);
    });
    let dataset = '';
    let cloned = 0;
    if (pool && img) {
      dataset = containerDataset(ctx, id, pool);
      await cloneFromBase(ctx, img, dataset, { properties: [`mountpoint=${p.bundle}`], parents: true });
      cloned = 1;
    }
    // umoci unpack or the clone made config.json (under dryrun neither ran).
    await ctx.effect(() => void patchConfig(ctx, p.bundle, { terminal: false, args: p.arg, readonly: p.readonly }), undefined);
    return { result: p.bundle, vars: { BUNDLE: p.bundle, DATASET: dataset, CLONED: cloned, BUNDLE_MS: Math.round(ctx.clock.monotonic() - t0) } };
  },
});
