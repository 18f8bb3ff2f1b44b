/** Parameter specs the LXCRI verbs share, spelled like the LXD handler's (name=, bundle=, base=, snapshot=). */
import { hostPath, ociContainerId, regexRule, zfsSnapshotName } from '../../shared/names';
import { RUNTIMES } from './runtime';

/** An absolute bundle/host directory: no "." or ".." segments, no leading "-", no control characters. */
export const absHostPath = regexRule(
  'absolute host path',
  /^\/[^\0]*$/,
  'an absolute path (starting with "/") without "." or ".." segments',
  (v) => (v.split('/').some((s) => s === '.' || s === '..') ? 'must not contain "." or ".." path segments' : hostPath.check(v)),
);

export const NAME = {
  name: { type: 'string', required: true, rule: ociContainerId, doc: 'OCI container id' },
} as const;

export const BUNDLE = {
  bundle: { type: 'string', required: true, rule: absHostPath, doc: 'bundle directory (config.json + rootfs), absolute path' },
} as const;

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

export const timeout = (defaultMs: number, doc: string) => ({ timeout: { type: 'duration', default: defaultMs, doc } }) as const;
