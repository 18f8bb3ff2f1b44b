/**
 * Instance devices as `device_add` takes them: for each device type LXD hot-plugs into a
 * running container (disk, proxy, nic, unix-char), which typed keys it has, how they
 * become `lxc config device add NAME DEVICE TYPE KEY=VALUE…`, and which of them hand the
 * host to the instance. Those are refused with RC 7 unless the handler allows unsafe
 * settings (shared/policy.ts: REXX_LXD_ALLOW_UNSAFE=1), as LXD's restricted projects
 * block them (`restricted.devices.disk=managed`, `restricted.devices.proxy=block`,
 * `restricted.devices.unix-char=block`, `restricted.devices.nic=managed`):
 * - a disk whose source is a host path (a bind mount of host files); a disk from a
 *   storage pool's volume (`pool=` + `source=VOLUME`) is safe;
 * - a proxy with `bind=instance` (it listens in the instance and connects out on the
 *   host: host-only services become reachable) or a unix socket on either side;
 * - a unix-char device (a host device node: /dev/mem, /dev/kmsg…);
 * - a nic of `nictype=physical` (takes a host interface away from the host).
 * Keys are those of LXD's "Devices" reference (documentation.ubuntu.com/lxd, reference/devices).
 */
import { usageError } from '../../shared/errors';
import { guestPath, regexRule } from '../../shared/names';
import { requireUnsafeAllowed } from '../../shared/policy';
import type { Ctx } from '../../shared/verb';
import { lxdObjectName } from './names';

/** Device types `device_add` makes. */
export const DEVICE_TYPES = ['disk', 'proxy', 'nic', 'unix-char'] as const;
export type DeviceType = (typeof DEVICE_TYPES)[number];

/** LXD device name: letters, digits, "-", "_" and ".", at most 64 (LXD's own check refuses "/" and spaces). */
export const lxdDeviceName = regexRule(
  'device name',
  /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/,
  'letters, digits, ".", "_" and "-", at most 64, starting with a letter or digit',
);

/** A proxy end: `tcp:ADDR:PORT[-PORT]`, `udp:…`, or `unix:/ABS/PATH` (IPv6 in brackets). */
export const proxyAddress = regexRule(
  'proxy address',
  /^(?:(?:tcp|udp):(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}(?:-\d{1,5})?(?:,\d{1,5}(?:-\d{1,5})?)*|unix:\/[^\0\s]*)$/,
  'tcp:ADDRESS:PORT, udp:ADDRESS:PORT (a port range or list too) or unix:/PATH',
);

/** A host network interface name (nic parent=): at most 15 characters, no "/" or spaces. */
export const interfaceName = regexRule('interface name', /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,14}$/, 'at most 15 letters, digits, "_", ".", ":" or "-"');

/** A MAC address (nic hwaddr=). */
export const macAddress = regexRule('MAC address', /^[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}$/, 'six hex pairs joined by ":"');

/** A disk source: an absolute host path, or a storage volume's name (with pool=). */
export const diskSource = regexRule(
  'disk source',
  /^(?:\/[^\0]*|[A-Za-z0-9][A-Za-z0-9._-]{0,62})$/,
  'an absolute host path, or a storage volume name (with pool=)',
  (v) => (v.startsWith('/') ? guestPath.check(v) : undefined),
);

/** A file mode in octal (unix-char mode=). */
export const octalMode = regexRule('mode', /^0?[0-7]{3,4}$/, 'octal, e.g. 0660');

/**
 * The `device_add` parameters, each with the device types it belongs to. The `lxc` key
 * is the LXD key it sets (`nic_name` → `name`, since `name=` is the instance).
 */
export const DEVICE_KEYS = {
  path: { types: ['disk', 'unix-char'], lxc: 'path', spec: { type: 'string', rule: guestPath, doc: 'disk: where it is mounted in the instance; unix-char: the device node in the instance (default: source)' } },
  source: { types: ['disk', 'unix-char'], lxc: 'source', spec: { type: 'string', rule: diskSource, doc: 'disk: a host path (RC 7 unless unsafe settings are allowed) or, with pool=, a storage volume; unix-char: the host device node (RC 7 unless allowed)' } },
  pool: { types: ['disk'], lxc: 'pool', spec: { type: 'string', rule: lxdObjectName, doc: 'disk: the storage pool of the volume named by source=' } },
  readonly: { types: ['disk'], lxc: 'readonly', spec: { type: 'bool', doc: 'disk: mount it read-only' } },
  listen: { types: ['proxy'], lxc: 'listen', spec: { type: 'string', rule: proxyAddress, doc: 'proxy: the address to listen on (on the host with bind=host), e.g. tcp:127.0.0.1:8080' } },
  connect: { types: ['proxy'], lxc: 'connect', spec: { type: 'string', rule: proxyAddress, doc: 'proxy: the address to connect to (in the instance with bind=host), e.g. tcp:127.0.0.1:80' } },
  bind: { types: ['proxy'], lxc: 'bind', spec: { type: 'enum', values: ['host', 'instance'], doc: 'proxy: which side listens (default host; instance is RC 7 unless unsafe settings are allowed)' } },
  network: { types: ['nic'], lxc: 'network', spec: { type: 'string', rule: lxdObjectName, doc: 'nic: the managed network to join (lxc network list)' } },
  nictype: { types: ['nic'], lxc: 'nictype', spec: { type: 'enum', values: ['bridged', 'macvlan', 'physical', 'p2p'], doc: 'nic: the kind, instead of network= (physical is RC 7 unless unsafe settings are allowed)' } },
  parent: { types: ['nic'], lxc: 'parent', spec: { type: 'string', rule: interfaceName, doc: 'nic: the host interface (bridge) for nictype=' } },
  nic_name: { types: ['nic'], lxc: 'name', spec: { type: 'string', rule: interfaceName, doc: 'nic: the interface name in the instance, e.g. eth1' } },
  hwaddr: { types: ['nic'], lxc: 'hwaddr', spec: { type: 'string', rule: macAddress, doc: 'nic: its MAC address' } },
  uid: { types: ['unix-char'], lxc: 'uid', spec: { type: 'int', min: 0, max: 4294967294, doc: 'unix-char: owner uid in the instance' } },
  gid: { types: ['unix-char'], lxc: 'gid', spec: { type: 'int', min: 0, max: 4294967294, doc: 'unix-char: group gid in the instance' } },
  mode: { types: ['unix-char'], lxc: 'mode', spec: { type: 'string', rule: octalMode, doc: 'unix-char: its mode in the instance, octal' } },
} as const;

