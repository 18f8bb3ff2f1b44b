/**
 * VM definitions (vms/NAME/vm.json): built from the hardware keys and checked, claimed
 * exclusively, or made as a clone of a registered base (its disk a qcow2 overlay or a
 * zfs clone). create and clone_from_base share them.
 */
import { alreadyExists, notFound, usageError } from '../../shared/errors';
import { toBytes } from '../../shared/size';
import type { Ctx } from '../../shared/verb';
import { zfs } from '../zfs/tool';
import { reserve, unreserve } from './disks';
import { checkVmFiles } from './hostfiles';
import { lookupBase, withBaseLock, zvolClone, type BaseRecord } from './registry';
import { cloneFromBase as zfsClone } from '../zfs/registry';
import { diskPath, vmPaths, withVmLock, type VmDef } from './state';
import { qemuImg } from './tool';
import { checkNetwork, makeMac } from './network';

/** The hardware keys as given to create / clone_from_base. */
export interface Hardware {
  memory: string;
  cpus: number;
  kernel?: string;
  initrd?: string;
  append?: string;
  accel: VmDef['accel'];
  network: string;
  /** network=user port forwards (tcp:HOSTPORT:GUESTPORT). */
  forward?: readonly string[];
  /** A guest agent channel (default true). */
  agent?: boolean;
}

/**
 * Check the hardware keys and build a definition (disk filled in by the caller): RC 2
 * or 3 for bad values, RC 7 for host files QEMU may not be given (hostfiles.ts).
 */
export async function vmDef(ctx: Ctx, name: string, hw: Hardware, disk: Pick<VmDef, 'disk' | 'format' | 'base'>, base?: BaseRecord): Promise<VmDef> {
  if ((hw.initrd || hw.append) && !hw.kernel) throw usageError('initrd= and append= need kernel=');
  if (!disk.disk && !hw.kernel) throw usageError(`VM ${name} needs a disk (disk= or base=) or kernel= to boot`);
  for (const f of [hw.kernel, hw.initrd]) if (f && !ctx.fs.exists(f)) throw notFound(`${f} not found`);
  const memoryMiB = Math.round(toBytes(hw.memory, 'M') / 2 ** 20);
  if (memoryMiB < 16) throw usageError(`memory=${hw.memory}: at least 16 MiB`);
  checkNetwork(ctx, hw.network, hw.forward);
  const created = new Date(ctx.clock.now()).toISOString();
  const def: VmDef = {
    name, ...disk, memoryMiB, cpus: hw.cpus, kernel: hw.kernel ?? '', initrd: hw.initrd ?? '', append: hw.append ?? '',
    accel: hw.accel, network: hw.network, agent: hw.agent ?? true, created,
  };
  // A NIC gets a stable MAC (its DHCP lease survives restarts) and its forwards.
  if (hw.network !== 'none') def.mac = makeMac(vmPaths(ctx, name).dir, 'net0', created);
  if (hw.forward?.length) def.forward = [...hw.forward];
  await checkVmFiles(ctx, def, base);
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

/** The disk VM `name`'s clone of `base` gets: a qcow2 overlay in the images folder, or a zvol beside the base's. */
export function cloneDisk(ctx: Ctx, base: BaseRecord, name: string): { disk: string; format: 'qcow2' | 'raw' } {
  if (base.kind === 'zvol') return { disk: zvolClone(base, name).disk, format: 'raw' };
  return { disk: diskPath(ctx, name, 'qcow2'), format: 'qcow2' };
}

/**
 * Make VM `name`, a clone of `base`, holding its lock: claim vm.json, make the disk,
 * then check under the base's lock that the base is still the one registered (an
 * unregister_base that ran meanwhile saw no clone yet); otherwise undo it all, RC 3.
 */
export async function cloneVm(ctx: Ctx, base: BaseRecord, name: string, hw: Hardware): Promise<VmDef> {
  const c = cloneDisk(ctx, base, name);
  const def = await vmDef(ctx, name, hw, { disk: c.disk, format: c.format, base: base.name }, base);
  return withVmLock(ctx, name, async () => {
    claimVm(ctx, def);
    const paths = vmPaths(ctx, name);
    let made = false;
    try {
      if (base.kind === 'qcow2') {
        reserve(ctx, c.disk);
        made = true;
        await qemuImg(ctx, ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', base.source, c.disk]);
      } else {
        // The ZFS registry's clone: `zfs clone -o org.rexxjs:cloned-from=VOL VOL@rexx-base DATASET`, undone when it fails half-way.
        await zfsClone(ctx, base.source.split('@')[0]!, zvolClone(base, name).dataset);
        made = true;
      }
      await withBaseLock(ctx, base.name, async () => {
        const now = await lookupBase(ctx, base.name);
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
