/**
 * Whole VM states kept outside the disk (saved-states.ts; the catalog format is
 * shared/state-catalog.ts): save_state, restore_state, list_states, prune_states,
 * export_state, import_state.
 */
import * as path from 'node:path';
import { refused, toolFailed } from '../../../shared/errors';
import { absHostPath } from '../../../shared/names';
import { requireInputFile, writeNewFile } from '../../../shared/new-file';
import { stem } from '../../../shared/result';
import { createEntry, CATALOG_FILE, entryDir, listEntries, markInvalid, mustEntry, pruneSelection, STATE_LIST_VARS, StateEntrySchema, stateId, stateListOutput, transition } from '../../../shared/state-catalog';
import { defineVerb, type Ctx } from '../../../shared/verb';
import { checkHostFile } from '../hostfiles';
import { COMPRESSORS, MEMORY_FILE } from '../migration';
import { FORCE, NAME, timeout } from '../params';
import { newestReady, QEMU_STATE_KIND, qemuData, restoreVmState, saveVmState, statesDir } from '../saved-states';
import { liveness, loadVm, withVmLock } from '../state';
import { imageChain, qemuImg } from '../tool';
import { stopVm } from '../vm';

const ID = { type: 'string', rule: stateId } as const;

export const saveState = defineVerb({
  name: 'save_state',
  long: true,
  summary: "save a running VM's whole state outside its disk: a catalog entry vms/NAME/states/ID (snapshot.json, the device+RAM stream of QMP migrate through the compressor, the disk layer frozen by blockdev-snapshot-sync); the VM goes on, or stops with stop=true",
  params: {
    ...NAME,
    compress: { type: 'enum', values: COMPRESSORS, default: 'lz4', doc: 'the memory file: lz4 (-1), zstd (-1) or none' },
    stop: { ...FORCE.force, doc: 'quit QEMU once saved (the VM is stopped; restore_state starts it where it was)' },
    snapshot: { ...ID, doc: 'the id (default state-<unix seconds>[-N]); RC 4 when taken' },
    ...timeout(300_000, 'how long saving may take'),
  },
  positional: ['name'],
  examples: ['save_state name=web-1', 'save_state name=web-1 compress=zstd stop=true'],
  vars: {
    SNAPSHOT: 'the saved state id',
    PARENT: 'the state it builds on, or empty',
    SIZE: 'bytes on disk of its memory file and frozen disk layer',
    STREAM_BYTES: 'bytes of the migration stream before compression',
    PAUSED_MS: 'ms the guest was paused for the save',
    STATUS: 'the VM after: running, paused or stopped',
  },
  async run(p, ctx) {
    const r = await saveVmState(ctx, p.name, { compress: p.compress, stop: p.stop, timeoutMs: p.timeout, id: p.snapshot });
    const status = p.stop ? 'stopped' : 'running';
    return {
      result: r.entry.id,
      vars: { SNAPSHOT: r.entry.id, PARENT: r.entry.parent, SIZE: r.entry.size, STREAM_BYTES: qemuData(r.entry).streamBytes, PAUSED_MS: r.pausedMs, STATUS: status },
    };
  },
});

export const restoreState = defineVerb({
  name: 'restore_state',
  long: true,
  summary: 'start a VM from a saved state (default: the newest Ready one): qemu -incoming defer on a new overlay of its disk, the memory file fed to QMP migrate-incoming; the guest goes on where it was; RC 7 while the VM runs (force=true quits it first)',
  params: {
    ...NAME,
    snapshot: { ...ID, doc: 'the saved state id (list_states); default: the newest Ready one (RC 3 when none)' },
    force: { ...FORCE.force, doc: 'quit a running VM first (its present state is lost)' },
    ...timeout(300_000, 'how long loading may take'),
  },
  positional: ['name', 'snapshot'],
  examples: ['restore_state name=web-1 snapshot=state-1764500000'],
  vars: { STATUS: 'running (or paused)', PID: 'the QEMU pid', ACCEL: 'kvm or tcg', SNAPSHOT: 'the state it came from', LOAD_MS: 'ms from launch to the guest running again' },
  async run(p, ctx) {
    loadVm(ctx, p.name);
    const id = p.snapshot ?? newestReady(ctx, p.name).id;
    mustEntry(ctx, statesDir(ctx, p.name), id, { ready: true });
    if (liveness(ctx, p.name).kind === 'running') {
      if (!p.force) throw refused(`restore_state: VM ${p.name} is running; stop it first, or give force=true`);
      await stopVm(ctx, p.name, true, 0);
    }
    const r = await restoreVmState(ctx, p.name, id, p.timeout);
    return { result: id, vars: { STATUS: r.status, PID: r.pid, ACCEL: r.accel, SNAPSHOT: id, LOAD_MS: r.loadMs } };
  },
});

