/**
 * Where everything lives. The state directory (default /var/lib/rexx-address/qemu,
 * override with env REXX_QEMU_DIR) holds `images/` (disks `X.qcow2` / `X.raw`, base
 * records `X.base.json`), `vms/NAME/` (definition `vm.json`, `qemu.pid`, QMP socket
 * `qmp.sock`, serial log `serial.log`, `run.json` for the current run) and `locks/`.
 * Everything a later process needs is on disk; nothing is kept in memory. Every JSON
 * file goes through ctx.state (shared/state-file.ts): read against a zod schema (a corrupt file is
 * RC 1 naming it and never overwritten), written atomically, changed under a lock.
 */
import * as path from 'node:path';
import { lazySchema, type Infer } from '../../shared/schema';
import { notFound, usageError } from '../../shared/errors';
import { type NameRule } from '../../shared/names';
import { deviceId, forwardRule, macRule, networkRule, nicId, qemuName } from './names';
import { CorruptStateError } from '../../shared/state-file';
import type { Ctx } from '../../shared/verb';
import { absPath } from './params';

/** What reading the state folder needs: the env (where it is), host files and state files. */
export type Host = Pick<Ctx, 'env' | 'fs' | 'state'>;

export const DEFAULT_STATE_DIR = '/var/lib/rexx-address/qemu';
/** Longest unix socket path Linux accepts (sun_path is 108 bytes with the NUL). */
const MAX_SOCKET_PATH = 107;

/** A string that passes a shared naming rule (the same rule the parameter had), for schemas. */
export const ruled = (z: typeof import('zod').z, rule: NameRule) =>
  z.string().superRefine((v, c) => {
    const why = rule.check(v);
    if (why) c.addIssue({ code: 'custom', message: `not a valid ${rule.label}: ${why}` });
  });
/** A VM definition as kept in vms/NAME/vm.json (written once, by create or clone_from_base). */
export const VmDefSchema = lazySchema((z) => {
  const pathOrNone = z.union([z.literal(''), ruled(z, absPath)]);
  return z.object({
  name: ruled(z, qemuName),
  /** Absolute path of the disk, or '' for a diskless (kernel+initrd) VM. */
  disk: pathOrNone,
  format: z.enum(['qcow2', 'raw', '']),
  /** The registered base the disk is an overlay of, or ''. */
  base: z.union([z.literal(''), ruled(z, qemuName)]),
  /** Memory in MiB. */
  memoryMiB: z.number().int().min(16),
  cpus: z.number().int().min(1).max(64),
  kernel: pathOrNone,
  initrd: pathOrNone,
  append: z.string(),
  accel: z.enum(['auto', 'kvm', 'tcg']),
  /** none, user, or bridge:BRIDGE (network.ts). */
  network: z.union([z.enum(['none', 'user']), ruled(z, networkRule)]),
  /** A guest agent channel (virtio-serial port org.qemu.guest_agent.0 on vms/NAME/qga.sock); absent (older vm.json) means true. */
  agent: z.boolean().optional(),
  /** The cloud-init NoCloud seed ISO (cidata) attached as a CD drive, or absent; written by cloud_init. */
  seed: ruled(z, absPath).optional(),
  /** ISO 8601. */
  created: z.string(),
  /** The MAC of its own NIC (network.ts makeMac), stable across restarts; absent for network=none and VMs made before. */
  mac: ruled(z, macRule).optional(),
  /** network=user port forwards, tcp:HOSTPORT:GUESTPORT (hostfwd on 127.0.0.1). */
  forward: z.array(ruled(z, forwardRule)).optional(),
  /** NICs added by nic_add, kept across restarts. */
  nics: z.array(z.object({ id: ruled(z, nicId), network: ruled(z, networkRule), mac: ruled(z, macRule), forward: z.array(ruled(z, forwardRule)).optional() })).optional(),
  /** Disks attached by disk_attach, kept across restarts (devices.ts). */
  disks: z.array(z.object({ id: ruled(z, deviceId), disk: ruled(z, absPath), format: z.enum(['qcow2', 'raw']) })).optional(),
  /** The ISO image in its CD drive (attach_iso), kept across restarts; '' or absent: no CD drive at start. */
  cdrom: z.union([z.literal(''), ruled(z, absPath)]).optional(),
  /**
   * The qcow2 overlay QEMU runs on instead of `disk` (its backing chain ends at `disk`):
   * save_state froze the layer below it, restore_state made it over a saved state's
   * disk. Absent: `disk` itself.
   */
  top: ruled(z, absPath).optional(),
  /** The saved state (save_state / restore_state) the current `top` builds on; absent: none. */
  head: z.string().optional(),
  });
});
export type VmDef = Infer<typeof VmDefSchema>;

