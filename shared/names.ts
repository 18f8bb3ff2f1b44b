/**
 * The generic naming rules (each backend's own are in handlers/<target>/names.ts), checked before anything runs. A value that breaks
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
  /** The value is a secret (a password): ERRORTEXT never shows it. */
  secret?: boolean;
}

/** Control characters (NUL, newline, tab, DEL ...), refused in every value. */
export const CONTROL = /[\u0000-\u001f\u007f]/;

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

/** SSH destination for replication: [user@]host, no options. */
export const sshHost = regexRule(
  'ssh host',
  /^(?:[A-Za-z0-9_][A-Za-z0-9._-]{0,31}@)?[A-Za-z0-9][A-Za-z0-9.:-]{0,252}$/,
  '[user@]host (letters, digits, ".", "-", ":")',
);

// ---- ZFS (zfs(8) "Naming": alphanumerics, "_", "-", ":", "."; no "%", "@" or "#" in a component)


/** Check a value against a rule; returns the error text naming the key, or undefined. */
export function checkName(rule: NameRule, key: string, v: string): string | undefined {
  const why = rule.check(v);
  if (!why) return undefined;
  const shown = rule.secret ? '(hidden)' : JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}…` : v);
  return `${key}=${shown} is not a valid ${rule.label}: ${why}`;
}
