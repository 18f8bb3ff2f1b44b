/**
 * Media and disks on a VM: attach_iso / detach_iso (an ISO in a scsi-cd drive),
 * disk_attach / disk_detach (a qcow2 or raw disk as virtio-blk-pci), delete_disk (an
 * image file nothing uses). On a running VM the change is made over QMP (hot-plug);
 * either way it is recorded in vm.json (`cdrom`, `disks`), so a restart keeps it, and
 * on a stopped VM only the record changes.
 */
import * as path from 'node:path';
import { alreadyExists, notFound, refused, usageError } from '../../../shared/errors';
import { stem } from '../../../shared/result';
import { defineVerb, type Ctx } from '../../../shared/verb';
import { getProps } from '../../zfs/dataset';
import { zfsDatasetName } from '../../zfs/names';
import { deviceId } from '../names';
import { absPath, DISK, diskRef, NAME, timeout } from '../params';
import { CDROM, deviceIds, diskNode, diskUsers, dropNode, freeId, hotPlug, unplug, updateVmDef, waitNodeFree, withDiskLock } from '../devices';
import { existing, formatOf, writable } from '../disks';
import { baseOfFile, zvolBases } from '../registry';
import { diskPath, loadVm, resolveDisk, vmPaths, withVmLock } from '../state';

export const attachIso = defineVerb({
  name: 'attach_iso',
  summary: 'put an ISO image in the VM\'s CD drive (scsi-cd on virtio-scsi-pci, hot-plugged when missing; QMP blockdev-change-medium, read-only raw); recorded, so every start has it',
  params: {
    ...NAME,
    iso: { type: 'string', required: true, rule: absPath, aliases: ['iso_path'], doc: 'absolute path of the ISO image (inside the state folder or REXX_QEMU_PATHS, else RC 7)' },
  },
  positional: ['name', 'iso'],
  examples: ['attach_iso name=web-1 iso=/var/lib/rexx-address/qemu/images/seed.iso'],
  vars: { ISO: 'the image in the drive', DEVICE: 'the drive\'s QEMU id (rexx-cd0)', HOTPLUGGED: '1 when changed in the running VM, 0 when only recorded' },
  async run(p, ctx) {
    existing(ctx, p.iso, `iso=${p.iso}`);
    // The ISO's lock too: a delete_disk of it waits, then sees this VM using it.
    return withVmLock(ctx, p.name, () => withDiskLock(ctx, p.iso, async () => {
      loadVm(ctx, p.name);
      const live = hotPlug(ctx, p.name);
      if (live) {
        await ctx.qmp(vmPaths(ctx, p.name).qmp, async (q) => {
          const ids = await deviceIds(q);
          if (!ids.has(CDROM.controller)) await q.execute('device_add', { driver: 'virtio-scsi-pci', id: CDROM.controller });
          if (!ids.has(CDROM.device)) await q.execute('device_add', { driver: 'scsi-cd', bus: `${CDROM.controller}.0`, id: CDROM.device });
          await q.execute('blockdev-change-medium', { id: CDROM.device, filename: p.iso, format: 'raw', 'read-only-mode': 'read-only' });
          await dropNode(q, CDROM.node); // the medium a start put in, now out of the drive
        });
      }
      await updateVmDef(ctx, p.name, (d) => ({ ...d, cdrom: p.iso }));
      return { result: p.iso, vars: { ISO: p.iso, DEVICE: CDROM.device, HOTPLUGGED: live ? 1 : 0 } };
    }));
  },
});

export const detachIso = defineVerb({
  name: 'detach_iso',
  summary: 'take the ISO out of the VM\'s CD drive (QMP blockdev-open-tray force, blockdev-remove-medium, blockdev-close-tray; the empty drive stays until the VM stops); an empty drive is RC 0',
  params: { ...NAME },
  positional: ['name'],
  vars: { ISO: 'the image taken out, or empty', HOTPLUGGED: '1 when changed in the running VM, 0 when only recorded' },
  async run(p, ctx) {
    return withVmLock(ctx, p.name, async () => {
      const def = loadVm(ctx, p.name);
      const live = hotPlug(ctx, p.name);
      if (live) {
        await ctx.qmp(vmPaths(ctx, p.name).qmp, async (q) => {
          if (!(await deviceIds(q)).has(CDROM.device)) return;
          await q.execute('blockdev-open-tray', { id: CDROM.device, force: true });
          await q.execute('blockdev-remove-medium', { id: CDROM.device });
          await q.execute('blockdev-close-tray', { id: CDROM.device });
          await dropNode(q, CDROM.node);
        });
      }
      await updateVmDef(ctx, p.name, (d) => ({ ...d, cdrom: '' }));
      return { result: def.cdrom ?? '', vars: { ISO: def.cdrom ?? '', HOTPLUGGED: live ? 1 : 0 } };
    });
  },
});

