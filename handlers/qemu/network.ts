/**
 * VM networking: `network=none|user|bridge:BRIDGE`, user-mode port forwards
 * (`forward=tcp:HOSTPORT:GUESTPORT`, QEMU `hostfwd` bound to 127.0.0.1), the VM's
 * stable MAC address, the tap devices a bridged NIC needs, and the guest's IPv4 for
 * wait=ip: from the guest agent when it answers, else from the bridge's DHCP leases.
 *
 * A bridged NIC is a tap device the handler makes before QEMU starts (`ip tuntap add
 * dev TAP mode tap`, `ip link set TAP master BRIDGE up`: iproute2) and removes when
 * the VM stops or is deleted (`ip link del TAP`); QEMU opens it with `-netdev
 * tap,ifname=TAP,script=no,downscript=no`, so no helper script runs. Tap names are
 * `rxq` plus 10 hex digits of a hash of the VM's folder and the NIC id (15 bytes at
 * most: IFNAMSIZ), so two state folders never share one.
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { notFound, toolFailed, usageError } from '../../shared/errors';
import { forwardRule, networkRule } from './names';
import type { Ctx } from '../../shared/verb';
import type { VmDef } from './state';
import { agentIpv4 } from './agent';

/** The network keys create, clone_from_base and nic_add share. */
export const NETWORK_PARAMS = {
  network: { type: 'string', default: 'none', rule: networkRule, doc: 'none; user (QEMU user-mode networking, -nic user); or bridge:BRIDGE, a tap device on that existing host bridge (bridge:rexxbr0, the project\'s LXD bridge with DHCP)' },
  forward: { type: 'list', rule: forwardRule, doc: 'with network=user: forward 127.0.0.1:HOSTPORT on the host to GUESTPORT in the guest (tcp:8080:80; repeatable; QEMU hostfwd)' },
} as const;

/** One NIC beyond the first, as recorded in vm.json (nic_add). */
export interface Nic {
  id: string;
  network: string;
  mac: string;
  forward?: string[];
}

const hex = (...parts: string[]) => createHash('sha256').update(parts.join('\0')).digest('hex');

/**
 * A stable MAC for NIC `nic` of the VM whose folder is `vmDir`, made once at create
 * (and nic_add) and recorded in vm.json: QEMU's 52:54:00 prefix and three bytes of a
 * hash of the folder, the NIC and `seed` (create time), so a VM keeps its DHCP lease
 * across restarts and VMs of other state folders differ.
 */
export function makeMac(vmDir: string, nic: string, seed: string): string {
  const h = hex(vmDir, nic, seed);
  return `52:54:00:${h.slice(0, 2)}:${h.slice(2, 4)}:${h.slice(4, 6)}`;
}

/** The tap device of NIC `nic` (net0 is the VM's own) of the VM in folder `vmDir`. */
export const tapName = (vmDir: string, nic: string) => `rxq${hex(vmDir, nic).slice(0, 10)}`;

/** The bridge of a `bridge:NAME` network, else undefined. */
export const bridgeOf = (network: string) => (network.startsWith('bridge:') ? network.slice('bridge:'.length) : undefined);

/**
 * Check network= and forward= together: forward= needs network=user (RC 2); a bridge
 * must exist and be a bridge (`/sys/class/net/B/bridge`), else RC 3.
 */
export function checkNetwork(ctx: Pick<Ctx, 'fs'>, network: string, forward: readonly string[] = []): void {
  if (forward.length && network !== 'user') throw usageError(`forward= needs network=user (QEMU hostfwd), not network=${network}`);
  const hostPorts = forward.map((f) => f.split(':').slice(0, 2).join(':'));
  const dup = hostPorts.find((p, i) => hostPorts.indexOf(p) !== i);
  if (dup) throw usageError(`forward=: host port ${dup} given twice`);
  const b = bridgeOf(network);
  if (b && !ctx.fs.exists(`/sys/class/net/${b}/bridge`)) {
    throw notFound(`bridge ${b} not found (no /sys/class/net/${b}/bridge): create it first (scripts/setup-host.sh makes rexxbr0)`);
  }
}

/** `,hostfwd=PROTO:127.0.0.1:H-:G` for each forward. */
const hostfwd = (forward: readonly string[] = []) =>
  forward.map((f) => {
    const [proto, h, g] = f.split(':');
    return `,hostfwd=${proto}:127.0.0.1:${h}-:${g}`;
  }).join('');

/** The QMP netdev_add arguments of a hot-plugged NIC (without its id). */
export function netdevOf(vmDir: string, nic: string, network: string, forward?: readonly string[]): { type: string; [k: string]: unknown } {
  if (network === 'user') {
    // QMP's NetdevUserOptions.hostfwd is a list of {str}.
    return { type: 'user', ...(forward?.length ? { hostfwd: forward.map((f) => ({ str: hostfwd([f]).slice(',hostfwd='.length) })) } : {}) };
  }
  return { type: 'tap', ifname: tapName(vmDir, nic), script: 'no', downscript: 'no' };
}

