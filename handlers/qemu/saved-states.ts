/**
 * Whole VM states kept outside the disk (as the seed's arcbox snapshot manager keeps
 * them), in the shared state catalog (shared/state-catalog.ts) at `vms/NAME/states/`:
 * one directory per state, `snapshot.json`, the device+RAM stream `memory.lz4` /
 * `memory.zst` / `memory.raw` (migration.ts), and the disk.
 *
 * The disk: at a save the guest is paused, the layer it writes to is frozen by QMP
 * `blockdev-snapshot-sync` (a new qcow2 overlay `next.qcow2` in the new state's
 * directory becomes the layer QEMU writes, vm.json `top`), so the state's disk is the
 * layer below, never written again. The next save freezes `next.qcow2` in its turn: each
 * state's disk lives in its parent's directory, and the overlays form the chain.
 * A restore starts QEMU (`-incoming defer`) on a new overlay `restore-<ms>.qcow2` over
 * the state's disk, in that state's directory, then feeds the stream to
 * `migrate-incoming`. vm.json `head` names the state the running disk builds on.
 */
import * as path from 'node:path';
import { notFound, refused, toolFailed } from '../../shared/errors';
import { lazySchema, type Infer } from '../../shared/schema';
import { createEntry, entryDir, listEntries, markInvalid, mustEntry, transition, type StateEntry } from '../../shared/state-catalog';
import type { Ctx } from '../../shared/verb';
import { chooseAccel } from './accel';
import { checkVmFiles } from './hostfiles';
import { activeDiskNode, awaitMigration, COMPRESSORS, feedFrom, listenInto, MEMORY_FILE, vmSocket, type Compress, type MigrateInfo } from './migration';
import { liveness, loadVm, vmPaths, VmDefSchema, withVmLock, type VmDef } from './state';
import { qemuImg } from './tool';
import { guestCannotRun, guestDeadWhy, launch, qmpStatus, stopVm, vmCrashed, vmDied } from './vm';

/** The catalog kind of a QEMU saved state. */
export const QEMU_STATE_KIND = 'qemu';

/** The catalog of VM `name`'s saved states. */
export const statesDir = (ctx: Pick<Ctx, 'env'>, name: string) => path.join(vmPaths(ctx, name).dir, 'states');

/** A QEMU state's own part of snapshot.json (`data`). */
export const QemuStateDataSchema = lazySchema((z) => z.object({
  compress: z.enum(COMPRESSORS),
  /** The memory file, in the state's directory. */
  memory: z.enum(Object.values(MEMORY_FILE) as [string, ...string[]]),
  /** The VM's memory when saved (MiB): a restore needs the same. */
  memoryMiB: z.number().int().min(16),
  /** The frozen disk layer (absolute), or '' for a diskless VM. */
  disk: z.string(),
  format: z.enum(['qcow2', 'raw', '']),
  /** Bytes of the migration stream before compression. */
  streamBytes: z.number().int().min(0),
}));
export type QemuStateData = Infer<typeof QemuStateDataSchema>;

/** The QEMU part of a catalog entry, RC 1 when it is not one of ours or is malformed. */
export function qemuData(e: StateEntry): QemuStateData {
  if (e.kind !== QEMU_STATE_KIND) throw refused(`saved state ${e.id} is a ${e.kind} state, not a QEMU one`);
  const r = QemuStateDataSchema().safeParse(e.data);
  if (!r.success) throw toolFailed(`saved state ${e.id}: its snapshot.json data is malformed (${r.error.issues[0]?.message ?? 'invalid'})`);
  return r.data;
}

/** Rewrite vm.json's top / head (under the VM's lock, which the caller holds). */
async function setTop(ctx: Ctx, name: string, top: string | undefined, head: string | undefined): Promise<void> {
  await ctx.state.update(vmPaths(ctx, name).def, VmDefSchema(), (cur) => {
    if (!cur) throw toolFailed(`VM ${name}: vm.json vanished`);
    const next: VmDef = { ...cur, top, head };
    if (!top) delete next.top;
    if (!head) delete next.head;
    return next;
  });
}

const fileSize = (ctx: Ctx, f: string) => (f ? (ctx.fs.stat(f)?.size ?? 0) : 0);

export interface SaveResult {
  entry: StateEntry;
  info: MigrateInfo;
  memoryBytes: number;
  pausedMs: number;
}

