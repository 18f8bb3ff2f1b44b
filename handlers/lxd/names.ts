/** The naming rules of ADDRESS LXD: what its tool accepts, checked before anything runs (RC 2). */
import { CONTROL, regexRule, dotSegments, type NameRule } from '../../shared/names';

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

/** An image alias (may contain "/", as `debian/12`) or a fingerprint, on the daemon the verb addresses (no `remote:`: that is remote=). */
export const lxdImageAlias = regexRule(
  'image alias or fingerprint',
  /^[A-Za-z0-9][A-Za-z0-9._/-]{0,254}$/,
  'letters, digits, ".", "_", "-" and "/", starting with a letter or digit (no "remote:"; give remote=)',
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

/** A config value (config_set value=): free text, empty allowed (it unsets the key), no control characters. */
export const configValue: NameRule = {
  label: 'config value',
  allowed: 'any text without control characters (empty unsets the key)',
  check: (v) => (CONTROL.test(v) ? 'must not contain control characters' : undefined),
};

/** LXD memory limit: a size or a percentage. */
export const memoryValue = regexRule(
  'memory',
  /^(?:\d+(?:\.\d+)?(?:[KMGTPE](?:i?B)?|B)?|\d{1,3}%)$/i,
  'a size (256MiB, 1GB) or a percentage (50%)',
);

/** CPU count or set: 2, 0-3, 0,2. */
export const cpuValue = regexRule('cpus', /^\d+(?:-\d+)?(?:,\d+(?:-\d+)?)*$/, 'a count (2) or a CPU set (0-3, 0,2)');
