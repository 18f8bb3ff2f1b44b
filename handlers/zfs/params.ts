/** Parameter specs the ZFS verbs share, so every verb spells them the same way (and like LXD). */
import { regexRule, zfsDatasetName, zfsPoolName, zfsProperty, zfsSnapshotName, type NameRule } from '../../shared/names';

export const POOL = {
  pool: { type: 'string', rule: zfsPoolName, doc: 'pool (default: env REXX_ZFS_POOL, else rexxpool); name= may be relative to it' },
} as const;

export const NAME = {
  name: { type: 'string', required: true, rule: zfsDatasetName, doc: 'dataset or volume: full (rexxpool/web) or relative to pool= (web)' },
} as const;

export const SNAPSHOT = {
  snapshot: { type: 'string', required: true, rule: zfsSnapshotName, doc: 'snapshot short name (after "@")' },
} as const;

export const OPT_SNAPSHOT = {
  snapshot: { type: 'string', rule: zfsSnapshotName, doc: 'snapshot short name (after "@")' },
} as const;

/** `K=V` for a ZFS property: K per zfsProperty, V without control characters, commas allowed. */
export const zfsPropPair: NameRule = {
  label: 'ZFS PROPERTY=VALUE',
  allowed: 'PROPERTY=VALUE with a native (compression) or user (org.example:key) property',
  check(v) {
    const eq = v.indexOf('=');
    if (eq <= 0) return 'must be PROPERTY=VALUE';
    if (/[\u0000-\u001f\u007f]/.test(v)) return 'must not contain control characters';
    return zfsPropName.check(v.slice(0, eq));
  },
};

export const PROPERTIES = {
  property: { type: 'list', rule: zfsPropPair, doc: 'PROPERTY=VALUE to set (repeat: property=compression=on property=org.example:k=v)' },
} as const;

/** Size for zfs: 10G, 512M, 16k, 1073741824. */
export const zfsSize = regexRule('size', /^\d+(?:\.\d+)?[KMGTPE]?(?:i?B)?$/i, 'a number with an optional unit: 16k, 512M, 10G, 1073741824');

/** Snapshot-name prefix for prune. */
export const snapPrefix = regexRule('snapshot prefix', /^[A-Za-z0-9_][A-Za-z0-9_:.-]{0,200}$/, 'letters, digits, "_", "-", ":", "." (the start of a snapshot name)');

/** A hold tag. */
export const holdTag = regexRule('hold tag', /^[A-Za-z0-9_][A-Za-z0-9_:.-]{0,200}$/, 'letters, digits, "_", "-", ":", "."');

export const TARGET = {
  target: { type: 'string', rule: zfsDatasetName, doc: 'target dataset: full or relative to pool=' },
} as const;

/** A ZFS property name (shared zfsProperty rule) of at most 256 characters (ZFS_MAXPROPLEN). */
export const zfsPropName: NameRule = {
  ...zfsProperty,
  check: (v) => zfsProperty.check(v) ?? (v.length > 256 ? 'is longer than 256 characters' : undefined),
};

export { zfsDatasetName, zfsPoolName, zfsSnapshotName, zfsProperty };