/**
 * Save running VM `name`'s whole state into a new catalog entry: Creating, then
 * pause, freeze the disk layer (blockdev-snapshot-sync), migrate the device+RAM state
 * through the compressor into the memory file, resume (or quit with `stop`), Ready.
 * Any failure marks the entry Invalid (and resumes a guest it paused) and is thrown.
 */
export async function saveVmState(ctx: Ctx, name: string, o: { compress: Compress; stop: boolean; timeoutMs: number; id?: string }): Promise<SaveResult> {
  const paths = vmPaths(ctx, name);
  const sock = vmSocket(paths.dir, 'state.sock');
  return withVmLock(ctx, name, async () => {
    const def = loadVm(ctx, name);
    const l = liveness(ctx, name);
    if (l.kind === 'crashed') throw vmCrashed(ctx, name, l.pid);
    if (l.kind === 'stopped') throw refused(`save_state: VM ${name} is not running (a stopped VM has no state to save)`);
    const catalog = statesDir(ctx, name);
    const data: QemuStateData = { compress: o.compress, memory: MEMORY_FILE[o.compress], memoryMiB: def.memoryMiB, disk: '', format: '', streamBytes: 0 };
    const entry = await createEntry(ctx, catalog, { kind: QEMU_STATE_KIND, target: name, parent: def.head ?? '', data }, { id: o.id, pid: process.pid });
    const dir = entryDir(catalog, entry.id);
    const memory = path.join(dir, data.memory);
    let pausedAt = 0;
    try {
      const out = await ctx.qmp(paths.qmp, async (q) => {
        const status = await qmpStatus(q);
        if (guestCannotRun(status)) throw vmDied(ctx, name, guestDeadWhy(status));
        const wasRunning = status === 'running';
        pausedAt = ctx.clock.monotonic();
        // Paused, the RAM sent and the disk frozen are one instant of the guest.
        if (wasRunning) await q.execute('stop');
        try {
          if (def.disk) {
            data.disk = def.top || def.disk;
            data.format = def.top ? 'qcow2' : def.format;
            const next = path.join(dir, 'next.qcow2');
            await q.execute('blockdev-snapshot-sync', { 'node-name': await activeDiskNode(q), 'snapshot-file': next, 'snapshot-node-name': `disk0-${entry.id}`.slice(0, 31), format: 'qcow2' });
            // QEMU writes to next.qcow2 from now on, whatever happens to the rest of the save.
            await setTop(ctx, name, next, entry.id);
          }
          const stream = await listenInto(ctx, sock, memory, o.compress, o.timeoutMs);
          let info: MigrateInfo;
          try {
            await q.execute('migrate', { uri: `unix:${sock}` });
            info = await awaitMigration(ctx, q, o.timeoutMs, `save_state ${name}: the state to reach ${memory}`);
          } catch (e) {
            await stream.abort();
            throw e;
          }
          const written = await stream.done;
          if (!written.ok) throw toolFailed(`save_state ${name}: writing ${memory} failed: ${written.stderr || `exit ${written.exitCode ?? written.signal}`}`);
          if (wasRunning && !o.stop) await q.execute('cont');
          return { info, wasRunning };
        } catch (e) {
          // The guest goes on as it was (a failed migration leaves it paused).
          if (wasRunning) await q.execute('cont').catch(() => undefined);
          throw e;
        } finally {
          ctx.fs.remove(sock);
        }
      }, 30_000);
      const pausedMs = Math.round(ctx.clock.monotonic() - pausedAt);
      if (o.stop) await stopVm(ctx, name, true, 0);
      const memoryBytes = fileSize(ctx, memory);
      const frozen = data.disk && data.disk.startsWith(catalog) ? fileSize(ctx, data.disk) : 0;
      data.streamBytes = out.info.ram?.transferred ?? 0;
      const ready = await ctx.effect(() => transition(ctx, catalog, entry.id, 'Ready', { size: memoryBytes + frozen, data }), { ...entry, state: 'Ready' as const, data });
      return { entry: ready, info: out.info, memoryBytes, pausedMs };
    } catch (e) {
      await markInvalid(ctx, catalog, entry.id, e instanceof Error ? e.message : String(e));
      throw e;
    }
  });
}

