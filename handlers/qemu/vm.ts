/**
 * Starting and stopping one VM. `start` runs qemu-system as a daemon (`-daemonize`,
 * so the runner returns once QEMU has set up its devices, QMP socket and pidfile),
 * then talks QMP. Stopping is QMP `system_powerdown`, then `quit` at the deadline.
 */
import { AddressError, classify, isReason, refused, toolFailed } from '../../shared/errors';
import type { PollOptions } from '../../shared/poll';
import type { Ctx, VerbOutput } from '../../shared/verb';
import { chooseAccel, QEMU_SYSTEM } from './accel';
import { waitAgent, waitCloudInit } from './agent';
import { checkVmFiles } from './hostfiles';
import { checkDeviceFiles, deviceArgv } from './devices';
import { dropTaps, ipv4Sources, makeTaps, networkArgv, readIpv4, waitIpv4 } from './network';
import { QEMU_ERRORS } from './errors';
import { openFiles } from '../../shared/proc-tree';
import type { Qmp } from '../../shared/qmp';
import { isVmProcess, liveness, loadRun, loadVm, serialNote, serialTail, vmPaths, withVmLock, type Liveness, type RunInfo, type VmDef } from './state';

/** QMP statuses of a guest that can no longer run while QEMU stays up (qapi/run-state.json): RC 1. */
export const GUEST_DEAD = new Set(['internal-error', 'guest-panicked', 'io-error']);

/** A guest that can no longer run: {@link GUEST_DEAD}, or shut down (QEMU runs with -no-reboot, so it is exiting). */
export const guestCannotRun = (s: string) => GUEST_DEAD.has(s) || s === 'shutdown';

/** Why a guest in QMP status `s` (one of {@link GUEST_DEAD}, or shutdown) is dead, for ERRORTEXT. */
export const guestDeadWhy = (s: string) => `the guest stopped with QMP status ${s}${s === 'internal-error' ? ' (a KVM internal error: try accel=tcg)' : ''}`;

/**
 * Poll until `condition()` is true (through ctx.poll): true when it became true, false
 * at the deadline (the caller decides what a timeout means). Under dryrun ctx.poll
 * answers at once, and this says true: the state waited for is the planned one.
 */
export async function waitUntil(ctx: Pick<Ctx, 'poll'>, condition: () => boolean | Promise<boolean>, o: Omit<PollOptions, 'what'>): Promise<boolean> {
  try {
    await ctx.poll(async () => ((await condition()) ? true : undefined), { ...o, what: 'a condition' });
    return true;
  } catch (e) {
    if (isReason(e, 'timedOut')) return false;
    throw e;
  }
}

/** How a launch differs from a plain start (restore_state, migrate). */
export interface LaunchOptions {
  /** `-incoming URI` (restore_state and migrate use `defer`, then QMP migrate-incoming). */
  incoming?: string;
  /** Append to the serial log instead of truncating it (a migrated guest goes on writing it). */
  appendSerial?: boolean;
}

/** The qemu-system argv for a VM definition (pure; the unit tests check it). */
export function qemuArgv(def: VmDef, paths: Pick<ReturnType<typeof vmPaths>, 'dir' | 'pid' | 'qmp' | 'qga' | 'serial'>, accel: 'kvm' | 'tcg', loadvm?: string, o: LaunchOptions = {}): string[] {
  const a = [
    QEMU_SYSTEM, '-name', def.name, '-machine', 'pc', '-accel', accel,
    '-m', String(def.memoryMiB), '-smp', String(def.cpus),
    '-display', 'none', '-nodefaults', '-no-reboot',
    '-daemonize', '-pidfile', paths.pid,
    '-qmp', `unix:${paths.qmp},server=on,wait=off`,
    ...(o.appendSerial ? ['-chardev', `file,id=serial0,path=${paths.serial},append=on`, '-serial', 'chardev:serial0'] : ['-serial', `file:${paths.serial}`]),
  ];
  if (def.disk) {
    // A saved state's overlay (def.top, qcow2) runs in place of the disk it builds on.
    const disk = def.top || def.disk;
    const proto = disk.startsWith('/dev/') ? 'host_device' : 'file';
    a.push('-blockdev', `driver=${proto},filename=${disk},node-name=disk0-file`);
    a.push('-blockdev', `driver=${def.top ? 'qcow2' : def.format || 'qcow2'},file=disk0-file,node-name=disk0`);
    a.push('-device', 'virtio-blk-pci,drive=disk0');
  }
  if (def.kernel) a.push('-kernel', def.kernel);
  if (def.initrd) a.push('-initrd', def.initrd);
  if (def.append) a.push('-append', def.append);
  a.push(...networkArgv(def, paths.dir));
  a.push(...deviceArgv(def));
  if (def.agent !== false) {
    // The guest agent's channel: qemu-ga in the guest opens /dev/virtio-ports/org.qemu.guest_agent.0.
    a.push('-chardev', `socket,path=${paths.qga},server=on,wait=off,id=qga0`);
    a.push('-device', 'virtio-serial-pci,id=qga-serial0', '-device', 'virtserialport,bus=qga-serial0.0,chardev=qga0,name=org.qemu.guest_agent.0');
  }
  if (def.seed) {
    // cloud_init's NoCloud seed (volume label cidata), read-only on its own IDE CD drive.
    a.push('-blockdev', `driver=file,filename=${def.seed},node-name=seed0,read-only=on`);
    a.push('-device', 'ide-cd,drive=seed0,id=seed0-cd');
  }
  if (loadvm) a.push('-loadvm', loadvm);
  if (o.incoming) a.push('-incoming', o.incoming);
  return a;
}

