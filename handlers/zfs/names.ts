/** The naming rules of ADDRESS ZFS: what its tool accepts, checked before anything runs (RC 2). */
import { regexRule, dotSegments } from '../../shared/names';

const ZFS_COMPONENT = '[A-Za-z0-9_:.-]+';
const ZFS_RESERVED_POOL = /^(?:mirror|raidz\d?|draid\d?|spare|log|cache|special|dedup|c\d.*)$/;

/** ZFS pool name: starts with a letter, not a reserved vdev word. */
export const zfsPoolName = regexRule(
  'ZFS pool name',
  /^[A-Za-z][A-Za-z0-9_:.-]{0,127}$/,
  'letters, digits, "_", "-", ":", ".", starting with a letter',
  (v) => (ZFS_RESERVED_POOL.test(v) ? 'is a reserved vdev word' : undefined),
);

/** ZFS dataset or volume name: pool/path, or a relative path (joined to pool= by the handler). */
export const zfsDatasetName = regexRule(
  'ZFS dataset name',
  new RegExp(`^${ZFS_COMPONENT}(?:/${ZFS_COMPONENT})*$`),
  'pool/path components of letters, digits, "_", "-", ":", "." (no "@", "#", "%", spaces), at most 255',
  (v) => (v.length > 255 ? 'is longer than 255 characters' : dotSegments(v)),
);

/** ZFS snapshot short name (after "@"). */
export const zfsSnapshotName = regexRule(
  'ZFS snapshot name',
  /^[A-Za-z0-9_][A-Za-z0-9_:.-]{0,254}$/,
  'letters, digits, "_", "-", ":", ".", starting with a letter, digit or "_"',
  (v) => (v === '.' || v === '..' ? 'is not a snapshot name' : undefined),
);

/** ZFS property: native (lowercase) or user property (module:name). */
export const zfsProperty = regexRule(
  'ZFS property',
  /^[a-z][a-z0-9_]*$|^[a-z0-9_.-]+:[a-z0-9_.:-]+$/,
  'a native property (compression) or a user property with a colon (org.example:base)',
);
