/**
 * Devices beyond a VM's boot disk: disks attached with disk_attach (virtio-blk-pci),
 * the CD drive attach_iso puts an ISO in (scsi-cd on a virtio-scsi-pci controller,
 * both hot-pluggable on `-machine pc`, unlike ide-cd), and who uses a disk file
 * (delete_disk's check). What is attached is recorded in vm.json (`disks`, `cdrom`),
 * so a restart has it again; the QMP side (docs/interop/qmp: blockdev-add, device_add,
 * device_del + DEVICE_DELETED, blockdev-del, blockdev-change-medium,
 * blockdev-open-tray, blockdev-remove-medium, blockdev-close-tray) is here too.
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { isReason, timedOut } from '../../shared/errors';
import { CorruptStateError } from '../../shared/state-file';
import type { Qmp } from '../../shared/qmp';
import type { Ctx } from '../../shared/verb';
import { checkImage } from './hostfiles';
import { overlaysOf } from './registry';
import { liveness, loadVm, stateDir, vmNames, vmPaths, VmDefSchema, type VmDef } from './state';
import { vmCrashed } from './vm';

/** QEMU ids of an attached disk: its device and block node (`-file` is the protocol node under it). */
export const diskNode = (id: string) => `rexx-disk-${id}`;
/** The CD drive's device id, its controller, and the block node a start puts the ISO in. */
export const CDROM = { device: 'rexx-cd0', controller: 'rexx-scsi0', node: 'rexx-cd0-medium' } as const;

/** The protocol driver for a file or a device (a zvol). */
const protocol = (file: string) => (file.startsWith('/dev/') ? 'host_device' : 'file');

/** The argv of the disks and CD drive recorded in `def` (pure; qemuArgv adds it). */
export function deviceArgv(def: VmDef): string[] {
  const a: string[] = [];
  for (const d of def.disks ?? []) {
    const n = diskNode(d.id);
    a.push('-blockdev', `driver=${protocol(d.disk)},filename=${d.disk},node-name=${n}-file`);
    a.push('-blockdev', `driver=${d.format},file=${n}-file,node-name=${n}`);
    a.push('-device', `virtio-blk-pci,drive=${n},id=${n}`);
  }
  if (def.cdrom) {
    a.push('-device', `virtio-scsi-pci,id=${CDROM.controller}`);
    a.push('-blockdev', `driver=raw,node-name=${CDROM.node},read-only=on,file.driver=file,file.filename=${def.cdrom},file.read-only=on`);
    a.push('-device', `scsi-cd,bus=${CDROM.controller}.0,drive=${CDROM.node},id=${CDROM.device}`);
  }
  return a;
}

/** Check the attached disks' and the ISO's host files again at start (hostfiles.ts; RC 7). */
export function checkDeviceFiles(ctx: Ctx, def: VmDef): void {
  // A ZFS volume (disk_attach zvol=, checked by zfs then) is the one device allowed: /dev/zvol/ holds nothing else.
  for (const d of def.disks ?? []) if (!d.disk.startsWith('/dev/zvol/')) checkImage(ctx, `attached disk ${d.disk}`, d.disk);
  if (def.cdrom) checkImage(ctx, `iso=${def.cdrom}`, def.cdrom);
}

/** What uses disk file `file`: VM definitions (boot disk, attached disk, CD) and qcow2 overlays backed by it. */
export function diskUsers(ctx: Ctx, file: string): { vms: string[]; overlays: string[]; corrupt: string[] } {
  const abs = path.resolve(file);
  const vms: string[] = [];
  const corrupt: string[] = [];
  for (const n of vmNames(ctx)) {
    try {
      const d = loadVm(ctx, n);
      const uses = [d.disk, d.cdrom ?? '', ...(d.disks ?? []).map((x) => x.disk)].filter(Boolean).map((f) => path.resolve(f));
      if (uses.includes(abs)) vms.push(n);
    } catch (e) {
      if (!(e instanceof CorruptStateError)) throw e;
      corrupt.push(e.file);
    }
  }
  return { vms, overlays: overlaysOf(ctx, abs), corrupt };
}

/**
 * Run `fn` holding disk file `file`'s lock (`<state>/locks/disk-HASH.lock`): disk_attach
 * holds it from the check of who uses the disk to the record, and delete_disk from its
 * check to the removal, so of parallel attaches of one disk to several VMs exactly one
 * gets it, and a disk is never deleted while being attached. Under dryrun nothing is locked.
 */
