/** Parameter specs and value rules the QEMU verbs share, so every verb spells them alike. */
import { dotSegments, regexRule, type NameRule } from '../../shared/names';
import { qemuName } from './names';
import { NETWORK_PARAMS } from './network';

/**
 * An explicit host path for disk=, kernel=, initrd=, source=, target=: absolute,
 * no "." / ".." segments, and no commas — QEMU reads a comma inside an option value
 * (`-drive file=a,b`) as the start of the next option, so such names are refused
 * (RC 2) rather than escaped.
 */
export const absPath = regexRule(
  'absolute path',
  /^\/[^,]*$/,
  'an absolute path (starting with "/") without commas, "." or ".." segments',
  dotSegments,
);

/** A disk given either by name (in the images folder) or as an absolute path. */
export const diskRef: NameRule = {
  label: 'disk name or absolute path',
  allowed: `${qemuName.allowed}; or ${absPath.allowed}`,
  check: (v) => (v.startsWith('/') ? absPath.check(v) : qemuName.check(v)),
};

/** qemu-img snapshot tag. */
export const snapshotTag = regexRule(
  'snapshot name',
  /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/,
  'letters, digits, "_", ".", "-", at most 63, starting with a letter or digit',
);

/** What start waits for: running (QMP), none, serial:TEXT, ip (a DHCP lease on its bridge), agent (QGA answers) or cloud-init (done, through the agent). */
const waitRule = regexRule('wait', /^(?:running|none|ip|agent|cloud-init|serial:.+)$/s, 'running, none, ip, agent, cloud-init, or serial:TEXT');

export const WAIT = {
  wait: { type: 'string', default: 'running', rule: waitRule, doc: 'after start: running (QMP query-status), serial:TEXT (the guest printed TEXT on its serial console), ip (the guest has an IPv4: asked of its guest agent, guest-network-get-interfaces on its MAC, else its DHCP lease on a bridge; sets IPV4 and IP_SOURCE), agent (the guest agent answers guest-ping), cloud-init (the agent answers and `cloud-init status --wait` says done; RC 1 when cloud-init reports errors), or none. On a VM already running (ALREADY=1) serial:, agent and cloud-init are still waited for (serial text printed since its start counts); ip reads the address it has now' },
} as const;

export const NAME = { name: { type: 'string', required: true, rule: qemuName, complete: 'vms', doc: 'VM name' } } as const;

/** A disk by name or explicit path (image verbs). */
export const DISK = {
  name: { type: 'string', rule: qemuName, doc: 'disk name: the file <state>/images/NAME.qcow2 (or NAME.raw)' },
  disk: { type: 'string', rule: absPath, doc: 'explicit absolute path of the image instead of name= (inside the state folder or REXX_QEMU_PATHS, else RC 7)' },
} as const;

export const FORCE = { force: { type: 'bool', default: false, doc: 'force it (see the verb)' } } as const;

export { timeoutParam as timeout } from '../../shared/params';

/** The VM hardware keys create and clone_from_base share (memory= and cpus= default to 256M and 1). */
export const HARDWARE = {
  memory: { type: 'string', default: '256M', rule: regexRule('memory', /^\d+(?:[MG](?:i?B)?)?$/i, 'MiB (256) or a size with M or G (256M, 1G)'), doc: 'guest memory (256, 256M, 1G; a bare number is MiB)' },
  cpus: { type: 'int', default: 1, min: 1, max: 64, doc: 'virtual CPUs' },
  kernel: { type: 'string', rule: absPath, doc: 'absolute path of a kernel to boot directly (-kernel (inside the state folder or REXX_QEMU_PATHS, else RC 7)); else the disk boots with the firmware' },
  initrd: { type: 'string', rule: absPath, doc: 'absolute path of an initrd (-initrd), with kernel= (inside the state folder or REXX_QEMU_PATHS, else RC 7)' },
  append: { type: 'string', doc: 'kernel command line (-append), with kernel=' },
  accel: { type: 'enum', values: ['auto', 'kvm', 'tcg'], default: 'auto', doc: 'auto: KVM when it really works here, else TCG; kvm: KVM or RC 6; tcg: software emulation' },
  ...NETWORK_PARAMS,
  agent: { type: 'bool', default: true, doc: 'give the guest a QEMU guest agent channel (virtio-serial port org.qemu.guest_agent.0; exec, file_push, guest_info, shutdown use it); false: none' },
} as const;

/** memory= and cpus= without defaults: a base's own (register_base memory= cpus=) come first. */
export const BASE_HARDWARE = {
  memory: { type: 'string', rule: HARDWARE.memory.rule, doc: "guest memory (256, 256M, 1G; a bare number is MiB); default: the base's (register_base memory=), else 256M" },
  cpus: { type: 'int', min: 1, max: 64, doc: "virtual CPUs; default: the base's (register_base cpus=), else 1" },
} as const;
