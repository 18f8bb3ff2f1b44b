/**
 * The base registry for OCI bundles, through the ZFS handler's registry
 * (handlers/zfs/registry.ts): a base is the rootfs dataset of a bundle with the fixed
 * snapshot `@rexx-base` and `org.rexxjs:*` user properties. Base names are container
 * ids: `<pool>/containers/<id>`, or any registered dataset whose last component is the
 * id (image bases are `<pool>/images/<digest>`).
 */
import { isReason, notFound } from '../../shared/errors';
import type { Ctx } from '../../shared/verb';
import { getBase, listBases as zfsListBases, type ZfsBase } from '../zfs/registry';
import { containerDataset } from './rootfs';

/** Bases this handler made: under `<pool>/containers/` and `<pool>/images/`. */
export async function ociBases(ctx: Ctx, pool: string): Promise<ZfsBase[]> {
  return (await zfsListBases(ctx, pool)).filter((b) => b.name.startsWith(`${pool}/containers/`) || b.name.startsWith(`${pool}/images/`));
}

/**
 * The registered dataset of base `id` in `pool`: `<pool>/containers/<id>` when that is a
 * base (one call), else a base of this handler whose last component is `id`. RC 3 when
 * there is none.
 */
export async function baseDataset(ctx: Ctx, pool: string, id: string): Promise<string> {
  // The usual case in one call: <pool>/containers/<id> is itself the base.
  const direct = containerDataset(ctx, id, pool);
  try {
    if (await getBase(ctx, direct)) return direct;
  } catch (e) {
    if (!isReason(e, 'notFound')) throw e;
  }
  const all = await ociBases(ctx, pool);
  const hit = all.find((b) => b.name === containerDataset(ctx, id, pool)) ?? all.find((b) => b.name.split('/').pop() === id);
  if (!hit) throw notFound(`base '${id}' is not registered in pool ${pool} (list_bases shows them)`);
  return hit.name;
}
