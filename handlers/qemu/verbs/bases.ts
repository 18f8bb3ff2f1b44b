/**
 * Bases and clones. register_base makes a qcow2 disk in the images folder read-only
 * and writes NAME.base.json (sha256, virtual size, created); or, with zvol=, registers
 * a ZFS volume in the ZFS handler's registry (`zfs snapshot VOL@rexx-base` and the
 * `org.rexxjs:` properties, so ADDRESS ZFS list_bases shows it) with its QEMU name.
 * clone_from_base is one `qemu-img create -f qcow2 -F qcow2 -b BASE NAME.qcow2` (or the
 * registry's `zfs clone`) plus the clone's VM definition, which records the base. zfs
 * runs through the ZFS handler's modules, so its failures map to the same RCs as in
 * ADDRESS ZFS. register_base and unregister_base hold the base name's lock (see ../registry.ts).
 */
import { alreadyExists, notFound, refused, usageError } from '../../../shared/errors';
import { CorruptStateError } from '../../../shared/state-file';
import { BASES_VARS, basesOutput, CLONE_PARAMS, CLONE_VARS, cloneAll, cloneNames, DESCRIPTION_PARAM } from '../../../shared/bases';
import { qemuName } from '../names';
import { zfsDatasetName } from '../../zfs/names';
import { stem } from '../../../shared/result';
import { defineVerb, type Ctx } from '../../../shared/verb';
import { zfs } from '../../zfs/tool';
import { existing, formatOf, reserve, unreserve } from '../disks';
import { imageChain, qemuImg } from '../tool';
import { absPath, BASE_HARDWARE, FORCE, HARDWARE, timeout, WAIT } from '../params';
import { allBases, baseRecordPath, loadBase, lookupBase, overlaysOf, readOnlyImage, registerZvolBase, sha256File, unregisterZvolBase, withBaseLock, type BaseRecord } from '../registry';
import { diskPath, loadVm, vmNames } from '../state';
import { startVm } from '../vm';
import { cloneVm, type Hardware } from '../definition';

/** How long a register_base waits for another one of the same name to finish (ms): as long as qemu-img may run. */
const REGISTER_WAIT_MS = 600_000;

const BASE_NAME = { name: { type: 'string', required: true, rule: qemuName, doc: 'base name: the disk <state>/images/NAME.qcow2' } } as const;