/** An image file for disk_attach: exists, allowed, not a base (RC 3 / 7); qcow2 or raw (RC 2). */
async function imageDisk(ctx: Ctx, disk: string): Promise<{ file: string; format: 'qcow2' | 'raw' }> {
  const file = disk.startsWith('/') ? disk : diskPath(ctx, disk);
  writable(ctx, file, 'disk_attach');
  const format = await formatOf(ctx, file);
  if (format !== 'qcow2' && format !== 'raw') throw usageError(`disk_attach: ${file} is ${format}; qcow2 or raw only`);
  return { file, format };
}

/**
 * A ZFS volume for disk_attach: `zfs get type` must say volume (RC 3 when it does not
 * exist, RC 2 for a filesystem), and it must not be a registered zvol base (RC 7).
 * Its device /dev/zvol/VOL is attached raw; start allows /dev/zvol/ devices recorded here.
 */
async function zvolDisk(ctx: Ctx, vol: string): Promise<{ file: string; format: 'raw' }> {
  const type = (await getProps(ctx, vol, ['type'])).type;
  if (type !== 'volume') throw usageError(`disk_attach: ${vol} is a ZFS ${type || 'dataset'}, not a volume`);
  const base = (await zvolBases(ctx)).find((b) => b.source.split('@')[0] === vol);
  if (base) throw refused(`disk_attach: ${vol} is the registered zvol base '${base.name}' (read-only; unregister_base first)`);
  return { file: `/dev/zvol/${vol}`, format: 'raw' };
}

export const diskAttach = defineVerb({
  name: 'disk_attach',
  summary: 'attach a qcow2 or raw disk to a VM as virtio-blk-pci (QMP blockdev-add + device_add when it runs); recorded, so every start has it; a base (RC 7), a disk another VM uses (RC 7) or an overlay\'s backing file (RC 7) is refused',
  params: {
    ...NAME,
    disk: { type: 'string', rule: diskRef, doc: 'the disk: a name in the images folder or an absolute path (inside the state folder or REXX_QEMU_PATHS, else RC 7)' },
    zvol: { type: 'string', rule: zfsDatasetName, doc: 'or a ZFS volume pool/vol (OpenZFS; `zfs get type` must say volume), attached raw from /dev/zvol/pool/vol; a registered zvol base is RC 7' },
    id: { type: 'string', rule: deviceId, doc: 'its id (QEMU device rexx-disk-ID); default disk1, disk2 … the first free' },
  },
  positional: ['name', 'disk'],
  examples: ['disk_attach name=web-1 disk=data', 'disk_attach name=web-1 disk=/var/lib/rexx-address/qemu/images/scratch.raw id=scratch', 'disk_attach name=web-1 zvol=tank/vm/data'],
  vars: { DISK: 'the disk file', DEVICE: 'its QEMU device id (rexx-disk-ID)', ID: 'its id', HOTPLUGGED: '1 when added to the running VM, 0 when only recorded' },
  async run(p, ctx) {
    if (!p.disk === !p.zvol) throw usageError('disk_attach: give disk= (an image) or zvol= (a ZFS volume)');
    const { file, format } = p.zvol ? await zvolDisk(ctx, p.zvol) : await imageDisk(ctx, p.disk!);
    return withVmLock(ctx, p.name, () => withDiskLock(ctx, file, async () => {
      const def = loadVm(ctx, p.name);
      const users = diskUsers(ctx, file);
      if (users.vms.includes(p.name)) throw alreadyExists(`VM ${p.name} uses ${file} already`);
      if (users.vms.length) throw refused(`disk_attach: ${file} is used by VM ${users.vms.join(', ')}`);
      if (users.overlays.length) throw refused(`disk_attach: ${file} is the backing file of ${users.overlays.join(', ')}; writing it would corrupt them`);
      const taken = new Set((def.disks ?? []).map((d) => d.id));
      const id = p.id ?? freeId('disk', taken);
      if (taken.has(id)) throw alreadyExists(`VM ${p.name} has a disk ${id} already`);
      const node = diskNode(id);
      const live = hotPlug(ctx, p.name);
      if (live) {
        await ctx.qmp(vmPaths(ctx, p.name).qmp, async (q) => {
          const proto = file.startsWith('/dev/') ? 'host_device' : 'file';
          await q.execute('blockdev-add', { driver: format, 'node-name': node, file: { driver: proto, filename: file, 'node-name': `${node}-file` } });
          try {
            await q.execute('device_add', { driver: 'virtio-blk-pci', drive: node, id: node });
          } catch (e) {
            await q.execute('blockdev-del', { 'node-name': node }).catch(() => undefined);
            throw e;
          }
        });
      }
      await updateVmDef(ctx, p.name, (d) => ({ ...d, disks: [...(d.disks ?? []), { id, disk: file, format }] }));
      return { result: node, vars: { DISK: file, DEVICE: node, ID: id, HOTPLUGGED: live ? 1 : 0 } };
    }));
  },
});