/**
 * The network argv of a VM: its own NIC (net0: `-nic user…` as before, with `mac=` and
 * `hostfwd=` when recorded; or `-netdev tap…` plus a virtio-net-pci with its MAC) and
 * each NIC nic_add recorded (`-netdev` and `-device` with the ids nic_add uses).
 */
export function networkArgv(def: VmDef, vmDir: string): string[] {
  const a: string[] = [];
  const mac = def.mac ? `,mac=${def.mac}` : '';
  if (def.network === 'user') a.push('-nic', `user,model=virtio-net-pci${mac}${hostfwd(def.forward)}`);
  if (bridgeOf(def.network)) {
    a.push('-netdev', `tap,id=net0,ifname=${tapName(vmDir, 'net0')},script=no,downscript=no`);
    a.push('-device', `virtio-net-pci,netdev=net0,id=net0-dev${mac}`);
  }
  for (const n of def.nics ?? []) {
    const ids = nicIds(n.id);
    const opts = n.network === 'user' ? `user,id=${ids.netdev}${hostfwd(n.forward)}` : `tap,id=${ids.netdev},ifname=${tapName(vmDir, n.id)},script=no,downscript=no`;
    a.push('-netdev', opts, '-device', `virtio-net-pci,netdev=${ids.netdev},id=${ids.device},mac=${n.mac}`);
  }
  return a;
}

/** QEMU ids of a nic_add NIC: netdev and device. */
export const nicIds = (id: string) => ({ netdev: `rexx-net-${id}`, device: `rexx-nic-${id}` });

/** Every tap the VM's NICs need, with its bridge. */
export function tapsOf(def: VmDef, vmDir: string): Array<{ tap: string; bridge: string }> {
  const all = [{ id: 'net0', network: def.network }, ...(def.nics ?? [])];
  return all.flatMap((n) => {
    const bridge = bridgeOf(n.network);
    return bridge ? [{ tap: tapName(vmDir, n.id), bridge }] : [];
  });
}

/** `ip` through the runner (iproute2), RC 1 with its message when it fails. */
async function ip(ctx: Ctx, args: string[], what: string): Promise<void> {
  const r = await ctx.run(['ip', ...args], { timeoutMs: 10_000 });
  if (!r.ok) throw toolFailed(`${what}: ip ${args.join(' ')}: ${(r.stderr || r.stdout).trim()}`, { cause: r });
}

/** Remove tap `tap` if it is there (`ip link del`); a tap that is not there is fine. */
export async function dropTap(ctx: Ctx, tap: string): Promise<void> {
  if (!ctx.fs.exists(`/sys/class/net/${tap}`)) return;
  await ip(ctx, ['link', 'del', 'dev', tap], `remove tap ${tap}`);
}

/**
 * Make tap `tap` on `bridge` (a stale one of that name is removed first): `ip tuntap
 * add dev TAP mode tap`, then `ip link set dev TAP master BRIDGE up`. RC 3 when the
 * bridge is gone, RC 1 when ip fails (the half-made tap is removed).
 */
export async function makeTap(ctx: Ctx, tap: string, bridge: string): Promise<void> {
  checkNetwork(ctx, `bridge:${bridge}`);
  await dropTap(ctx, tap);
  await ip(ctx, ['tuntap', 'add', 'dev', tap, 'mode', 'tap'], `make tap ${tap}`);
  try {
    await ip(ctx, ['link', 'set', 'dev', tap, 'master', bridge, 'up'], `attach tap ${tap} to ${bridge}`);
  } catch (e) {
    await dropTap(ctx, tap).catch(() => undefined);
    throw e;
  }
}

/** Make every tap VM `def` needs, before QEMU starts; on a failure the ones made are removed. */
export async function makeTaps(ctx: Ctx, def: VmDef, vmDir: string): Promise<void> {
  const made: string[] = [];
  try {
    for (const t of tapsOf(def, vmDir)) {
      await makeTap(ctx, t.tap, t.bridge);
      made.push(t.tap);
    }
  } catch (e) {
    for (const t of made) await dropTap(ctx, t).catch(() => undefined);
    throw e;
  }
}

/** Remove every tap of VM `def` (after QEMU has exited: stop, delete, a failed start). */
export async function dropTaps(ctx: Ctx, def: VmDef, vmDir: string): Promise<void> {
  for (const t of tapsOf(def, vmDir)) await dropTap(ctx, t.tap);
}

/**
 * Where dnsmasq keeps the leases of `bridge`: LXD's (deb or snap) or Incus's
 * `networks/BRIDGE/dnsmasq.leases`, the first that exists; env REXX_QEMU_LEASES
 * names a file instead.
 */