/**
 * Remove what a killed QEMU left behind (pidfile, socket), unless a QEMU runs there
 * now. Call it holding the VM's lock (withVmLock), so a start in another process
 * cannot launch between the check and the removal and lose its own pidfile.
 */
export function clearStale(ctx: Ctx, name: string): void {
  if (liveness(ctx, name).kind === 'running') return;
  removeRunFiles(ctx, name);
}

/** Remove what a run of VM `name` leaves (pidfile, QMP and agent sockets, migrate's numbered ones), whether or not its QEMU is still there. */
function removeRunFiles(ctx: Ctx, name: string): void {
  const p = vmPaths(ctx, name);
  for (const f of [p.pid, p.qmp, p.qga]) ctx.fs.remove(f);
  // What a killed QEMU started by migrate left (qemu.pid.K, qmp.sock.K: its own names).
  for (const k of [1, 2, 3]) for (const f of [`${p.pid}.${k}`, `${p.qmp}.${k}`, `${p.qga}.${k}`]) ctx.fs.remove(f);
}

/** RC 1 for a VM whose QEMU is gone or whose guest can no longer run, with the serial tail. */
export function vmDied(ctx: Ctx, name: string, why: string): AddressError {
  return toolFailed(`VM ${name}: ${why}${serialNote(ctx, name)}`, { vars: { STATUS: 'crashed' } });
}

/** RC 1 for a VM whose pidfile outlived its QEMU (liveness 'crashed'), with the serial tail. */
export const vmCrashed = (ctx: Ctx, name: string, pid: number): AddressError => vmDied(ctx, name, `QEMU (pid ${pid}) is gone: it crashed or was killed`);

/**
 * After a QMP call failed: wait up to `ms` for QEMU to finish exiting and say how it
 * ended. A normal exit removes the pidfile (stopped); a pidfile left without its
 * process means killed/crashed; still running means the failure was QMP's own.
 */
export async function settle(ctx: Ctx, name: string, ms = 2000): Promise<Liveness['kind']> {
  await waitUntil(ctx, () => liveness(ctx, name).kind !== 'running', { timeoutMs: ms, initialMs: 10, maxMs: 50 });
  const l = liveness(ctx, name);
  if (l.kind === 'running' && stuckInExit(ctx, name, l.pid)) {
    await withVmLock(ctx, name, async () => {
      // (a parallel call may have ended it meanwhile)
      const now = liveness(ctx, name);
      if (now.kind !== 'running' || now.pid !== l.pid) return;
      ctx.log(`qemu ${name}: QEMU (pid ${l.pid}) is stuck in its own exit after the guest powered off (QMP does not answer; its disks are closed): ending it with SIGKILL`);
      // Its files go first, so that a parallel look sees it stopped, never killed (crashed).
      removeRunFiles(ctx, name);
      ctx.signal.kill(l.pid, 'SIGKILL');
    });
    await waitUntil(ctx, () => !isVmProcess(ctx, name, l.pid), { timeoutMs: 5000, initialMs: 10, maxMs: 50 });
    return ctx.effect(() => liveness(ctx, name).kind, 'stopped' as Liveness['kind']);
  }
  return l.kind;
}