/** What start records about the current run (vms/NAME/run.json, replaced by each start). */
export const RunInfoSchema = lazySchema((z) => z.object({
  accel: z.enum(['kvm', 'tcg']),
  /** Epoch ms. */
  startedAt: z.number(),
  argv: z.array(z.string()),
}));
export type RunInfo = Infer<typeof RunInfoSchema>;

/** The state directory from the handler's env: absolute, no commas (QEMU option separators), else RC 2. */
export function stateDir(ctx: Pick<Ctx, 'env'>): string {
  const d = ctx.env.REXX_QEMU_DIR || DEFAULT_STATE_DIR;
  if (!path.isAbsolute(d) || d.includes(',') || /[\u0000-\u001f]/.test(d)) {
    throw usageError(`REXX_QEMU_DIR=${JSON.stringify(d)} must be an absolute path without commas or control characters`);
  }
  return path.resolve(d);
}

export const imagesDir = (ctx: Pick<Ctx, 'env'>) => path.join(stateDir(ctx), 'images');
export const vmsDir = (ctx: Pick<Ctx, 'env'>) => path.join(stateDir(ctx), 'vms');

/** Paths of one VM's files. */
export function vmPaths(ctx: Pick<Ctx, 'env'>, name: string) {
  const dir = path.join(vmsDir(ctx), name);
  const p = {
    dir,
    def: path.join(dir, 'vm.json'),
    pid: path.join(dir, 'qemu.pid'),
    qmp: path.join(dir, 'qmp.sock'),
    /** The guest agent's chardev socket (QGA). */
    qga: path.join(dir, 'qga.sock'),
    serial: path.join(dir, 'serial.log'),
    run: path.join(dir, 'run.json'),
  };
  if (p.qmp.length > MAX_SOCKET_PATH) {
    throw usageError(`the QMP socket path ${p.qmp} is longer than ${MAX_SOCKET_PATH} bytes: use a shorter name or REXX_QEMU_DIR`);
  }
  return p;
}

/** The path of disk NAME in the images folder: `NAME.qcow2`, or `NAME.raw` when that exists. */
export function diskPath(ctx: Pick<Ctx, 'env' | 'fs'>, name: string, format?: 'qcow2' | 'raw'): string {
  const dir = imagesDir(ctx);
  if (format) return path.join(dir, `${name}.${format}`);
  const raw = path.join(dir, `${name}.raw`);
  return ctx.fs.exists(raw) ? raw : path.join(dir, `${name}.qcow2`);
}

/** A disk given as `name=` (in the images folder) or `disk=` (explicit absolute path); RC 2 when neither or both. */
export function resolveDisk(ctx: Pick<Ctx, 'env' | 'fs'>, p: { name?: string; disk?: string }, verb: string): string {
  if (p.name && p.disk) throw usageError(`${verb}: give name= (a disk in the images folder) or disk= (a path), not both`);
  if (p.disk) return p.disk;
  if (p.name) return diskPath(ctx, p.name);
  throw usageError(`${verb}: give name= (a disk in the images folder) or disk= (an absolute path)`);
}

/** How to repair a corrupt vm.json, for the RC 1 message. */
const vmRepair = (file: string, name: string) =>
  `fix it by hand, or remove the VM with "delete name=${name} force=true" (its folder goes, a disk it names is kept)`;

