/** Parameter specs the LXCRI verbs share, spelled like the LXD handler's (name=, bundle=, base=, snapshot=). */
import { absHostPath } from '../../shared/names';
import { ociContainerId, ociImageRef } from './names';
import { zfsSnapshotName } from '../zfs/names';
import { RUNTIMES } from './runtime';

/** An absolute bundle/host directory (the shared rule). */
export { absHostPath };

export const NAME = {
  name: { type: 'string', required: true, rule: ociContainerId, doc: 'OCI container id' },
} as const;

export const BUNDLE = {
  bundle: { type: 'string', required: true, rule: absHostPath, doc: 'bundle directory (config.json + rootfs), absolute path' },
} as const;

/** bundle= for verbs that also work on a container that no longer exists. */
export const BUNDLE_OPT = { bundle: { type: 'string', rule: absHostPath, doc: 'the bundle, when the container no longer exists' } } as const;

export const RUNTIME = {
  runtime: {
    type: 'enum',
    values: ['auto', ...RUNTIMES],
    default: 'auto',
    doc: 'OCI runtime CLI; auto = env REXX_OCI_RUNTIME, else the first of proxmox-lxcri, lxcri, crun, runc that works directly here',
  },
} as const;

export const SNAPSHOT_OPT = {
  snapshot: { type: 'string', rule: zfsSnapshotName, doc: 'checkpoint name (default: the newest)' },
} as const;

/** image= naming an imported image (image_delete, bundle_from_image). */
export const IMAGE = { image: { type: 'string', required: true, rule: ociImageRef, doc: 'image name[:tag] in the local index (tag default latest)' } } as const;

export { timeoutParam as timeout } from '../../shared/params';