/** The kernel's last line when a Linux guest powers off, halts or reboots (kernel/reboot.c; QEMU runs with -no-reboot, so each ends QEMU). */
const GUEST_OFF_LINE = /reboot: (Power down|System halted|Restarting system)\s*$/;

/**
 * True when VM `name`'s QEMU (`pid`, alive, its QMP not answering) is stuck in its own
 * exit: the guest's last serial line is the kernel's power-off line, and QEMU holds no
 * regular file open but its serial log and pidfile — its disks are closed, which QEMU
 * does in qemu_cleanup() before monitor_cleanup(). QEMU 7.2 can hang there for good
 * when a QMP client sends a command while it shuts down (gdb: qemu_cleanup →
 * monitor_cleanup → aio_poll); measured here with a `state` poll racing a guest's
 * poweroff under heavy page-cache writeback. Killing it then loses nothing.
 */
function stuckInExit(ctx: Ctx, name: string, pid: number): boolean {
  const tail = serialTail(ctx, name, 1)[0] ?? '';
  if (!GUEST_OFF_LINE.test(tail)) return false;
  const p = vmPaths(ctx, name);
  // a disk or any other file still open: not that far in its exit
  return openFiles(ctx, pid).every((f) => f === p.serial || f === p.pid);
}

/**
 * Run qemu-system for `def` and record the run in run.json (replaced: it describes
 * only the current run); returns ms until QEMU daemonized. Classifies a failed launch
 * (RC 1/3/7…). Call it holding the VM's lock.
 */
export async function launch(ctx: Ctx, def: VmDef, accel: 'kvm' | 'tcg', loadvm?: string, o: LaunchOptions & { beside?: { pid: string; qmp: string; qga: string } } = {}): Promise<number> {
  // beside: a second QEMU of the VM (migrate's incoming one) with its own pidfile and
  // QMP socket, next to the running one; the caller records its run after the switch.
  const paths = { ...vmPaths(ctx, def.name), ...o.beside };
  const argv = qemuArgv(def, paths, accel, loadvm, o);
  if (!o.beside) clearStale(ctx, def.name);
  if (!o.appendSerial) ctx.fs.writeText(paths.serial, '');
  // (beside: the incoming QEMU of a migration cannot open the taps the running one holds)
  if (!o.beside) await makeTaps(ctx, def, paths.dir);
  const r = await ctx.run(argv, { timeoutMs: 60_000 });
  if (!r.ok) {
    if (!o.beside) await dropTaps(ctx, def, paths.dir).catch(() => undefined);
    const e = classify(r, QEMU_ERRORS);
    throw new AddressError(e.kind, `start ${def.name}: ${e.message}`, { cause: r, reason: e.reason });
  }
  if (!o.beside) ctx.state.write(paths.run, { accel, startedAt: ctx.clock.now(), argv } satisfies RunInfo);
  return r.durationMs;
}

/** The QMP status of a running VM (`query-status`). */
export async function qmpStatus(q: Qmp): Promise<string> {
  return (await q.execute<{ status: string }>('query-status')).status;
}

/**
 * Wait until QMP says `running`; RC 1 when QEMU goes away or the guest is in a dead
 * state (internal-error: typically a broken KVM), RC 5 at the deadline.
 */
export async function waitRunning(ctx: Ctx, name: string, timeoutMs: number): Promise<string> {
  const paths = vmPaths(ctx, name);
  const r = await ctx.poll(
    async () => {
      const l = liveness(ctx, name);
      if (l.kind !== 'running') throw vmDied(ctx, name, 'QEMU exited while starting');
      const s = await ctx.qmp(paths.qmp, qmpStatus, Math.min(timeoutMs, 10_000)).catch(async (e) => {
        // The socket failing, gone or refused (RC 6): QEMU may be exiting; look closer.
        if (!isReason(e, 'toolFailed', 'unavailable')) throw e;
        if ((await settle(ctx, name)) !== 'running') throw vmDied(ctx, name, 'QEMU exited while starting');
        return undefined; // QMP hiccup on a live QEMU: ask again
      });
      if (s === undefined) return undefined;
      if (guestCannotRun(s)) throw vmDied(ctx, name, guestDeadWhy(s));
      return s === 'running' ? s : undefined;
    },
    { timeoutMs, what: `VM ${name} to be running (QMP query-status)`, initialMs: 5, maxMs: 50 },
  );
  return r.value ?? 'running';
}

/**
 * Wait until the serial log contains `text`; RC 1 when QEMU exits (or the guest dies)
 * before it appears, RC 5 at the deadline.
 */
