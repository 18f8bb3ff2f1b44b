/** ADDRESS LXD: system containers and VMs on an LXD daemon, through the `lxc` client. */
import type { HandlerTable } from '../../shared/verb';
import { COMPAT } from './compat';
import { lxdInstanceName } from './names';
import { withProject } from './tool';
import { cloneFromBase, listBases, registerBase, unregisterBase } from './verbs/bases';
import { events } from './verbs/events';
import { exec } from './verbs/exec';
import { fileMkdir } from './verbs/files';
import { imageAlias, imageDelete, imageImport, imageList, publish } from './verbs/images';
import { info, list, status } from './verbs/info';
import { create, del, restart, start, stop } from './verbs/lifecycle';
import { move } from './verbs/move';
import { configGet, configSet, configUnset, deviceAdd, deviceRemove, freeze, rename, unfreeze } from './verbs/live';
import { networkCreate, networkDelete, networkList } from './verbs/networks';
import { profileCreate, profileDelete, profileList, profileSet } from './verbs/profiles';
import { copy, deleteSnapshot, fileDelete, filePull, filePush, listSnapshots, restore, snapshot } from './verbs/storage';
import { volumeAttach, volumeCreate, volumeDelete, volumeDetach, volumeSnapshot } from './verbs/volumes';

export const table: HandlerTable = {
  target: 'lxd',
  summary: 'LXD system containers: create, start, exec, copy, snapshots, and copy-on-write clones of registered bases',
  tools: 'lxc (the LXD 5.x client)',
  // Every verb takes project= (tool.ts withProject: the one place a project is applied).
  verbs: [
    create, start, stop, restart, del, exec,
    copy, move, snapshot, restore, deleteSnapshot, listSnapshots, filePush, filePull, fileDelete, fileMkdir,
    configSet, configGet, configUnset, freeze, unfreeze, rename, deviceAdd, deviceRemove,
    publish, imageImport, imageList, imageDelete, imageAlias,
    profileCreate, profileSet, profileDelete, profileList,
    networkCreate, networkDelete, networkList,
    volumeCreate, volumeAttach, volumeDetach, volumeDelete, volumeSnapshot,
    events,
    info, list,
    registerBase, cloneFromBase, listBases, unregisterBase,
    status,
  ].map(withProject),
  compat: COMPAT,
  completers: { instances: { verb: 'list', stem: 'INSTANCES', rules: [lxdInstanceName] }, bases: { verb: 'list_bases', stem: 'BASES' } },
};