export const listStates = defineVerb({
  name: 'list_states',
  summary: 'the saved states of a VM, oldest first (the shared catalog: an entry Creating, Ready or Invalid; one left Creating by a process that is gone reads Invalid)',
  params: { ...NAME },
  positional: ['name'],
  vars: { ...STATE_LIST_VARS, HEAD: 'the state the VM\'s disk builds on now, or empty' },
  async run(p, ctx) {
    const def = loadVm(ctx, p.name);
    const out = stateListOutput(listEntries(ctx, statesDir(ctx, p.name)));
    return { result: out.result, vars: { ...out.vars, HEAD: def.head ?? '' } };
  },
});

export const pruneStates = defineVerb({
  name: 'prune_states',
  summary: 'remove saved states but the newest keep=N Ready ones, never one that a kept one or the VM\'s running disk builds on (nor one still being written)',
  params: { ...NAME, keep: { type: 'int', required: true, min: 0, doc: 'keep this many newest Ready states' } },
  positional: ['name'],
  vars: { PRUNED: { stem: 'ids removed' }, KEPT: { stem: 'ids left' } },
  async run(p, ctx) {
    return withVmLock(ctx, p.name, () => {
      const def = loadVm(ctx, p.name);
      const catalog = statesDir(ctx, p.name);
      const all = listEntries(ctx, catalog);
      const gone = pruneSelection(all, p.keep, def.head ? [def.head] : []);
      for (const e of gone) ctx.fs.remove(entryDir(catalog, e.id));
      const kept = all.filter((e) => !gone.includes(e));
      return { result: gone.map((e) => e.id).join('\n'), vars: { PRUNED: stem(gone.map((e) => e.id)), KEPT: stem(kept.map((e) => e.id)) } };
    });
  },
});

/** What an export tarball holds: snapshot.json, the memory file, and disk.qcow2 when the VM has a disk. */
const DISK_FILE = 'disk.qcow2';
const ARCHIVE_FILES = new Set([CATALOG_FILE, DISK_FILE, ...Object.values(MEMORY_FILE)]);

export const exportState = defineVerb({
  name: 'export_state',
  long: true,
  summary: 'write one Ready saved state as a tarball another host can import_state: snapshot.json, the memory file, and its disk chain flattened into disk.qcow2 (qemu-img convert)',
  params: {
    ...NAME,
    snapshot: { ...ID, required: true, doc: 'the saved state id' },
    file: { type: 'string', required: true, rule: absHostPath, doc: 'the tarball to write (absolute, inside the state folder or REXX_QEMU_PATHS, else RC 7; RC 4 when it exists, unless force=true)' },
    force: { ...FORCE.force, doc: 'replace an existing file' },
    ...timeout(600_000, 'how long it may take'),
  },
  positional: ['name', 'snapshot'],
  examples: ['export_state name=web-1 snapshot=state-1764500000 file=/srv/web-1.state.tar'],
  vars: { FILE: 'the tarball', BYTES: 'its size' },
  async run(p, ctx) {
    loadVm(ctx, p.name);
    // A host file the handler writes: inside the state folder or REXX_QEMU_PATHS (RC 7), as convert target= is.
    checkHostFile(ctx, `file=${p.file}`, p.file);
    const catalog = statesDir(ctx, p.name);
    const e = mustEntry(ctx, catalog, p.snapshot, { ready: true });
    const data = qemuData(e);
    const tmp = ctx.fs.mkdtemp(path.join(catalog, '.export-'));
    try {
      const names = [CATALOG_FILE, data.memory];
      if (data.disk) {
        // The frozen chain is never written again: read it alongside a running QEMU (-U).
        await qemuImg(ctx, ['convert', '-U', '-f', data.format || 'qcow2', '-O', 'qcow2', data.disk, path.join(tmp, DISK_FILE)], { timeoutMs: p.timeout });
        names.push(DISK_FILE);
      }
      if (!ctx.fs.link(path.join(entryDir(catalog, e.id), data.memory), path.join(tmp, data.memory))) throw toolFailed(`export_state: cannot link the memory file into ${tmp}`);
      ctx.state.write(path.join(tmp, CATALOG_FILE), { ...e, parent: '', pid: 0, data: { ...data, disk: data.disk ? DISK_FILE : '', format: data.disk ? 'qcow2' : '' } });
      const bytes = await writeNewFile(ctx, p.file, { force: p.force, what: 'export_state', key: 'file' }, async (t) => {
        const r = await ctx.run(['tar', '-C', tmp, '-cf', t, '--', ...names], { timeoutMs: p.timeout });
        if (!r.ok) throw toolFailed(`export_state: tar failed: ${r.stderr || `exit ${r.exitCode}`}`);
      });
      return { result: p.file, vars: { FILE: p.file, BYTES: bytes } };
    } finally {
      ctx.fs.remove(tmp);
    }
  },
});

