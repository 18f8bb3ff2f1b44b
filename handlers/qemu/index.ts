/** ADDRESS QEMU: qcow2 images, bases and copy-on-write clones, and VMs driven over QMP. */
import type { HandlerTable } from '../../shared/verb';
import { clone, cloneFromBase, listBases, registerBase, unregisterBase } from './verbs/bases';
import { COMPAT } from './compat';
import { commit, convert, rebase } from './verbs/chain';
import { createDisk, info, resize } from './verbs/images';
import { consoleVerb, state, status } from './verbs/info';
import { pause, restart, resume, start, stop } from './verbs/lifecycle';
import { deleteSnapshot, listSnapshots, restore, snapshot } from './verbs/snapshots';
import { exportState, importState, listStates, pruneStates, restoreState, saveState } from './verbs/states';
import { migrate } from './verbs/migrate';
import { create, del, list } from './verbs/vms';
import { nicAdd, nicRemove } from './verbs/network';
import { attachIso, deleteDisk, detachIso, diskAttach, diskDetach } from './verbs/devices';
import { exec, filePull, filePush, guestInfo, shutdown } from './verbs/guest';
import { cloudInit } from './verbs/cloudinit';

export const table: HandlerTable = {
  target: 'qemu',
  summary: 'QEMU VMs over QMP (KVM when it really works, else TCG), qcow2 images, and copy-on-write clones of registered bases',
  tools: 'qemu-img and qemu-system-x86_64 (QEMU 7.x), QMP over a unix socket; zfs for zvol bases (OpenZFS)',
  verbs: [
    createDisk, info, resize, convert, commit, rebase,
    registerBase, cloneFromBase, clone, listBases, unregisterBase,
    create, start, state, pause, resume, stop, restart, del, list, consoleVerb,
    snapshot, restore, listSnapshots, deleteSnapshot,
    saveState, restoreState, listStates, pruneStates, exportState, importState,
    migrate,
    nicAdd, nicRemove, attachIso, detachIso, diskAttach, diskDetach, deleteDisk,
    status,
    exec, filePush, filePull, guestInfo, shutdown, cloudInit,
  ],
  compat: COMPAT,
  completers: { vms: { verb: 'list', stem: 'VMS' }, bases: { verb: 'list_bases', stem: 'BASES' } },
};
