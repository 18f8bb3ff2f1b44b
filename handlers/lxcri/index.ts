/**
 * ADDRESS LXCRI: OCI runtime containers (proxmox-lxcri, lxcri, crun or runc) with
 * rootfs on ZFS, ZFS checkpoint/restore with a CRIU fallback, and local OCI images.
 */
import type { HandlerTable } from '../../shared/verb';
import { REFUSAL_VARS } from '../zfs/in-use';
import { ociContainerId } from './names';
import { cloneFromBase, listBases, registerBase, unregisterBase } from './verbs/bases';
import { bundleFromImage } from './verbs/bundle';
import { checkpoint, listCheckpoints, listStates, prune, restore } from './verbs/checkpoint';
import { exec } from './verbs/exec';
import { imageDelete, imageImport, imageList } from './verbs/images';
import { imageInspect, imagePull, imagePush } from './verbs/remote';
import { list, state, status } from './verbs/info';
import { events, logs, ps, update } from './verbs/control';
import { create, del, kill, pause, resume, run, start, stop } from './verbs/lifecycle';
import { spec } from './verbs/spec';

export const table: HandlerTable = {
  target: 'lxcri',
  summary: 'OCI runtime containers (runc, crun, lxcri): lifecycle, rootfs on ZFS, checkpoint/restore (ZFS, CRIU fallback), OCI images',
  tools: 'an OCI runtime CLI (proxmox-lxcri, lxcri, crun or runc), zfs (OpenZFS or zfs-fuse), criu, skopeo, umoci',
  verbs: [
    spec, create, start, run, state, stop, kill, del, list, exec, pause, resume,
    update, ps, events, logs,
    checkpoint, restore, listCheckpoints, listStates, prune,
    registerBase, cloneFromBase, listBases, unregisterBase,
    imagePull, imagePush, imageInspect, imageImport, imageList, bundleFromImage, imageDelete,
    status,
  ],
  vars: REFUSAL_VARS,
  completers: { containers: { verb: 'list', stem: 'CONTAINERS', rules: [ociContainerId] }, bases: { verb: 'list_bases', stem: 'BASES' } },
};
