/**
 * VM definitions: create (a folder vms/NAME with vm.json), delete, list. A VM's disk
 * is a disk name, an absolute path, or a new qcow2 overlay of a registered base.
 * Creating and deleting hold the VM's lock; vm.json is created exclusively, so of
 * parallel creates of one name exactly one wins (RC 4 for the rest).
 */
import { alreadyExists, notFound, refused, usageError } from '../../../shared/errors';
import { CorruptStateError } from '../../../shared/state-file';
import { qemuName } from '../names';
import { stem } from '../../../shared/result';
import { defineVerb, type Ctx } from '../../../shared/verb';
import { zfs } from '../../zfs/tool';
import { toBytes } from '../../../shared/size';
import { qemuImg } from '../tool';
import { diskRef, FORCE, HARDWARE, NAME } from '../params';
import { checkVmFiles } from '../hostfiles';
import { baseOfFile, findBase, loadBase, withBaseLock, zvolClone, type BaseRecord } from '../registry';
import { diskPath, liveness, loadVm, vmNames, vmPaths, withVmLock, type VmDef } from '../state';
import { clearStale, stopVm } from '../vm';
import { reserve, unreserve } from '../disks';

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

/**
 * Check the hardware keys and build a definition (disk filled in by the caller): RC 2
 * or 3 for bad values, RC 7 for host files QEMU may not be given (hostfiles.ts).
 */
export function vmDef(ctx: Ctx, name: string, hw: Hardware, disk: Pick<VmDef, 'disk' | 'format' | 'base'>): VmDef {
  if ((hw.initrd || hw.append) && !hw.kernel) throw usageError('initrd= and append= need kernel=');
  if (!disk.disk && !hw.kernel) throw usageError(`VM ${name} needs a disk (disk= or base=) or kernel= to boot`);
  for (const f of [hw.kernel, hw.initrd]) if (f && !ctx.fs.exists(f)) throw notFound(`${f} not found`);
  const memoryMiB = Math.round(toBytes(hw.memory, 'M') / 2 ** 20);
  if (memoryMiB < 16) throw usageError(`memory=${hw.memory}: at least 16 MiB`);
  const def: VmDef = {
    name, ...disk, memoryMiB, cpus: hw.cpus, kernel: hw.kernel ?? '', initrd: hw.initrd ?? '', append: hw.append ?? '',
    accel: hw.accel, network: hw.network, created: new Date(ctx.clock.now()).toISOString(),
  };
  checkVmFiles(ctx, def);
  return def;
}

/**
 * Write VM `name`'s definition if it has none (O_EXCL, ctx.state.create), RC 4 when it
 * has one (even a corrupt one). Call it holding the VM's lock. Under dryrun it only checks.
 */
export function claimVm(ctx: Ctx, def: VmDef): void {
  const file = vmPaths(ctx, def.name).def;
  if (ctx.fs.exists(file) || !ctx.state.create(file, def)) throw alreadyExists(`VM ${def.name} already exists`);
}

/** The argv that makes a clone of `base` for VM `name`, and the disk it gives. */
export function cloneArgv(ctx: Ctx, base: BaseRecord, name: string): { argv: string[]; disk: string; format: 'qcow2' | 'raw' } {
  if (base.kind === 'zvol') {
    const { dataset, disk } = zvolClone(base, name);
    return { argv: ['zfs', 'clone', base.source, dataset], disk, format: 'raw' };
  }
  const disk = diskPath(ctx, name, 'qcow2');
  return { argv: ['qemu-img', 'create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', base.source, disk], disk, format: 'qcow2' };
}

/**
 * Make VM `name`, a clone of `base`, holding its lock: claim vm.json, make the disk,
 * then check under the base's lock that the base is still the one registered (an
 * unregister_base that ran meanwhile saw no clone yet); otherwise undo it all, RC 3.
 */
export async function cloneVm(ctx: Ctx, base: BaseRecord, name: string, hw: Hardware): Promise<VmDef> {
  const c = cloneArgv(ctx, base, name);
  const def = vmDef(ctx, name, hw, { disk: c.disk, format: c.format, base: base.name });
  return withVmLock(ctx, name, async () => {
    claimVm(ctx, def);
    const paths = vmPaths(ctx, name);
    let made = false;
    try {
      if (base.kind === 'qcow2') {
        reserve(ctx, c.disk);
        made = true;
        await qemuImg(ctx, c.argv.slice(1));
      } else {
        await zfs(ctx, c.argv.slice(1));
        made = true;
      }
      await withBaseLock(ctx, base.name, () => {
        const now = findBase(ctx, base.name);
        if (!now || now.created !== base.created || now.source !== base.source) {
          throw notFound(`base '${base.name}' was unregistered while ${name} was being cloned from it`);
        }
      });
    } catch (e) {
      if (made && base.kind === 'qcow2') unreserve(ctx, c.disk);
      else if (made) await ctx.effect(() => zfs(ctx, ['destroy', c.disk.slice('/dev/zvol/'.length)]).catch(() => undefined), undefined);
      ctx.fs.remove(paths.dir);
      throw e;
    }
    return def;
  });
}

