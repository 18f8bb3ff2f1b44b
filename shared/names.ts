/**
 * Naming rules of each backend, checked before anything runs. A value that breaks
 * one gets RC 2 and nothing is executed. Every rule refuses a leading `-` so no value
 * can reach a CLI as an option, and refuses NUL and line breaks.
 */

/** A validation rule for one parameter value. */
export interface NameRule {
  /** What the value is, e.g. "LXD instance name". */
  label: string;
  /** One-line description of what is allowed (shown in ERRORTEXT and docs). */
  allowed: string;
  /** Returns a reason when `v` is not allowed, else undefined. */
  check(v: string): string | undefined;
}

const CONTROL = /[\u0000-\u001f\u007f]/;

/** Build a rule from a regular expression plus optional extra checks. */
export function regexRule(
  label: string,
  re: RegExp,
  allowed: string,
  extra?: (v: string) => string | undefined,
): NameRule {
  return {
    label,
    allowed,
    check(v) {
      if (v === '') return 'must not be empty';
      if (CONTROL.test(v)) return 'must not contain control characters (NUL, newline, tab, ...)';
      if (v.startsWith('-')) return 'must not start with "-"';
      if (!re.test(v)) return `allowed: ${allowed}`;
      return extra?.(v);
    },
  };
}

/** Refuses a "." or ".." path segment (for rules on paths and path-like names). */
export const dotSegments = (v: string) =>
  v.split('/').some((s) => s === '.' || s === '..') ? 'must not contain "." or ".." path segments' : undefined;

// ---- LXD (https://documentation.ubuntu.com/lxd/en/latest/reference/instance_properties/#instance-name-requirements)

/** LXD instance name: hostname rules — letters, digits, hyphens, ≤ 63, starts with a letter, no trailing hyphen. */
export const lxdInstanceName = regexRule(
  'LXD instance name',
  /^[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/,
  'letters, digits and hyphens, at most 63, starting with a letter, not ending with a hyphen',
);

/** LXD snapshot name (also our base snapshot names). */
export const lxdSnapshotName = regexRule(
  'snapshot name',
  /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/,
  'letters, digits, ".", "_" and "-", at most 63, starting with a letter or digit',
);

/** LXD object names: profiles, storage pools, networks, remotes, cluster members. */
export const lxdObjectName = regexRule(
  'name',
  /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/,
  'letters, digits, ".", "_" and "-", at most 63, starting with a letter or digit',
);

/** LXD image reference: alias (may contain "/"), fingerprint, optionally `remote:`. */
export const lxdImageRef = regexRule(
  'image alias or fingerprint',
  /^(?:[A-Za-z0-9][A-Za-z0-9._-]{0,62}:)?[A-Za-z0-9][A-Za-z0-9._/-]{0,254}$/,
  'an alias (letters, digits, ".", "_", "-", "/") or fingerprint, optionally prefixed by "remote:"',
  dotSegments,
);

// ---- generic values

/** Config key (LXD `limits.memory`, `user.foo`; ZFS properties use zfsProperty). */
export const configKey = regexRule(
  'config key',
  /^[A-Za-z][A-Za-z0-9._-]{0,127}$/,
  'letters, digits, ".", "_" and "-", starting with a letter',
);

/** `KEY=VALUE` pair for config= lists: key per configKey, value free text without control characters. */
export const configPair: NameRule = {
  label: 'KEY=VALUE pair',
  allowed: 'KEY=VALUE with KEY of letters, digits, ".", "_", "-"',
  check(v) {
    const eq = v.indexOf('=');
    if (eq <= 0) return 'must be KEY=VALUE';
    return configKey.check(v.slice(0, eq)) ?? (CONTROL.test(v) ? 'must not contain control characters' : undefined);
  },
};

/** Environment entry for exec: `NAME=value`. */
export const envPair = regexRule(
  'environment entry',
  /^[A-Za-z_][A-Za-z0-9_]*=[\s\S]*$/,
  'NAME=value, NAME of letters, digits and "_"',
);

/** Absolute path inside an instance/guest/container. */
export const guestPath = regexRule(
  'path inside the instance',
  /^\/[^\0]*$/,
  'an absolute path (starting with "/")',
  dotSegments,
);

/** A path on this host (file_push source, file_pull target, vdev file, bundle): no leading "-". */
export const hostPath = regexRule('host path', /^[^\0]+$/, 'a file path not starting with "-"');

/** An absolute path on this host (bundle, image or checkpoint directory): no "." / ".." segments. */
export const absHostPath = regexRule(
  'absolute host path',
  /^\/[^\0]*$/,
  'an absolute path (starting with "/") without "." or ".." segments',
  dotSegments,
);

/** Size with an optional unit: 512MiB, 2GB, 10G, 1024. */
export const sizeValue = regexRule(
  'size',
  /^\d+(?:\.\d+)?(?:[KMGTPE](?:i?B)?|B)?$/i,
  'a number with an optional unit: 1024, 512M, 512MiB, 2GB, 10G',
);

/** LXD memory limit: a size or a percentage. */
export const memoryValue = regexRule(
  'memory',
  /^(?:\d+(?:\.\d+)?(?:[KMGTPE](?:i?B)?|B)?|\d{1,3}%)$/i,
  'a size (256MiB, 1GB) or a percentage (50%)',
);

/** CPU count or set: 2, 0-3, 0,2. */
export const cpuValue = regexRule('cpus', /^\d+(?:-\d+)?(?:,\d+(?:-\d+)?)*$/, 'a count (2) or a CPU set (0-3, 0,2)');

/** Unix signal name or number for kill. */
export const signalName = regexRule('signal', /^(?:SIG)?[A-Z][A-Z0-9+-]{0,15}$|^\d{1,2}$/i, 'a signal name (TERM, SIGKILL) or number');

/** SSH destination for replication: [user@]host, no options. */
export const sshHost = regexRule(
  'ssh host',
  /^(?:[A-Za-z0-9_][A-Za-z0-9._-]{0,31}@)?[A-Za-z0-9][A-Za-z0-9.:-]{0,252}$/,
  '[user@]host (letters, digits, ".", "-", ":")',
);

// ---- ZFS (zfs(8) "Naming": alphanumerics, "_", "-", ":", "."; no "%", "@" or "#" in a component)

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

// ---- OCI runtime (runc/crun accept ^[\w+-.]+$)

/** OCI container id. */
export const ociContainerId = regexRule(
  'container id',
  /^[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}$/,
  'letters, digits, "_", ".", "+", "-", at most 128, starting with a letter or digit',
);

/** OCI image reference name[:tag] as kept in the local image index. */
export const ociImageRef = regexRule(
  'image reference',
  /^[a-z0-9][a-z0-9._/-]{0,127}(?::[A-Za-z0-9_][A-Za-z0-9._-]{0,127})?$/,
  'name[:tag], lowercase name of letters, digits, ".", "_", "-", "/"',
  dotSegments,
);

// ---- QEMU (commas are option separators in QEMU's -drive/-blockdev syntax)

/** VM, disk or base name for QEMU: becomes a file name under the state directory. */
export const qemuName = regexRule(
  'VM or disk name',
  /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/,
  'letters, digits, "_", ".", "-", at most 63, starting with a letter or digit (no "/" or ",")',
  (v) => (v.includes('..') ? 'must not contain ".."' : undefined),
);

/** Check a value against a rule; returns the error text naming the key, or undefined. */
export function checkName(rule: NameRule, key: string, v: string): string | undefined {
  const why = rule.check(v);
  return why ? `${key}=${JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}…` : v)} is not a valid ${rule.label}: ${why}` : undefined;
}