/** The newest Ready state of VM `name` (RC 3 when it has none). */
export function newestReady(ctx: Ctx, name: string): StateEntry {
  const ready = listEntries(ctx, statesDir(ctx, name)).filter((e) => e.state === 'Ready');
  const e = ready[ready.length - 1];
  if (!e) throw notFound(`VM ${name} has no Ready saved state (save_state makes one)`);
  return e;
}

/**
 * Start stopped VM `name` from saved state `id`: a new overlay on the state's disk,
 * QEMU with `-incoming defer`, the memory file fed to `migrate-incoming`, then `cont`
 * when the state was saved from a running guest. RC 7 when the VM runs, the state is
 * not Ready, or the VM's memory differs from the state's. On failure the new QEMU quits.
 */
export async function restoreVmState(ctx: Ctx, name: string, id: string, timeoutMs: number): Promise<{ pid: number; accel: string; status: string; loadMs: number }> {
  const paths = vmPaths(ctx, name);
  const catalog = statesDir(ctx, name);
  const sock = vmSocket(paths.dir, 'state.sock');
  return withVmLock(ctx, name, async () => {
    const def = loadVm(ctx, name);
    const entry = mustEntry(ctx, catalog, id, { ready: true });
    const data = qemuData(entry);
    if (data.memoryMiB !== def.memoryMiB) throw refused(`restore_state: state ${id} was saved with ${data.memoryMiB} MiB of memory; VM ${name} has ${def.memoryMiB} MiB`);
    if (Boolean(data.disk) !== Boolean(def.disk)) throw refused(`restore_state: state ${id} ${data.disk ? 'has' : 'has no'} disk; VM ${name} ${def.disk ? 'has' : 'has no'} disk`);
    const l = liveness(ctx, name);
    if (l.kind === 'running') throw refused(`restore_state: VM ${name} is running; stop it first (or give force=true)`);
    const memory = path.join(entryDir(catalog, id), data.memory);
    if (!ctx.fs.exists(memory)) {
      await markInvalid(ctx, catalog, id, `${memory} is missing`);
      throw refused(`restore_state: ${memory} is missing; state ${id} is now Invalid`);
    }
    let top: string | undefined;
    if (data.disk) {
      if (!ctx.fs.exists(data.disk)) throw refused(`restore_state: the disk of state ${id} (${data.disk}) is missing`);
      top = path.join(entryDir(catalog, id), `restore-${ctx.clock.now()}.qcow2`);
      await qemuImg(ctx, ['create', '-q', '-f', 'qcow2', '-F', data.format || 'qcow2', '-b', data.disk, top]);
    }
    const old = def.top;
    const next: VmDef = { ...def, top, head: id };
    await checkVmFiles(ctx, next);
    const accel = await chooseAccel(ctx, def.accel);
    const t0 = ctx.clock.monotonic();
    try {
      await launch(ctx, next, accel.accel, undefined, { incoming: 'defer' });
      const status = await ctx.qmp(paths.qmp, async (q) => {
        await q.execute('migrate-incoming', { uri: `unix:${sock}` });
        const fed = await feedFrom(ctx, memory, data.compress, sock, timeoutMs);
        if (!fed.ok) throw toolFailed(`restore_state ${name}: feeding ${memory} failed: ${fed.stderr || `exit ${fed.exitCode ?? fed.signal}`}`);
        await awaitMigration(ctx, q, timeoutMs, `restore_state ${name}: the incoming state to load`);
        // Saved paused (save_state pauses the guest): it runs again here.
        if ((await qmpStatus(q)) === 'paused') await q.execute('cont');
        return qmpStatus(q);
      }, 30_000);
      await setTop(ctx, name, top, id);
      // The layer the VM ran on before, unless a saved state froze it, is the discarded present.
      const frozen = new Set(listEntries(ctx, catalog).map((e) => String(e.data.disk ?? '')));
      if (old && old !== top && !frozen.has(old)) ctx.fs.remove(old);
      const pid = liveness(ctx, name);
      return { pid: pid.kind === 'running' ? pid.pid : 0, accel: accel.accel, status, loadMs: Math.round(ctx.clock.monotonic() - t0) };
    } catch (e) {
      await stopVm(ctx, name, true, 0).catch(() => undefined);
      if (top) ctx.fs.remove(top);
      throw e;
    }
  });
}