export function leaseFile(ctx: Pick<Ctx, 'env' | 'fs'>, bridge: string): string | undefined {
  if (ctx.env.REXX_QEMU_LEASES) return ctx.env.REXX_QEMU_LEASES;
  const dirs = ['/var/lib/lxd', '/var/snap/lxd/common/lxd', '/var/lib/incus'];
  return dirs.map((d) => path.join(d, 'networks', bridge, 'dnsmasq.leases')).find((f) => ctx.fs.exists(f));
}

/**
 * The lease dnsmasq gave `mac`, from its lease file (one lease a line: `EXPIRY MAC IP
 * HOSTNAME CLIENT-ID`; the last one for the MAC wins): the line and its IPv4, or undefined.
 */
export function leaseOf(text: string, mac: string): { line: string; ipv4: string } | undefined {
  let found: { line: string; ipv4: string } | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const [, m, addr] = line.split(/\s+/);
    if (m?.toLowerCase() === mac.toLowerCase() && addr && /^\d{1,3}(?:\.\d{1,3}){3}$/.test(addr)) found = { line, ipv4: addr };
  }
  return found;
}

/**
 * The guest's DHCP lease on its bridge: a reader of the lease of its bridged MAC (from
 * the bridge's dnsmasq lease file, {@link leaseFile}), or undefined when the VM has no
 * bridged NIC of its own.
 */
export function leaseSource(ctx: Pick<Ctx, 'env' | 'fs'>, def: VmDef): (() => { line: string; ipv4: string } | undefined) | undefined {
  const bridge = bridgeOf(def.network);
  if (!bridge || !def.mac) return undefined;
  const mac = def.mac;
  return () => {
    const f = leaseFile(ctx, bridge);
    const text = f ? ctx.fs.readText(f) : undefined;
    return text ? leaseOf(text, mac) : undefined;
  };
}

/** Where wait=ip reads the guest's address: `agent` (the VM has an agent channel), `lease` (a bridged NIC), both, or RC 2 when neither. */
export function ipv4Sources(ctx: Pick<Ctx, 'env' | 'fs'>, def: VmDef): { agent: boolean; lease?: ReturnType<typeof leaseSource> } {
  const lease = leaseSource(ctx, def);
  const agent = def.agent !== false;
  if (!agent && !lease) throw usageError(`wait=ip: VM ${def.name} has no address source: no guest agent channel (agent=false) and network=${def.network} (a DHCP lease is read for network=bridge:BRIDGE)`);
  return { agent, lease };
}

/** How long one agent question of wait=ip may take, in ms (a guest without qemu-ga never answers). */
const AGENT_IP_MS = 1_000;

/**
 * The guest's IPv4 now, and where it came from: the guest agent first
 * (guest-network-get-interfaces: the address on the VM's own MAC), else the DHCP lease of
 * its bridged NIC (a lease whose line equals `staleLine`, one left from an earlier run, does
 * not count). Undefined when neither has one yet.
 */
export async function readIpv4(ctx: Ctx, def: VmDef, staleLine?: string): Promise<{ ipv4: string; source: 'agent' | 'lease' } | undefined> {
  const { agent, lease } = ipv4Sources(ctx, def);
  if (agent) {
    const ip = await agentIpv4(ctx, def.name, def.mac, AGENT_IP_MS);
    if (ip) return { ipv4: ip, source: 'agent' };
  }
  const l = lease?.();
  return l && l.line !== staleLine ? { ipv4: l.ipv4, source: 'lease' } : undefined;
}

/**
 * Wait until the guest of `def` has an IPv4 ({@link readIpv4}: the agent, else a DHCP
 * lease newer than the one there when the wait began, so a restart waits for the guest's
 * new DHCP request) and return it with its source; RC 2 when the VM has neither source,
 * RC 5 at the deadline, RC 1 when QEMU exits first (`alive` says false).
 */
export async function waitIpv4(ctx: Ctx, def: VmDef, timeoutMs: number, alive: () => boolean): Promise<{ ipv4: string; source: 'agent' | 'lease' | '' }> {
  const { agent, lease } = ipv4Sources(ctx, def);
  const before = lease?.()?.line;
  const from = [agent ? 'its guest agent (guest-network-get-interfaces)' : '', lease ? `a DHCP lease for ${def.mac} on ${bridgeOf(def.network)}` : ''].filter(Boolean).join(' or ');
  const r = await ctx.poll(
    async () => {
      const ip = await readIpv4(ctx, def, before);
      if (ip) return ip;
      if (!alive()) throw toolFailed(`VM ${def.name}: QEMU exited before the guest had an IPv4 address`);
      return undefined;
    },
    { timeoutMs, what: `VM ${def.name} to have an IPv4 address from ${from}`, initialMs: 100, maxMs: 500 },
  );
  return r.value ?? { ipv4: '', source: '' };
}