export const registerBase = defineVerb({
  name: 'register_base',
  summary: 'make a qcow2 disk a read-only base (checksum and virtual size recorded), importing source= first; or snapshot a zvol (zvol=, OpenZFS)',
  params: {
    ...BASE_NAME,
    source: { type: 'string', rule: absPath, aliases: ['disk'], doc: 'copy this image (any format qemu-img reads) into images/NAME.qcow2 first (inside the state folder or REXX_QEMU_PATHS, else RC 7)' },
    zvol: { type: 'string', rule: zfsDatasetName, doc: 'a ZFS volume pool/vol to register instead (needs OpenZFS zvols)' },
    ...DESCRIPTION_PARAM,
    memory: { ...BASE_HARDWARE.memory, doc: 'memory its clones get unless clone_from_base gives memory= (256, 256M, 1G)' },
    cpus: { ...BASE_HARDWARE.cpus, doc: 'virtual CPUs its clones get unless clone_from_base gives cpus=' },
  },
  positional: ['name'],
  examples: ['register_base name=debian source=/srv/images/debian-12.qcow2', 'register_base name=web zvol=tank/vm/web'],
  vars: { BASE: 'the base name', SOURCE: 'its image file, or zvol snapshot', CHECKSUM: 'sha256 of the image (qcow2)', VIRTUAL_SIZE: 'bytes', CREATED: 'registration time (ISO 8601)' },
  async run(p, ctx) {
    // The whole registration holds the record's lock, so of parallel callers exactly one
    // registers and the others find its record (RC 4). A waiter may wait as long as an
    // import (qemu-img convert) may take.
    return withBaseLock(ctx, p.name, async () => {
      if (await lookupBase(ctx, p.name)) throw alreadyExists(`base '${p.name}' is already registered`);
      const created = new Date(ctx.clock.now()).toISOString();
      let rec: BaseRecord;
      if (p.zvol) {
        if (p.source) throw usageError('register_base: give source= or zvol=, not both');
        const size = await zfs(ctx, ['get', '-H', '-p', '-o', 'value', 'volsize', p.zvol], { readOnly: true });
        rec = await registerZvolBase(ctx, p.name, p.zvol, { created, description: p.description, memory: p.memory, cpus: p.cpus });
        // Its record is the volume's properties (ZFS registry): nothing to write here.
        return { result: p.name, vars: { BASE: p.name, SOURCE: rec.source, CHECKSUM: '', VIRTUAL_SIZE: Number(size.stdout.trim()) || 0, CREATED: created } };
      } else {
        const file = diskPath(ctx, p.name, 'qcow2');
        if (p.source) {
          const fmt = await formatOf(ctx, existing(ctx, p.source, `source=${p.source}`));
          reserve(ctx, file);
          await qemuImg(ctx, ['convert', '-f', fmt, '-O', 'qcow2', p.source, file]).catch((e) => {
            unreserve(ctx, file);
            throw e;
          });
        } else if (!ctx.fs.exists(file)) throw notFound(`disk ${file} not found (create it, or give source=)`);
        const planned: BaseRecord = { name: p.name, kind: 'qcow2', source: file, virtualSize: 0, checksum: '', created, description: p.description ?? '', memory: p.memory, cpus: p.cpus };
        // Read back from the image this call may just have made (under dryrun there is none yet).
        rec = await ctx.effect(async () => {
          const top = (await imageChain(ctx, file))[0]!;
          if (top.format !== 'qcow2') throw usageError(`register_base: ${file} is ${top.format}, not qcow2`);
          await readOnlyImage(ctx, file, true);
          return { ...planned, virtualSize: top['virtual-size'], checksum: await sha256File(ctx, file) };
        }, planned);
      }
      ctx.state.write(baseRecordPath(ctx, p.name), rec);
      return { result: p.name, vars: { BASE: p.name, SOURCE: rec.source, CHECKSUM: rec.checksum, VIRTUAL_SIZE: rec.virtualSize, CREATED: created } };
    }, REGISTER_WAIT_MS);
  },
});

export const cloneFromBase = defineVerb({
  name: 'clone_from_base',
  long: true,
  summary: 'copy-on-write clone(s) of a base as new VMs (qcow2 overlay with -F, or zfs clone): count=N makes NAME-1..NAME-N in parallel; start=true boots them',
  params: {
    name: { type: 'string', required: true, rule: qemuName, doc: 'the new VM (and its disk images/NAME.qcow2)' },
    ...CLONE_PARAMS,
    base: { ...CLONE_PARAMS.base, rule: qemuName },
    start: { type: 'bool', default: false, doc: 'start each clone and wait as wait= says' },
    ...WAIT,
    ...HARDWARE,
    ...BASE_HARDWARE,
    ...timeout(120_000, 'how long each start may take'),
  },
  positional: ['base', 'name'],
  examples: ['clone_from_base base=debian name=web-1', 'clone_from_base base=debian name=web count=3 start=true'],
  vars: CLONE_VARS,
  async run(p, ctx) {
    return cloneFrom(ctx, p.base, cloneNames(p.name, p.count, qemuName), p.concurrency, { ...p, start: p.start });
  },
});

/**
 * Clone `names` from base `baseName`, at most `concurrency` at once, with the base's
 * memory= and cpus= unless given, and start each when asked.
 */
async function cloneFrom(
  ctx: Ctx,
  baseName: string,
  names: string[],
  concurrency: number,
  p: Omit<Hardware, 'memory' | 'cpus'> & { memory?: string; cpus?: number; start: boolean; wait: string; timeout: number },
) {
  const base = await loadBase(ctx, baseName);
  const hw: Hardware = { ...p, memory: p.memory ?? base.memory ?? '256M', cpus: p.cpus ?? base.cpus ?? 1 };
  return cloneAll(ctx, names, concurrency, async (name) => {
    await cloneVm(ctx, base, name, hw);
    if (p.start) await startVm(ctx, name, p.wait, p.timeout);
  });
}

