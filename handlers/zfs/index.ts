/** ADDRESS ZFS: datasets, zvols, snapshots, clones, bases, replication, retention and sanoid-style policies through the `zfs` and `zpool` CLIs. */
import type { HandlerTable } from '../../shared/verb';
import { REFUSAL_VARS } from './in-use';
import { zfsDatasetName } from './names';
import { cloneFromBase, listBases, registerBase, unregisterBase } from './verbs/bases';
import { clone, promote } from './verbs/clones';
import { create, createVolume, destroy, mount, rename, resize, unmount } from './verbs/datasets';
import { status } from './verbs/info';
import { poolCheck, poolCreate, poolDestroy, poolExport, poolImport, poolStatus, scrub } from './verbs/pools';
import { get, list, set, stats } from './verbs/props';
import { receive, replicate, send } from './verbs/replication';
import { autoprune, autosnap, checkSnapshots, policyGet, policyList, policyRemove, policySet, schedule, unschedule } from './verbs/policy';
import { prune } from './verbs/retention';
import { destroySnapshot, hold, listSnapshotsVerb, release, rollback, snapshot } from './verbs/snapshots';

export const table: HandlerTable = {
  target: 'zfs',
  summary: 'ZFS datasets, zvols, snapshots, copy-on-write clones of registered bases, replication and retention',
  tools: 'zfs and zpool (OpenZFS 2.x; zfs-fuse 0.7 for everything but zvols, lz4 and newer flags)',
  verbs: [
    poolStatus, poolCheck, poolCreate, poolDestroy, poolExport, poolImport, scrub,
    create, createVolume, resize, destroy, rename, get, set, list, mount, unmount,
    snapshot, listSnapshotsVerb, rollback, destroySnapshot, hold, release,
    clone, promote, registerBase, cloneFromBase, listBases, unregisterBase,
    send, receive, replicate,
    prune, policySet, policyGet, policyList, policyRemove, autosnap, autoprune, checkSnapshots, schedule, unschedule,
    stats, status,
  ],
  vars: REFUSAL_VARS,
  completers: { datasets: { verb: 'list', stem: 'DATASETS', rules: [zfsDatasetName] }, bases: { verb: 'list_bases', stem: 'BASES' } },
};