export async function waitSerial(ctx: Ctx, name: string, text: string, timeoutMs: number): Promise<void> {
  const paths = vmPaths(ctx, name);
  let checks = 0;
  let offset = 0;
  let carry = '';
  // Look only at what was appended since the last probe; keep a tail so TEXT split across reads is found.
  const seen = () => {
    const size = ctx.fs.stat(paths.serial)?.size ?? 0;
    if (size <= offset) return false;
    const b = (ctx.fs.readHead(paths.serial, size) ?? Buffer.alloc(0)).subarray(offset);
    offset += b.length;
    const chunk = carry + b.toString('utf8');
    carry = chunk.slice(-text.length);
    return chunk.includes(text);
  };
  await ctx.poll(
    async () => {
      if (seen()) return true;
      if (liveness(ctx, name).kind !== 'running') {
        if (seen()) return true;
        throw vmDied(ctx, name, `QEMU exited before the guest printed ${JSON.stringify(text)}`);
      }
      if (++checks % 25 === 0) {
        // No answer: QEMU may be exiting (or stuck in its exit: settle ends that); the next probe sees it gone.
        const s = await ctx.qmp(paths.qmp, qmpStatus, 5_000).catch(async () => ((await settle(ctx, name)) === 'running' ? 'running' : 'gone'));
        if (guestCannotRun(s)) throw vmDied(ctx, name, `the guest stopped with QMP status ${s}`);
      }
      return undefined;
    },
    { timeoutMs, what: `VM ${name} to print ${JSON.stringify(text)} on its serial console`, maxMs: 20 },
  );
}

/**
 * Stop a running VM: `system_powerdown` and wait up to `timeoutMs` for QEMU to exit,
 * then `quit`; force=true quits at once. A QEMU that ignores quit is killed (SIGKILL).
 * Returns how it ended: powerdown, quit or kill. What a killed QEMU leaves behind is
 * the caller's to clear (clearStale, under the VM's lock). The agent session the handler
 * kept for the VM is closed first (ctx.qga.drop).
 */
export async function stopVm(ctx: Ctx, name: string, force: boolean, timeoutMs: number): Promise<'powerdown' | 'quit' | 'kill'> {
  const paths = vmPaths(ctx, name);
  // The guest agent session this handler keeps for the VM goes with its QEMU.
  ctx.qga.drop?.(paths.qga);
  const l0 = liveness(ctx, name);
  const pid = l0.kind === 'running' ? l0.pid : 0;
  // QEMU removes its pidfile before it has finished exiting (and let go of its disks):
  // gone is when the process is gone too.
  const gone = () => liveness(ctx, name).kind !== 'running' && !(pid && isVmProcess(ctx, name, pid));
  const waitGone = (ms: number) => waitUntil(ctx, gone, { timeoutMs: ms, initialMs: 10, maxMs: 50 });
  if (!force) {
    await ctx.qmp(paths.qmp, (q) => q.execute('system_powerdown')).catch(() => undefined);
    if (await waitGone(timeoutMs)) return 'powerdown';
  }
  await ctx.qmp(paths.qmp, (q) => q.execute('quit'), 5_000).catch(() => undefined);
  if (await waitGone(10_000)) return 'quit';
  if (pid && isVmProcess(ctx, name, pid)) ctx.signal.kill(pid, 'SIGKILL');
  await waitGone(5_000);
  return 'kill';
}

/**
 * Start VM `name` and wait as asked; the vars start and clone_from_base report. The
 * check and the launch hold the VM's lock, so of parallel starts one launches QEMU and
 * the others find it running (ALREADY=1); the wait runs outside the lock.
 */
