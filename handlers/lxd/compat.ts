/**
 * How scripts written for RexxJS's own ADDRESS LXD (paul-hammant/RexxJS,
 * extras/addresses/lxd-address/lxd-address.js) run here: every one of its verbs and keys
 * has the same meaning here; the differences are where this project is stricter.
 */
import type { CompatRow } from '../../shared/verb';

export const COMPAT: CompatRow[] = [
  { verbs: ['create'], keys: 'name, image (ubuntu:22.04), storage (zfs-pool)', ours: 'create name= image= storage=', note: 'image= is required (no image server is assumed); the pool defaults to the profile\'s. lxc\'s own error is the RC (3 image not found, 4 exists) instead of a 60 s wait.' },
  { verbs: ['start'], keys: 'name', ours: 'start name=', note: 'A missing instance is RC 3 at once; a timeout is RC 5 and the instance is stopped again.' },
  { verbs: ['stop'], keys: 'name', ours: 'stop name= force=true', note: 'The original always forced; here a clean shutdown is the default (force=true for the same). A missing instance is RC 3, not a success.' },
  { verbs: ['delete', 'remove'], keys: 'name', ours: 'delete name= force=true', note: 'The original always forced and always answered RC 0. Here a running instance or a registered base needs force=true (else RC 7), and a missing one is RC 3.' },
  { verbs: ['execute', 'exec'], keys: 'name, command', ours: 'exec name= command=', note: 'The guest\'s /bin/sh -c instead of bash -c; a command may have spaces and quotes; nothing reaches a host shell. RC is the command\'s exit status (negative when it never ran).' },
  { verbs: ['copy', 'clone'], keys: 'source, destination', ours: 'copy source= destination=', note: 'An existing destination is RC 4 (the original reported success).' },
  { verbs: ['register_base'], keys: 'name, image (ubuntu:22.04), memory (2GB), cpus (2), storage (zfs-pool)', ours: 'register_base name= image= memory= cpus= storage=', note: 'image=, memory=, cpus= and storage= create the instance (and are applied, where the original only recorded memory and cpus); an existing instance is registered without them (RC 4 with image=). The base is the fixed snapshot rexx-base, kept in LXD, so another process finds it.' },
  { verbs: ['clone_from_base'], keys: 'base, name', ours: 'clone_from_base base= name=', note: 'Copies the fixed snapshot rexx-base, not the base as it is now; any process finds the base.' },
  { verbs: ['list_bases'], keys: '', ours: 'list_bases', note: 'Stems BASES and BASE_SNAPSHOTS instead of a JSON list.' },
  { verbs: ['list'], keys: '', ours: 'list', note: 'Stems INSTANCES and STATUSES instead of LXD\'s JSON.' },
  { verbs: ['status'], keys: '', ours: 'status', note: 'Asks the daemon: RC 6 with REACHABLE=0 when it does not answer (the original always answered RC 0).' },
];
