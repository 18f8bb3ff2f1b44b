/**
 * Talking to qemu-ga, the QEMU guest agent inside a VM, over the VM's agent socket
 * (vms/NAME/qga.sock, a virtserialport named org.qemu.guest_agent.0; see vm.ts
 * qemuArgv). The protocol is QMP's framing (shared/qmp.ts Qmp.connectAgent, which
 * synchronises with `guest-sync-delimited`); the commands are the agent's
 * (QEMU docs/interop/qemu-ga-ref: guest-exec, guest-exec-status, guest-file-*,
 * guest-get-osinfo, guest-network-get-interfaces, guest-shutdown).
 *
 * The agent answers only once the guest has booted far enough to start qemu-ga (18-45 s
 * for the full Debian guest under TCG): before that a call is RC 5 (timed out).
 */
import { isReason, notFound, refused, timedOut, toolFailed } from '../../shared/errors';
import type { Qmp } from '../../shared/qmp';
import type { Ctx } from '../../shared/verb';
import { agentErrorReason } from './errors';
import { liveness, loadVm, vmPaths } from './state';
import { vmCrashed, vmDied } from './vm';

/** How long connecting and synchronising with the agent may take, in ms, unless a verb says otherwise. */
export const AGENT_SYNC_MS = 10_000;

/** The PATH commands given env= run with (guest-exec replaces the whole environment when env is given). */
export const GUEST_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The agent socket of running VM `name`: RC 3 (no such VM), RC 1 (its QEMU died), RC 7
 * (stopped, or created with agent=false).
 */
export function agentSocket(ctx: Ctx, name: string, verb: string): string {
  const def = loadVm(ctx, name);
  if (def.agent === false) throw refused(`${verb}: VM ${name} has no guest agent channel (it was created with agent=false)`);
  const l = liveness(ctx, name);
  if (l.kind === 'crashed') throw vmCrashed(ctx, name, l.pid);
  if (l.kind === 'stopped') throw refused(`${verb}: VM ${name} is not running`);
  return vmPaths(ctx, name).qga;
}

/**
 * Run `fn` with an agent session of running VM `name` (errors as {@link agentSocket});
 * RC 5 when the agent does not answer within `syncMs`; RC 1 with the serial tail when
 * QEMU went away meanwhile.
 */
export async function withGuestAgent<T>(ctx: Ctx, name: string, verb: string, fn: (q: Qmp) => Promise<T>, syncMs = AGENT_SYNC_MS): Promise<T> {
  const sock = agentSocket(ctx, name, verb);
  try {
    return await ctx.qga(sock, fn, syncMs);
  } catch (e) {
    if (liveness(ctx, name).kind !== 'running') throw vmDied(ctx, name, `QEMU went away during ${verb}`);
    throw e;
  }
}

/** One interface as guest-network-get-interfaces describes it (qemu-ga 7.2). */
export interface GuestIface { name: string; 'hardware-address'?: string; 'ip-addresses'?: { 'ip-address-type': string; 'ip-address': string; prefix: number }[] }

/**
 * The guest's IPv4 from guest-network-get-interfaces: the first address on the interface
 * whose MAC is `mac` when given, else the first not on loopback; link-local
 * (169.254.0.0/16) addresses do not count. Undefined when there is none yet.
 */
export function ifaceIpv4(ifaces: readonly GuestIface[], mac?: string): string | undefined {
  const usable = (i: GuestIface) => (i['ip-addresses'] ?? []).find((a) => a['ip-address-type'] === 'ipv4' && !a['ip-address'].startsWith('127.') && !a['ip-address'].startsWith('169.254.'))?.['ip-address'];
  const mine = mac ? ifaces.filter((i) => i['hardware-address']?.toLowerCase() === mac.toLowerCase()) : ifaces.filter((i) => i.name !== 'lo');
  return mine.map(usable).find((a) => a !== undefined);
}

/**
 * Ask the agent of running VM `name` for its IPv4 ({@link ifaceIpv4} on `mac`) within
 * `syncMs`: undefined when the agent does not answer (not started yet, or the guest has
 * none) or the interface has no address yet.
 */
export async function agentIpv4(ctx: Ctx, name: string, mac: string | undefined, syncMs: number): Promise<string | undefined> {
  try {
    return await ctx.qga(vmPaths(ctx, name).qga, async (q) => ifaceIpv4(await q.execute<GuestIface[]>('guest-network-get-interfaces', undefined, syncMs), mac), syncMs);
  } catch (e) {
    if (isReason(e, 'timedOut', 'unavailable', 'toolFailed')) return undefined;
    throw e;
  }
}

/** What a command run through the agent did (guest-exec-status). */
export interface AgentRun {
  /** Exit status; 128+N when signal N ended it (as a shell reports it). */
  exitCode: number;
  stdout: string;
  stderr: string;
  /** The agent cut the output at its limit (16 MiB per stream in QEMU 7.2). */
  truncated: boolean;
}

/** Options of {@link agentExec}: environment entries (NAME=value), stdin bytes, deadline (ms). */
export interface AgentExecOptions {
  env?: readonly string[];
  input?: string | Buffer;
  timeoutMs: number;
}

interface ExecStatus {
  exited: boolean;
  exitcode?: number;
  signal?: number;
  'out-data'?: string;
  'err-data'?: string;
  'out-truncated'?: boolean;
  'err-truncated'?: boolean;
}