/** RexxJS's own ADDRESS QEMU verb: one clone, started unless no_start=true. */
export const clone = defineVerb({
  name: 'clone',
  summary: 'one copy-on-write clone of a base, started unless no_start=true (the verb of RexxJS\'s own ADDRESS QEMU; clone_from_base does more)',
  params: {
    base: { ...CLONE_PARAMS.base, rule: qemuName },
    name: { type: 'string', required: true, rule: qemuName, doc: 'the new VM (and its disk images/NAME.qcow2)' },
    no_start: { type: 'bool', default: false, doc: 'only make it; do not start it' },
    ...WAIT,
    ...HARDWARE,
    ...BASE_HARDWARE,
    network: { ...HARDWARE.network, default: 'user', doc: 'none, user (-nic user; the default here, as in the original), or bridge:BRIDGE (a tap on that host bridge)' },
    ...timeout(120_000, 'how long the start may take'),
  },
  positional: ['base', 'name'],
  examples: ['clone base=debian name=web-1 memory=1G'],
  vars: CLONE_VARS,
  async run(p, ctx) {
    return cloneFrom(ctx, p.base, [p.name], 1, { ...p, start: !p.no_start });
  },
});

export const listBases = defineVerb({
  name: 'list_bases',
  summary: 'list registered bases: stems BASES, BASE_SNAPSHOTS (image file or zvol snapshot); RESULT "name source created" per line; a corrupt record is left out and named in stem CORRUPT',
  params: {},
  vars: { ...BASES_VARS, CORRUPT: { stem: 'base records left out because they are corrupt (their paths)' } },
  async run(_p, ctx) {
    const { bases, corrupt } = await allBases(ctx);
    if (corrupt.length) ctx.log(`qemu list_bases: left out corrupt ${corrupt.join(', ')}`);
    const out = basesOutput(bases.map((b) => ({ name: b.name, snapshot: b.source, created: b.created, description: b.description })));
    return { ...out, vars: { ...out.vars, CORRUPT: stem(corrupt) } };
  },
});

export const unregisterBase = defineVerb({
  name: 'unregister_base',
  summary: 'forget a base (its image becomes an ordinary writable disk); refused (RC 7, stem DEPENDENTS) while clones use it unless force=true; force=true also forgets a corrupt record',
  params: { ...BASE_NAME, force: { ...FORCE.force, doc: 'unregister even while clones use it (they keep working, but the image becomes writable), or when its record is corrupt' } },
  positional: ['name'],
  vars: { DEPENDENTS: { stem: 'VMs and disks that use the base' } },
  async run(p, ctx) {
    return withBaseLock(ctx, p.name, async () => {
      let b: BaseRecord | undefined;
      try {
        b = await loadBase(ctx, p.name);
      } catch (e) {
        if (!(e instanceof CorruptStateError && p.force)) throw e;
      }
      // A clone's definition names its base; one whose vm.json is corrupt may be a clone too.
      const unsure: string[] = [];
      const vms = vmNames(ctx).filter((n) => {
        try {
          return loadVm(ctx, n).base === p.name;
        } catch (e) {
          if (!(e instanceof CorruptStateError)) throw e;
          unsure.push(n);
          return true;
        }
      });
      const image = b?.kind === 'zvol' ? undefined : diskPath(ctx, p.name, 'qcow2');
      const disks = image ? overlaysOf(ctx, image) : [];
      const dependents = [...new Set([...vms, ...disks])].sort();
      if (dependents.length && !p.force) {
        const note = unsure.length ? ` (the vm.json of ${unsure.join(', ')} is corrupt, so it may be a clone)` : '';
        throw refused(`base '${p.name}' is used by ${dependents.join(', ')}${note}; delete them first or use force=true`, { vars: { DEPENDENTS: stem(dependents) } });
      }
      if (b?.kind === 'zvol') {
        await unregisterZvolBase(ctx, b);
        return { result: p.name, vars: { DEPENDENTS: stem(dependents) } };
      }
      if (image && ctx.fs.exists(image)) await ctx.effect(() => readOnlyImage(ctx, image, false), undefined);
      ctx.state.remove(baseRecordPath(ctx, p.name));
      return { result: p.name, vars: { DEPENDENTS: stem(dependents) } };
    });
  },
});
