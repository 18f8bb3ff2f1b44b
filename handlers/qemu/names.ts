/** The naming rules of ADDRESS QEMU: what its tool accepts, checked before anything runs (RC 2). */
import { regexRule } from '../../shared/names';

/** Size with an optional unit: 512MiB, 2GB, 10G, 1024. */
export const sizeValue = regexRule(
  'size',
  /^\d+(?:\.\d+)?(?:[KMGTPE](?:i?B)?|B)?$/i,
  'a number with an optional unit: 1024, 512M, 512MiB, 2GB, 10G',
);

/** VM, disk or base name for QEMU: becomes a file name under the state directory. */
export const qemuName = regexRule(
  'VM or disk name',
  /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/,
  'letters, digits, "_", ".", "-", at most 63, starting with a letter or digit (no "/" or ",")',
  (v) => (v.includes('..') ? 'must not contain ".."' : undefined),
);

/**
 * A Linux network interface name as iproute2 accepts it (dev_valid_name: 1–15 bytes,
 * no "/", ":" or white space, not "." or ".."), narrowed to letters, digits, "_", "."
 * and "-" starting with a letter or digit so it is safe inside a QEMU option value.
 */
export const ifaceName = regexRule(
  'network interface name',
  /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/,
  'a Linux interface name: letters, digits, "_", ".", "-", at most 15, starting with a letter or digit',
);

/** network=: none, user (slirp), or bridge:BRIDGE (a tap on that host bridge). */
export const networkRule = regexRule(
  'network',
  /^(?:none|user|bridge:.+)$/,
  'none, user, or bridge:BRIDGE (an existing Linux bridge, e.g. bridge:rexxbr0)',
  (v) => {
    if (!v.startsWith('bridge:')) return undefined;
    const why = ifaceName.check(v.slice('bridge:'.length));
    return why ? `bridge name: ${why}` : undefined;
  },
);

const port = (s: string) => /^\d{1,5}$/.test(s) && Number(s) >= 1 && Number(s) <= 65535;
/** forward=tcp:HOSTPORT:GUESTPORT (or udp:), ports 1–65535. */
export const forwardRule = regexRule(
  'port forward',
  /^(?:tcp|udp):\d{1,5}:\d{1,5}$/,
  'tcp:HOSTPORT:GUESTPORT or udp:HOSTPORT:GUESTPORT, ports 1-65535 (the host side listens on 127.0.0.1)',
  (v) => (v.split(':').slice(1).every(port) ? undefined : 'ports must be 1-65535'),
);

/** A MAC address as recorded in vm.json: six lower-case hex pairs. */
export const macRule = regexRule('MAC address', /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/, 'six hex pairs separated by ":" (52:54:00:12:34:56)');

/** A NIC id (nic_add id=): QEMU device and netdev ids are `rexx-nic-ID`. */
export const nicId = regexRule('NIC id', /^[a-z0-9][a-z0-9_-]{0,15}$/, 'lower-case letters, digits, "_", "-", at most 16, starting with a letter or digit');

/** A device id of disk_attach (id=): the QEMU device is `rexx-disk-ID`, its block nodes `rexx-disk-ID` and `rexx-disk-ID-file`. */
export const deviceId = regexRule('device id', /^[a-z0-9][a-z0-9_-]{0,15}$/, 'lower-case letters, digits, "_", "-", at most 16, starting with a letter or digit');