/**
 * The VM's definition: RC 3 when it has none, RC 1 ({@link CorruptStateError}, naming
 * vm.json and how to repair it) when vm.json does not parse, fails the schema, or names
 * another VM.
 */
export function loadVm(ctx: Host, name: string): VmDef {
  const file = vmPaths(ctx, name).def;
  const def = ctx.state.read(file, VmDefSchema(), vmRepair(file, name));
  if (!def) throw notFound(`VM ${name} not found (no ${file})`);
  if (def.name !== name) throw new CorruptStateError(file, `name: "${def.name}" is not the folder's name "${name}"`, vmRepair(file, name));
  return def;
}

/** The record of the current run, or undefined; RC 1 when run.json is corrupt. */
export function loadRun(ctx: Host, name: string): RunInfo | undefined {
  const file = vmPaths(ctx, name).run;
  return ctx.state.read(file, RunInfoSchema(), `it only describes the current run: stop the VM (stop name=${name} force=true) and start it again, which writes it anew`);
}

/**
 * Run `fn` holding VM `name`'s lock (`<state>/locks/vm-NAME.lock`, outside the VM's
 * folder so that delete can remove the folder while holding it): creating, starting,
 * clearing a stopped run and deleting take it, so none of them sees another half done.
 * Waits up to 30 s for another holder (then RC 5). Under dryrun nothing is locked.
 */
export function withVmLock<R>(ctx: Pick<Ctx, 'env' | 'state'>, name: string, fn: () => Promise<R> | R): Promise<R> {
  return ctx.state.lock(path.join(stateDir(ctx), 'locks', `vm-${name}`), fn);
}

/** Names of all defined VMs, sorted. */
export function vmNames(ctx: Pick<Ctx, 'env' | 'fs'>): string[] {
  return ctx.fs.list(vmsDir(ctx)).filter((n) => ctx.fs.exists(path.join(vmsDir(ctx), n, 'vm.json')));
}

/** How a VM's process stands: running (pid alive), crashed (pidfile left by a QEMU that died), or stopped. */
export type Liveness = { kind: 'running'; pid: number } | { kind: 'crashed'; pid: number } | { kind: 'stopped' };

/**
 * QEMU deletes its pidfile and QMP socket when it exits normally; a pidfile whose
 * process is gone (or is no longer that QEMU) means it was killed or crashed.
 */
export function liveness(ctx: Pick<Ctx, 'env' | 'fs'>, name: string): Liveness {
  const text = ctx.fs.readText(vmPaths(ctx, name).pid);
  if (text === undefined) return { kind: 'stopped' };
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 0) return { kind: 'crashed', pid: 0 };
  return isVmProcess(ctx, name, pid) ? { kind: 'running', pid } : { kind: 'crashed', pid };
}

/** True while process `pid` is VM `name`'s QEMU (its command line names the VM's QMP socket; an exited one has none). */
export function isVmProcess(ctx: Pick<Ctx, 'env' | 'fs'>, name: string, pid: number): boolean {
  // No /proc/PID: the process is gone.
  return ctx.fs.readText(`/proc/${pid}/cmdline`)?.includes(vmPaths(ctx, name).qmp) ?? false;
}

/** The last `n` lines of the serial log, escape sequences and \r removed. */
export function serialTail(ctx: Pick<Ctx, 'env' | 'fs'>, name: string, n = 10): string[] {
  const tail = ctx.fs.readTail(vmPaths(ctx, name).serial, 64 * 1024);
  if (!tail) return [];
  const lines = cleanSerial(tail.toString('utf8')).split('\n').filter((l) => l.trim() !== '');
  return lines.slice(-n);
}

/** Serial text without ANSI/VT escape sequences and carriage returns. */
export function cleanSerial(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]|\x1b[A-Za-z]/g, '').replace(/\r/g, '');
}

/** " — last serial lines: …" for ERRORTEXT, or '' when the log is empty. */
export function serialNote(ctx: Pick<Ctx, 'env' | 'fs'>, name: string, n = 5): string {
  const t = serialTail(ctx, name, n);
  return t.length ? ` — last serial lines: ${t.join(' | ')}` : ' — the serial log is empty';
}
