/** Parameter specs the LXD verbs share, so every verb spells them the same way. */
import { lxdInstanceName, lxdObjectName, lxdSnapshotName } from './names';

export const REMOTE = {
  remote: { type: 'string', rule: lxdObjectName, doc: 'LXD remote: the verb acts on REMOTE:NAME (default: the local daemon)' },
} as const;

/**
 * project= of every LXD verb (added to each in index.ts by `withProject`, tool.ts): the
 * verb acts inside that LXD project, as `lxc --project NAME` does.
 */
export const PROJECT = {
  project: { type: 'string', rule: lxdObjectName, doc: 'LXD project the verb acts in (lxc --project NAME; default: the client\'s current project, normally default)' },
} as const;

export const NAME = {
  name: { type: 'string', required: true, rule: lxdInstanceName, doc: 'instance name' },
} as const;

export const SNAPSHOT = {
  snapshot: { type: 'string', required: true, rule: lxdSnapshotName, doc: 'snapshot name' },
} as const;

export const FORCE = {
  force: { type: 'bool', default: false, doc: 'force it (stop: kill at once; delete: also a running instance or a registered base)' },
} as const;

export const WAIT = {
  wait: {
    type: 'enum', values: ['running', 'ip', 'ipv6', 'cloud-init', 'agent', 'none'], default: 'running',
    doc: 'after start, wait until the instance is Running, has a global IPv4 (ip) or IPv6 (ipv6), cloud-init is done (cloud-init status in the guest; RC 6 when the image has none), a VM\'s lxd-agent answers (agent; RC 2 for a container), or not at all',
  },
} as const;

export { timeoutParam as timeout } from '../../shared/params';