export function withDiskLock<R>(ctx: Pick<Ctx, 'env' | 'state'>, file: string, fn: () => Promise<R> | R): Promise<R> {
  const key = createHash('sha256').update(path.resolve(file)).digest('hex').slice(0, 16);
  return ctx.state.lock(path.join(stateDir(ctx), 'locks', `disk-${key}`), fn);
}

/** The names of the block nodes QEMU has (query-named-block-nodes). */
export async function blockNodes(q: Qmp): Promise<Set<string>> {
  const nodes = await q.execute<Array<{ 'node-name': string }>>('query-named-block-nodes', { flat: true });
  return new Set(nodes.map((n) => n['node-name']));
}

/** blockdev-del `node` if QEMU has it (a node left by an earlier medium). */
export async function dropNode(q: Qmp, node: string): Promise<void> {
  if ((await blockNodes(q)).has(node)) await q.execute('blockdev-del', { 'node-name': node });
}

/**
 * Wait until no device's BlockBackend holds block node `node` (query-block): QEMU sends
 * DEVICE_DELETED before the device's drive is let go, and blockdev-del before that is
 * "Node … is in use". RC 5 at the deadline.
 */
export async function waitNodeFree(ctx: Ctx, q: Qmp, node: string, timeoutMs: number): Promise<void> {
  await ctx.poll(async () => {
    const blocks = await q.execute<Array<{ inserted?: { 'node-name'?: string } }>>('query-block');
    return blocks.some((b) => b.inserted?.['node-name'] === node) ? undefined : true;
  }, { timeoutMs, what: `block node ${node} to be let go by its device`, initialMs: 20, maxMs: 200 });
}

/** The ids of the devices a user added (`-device …,id=` and device_add): qom-list /machine/peripheral. */
export async function deviceIds(q: Qmp): Promise<Set<string>> {
  const l = await q.execute<Array<{ name: string; type: string }>>('qom-list', { path: '/machine/peripheral' });
  // Under dryrun only query-* commands run; qom-list answers {}: nothing known, the plan adds the devices.
  return new Set((Array.isArray(l) ? l : []).filter((x) => x.type.startsWith('child<')).map((x) => x.name));
}

/**
 * device_del `id` and wait for QEMU's DEVICE_DELETED event for it: the guest has to
 * release the device (ACPI PCI hot-unplug), which a guest without the driver or ACPI
 * never does: RC 5 at the deadline, and the device stays.
 */
export async function unplug(ctx: Ctx, q: Qmp, id: string, timeoutMs: number): Promise<void> {
  await q.execute('device_del', { id });
  const gone = () => q.events.some((e) => e.event === 'DEVICE_DELETED' && e.data?.device === id);
  try {
    await ctx.poll(async () => (gone() || !(await deviceIds(q)).has(id) ? true : undefined), {
      timeoutMs, what: `QEMU's DEVICE_DELETED for ${id} (the guest releasing it)`, initialMs: 50, maxMs: 250,
    });
  } catch (e) {
    if (isReason(e, 'timedOut')) throw timedOut(`device_del ${id}: the guest did not release the device within ${timeoutMs} ms (it needs ACPI PCI hot-plug); it is still attached`);
    throw e;
  }
}

/** Whether VM `name` runs (change it over QMP) or not (change only its record); RC 1 when its QEMU crashed. */
export function hotPlug(ctx: Ctx, name: string): boolean {
  const l = liveness(ctx, name);
  if (l.kind === 'crashed') throw vmCrashed(ctx, name, l.pid);
  return l.kind === 'running';
}

/** Change VM `name`'s vm.json (read-modify-write under the file's lock, written atomically). */
export async function updateVmDef(ctx: Ctx, name: string, fn: (d: VmDef) => VmDef): Promise<void> {
  await ctx.state.update(vmPaths(ctx, name).def, VmDefSchema(), (cur) => (cur ? fn(cur) : undefined));
}

/** The first of PREFIX1, PREFIX2 … not in `taken`. */
export function freeId(prefix: string, taken: ReadonlySet<string>): string {
  for (let i = 1; ; i++) if (!taken.has(`${prefix}${i}`)) return `${prefix}${i}`;
}
