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

const SSH_USER = '[A-Za-z0-9_][A-Za-z0-9._-]{0,31}';
const SSH_HOST_NO_COLON = '[A-Za-z0-9][A-Za-z0-9.-]{0,252}';
const REMOTE_TARGET = new RegExp(`^(?:(${SSH_USER})@)?(${SSH_HOST_NO_COLON}):(.+)$`);

/**
 * A replication target: the `[user@]host:` prefix, when the text before the first "/"
 * has a ":", split off (host without ":", so an IPv6 address goes to ssh= instead), and
 * the dataset. Undefined host for a dataset on this side.
 */
export function splitReplTarget(v: string): { host?: string; dataset: string } {
  const first = v.split('/')[0]!;
  if (!first.includes(':')) return { dataset: v };
  const m = REMOTE_TARGET.exec(v);
  if (!m) return { host: '', dataset: v };
  return { host: m[1] ? `${m[1]}@${m[2]}` : m[2], dataset: m[3]! };
}

/**
 * target= of send and replicate: a dataset (full, or relative to target_pool=), or
 * `[user@]host:pool/dataset` on another host over ssh (syncoid's form). A ":" before the
 * first "/" always means a host; a receiving pool whose name has a ":" is given as
 * target_pool= (with ssh= for another host). Every part is checked by its own rule (the
 * ssh host rule without ":" for the host, the dataset rule for the rest), so no part
 * can start with "-" or hold a space or a shell character.
 */
export const zfsReplTarget = regexRule(
  'replication target',
  /^[^\s]+$/,
  'a dataset (pool/path) or [user@]host:pool/dataset',
  (v) => {
    const t = splitReplTarget(v);
    if (t.host === '') return `"${v.split(':')[0]}" before ":" is not a valid [user@]host (letters, digits, ".", "-"; a user of letters, digits, ".", "_", "-")`;
    return zfsDatasetName.check(t.dataset);
  },
);

/** exclude= of recursive replication: a glob on a dataset's name relative to the source ("*" and "?" stay within one component). */
export const datasetGlob = regexRule(
  'dataset pattern',
  /^[A-Za-z0-9_:.*?-]+(?:\/[A-Za-z0-9_:.*?-]+)*$/,
  'a dataset name relative to the source, with "*" (any characters but "/") and "?" (one character): logs, cache/*, */tmp',
  (v) => (v.length > 255 ? 'is longer than 255 characters' : dotSegments(v)),
);

/** True when the relative dataset name `rel` matches the datasetGlob `pattern` as a whole. */
export function globMatches(pattern: string, rel: string): boolean {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
  return new RegExp(`^${re}$`).test(rel);
}