export async function startVm(ctx: Ctx, name: string, wait: string, timeoutMs: number, o: { loadvm?: string; afterStop?: boolean } = {}): Promise<VerbOutput> {
  const t0 = ctx.clock.monotonic();
  const launched = await withVmLock(ctx, name, async () => {
    const def = loadVm(ctx, name);
    if ((wait === 'agent' || wait === 'cloud-init') && def.agent === false) throw refused(`start wait=${wait}: VM ${name} has no guest agent channel (it was created with agent=false)`);
    // Right after this call stopped it, the VM's state is read back from that stop: stopped, as planned under dryrun.
    const l = o.afterStop ? await ctx.effect(() => liveness(ctx, name), { kind: 'stopped' } as Liveness) : liveness(ctx, name);
    if (l.kind === 'running') {
      const accel = loadRun(ctx, name)?.accel ?? '';
      // wait=ip on a running VM: its address now, from the agent or its lease (RC 2 when it has neither source).
      const now = wait === 'ip' ? await readIpv4(ctx, def) : undefined;
      const ip = wait === 'ip' ? { IPV4: now?.ipv4 ?? '', IP_SOURCE: now?.source ?? '' } : {};
      return { result: 'running', vars: { STATUS: 'running', PID: l.pid, ACCEL: accel, ALREADY: 1, START_MS: 0, QMP_MS: 0, READY_MS: 0, ...ip } };
    }
    if (l.kind === 'crashed') clearStale(ctx, name);
    if (wait === 'ip') ipv4Sources(ctx, def); // RC 2 before launching when the VM has no address source
    await checkVmFiles(ctx, def);
    checkDeviceFiles(ctx, def);
    const accel = await chooseAccel(ctx, def.accel);
    ctx.log(`qemu ${name}: accel ${accel.accel} (${accel.why})`);
    await launch(ctx, def, accel.accel, o.loadvm);
    return accel;
  });
  if ('result' in launched) {
    // Already running: what wait= asks of the guest (its serial text, its agent, cloud-init) is still waited for.
    if (!(wait.startsWith('serial:') || wait === 'agent' || wait === 'cloud-init')) return launched;
    const vars = { ...launched.vars };
    return ctx.effect(() => waitGuest(ctx, name, wait, timeoutMs, vars, t0), launched);
  }
  const accel = launched;
  const vars: Record<string, unknown> = { ACCEL: accel.accel, ACCEL_REASON: accel.why, ALREADY: 0, QMP_MS: 0, READY_MS: 0 };
  // The waits read back the QEMU just launched: under dryrun there is none, and the plan is 'started'.
  return ctx.effect(() => waitStarted(ctx, name, wait, timeoutMs, vars, t0), { result: 'started', vars });
}

/** After a launch: wait as `wait` says, and the vars start reports. */
async function waitStarted(ctx: Ctx, name: string, wait: string, timeoutMs: number, vars: Record<string, unknown>, t0: number): Promise<VerbOutput> {
  const ms = () => Math.round(ctx.clock.monotonic() - t0);
  const pid = liveness(ctx, name);
  vars.PID = pid.kind === 'running' ? pid.pid : 0;
  const left = () => Math.max(1000, timeoutMs - ms());
  let status = 'started';
  if (wait !== 'none') {
    try {
      status = await waitRunning(ctx, name, left());
      vars.QMP_MS = ms();
    } catch (e) {
      // A guest that printed what we wait for and powered off at once is a success.
      if (!wait.startsWith('serial:')) throw e;
    }
  }
  return waitGuest(ctx, name, wait, timeoutMs, vars, t0, status);
}

/**
 * The waits on the guest itself (wait=serial:TEXT, wait=ip, wait=agent, wait=cloud-init),
 * for a VM just launched or already running; READY_MS / AGENT_MS / CLOUD_INIT_MS are ms since `t0`.
 */
async function waitGuest(ctx: Ctx, name: string, wait: string, timeoutMs: number, vars: Record<string, unknown>, t0: number, status = 'running'): Promise<VerbOutput> {
  const ms = () => Math.round(ctx.clock.monotonic() - t0);
  const left = () => Math.max(1000, timeoutMs - ms());
  if (wait.startsWith('serial:')) {
    // The serial log holds this run's output from its start: text printed before the call counts.
    await waitSerial(ctx, name, wait.slice('serial:'.length), left());
    vars.READY_MS = ms();
    status = liveness(ctx, name).kind === 'running' ? 'running' : 'stopped';
  }
  if (wait === 'ip') {
    // The guest agent's answer, else the DHCP lease on its bridge (network.ts).
    const ip = await waitIpv4(ctx, loadVm(ctx, name), left(), () => liveness(ctx, name).kind === 'running');
    vars.IPV4 = ip.ipv4;
    vars.IP_SOURCE = ip.source;
    vars.READY_MS = ms();
  }
  if (wait === 'agent' || wait === 'cloud-init') {
    await waitAgent(ctx, name, left());
    vars.AGENT_MS = ms();
    if (wait === 'cloud-init') {
      vars.CLOUD_INIT = await waitCloudInit(ctx, name, left());
      vars.CLOUD_INIT_MS = ms();
    }
  }
  return { result: status, vars: { ...vars, STATUS: status, START_MS: ms() } };
}