export const diskDetach = defineVerb({
  name: 'disk_detach',
  summary: 'detach a disk disk_attach attached: on a running VM QMP device_del (the guest releases it: DEVICE_DELETED, RC 5 when it does not) and blockdev-del; then dropped from vm.json (the file is kept)',
  params: {
    ...NAME,
    id: { type: 'string', rule: deviceId, doc: 'the disk\'s id (disk_attach ID)' },
    disk: { type: 'string', rule: diskRef, doc: 'or the disk itself (a name in the images folder or an absolute path)' },
    ...timeout(30_000, 'how long the guest may take to release the device (RC 5)'),
  },
  positional: ['name', 'id'],
  examples: ['disk_detach name=web-1 id=disk1'],
  vars: { DISK: 'the disk file detached', ID: 'its id', HOTPLUGGED: '1 when removed from the running VM, 0 when only from the record' },
  async run(p, ctx) {
    if (!p.id === !p.disk) throw usageError('disk_detach: give id= or disk=');
    return withVmLock(ctx, p.name, async () => {
      const def = loadVm(ctx, p.name);
      const file = p.disk ? path.resolve(p.disk.startsWith('/') ? p.disk : diskPath(ctx, p.disk)) : undefined;
      const d = (def.disks ?? []).find((x) => (p.id ? x.id === p.id : path.resolve(x.disk) === file));
      if (!d) throw notFound(`VM ${p.name} has no attached disk ${p.id ?? p.disk}`);
      const node = diskNode(d.id);
      const live = hotPlug(ctx, p.name);
      if (live) {
        await ctx.qmp(vmPaths(ctx, p.name).qmp, async (q) => {
          await unplug(ctx, q, node, p.timeout);
          await waitNodeFree(ctx, q, node, 10_000);
          await q.execute('blockdev-del', { 'node-name': node });
          await dropNode(q, `${node}-file`);
        }, p.timeout + 10_000);
      }
      await updateVmDef(ctx, p.name, (x) => ({ ...x, disks: (x.disks ?? []).filter((y) => y.id !== d.id) }));
      return { result: d.disk, vars: { DISK: d.disk, ID: d.id, HOTPLUGGED: live ? 1 : 0 } };
    });
  },
});

export const deleteDisk = defineVerb({
  name: 'delete_disk',
  summary: 'delete a disk image file: refused (RC 7, stems VMS and OVERLAYS) while a VM definition uses it (boot disk, attached disk or ISO) or a qcow2 in the images folder has it as backing file, and for a registered base (unregister_base)',
  params: { ...DISK },
  positional: ['name'],
  examples: ['delete_disk name=scratch', 'delete_disk disk=/var/lib/rexx-address/qemu/images/old.raw'],
  vars: { DISK: 'the file deleted', VMS: { stem: 'on RC 7: the VMs using it' }, OVERLAYS: { stem: 'on RC 7: the images backed by it' } },
  async run(p, ctx) {
    const file = existing(ctx, resolveDisk(ctx, p, 'delete_disk'), undefined, { backing: false });
    const st = ctx.fs.lstat(file);
    if (!st?.isFile()) throw refused(`delete_disk: ${file} is not a regular file`);
    const base = baseOfFile(ctx, file);
    if (base) throw refused(`delete_disk: ${file} is the registered base '${base.name}' (unregister_base first)`);
    return withDiskLock(ctx, file, () => {
      const users = diskUsers(ctx, file);
      if (users.corrupt.length) ctx.log(`qemu delete_disk: could not read ${users.corrupt.join(', ')}`);
      if (users.vms.length || users.overlays.length) {
        const who = [...users.vms.map((v) => `VM ${v}`), ...users.overlays.map((o) => `overlay ${o}`)].join(', ');
        throw refused(`delete_disk: ${file} is in use by ${who}`, { vars: { VMS: stem(users.vms), OVERLAYS: stem(users.overlays) } });
      }
      ctx.fs.remove(file);
      return { result: file, vars: { DISK: file, VMS: stem([]), OVERLAYS: stem([]) } };
    });
  },
});
