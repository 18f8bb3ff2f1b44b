/** Parameter specs the ZFS verbs share, so every verb spells them the same way (and like LXD). */
import { regexRule, type NameRule } from '../../shared/names';
import { zfsDatasetName, zfsPoolName, zfsProperty, zfsSnapshotName } from './names';

/**
 * pool= of the handlers that keep data in a ZFS pool (ADDRESS LXCRI's rootfs datasets,
 * bundles, images and bases): the one spec they share, documented for them.
 */
export const ZFS_POOL = {
  pool: { type: 'string', rule: zfsPoolName, doc: 'ZFS pool (default: env REXX_ZFS_POOL, else rexxpool)' },
} as const;

/** pool= of the ZFS verbs: ZFS_POOL, where name= may be relative to the pool. */
export const POOL = {
  pool: { ...ZFS_POOL.pool, doc: 'pool (default: env REXX_ZFS_POOL, else rexxpool); name= may be relative to it' },
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

/**
 * The longest value ZFS keeps in a property, in bytes (UTF-8): 8191, as ZAP_MAXVALUELEN
 * is 8192 with the terminating NUL. Measured on zfs-fuse 0.7: a user property of 8191
 * bytes is set, 8192 make `zfs set` abort with "internal error: Argument list too long".
 */
export const MAX_PROP_VALUE_BYTES = 8191;

/** `K=V` for a ZFS property: K per zfsPropName, V without control characters and at most 8191 bytes, commas allowed. */
export const zfsPropPair: NameRule = {
  label: 'ZFS PROPERTY=VALUE',
  allowed: `PROPERTY=VALUE with a native (compression) or user (org.example:key) property, the value at most ${MAX_PROP_VALUE_BYTES} bytes`,
  check(v) {
    const eq = v.indexOf('=');
    if (eq <= 0) return 'must be PROPERTY=VALUE';
    if (/[\u0000-\u001f\u007f]/.test(v)) return 'must not contain control characters';
    const n = Buffer.byteLength(v.slice(eq + 1), 'utf8');
    if (n > MAX_PROP_VALUE_BYTES) return `has a value of ${n} bytes; ZFS keeps at most ${MAX_PROP_VALUE_BYTES}`;
    return zfsPropName.check(v.slice(0, eq));
  },
};

export const PROPERTIES = {
  property: { type: 'list', rule: zfsPropPair, doc: 'PROPERTY=VALUE to set (repeat: property=compression=on property=org.example:k=v); a value of at most 8191 bytes; mountpoint=, sharenfs=, sharesmb=, zoned= follow README: Security' },
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

/** A ZFS property name (shared zfsProperty rule) of at most 255 characters (ZAP_MAXNAMELEN 256 with its NUL; zfs-fuse 0.7: 255 set, 256 "is too long"). */
export const zfsPropName: NameRule = {
  ...zfsProperty,
  check: (v) => zfsProperty.check(v) ?? (v.length > 255 ? 'is longer than 255 characters' : undefined),
};

export { zfsDatasetName, zfsPoolName, zfsSnapshotName, zfsProperty };
