/**
 * VM definitions: create (a folder vms/NAME with vm.json), delete, list. A VM's disk
 * is a disk name, an absolute path, or a new qcow2 overlay of a registered base.
 * Creating and deleting hold the VM's lock; vm.json is created exclusively, so of
 * parallel creates of one name exactly one wins (RC 4 for the rest).
 */
import { notFound, refused, usageError } from '../../../shared/errors';
import { CorruptStateError } from '../../../shared/state-file';
import { qemuName } from '../names';
import { stem } from '../../../shared/result';
import { defineVerb } from '../../../shared/verb';
import { diskRef, FORCE, HARDWARE, NAME } from '../params';
import { claimVm, cloneVm, vmDef } from '../definition';
import { baseOfFile, loadBase } from '../registry';
import { diskPath, liveness, loadVm, vmNames, vmPaths, withVmLock, type VmDef } from '../state';
import { clearStale, stopVm } from '../vm';
import { dropTaps } from '../network';

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
      const def = await cloneVm(ctx, await loadBase(ctx, p.base), p.name, p);
      return { result: p.name, vars: { VM: p.name, DISK: def.disk, BASE: p.base } };
    }
    let disk: Pick<VmDef, 'disk' | 'format' | 'base'> = { disk: '', format: '', base: '' };
    if (p.disk) {
      const file = p.disk.startsWith('/') ? p.disk : diskPath(ctx, p.disk);
      if (!ctx.fs.exists(file)) throw notFound(`disk ${file} not found`);
      if (baseOfFile(ctx, file)) throw refused(`${file} is a registered base; use base=${p.disk} to boot a copy-on-write overlay of it`);
      disk = { disk: file, format: file.endsWith('.raw') || file.startsWith('/dev/') ? 'raw' : 'qcow2', base: '' };
    }
    const def = await vmDef(ctx, p.name, p, disk);
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
      ctx.qga.drop?.(vmPaths(ctx, p.name).qga);
      if (def) await dropTaps(ctx, def, vmPaths(ctx, p.name).dir);
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
