/**
 * NICs hot-plugged into a VM: nic_add (QMP netdev_add + device_add virtio-net-pci; a
 * tap on the bridge first for network=bridge:) and nic_remove (device_del, waiting for
 * DEVICE_DELETED, then netdev_del and the tap removed). A NIC is recorded in vm.json
 * either way, so the next start has it; on a stopped VM only the record changes.
 */
import { alreadyExists, notFound, usageError } from '../../../shared/errors';
import { defineVerb } from '../../../shared/verb';
import { nicId } from '../names';
import { NAME, timeout } from '../params';
import { checkNetwork, dropTap, makeMac, makeTap, netdevOf, nicIds, NETWORK_PARAMS, bridgeOf, tapName, type Nic } from '../network';
import { freeId, hotPlug, unplug, updateVmDef } from '../devices';
import { loadVm, vmPaths, withVmLock } from '../state';

export const nicAdd = defineVerb({
  name: 'nic_add',
  summary: 'add a NIC (virtio-net-pci) to a VM: hot-plugged over QMP (netdev_add + device_add) when it runs, and recorded so every start has it; network=user (with forward=) or bridge:BRIDGE (a tap made on that bridge)',
  params: {
    ...NAME,
    id: { type: 'string', rule: nicId, doc: 'the NIC\'s id (QEMU device rexx-nic-ID); default: nic1, nic2 … the first free' },
    network: { ...NETWORK_PARAMS.network, default: 'user', doc: 'user (QEMU user-mode networking) or bridge:BRIDGE (a tap on that existing host bridge)' },
    forward: NETWORK_PARAMS.forward,
  },
  positional: ['name'],
  examples: ['nic_add name=web-1 network=bridge:rexxbr0', 'nic_add name=web-1 id=admin network=user forward=tcp:2222:22'],
  vars: { NIC: 'the NIC id', MAC: 'its MAC address', TAP: 'its tap device (network=bridge:), or empty', HOTPLUGGED: '1 when added to the running VM, 0 when only recorded' },
  async run(p, ctx) {
    if (p.network === 'none') throw usageError('nic_add: network=none adds nothing; give user or bridge:BRIDGE');
    if (p.id === 'net0') throw usageError('nic_add: id=net0 is the VM\'s own NIC');
    checkNetwork(ctx, p.network, p.forward);
    return withVmLock(ctx, p.name, async () => {
      const def = loadVm(ctx, p.name);
      const taken = new Set((def.nics ?? []).map((n) => n.id));
      const id = p.id ?? freeId('nic', taken);
      if (taken.has(id)) throw alreadyExists(`VM ${p.name} has a NIC ${id} already`);
      const dir = vmPaths(ctx, p.name).dir;
      const nic: Nic = { id, network: p.network, mac: makeMac(dir, id, new Date(ctx.clock.now()).toISOString()), ...(p.forward.length ? { forward: [...p.forward] } : {}) };
      const bridge = bridgeOf(p.network);
      const tap = bridge ? tapName(dir, id) : '';
      const live = hotPlug(ctx, p.name);
      if (live) {
        if (bridge) await makeTap(ctx, tap, bridge);
        const ids = nicIds(id);
        try {
          await ctx.qmp(vmPaths(ctx, p.name).qmp, async (q) => {
            await q.execute('netdev_add', { ...netdevOf(dir, id, p.network, p.forward), id: ids.netdev });
            try {
              await q.execute('device_add', { driver: 'virtio-net-pci', netdev: ids.netdev, id: ids.device, mac: nic.mac });
            } catch (e) {
              await q.execute('netdev_del', { id: ids.netdev }).catch(() => undefined);
              throw e;
            }
          });
        } catch (e) {
          if (tap) await dropTap(ctx, tap).catch(() => undefined);
          throw e;
        }
      }
      await updateVmDef(ctx, p.name, (d) => ({ ...d, nics: [...(d.nics ?? []), nic] }));
      return { result: id, vars: { NIC: id, MAC: nic.mac, TAP: tap, HOTPLUGGED: live ? 1 : 0 } };
    });
  },
});

export const nicRemove = defineVerb({
  name: 'nic_remove',
  summary: 'remove a NIC nic_add added: on a running VM QMP device_del (the guest releases it: DEVICE_DELETED, RC 5 when it does not), netdev_del and its tap removed; then dropped from vm.json',
  params: { ...NAME, id: { type: 'string', required: true, rule: nicId, doc: 'the NIC id (nic_add NIC)' }, ...timeout(30_000, 'how long the guest may take to release the device (RC 5)') },
  positional: ['name', 'id'],
  examples: ['nic_remove name=web-1 id=nic1'],
  vars: { NIC: 'the NIC removed', HOTPLUGGED: '1 when removed from the running VM, 0 when only from the record' },
  async run(p, ctx) {
    return withVmLock(ctx, p.name, async () => {
      const def = loadVm(ctx, p.name);
      const nic = (def.nics ?? []).find((n) => n.id === p.id);
      if (!nic) throw notFound(`VM ${p.name} has no NIC ${p.id} (nic_add adds one)`);
      const dir = vmPaths(ctx, p.name).dir;
      const live = hotPlug(ctx, p.name);
      if (live) {
        const ids = nicIds(p.id);
        await ctx.qmp(vmPaths(ctx, p.name).qmp, async (q) => {
          await unplug(ctx, q, ids.device, p.timeout);
          await q.execute('netdev_del', { id: ids.netdev });
        }, p.timeout + 10_000);
      }
      if (bridgeOf(nic.network)) await dropTap(ctx, tapName(dir, p.id));
      await updateVmDef(ctx, p.name, (d) => ({ ...d, nics: (d.nics ?? []).filter((n) => n.id !== p.id) }));
      return { result: p.id, vars: { NIC: p.id, HOTPLUGGED: live ? 1 : 0 } };
    });
  },
});