type DeviceKey = keyof typeof DEVICE_KEYS;

/** What each device type needs, at least: the keys (one of each inner list). */
const REQUIRED: Record<DeviceType, ReadonlyArray<readonly DeviceKey[]>> = {
  disk: [['path'], ['source']],
  proxy: [['listen'], ['connect']],
  nic: [['network', 'nictype']],
  'unix-char': [['source', 'path']],
};

/**
 * The `KEY=VALUE` arguments of `lxc config device add` for `type` from the verb's params,
 * after the checks (`verb` names the verb in messages: device_add, profile_set): RC 2 for a key of another device type or a missing one, RC 7 for a
 * setting that hands the host to the instance (see the module comment) unless allowed.
 */
export function deviceArgs(ctx: Pick<Ctx, 'env' | 'table'>, type: DeviceType, p: Partial<Record<DeviceKey, string | number | boolean | undefined>>, verb = 'device_add'): string[] {
  const given = (Object.keys(DEVICE_KEYS) as DeviceKey[]).filter((k) => p[k] !== undefined);
  const foreign = given.filter((k) => !(DEVICE_KEYS[k].types as readonly string[]).includes(type));
  if (foreign.length) throw usageError(`${verb}: ${foreign.map((k) => `${k}=`).join(', ')} ${foreign.length > 1 ? 'are not keys' : 'is not a key'} of a ${type} device (its keys: ${keysOf(type).join(', ')})`);
  for (const oneOf of REQUIRED[type]) {
    if (!oneOf.some((k) => p[k] !== undefined)) throw usageError(`${verb}: a ${type} device needs ${oneOf.map((k) => `${k}=`).join(' or ')}`);
  }
  if (type === 'nic' && p.network !== undefined && p.nictype !== undefined) throw usageError(`${verb}: give network= or nictype= (with parent=), not both`);
  const what = `${verb} type=${type}`;
  if (type === 'disk' && String(p.source).startsWith('/')) {
    if (p.pool !== undefined) throw usageError(`${verb}: with pool=, source= is a volume name, not a path`);
    requireUnsafeAllowed(ctx, `${what} source=${p.source}`, 'a disk from a host path shares host files with the instance');
  }
  if (type === 'proxy') {
    if (p.bind === 'instance') requireUnsafeAllowed(ctx, `${what} bind=instance`, 'it listens in the instance and connects on the host, so host-only services become reachable from the instance');
    for (const k of ['listen', 'connect'] as const) {
      if (String(p[k]).startsWith('unix:')) requireUnsafeAllowed(ctx, `${what} ${k}=${p[k]}`, 'a unix socket on the host side can be a host service (the LXD socket itself)');
    }
  }
  if (type === 'unix-char') requireUnsafeAllowed(ctx, `${what}`, 'it passes a host device node (such as /dev/mem or /dev/kmsg) into the instance');
  if (type === 'nic' && p.nictype === 'physical') requireUnsafeAllowed(ctx, `${what} nictype=physical`, 'it moves a host interface into the instance');
  return given.map((k) => `${DEVICE_KEYS[k].lxc}=${String(p[k])}`);
}

/** The keys a device type takes, for messages and docs. */
export const keysOf = (type: DeviceType): string[] =>
  (Object.keys(DEVICE_KEYS) as DeviceKey[]).filter((k) => (DEVICE_KEYS[k].types as readonly string[]).includes(type)).map((k) => `${k}=`);

/** The device keys as `device_add` params (key → its spec). */
export const DEVICE_PARAMS = {
  path: DEVICE_KEYS.path.spec,
  source: DEVICE_KEYS.source.spec,
  pool: DEVICE_KEYS.pool.spec,
  readonly: DEVICE_KEYS.readonly.spec,
  listen: DEVICE_KEYS.listen.spec,
  connect: DEVICE_KEYS.connect.spec,
  bind: DEVICE_KEYS.bind.spec,
  network: DEVICE_KEYS.network.spec,
  nictype: DEVICE_KEYS.nictype.spec,
  parent: DEVICE_KEYS.parent.spec,
  nic_name: DEVICE_KEYS.nic_name.spec,
  hwaddr: DEVICE_KEYS.hwaddr.spec,
  uid: DEVICE_KEYS.uid.spec,
  gid: DEVICE_KEYS.gid.spec,
  mode: DEVICE_KEYS.mode.spec,
} as const;
