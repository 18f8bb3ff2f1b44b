/**
 * VM definitions: create (a folder vms/NAME with vm.json), delete, list. A VM's disk
 * is a disk name, an absolute path, or a new qcow2 overlay of a registered base.
 */
import * as fs from 'node:fs';
import { alreadyExists, notFound, refused, usageError } from '../../../shared/errors';
import { qemuName } from '../../../shared/names';
import { stem } from '../../../shared/result';
import { defineVerb, type Ctx } from '../../../shared/verb';
import { zfs } from '../../zfs/zfs';
import { qemuImg, toBytes } from '../img';
import { diskRef, FORCE, HARDWARE, NAME } from '../params';
import { baseOfFile, loadBase, type BaseRecord } from '../registry';
import { diskPath, liveness, loadVm, vmNames, vmPaths, writeJson, type VmDef } from '../state';
import { clearStale, stopVm } from '../vm';
import { reserve, unreserve } from './images';

/** The hardware keys as given to create / clone_from_base. */
export interface Hardware {
  memory: string;
  cpus: number;
  kernel?: string;
  initrd?: string;
  append?: string;
  accel: VmDef['accel'];
  network: VmDef['network'];
}

/** Check the hardware keys and build a definition (disk filled in by the caller). RC 2/3. */
export function vmDef(name: string, hw: Hardware, disk: Pick<VmDef, 'disk' | 'format' | 'base'>): VmDef {
  if ((hw.initrd || hw.append) && !hw.kernel) throw usageError('initrd= and append= need kernel=');
  if (!disk.disk && !hw.kernel) throw usageError(`VM ${name} needs a disk (disk= or base=) or kernel= to boot`);
  for (const f of [hw.kernel, hw.initrd]) if (f && !fs.existsSync(f)) throw notFound(`${f} not found`);
  const memoryMiB = Math.round(toBytes(hw.memory, 'M') / 2 ** 20);
  if (memoryMiB < 16) throw usageError(`memory=${hw.memory}: at least 16 MiB`);
  return {
    name, ...disk, memoryMiB, cpus: hw.cpus, kernel: hw.kernel ?? '', initrd: hw.initrd ?? '', append: hw.append ?? '',
    accel: hw.accel, network: hw.network, created: new Date().toISOString(),
  };
}

/** Reserve vms/NAME atomically (mkdir), RC 4 when it exists. */
export function reserveVm(ctx: Ctx, name: string): void {
  const dir = vmPaths(ctx, name).dir;
  if (ctx.dryrun) {
    if (fs.existsSync(dir)) throw alreadyExists(`VM ${name} already exists`);
    return;
  }
  fs.mkdirSync(vmPaths(ctx, name).dir.replace(/\/[^/]+$/, ''), { recursive: true });
  try {
    fs.mkdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw alreadyExists(`VM ${name} already exists`);
    throw e;
  }
}

/** The argv that makes a clone of `base` for VM `name`, and the disk it gives. */
export function cloneArgv(ctx: Ctx, base: BaseRecord, name: string): { argv: string[]; disk: string; format: 'qcow2' | 'raw' } {
  if (base.kind === 'zvol') {
    const parent = base.source.split('@')[0]!.replace(/\/[^/]+$/, '');
    const dataset = `${parent}/${name}`;
    return { argv: ['zfs', 'clone', base.source, dataset], disk: `/dev/zvol/${dataset}`, format: 'raw' };
  }
  const disk = diskPath(ctx, name, 'qcow2');
  return { argv: ['qemu-img', 'create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', base.source, disk], disk, format: 'qcow2' };
}

/** Make the clone disk of `base` for VM `name` and write its definition. */
export async function cloneVm(ctx: Ctx, base: BaseRecord, name: string, hw: Hardware): Promise<VmDef> {
  const c = cloneArgv(ctx, base, name);
  const def = vmDef(name, hw, { disk: c.disk, format: c.format, base: base.name });
  reserveVm(ctx, name);
  const paths = vmPaths(ctx, name);
  try {
    if (base.kind === 'qcow2') {
      reserve(ctx, c.disk);
      await qemuImg(ctx, c.argv.slice(1)).catch((e) => {
        unreserve(ctx, c.disk);
        throw e;
      });
    } else await zfs(ctx, c.argv.slice(1));
  } catch (e) {
    if (!ctx.dryrun) fs.rmSync(paths.dir, { recursive: true, force: true });
    throw e;
  }
  if (!ctx.dryrun) writeJson(paths.def, def);
  return def;
}

