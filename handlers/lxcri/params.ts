/** Parameter specs the LXCRI verbs share, spelled like the LXD handler's (name=, bundle=, base=, snapshot=). */
import { absHostPath } from '../../shared/names';
import { ociContainerId, ociImageRef } from './names';
import { zfsSnapshotName } from '../zfs/names';
import { RUNTIMES } from './runtime';
import { ZFS_POOL as POOL } from '../zfs/params';

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

/** pool= for every verb that works on ZFS: the ZFS handler's own spec. */
export { POOL };

/** zfs= and pool= of create/run: where the rootfs goes. */
export const ZFS_OPTS = {
  zfs: { type: 'bool', doc: 'put the rootfs on ZFS dataset <pool>/containers/<id> (default: env REXX_LXCRI_ZFS=1)' },
  ...POOL,
} as const;

export const SNAPSHOT_OPT = {
  snapshot: { type: 'string', rule: zfsSnapshotName, doc: 'checkpoint name (default: the newest)' },
} as const;

/** image= naming an imported image (image_delete, bundle_from_image). */
export const IMAGE = { image: { type: 'string', required: true, rule: ociImageRef, doc: 'image name[:tag] in the local index (tag default latest)' } } as const;

export { timeoutParam as timeout } from '../../shared/params';

/**
 * CRIU options of checkpoint and restore (runc 1.1's flags, `runc checkpoint --help`).
 * No default: checkpoint takes absent as false; restore as what the checkpoint was taken with.
 */
export const CRIU_FLAGS = {
  tcp_established: { type: 'bool', doc: 'CRIU: allow open TCP connections (--tcp-established)' },
  file_locks: { type: 'bool', doc: 'CRIU: dump and restore file locks (--file-locks)' },
  shell_job: { type: 'bool', doc: 'CRIU: allow a shell job, a process group of a terminal session (--shell-job)' },
  ext_unix_sk: { type: 'bool', doc: 'CRIU: allow unix sockets connected outside the container (--ext-unix-sk)' },
} as const;