/**
 * Run `argv` in the guest (`guest-exec` with capture-output, then `guest-exec-status`
 * polled until it exited) and return its status and output (utf8). The environment is
 * qemu-ga's own, or {@link GUEST_PATH} and `env` when `env` is given. RC 3 when argv[0] does not exist in the guest (nothing
 * ran), RC 1 when the agent refused the command, RC 5 at the deadline (the process is
 * then sent SIGKILL through the agent). Under dryrun nothing runs and the planned
 * result is exit 0 with no output.
 */
export async function agentExec(ctx: Ctx, q: Qmp, argv: readonly string[], o: AgentExecOptions): Promise<AgentRun> {
  const t0 = ctx.clock.monotonic();
  // Without env the command inherits qemu-ga's environment; guest-exec's env replaces it
  // whole, so PATH comes first (and a spawn with an environment costs ~25 ms more under TCG).
  const args: Record<string, unknown> = { path: argv[0], arg: argv.slice(1), 'capture-output': true };
  if (o.env?.length) args.env = [GUEST_PATH, ...o.env];
  if (o.input !== undefined && o.input.length) args['input-data'] = Buffer.from(o.input).toString('base64');
  let pid: number | undefined;
  try {
    pid = (await q.execute<{ pid?: number }>('guest-exec', args, o.timeoutMs)).pid;
  } catch (e) {
    if (agentErrorReason(e, 'exec') === 'notFound') throw notFound(`${argv[0]} not found in the guest (${(e as Error).message})`);
    throw e;
  }
  if (pid === undefined) return { exitCode: 0, stdout: '', stderr: '', truncated: false }; // dryrun: planned
  const left = () => Math.max(1, o.timeoutMs - (ctx.clock.monotonic() - t0));
  let s: ExecStatus | undefined;
  try {
    s = (await ctx.poll(async () => {
      const st = await q.execute<ExecStatus>('guest-exec-status', { pid }, left());
      return st.exited ? st : undefined;
    }, { timeoutMs: left(), initialMs: 5, maxMs: 50, factor: 1.2, what: `guest process ${pid} (${argv[0]}) to exit (QGA guest-exec-status)` })).value;
  } catch (e) {
    if (isReason(e, 'timedOut')) {
      await q.execute('guest-exec', { path: 'kill', arg: ['-KILL', String(pid)], env: [GUEST_PATH] }, 5_000).catch(() => undefined);
      throw timedOut(`${argv[0]} did not exit within ${o.timeoutMs} ms; the agent sent it SIGKILL`);
    }
    throw e;
  }
  if (!s) return { exitCode: 0, stdout: '', stderr: '', truncated: false };
  const text = (b64?: string) => (b64 ? Buffer.from(b64, 'base64').toString('utf8') : '');
  const exitCode = s.exitcode ?? (s.signal !== undefined ? 128 + s.signal : 1);
  return { exitCode, stdout: text(s['out-data']), stderr: text(s['err-data']), truncated: Boolean(s['out-truncated'] || s['err-truncated']) };
}

/**
 * Run `argv` through the agent and require exit 0: RC 1 naming `what` and the command's
 * stderr otherwise (for the helper commands file_push and shutdown run: chmod, poweroff).
 */
export async function agentExecOk(ctx: Ctx, q: Qmp, argv: readonly string[], what: string, timeoutMs = 60_000): Promise<AgentRun> {
  const r = await agentExec(ctx, q, argv, { timeoutMs });
  if (r.exitCode !== 0) throw toolFailed(`${what}: ${argv.join(' ')} exited with ${r.exitCode}: ${(r.stderr || r.stdout).trim()}`);
  return r;
}

/**
 * Wait until the agent of VM `name` answers `guest-ping` (each try connects and syncs,
 * 2 s at most); RC 1 when QEMU exits first, RC 5 at the deadline.
 */
export async function waitAgent(ctx: Ctx, name: string, timeoutMs: number): Promise<void> {
  const sock = agentSocket(ctx, name, 'start wait=agent');
  await ctx.poll(async () => {
    if (liveness(ctx, name).kind !== 'running') throw vmDied(ctx, name, 'QEMU exited before the guest agent answered');
    try {
      await ctx.qga(sock, (q) => q.execute('guest-ping', undefined, 2_000), 2_000);
      return true;
    } catch (e) {
      if (isReason(e, 'timedOut', 'unavailable', 'toolFailed')) return undefined;
      throw e;
    }
  }, { timeoutMs, initialMs: 100, maxMs: 500, what: `the guest agent of VM ${name} to answer (QGA guest-ping)` });
}

/**
 * Wait (through the agent, which must answer) until cloud-init in VM `name` has finished
 * (`cloud-init status --wait`). Returns its status line, e.g. "status: done"; RC 1 when
 * cloud-init reports errors (its status and the command's stderr in ERRORTEXT), RC 3
 * when the guest has no cloud-init, RC 5 at the deadline.
 */
export async function waitCloudInit(ctx: Ctx, name: string, timeoutMs: number): Promise<string> {
  return withGuestAgent(ctx, name, 'start wait=cloud-init', async (q) => {
    let r: AgentRun;
    try {
      r = await agentExec(ctx, q, ['cloud-init', 'status', '--wait'], { timeoutMs });
    } catch (e) {
      if (isReason(e, 'notFound')) throw notFound(`start wait=cloud-init: VM ${name} has no cloud-init (${e.message})`);
      throw e;
    }
    const status = r.stdout.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('status:')).pop() ?? r.stdout.trim();
    if (r.exitCode !== 0) throw toolFailed(`cloud-init in VM ${name} finished with errors (exit ${r.exitCode}): ${status}${r.stderr.trim() ? ` — ${r.stderr.trim()}` : ''}`);
    return status;
  });
}