export const create = defineVerb({
  name: 'create',
  summary: 'define a VM (vms/NAME/vm.json): disk= (a disk name or absolute path) or base= (a new qcow2 overlay), memory, cpus, kernel/initrd/append, accel, network',
  params: {
    ...NAME,
    disk: { type: 'string', rule: diskRef, doc: 'its disk: a disk name in the images folder or an absolute path' },
    base: { type: 'string', rule: qemuName, doc: 'make its disk a new copy-on-write overlay of this registered base (like clone_from_base)' },
    ...HARDWARE,
  },
  positional: ['name'],
  examples: ['create name=vm1 base=web memory=512M', 'create name=tiny kernel=/boot/vmlinuz initrd=/boot/initrd.img append="console=ttyS0"'],
  vars: { VM: 'the VM name', DISK: 'its disk', BASE: 'the base its disk is an overlay of' },
  async run(p, ctx) {
    if (p.disk && p.base) throw usageError('create: give disk= or base=, not both');
    if (p.base) {
      const def = await cloneVm(ctx, loadBase(ctx, p.base), p.name, p);
      return { result: p.name, vars: { VM: p.name, DISK: def.disk, BASE: p.base } };
    }
    let disk: Pick<VmDef, 'disk' | 'format' | 'base'> = { disk: '', format: '', base: '' };
    if (p.disk) {
      const file = p.disk.startsWith('/') ? p.disk : diskPath(ctx, p.disk);
      if (!fs.existsSync(file)) throw notFound(`disk ${file} not found`);
      if (baseOfFile(ctx, file)) throw refused(`${file} is a registered base; use base=${p.disk} to boot a copy-on-write overlay of it`);
      disk = { disk: file, format: file.endsWith('.raw') || file.startsWith('/dev/') ? 'raw' : 'qcow2', base: '' };
    }
    const def = vmDef(p.name, p, disk);
    reserveVm(ctx, p.name);
    if (!ctx.dryrun) writeJson(vmPaths(ctx, p.name).def, def);
    return { result: p.name, vars: { VM: p.name, DISK: def.disk, BASE: '' } };
  },
});

export const del = defineVerb({
  name: 'delete',
  summary: 'delete a VM and the overlay disk made for it (never its base); a running VM only with force=true (RC 7)',
  params: { ...NAME, force: { ...FORCE.force, doc: 'also delete a running VM (QEMU is told to quit first)' }, keep_disk: { type: 'bool', default: false, doc: 'keep the VM\'s own overlay disk' } },
  positional: ['name'],
  vars: { DELETED_DISK: 'the disk removed with it (its own overlay), or empty' },
  async run(p, ctx) {
    const def = loadVm(ctx, p.name);
    const l = liveness(ctx, p.name);
    if (l.kind === 'running') {
      if (!p.force) throw refused(`VM ${p.name} is running; stop it first, or delete with force=true`);
      if (!ctx.dryrun) await stopVm(ctx, p.name, true, 0);
    } else if (!ctx.dryrun) clearStale(ctx, p.name);
    const own = def.base && def.disk === diskPath(ctx, p.name, 'qcow2') && !p.keep_disk;
    if (!ctx.dryrun) {
      if (own) fs.rmSync(def.disk, { force: true });
      fs.rmSync(vmPaths(ctx, p.name).dir, { recursive: true, force: true });
    }
    return { result: p.name, vars: { DELETED_DISK: own ? def.disk : '' } };
  },
});

export const list = defineVerb({
  name: 'list',
  summary: 'list VMs: stems VMS, STATUSES (running, stopped, crashed), BASES; filter by base= or status=',
  params: {
    base: { type: 'string', rule: qemuName, doc: 'only clones of this base' },
    status: { type: 'enum', values: ['running', 'stopped', 'crashed'], doc: 'only VMs in this state' },
  },
  vars: { VMS: { stem: 'VM names' }, STATUSES: { stem: 'the status of each' }, BASES: { stem: 'the base of each' } },
  async run(p, ctx) {
    const rows = vmNames(ctx)
      .map((n) => ({ def: loadVm(ctx, n), status: liveness(ctx, n).kind }))
      .filter((r) => (p.base ? r.def.base === p.base : true))
      .filter((r) => (p.status ? r.status === p.status : true));
    return {
      result: rows.map((r) => `${r.def.name} ${r.status}`).join('\n'),
      vars: { VMS: stem(rows.map((r) => r.def.name)), STATUSES: stem(rows.map((r) => r.status)), BASES: stem(rows.map((r) => r.def.base)) },
    };
  },
});
