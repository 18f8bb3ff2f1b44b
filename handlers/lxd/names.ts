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

// ---- networks and storage volumes

/** A bridge network's name: LXD makes a host interface of it, so at most 15 characters (IFNAMSIZ). */
export const lxdNetworkName = regexRule(
  'network name',
  /^[A-Za-z][A-Za-z0-9_-]{0,14}$/,
  'letters, digits, "_" and "-", at most 15 (a host interface name), starting with a letter',
);

/**
 * IPv4 ranges a network this handler makes may use: RFC 1918 private, RFC 6598 shared
 * (100.64/10), RFC 2544 benchmarking (198.18/15) and the RFC 5737 documentation nets:
 * [first address as a number, prefix length].
 */
const PRIVATE_V4: ReadonlyArray<readonly [number, number]> = [
  [0x0a000000, 8], [0xac100000, 12], [0xc0a80000, 16], [0x64400000, 10], [0xc6120000, 15],
  [0xc0000200, 24], [0xc6336400, 24], [0xcb007100, 24],
];

const v4Number = (a: string): number | undefined => {
  const parts = a.split('.');
  if (parts.length !== 4 || parts.some((x) => !/^\d{1,3}$/.test(x) || Number(x) > 255)) return undefined;
  return parts.reduce((n, x) => n * 256 + Number(x), 0);
};

/**
 * A bridge's IPv4 (`ipv4.address`): `auto` (LXD picks a free private /24), `none`, or the
 * bridge's own address with its prefix (`10.250.7.1/24`) inside one of the private or test
 * ranges above: a network made through a command string never claims public addresses.
 */
export const privateIpv4Cidr: NameRule = {
  label: 'IPv4 address/prefix',
  allowed: 'auto, none, or ADDRESS/PREFIX in 10/8, 172.16/12, 192.168/16, 100.64/10, 198.18/15 or a documentation net (192.0.2, 198.51.100, 203.0.113)',
  check(v) {
    if (v === 'auto' || v === 'none') return undefined;
    const m = /^([0-9.]+)\/(\d{1,2})$/.exec(v);
    const addr = m ? v4Number(m[1]!) : undefined;
    const len = m ? Number(m[2]) : NaN;
    if (addr === undefined || !(len >= 1 && len <= 30)) return 'must be auto, none or ADDRESS/PREFIX (prefix 1-30)';
    const inside = PRIVATE_V4.some(([net, bits]) => len >= bits && Math.floor(addr / 2 ** (32 - bits)) === Math.floor(net / 2 ** (32 - bits)));
    return inside ? undefined : 'is not inside a private or test range (10/8, 172.16/12, 192.168/16, 100.64/10, 198.18/15, 192.0.2/24, 198.51.100/24, 203.0.113/24)';
  },
};

/** The 16-bit groups of an IPv6 address (`::` expanded), or undefined when it is not one. */
const v6Groups = (a: string): number[] | undefined => {
  if (!/^[0-9A-Fa-f:]+$/.test(a) || a.split('::').length > 2) return undefined;
  const [head, tail] = a.includes('::') ? a.split('::') : [a, undefined];
  const part = (s: string | undefined) => (s ? s.split(':') : []);
  const h = part(head), t = part(tail);
  if ([...h, ...t].some((g) => !/^[0-9A-Fa-f]{1,4}$/.test(g))) return undefined;
  const fill = 8 - h.length - t.length;
  if (tail === undefined ? fill !== 0 : fill < 1) return undefined;
  return [...h, ...Array<string>(tail === undefined ? 0 : fill).fill('0'), ...t].map((g) => parseInt(g, 16));
};

/**
 * A bridge's IPv6 (`ipv6.address`): `auto`, `none`, or ADDRESS/PREFIX inside the unique
 * local range fc00::/7 or the documentation range 2001:db8::/32 (never a global prefix).
 */
export const privateIpv6Cidr: NameRule = {
  label: 'IPv6 address/prefix',
  allowed: 'auto, none, or ADDRESS/PREFIX in fc00::/7 (unique local) or 2001:db8::/32',
  check(v) {
    if (v === 'auto' || v === 'none') return undefined;
    const m = /^([0-9A-Fa-f:]+)\/(\d{1,3})$/.exec(v);
    const g = m ? v6Groups(m[1]!) : undefined;
    const len = m ? Number(m[2]) : NaN;
    if (!g || !(len >= 8 && len <= 126)) return 'must be auto, none or ADDRESS/PREFIX (prefix 8-126)';
    const ula = (g[0]! & 0xfe00) === 0xfc00;
    const doc = g[0] === 0x2001 && g[1] === 0x0db8 && len >= 32;
    return ula || doc ? undefined : 'is not inside fc00::/7 (unique local) or 2001:db8::/32';
  },
};

/** A storage volume size (`size=`): bytes or a size with a unit, as LXD takes it (10GiB, 500MB). */
export const volumeSize = regexRule('size', /^\d+(?:\.\d+)?(?:[KMGTPE](?:i?B)?|B)?$/i, 'a size, e.g. 10GiB, 500MB');