/** The members of tarball `file` (tar -tvf), RC 7 unless they are only the regular files an export writes. */
async function archiveMembers(ctx: Ctx, file: string, timeoutMs: number): Promise<string[]> {
  const r = await ctx.run(['tar', '-tvf', file], { readOnly: true, timeoutMs });
  if (!r.ok) throw toolFailed(`import_state: ${file} is not a readable tarball: ${r.stderr || `exit ${r.exitCode}`}`);
  const names = r.stdout.split('\n').filter((l) => l.trim()).map((l) => {
    // GNU tar -tv: MODE OWNER SIZE DATE TIME NAME; only regular files ('-') with plain names.
    const m = /^(\S)\S*\s+\S+\s+\d+\s+\S+\s+\S+\s+(.+)$/.exec(l);
    if (!m || m[1] !== '-' || !ARCHIVE_FILES.has(m[2]!)) throw refused(`import_state: ${file} holds ${JSON.stringify(l)}: only ${[...ARCHIVE_FILES].join(', ')} as regular files are accepted`);
    return m[2]!;
  });
  if (!names.includes(CATALOG_FILE) || new Set(names).size !== names.length) throw refused(`import_state: ${file} is not an export_state tarball (no ${CATALOG_FILE}, or a name twice)`);
  return names;
}

export const importState = defineVerb({
  name: 'import_state',
  long: true,
  summary: 'add a tarball written by export_state as a Ready saved state of a VM (same memory size; its disk self-contained, no backing file): members checked before anything is extracted',
  params: {
    ...NAME,
    file: { type: 'string', required: true, rule: absHostPath, doc: 'the tarball (a regular file, not a symlink; inside the state folder or REXX_QEMU_PATHS, else RC 7)' },
    snapshot: { ...ID, doc: 'the id here (default state-<unix seconds>[-N]); RC 4 when taken' },
    ...timeout(600_000, 'how long it may take'),
  },
  positional: ['name', 'file'],
  examples: ['import_state name=web-1 file=/srv/web-1.state.tar'],
  vars: { SNAPSHOT: 'the id it got', SIZE: 'bytes on disk' },
  async run(p, ctx) {
    const def = loadVm(ctx, p.name);
    checkHostFile(ctx, `file=${p.file}`, p.file);
    requireInputFile(ctx, p.file, { what: 'import_state', key: 'file' });
    const names = await archiveMembers(ctx, p.file, p.timeout);
    const catalog = statesDir(ctx, p.name);
    const e = await createEntry(ctx, catalog, { kind: QEMU_STATE_KIND, target: p.name, parent: '' }, { id: p.snapshot, prefix: 'state', pid: process.pid });
    const dir = entryDir(catalog, e.id);
    const tmp = ctx.fs.mkdtemp(path.join(catalog, '.import-'));
    try {
      const r = await ctx.run(['tar', '-C', tmp, '-xf', p.file, '--no-same-owner', '--no-same-permissions', '--', ...names], { timeoutMs: p.timeout });
      if (!r.ok) throw toolFailed(`import_state: tar failed: ${r.stderr || `exit ${r.exitCode}`}`);
      const got = ctx.state.read(path.join(tmp, CATALOG_FILE), StateEntrySchema(), 'it is not an export_state tarball');
      return await ctx.effect(async () => {
        if (!got) throw refused(`import_state: ${p.file} has no ${CATALOG_FILE}`);
        const data = qemuData(got);
        if (data.memoryMiB !== def.memoryMiB) throw refused(`import_state: the state was saved with ${data.memoryMiB} MiB of memory; VM ${p.name} has ${def.memoryMiB} MiB`);
        if (!names.includes(data.memory)) throw refused(`import_state: ${p.file} has no ${data.memory}`);
        if (Boolean(data.disk) !== Boolean(def.disk) || (data.disk && (data.disk !== DISK_FILE || !names.includes(DISK_FILE)))) throw refused(`import_state: the state's disk does not fit VM ${p.name}`);
        ctx.fs.rename(path.join(tmp, data.memory), path.join(dir, data.memory));
        let disk = '';
        if (data.disk) {
          disk = path.join(dir, DISK_FILE);
          ctx.fs.rename(path.join(tmp, DISK_FILE), disk);
          // A crafted image could name a backing file anywhere on this host: only a standalone qcow2 is accepted.
          const chain = await imageChain(ctx, disk, { forceShare: true });
          if (chain.length !== 1 || chain[0]!.format !== 'qcow2' || chain[0]!['backing-filename']) throw refused(`import_state: ${DISK_FILE} in ${p.file} is not a standalone qcow2 image`);
        }
        const size = (ctx.fs.stat(path.join(dir, data.memory))?.size ?? 0) + (disk ? (ctx.fs.stat(disk)?.size ?? 0) : 0);
        await transition(ctx, catalog, e.id, 'Ready', { size, data: { ...data, disk, format: disk ? 'qcow2' : '' } });
        return { result: e.id, vars: { SNAPSHOT: e.id, SIZE: size } };
      }, { result: e.id, vars: { SNAPSHOT: e.id, SIZE: 0 } });
    } catch (err) {
      await markInvalid(ctx, catalog, e.id, err instanceof Error ? err.message : String(err));
      throw err;
    } finally {
      ctx.fs.remove(tmp);
    }
  },
});