export const create = defineVerb({
  name: 'create',
  summary: 'define a VM (vms/NAME/vm.json): disk= (a disk name or absolute path) or base= (a new qcow2 overlay), memory, cpus, kernel/initrd/append, accel, network',
  params: {
    ...NAME,
    disk: { type: 'string', rule: diskRef, aliases: ['image'], doc: 'its disk: a disk name in the images folder or an absolute path (inside the state folder or REXX_QEMU_PATHS, else RC 7)' },
    base: { type: 'string', rule: qemuName, doc: 'make its disk a new copy-on-write overlay of this registered base (like clone_from_base)' },
    ...HARDWARE,
  },
  positional: ['name'],
  examples: ['create name=vm1 base=web memory=512M', 'create name=tiny kernel=/var/lib/rexx-address/qemu-guest/vmlinuz initrd=/var/lib/rexx-address/qemu-guest/initrd.img append="console=ttyS0"'],
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
      if (!ctx.fs.exists(file)) throw notFound(`disk ${file} not found`);
      if (baseOfFile(ctx, file)) throw refused(`${file} is a registered base; use base=${p.disk} to boot a copy-on-write overlay of it`);
      disk = { disk: file, format: file.endsWith('.raw') || file.startsWith('/dev/') ? 'raw' : 'qcow2', base: '' };
    }
    const def = vmDef(ctx, p.name, p, disk);
    await withVmLock(ctx, p.name, () => claimVm(ctx, def));
    return { result: p.name, vars: { VM: p.name, DISK: def.disk, BASE: '' } };
  },
});

export const del = defineVerb({
  name: 'delete',
  aliases: ['remove'],
  summary: 'delete a VM and the overlay disk made for it (never its base); a running VM only with force=true (RC 7); force=true also removes a VM whose vm.json is corrupt (its disk is kept; CORRUPT names the file)',
  params: {
    ...NAME,
    force: { ...FORCE.force, doc: 'also delete a running VM (QEMU is told to quit first), or one whose vm.json is corrupt' },
    keep_disk: { type: 'bool', default: false, doc: 'keep the VM\'s own overlay disk' },
  },
  positional: ['name'],
  vars: { DELETED_DISK: 'the disk removed with it (its own overlay), or empty', CORRUPT: 'force=true on a corrupt vm.json: the file it removed' },
  async run(p, ctx) {
    return withVmLock(ctx, p.name, async () => {
      let def: VmDef | undefined;
      let corrupt = '';
      try {
        def = loadVm(ctx, p.name);
      } catch (e) {
        // A corrupt vm.json says nothing we can trust about the disk: force=true removes
        // the folder (stopping a QEMU its pidfile names) and keeps every disk.
        if (!(e instanceof CorruptStateError && p.force)) throw e;
        corrupt = e.file;
      }
      const l = liveness(ctx, p.name);
      if (l.kind === 'running') {
        if (!p.force) throw refused(`VM ${p.name} is running; stop it first, or delete with force=true`);
        await stopVm(ctx, p.name, true, 0);
      }
      clearStale(ctx, p.name);
      const own = Boolean(def?.base && def.disk === diskPath(ctx, p.name, 'qcow2') && !p.keep_disk);
      if (own) ctx.fs.remove(def!.disk);
      ctx.fs.remove(vmPaths(ctx, p.name).dir);
      return { result: p.name, vars: { DELETED_DISK: own ? def!.disk : '', CORRUPT: corrupt } };
    });
  },
});

export const list = defineVerb({
  name: 'list',
  summary: 'list VMs: stems VMS, STATUSES (running, stopped, crashed), BASES; filter by base= or status=; a VM whose vm.json is corrupt is left out and named in stem CORRUPT',
  params: {
    base: { type: 'string', rule: qemuName, doc: 'only clones of this base' },
    status: { type: 'enum', values: ['running', 'stopped', 'crashed'], doc: 'only VMs in this state' },
  },
  vars: { VMS: { stem: 'VM names' }, STATUSES: { stem: 'the status of each' }, BASES: { stem: 'the base of each' }, CORRUPT: { stem: 'vm.json files left out because they are corrupt' } },
  async run(p, ctx) {
    const corrupt: string[] = [];
    const rows = vmNames(ctx)
      .flatMap((n) => {
        try {
          return [{ def: loadVm(ctx, n), status: liveness(ctx, n).kind }];
        } catch (e) {
          if (!(e instanceof CorruptStateError)) throw e;
          corrupt.push(e.file);
          return [];
        }
      })
      .filter((r) => (p.base ? r.def.base === p.base : true))
      .filter((r) => (p.status ? r.status === p.status : true));
    if (corrupt.length) ctx.log(`qemu list: left out corrupt ${corrupt.join(', ')}`);
    return {
      result: rows.map((r) => `${r.def.name} ${r.status}`).join('\n'),
      vars: {
        VMS: stem(rows.map((r) => r.def.name)),
        STATUSES: stem(rows.map((r) => r.status)),
        BASES: stem(rows.map((r) => r.def.base)),
        CORRUPT: stem(corrupt),
      },
    };
  },
});
