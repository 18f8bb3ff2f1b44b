/**
 * Starting an instance and waiting for it, shared by `start`, `clone_from_base
 * start=true` and `register_base prepare=`: the wait for Running or an IPv4, the
 * fast refusal of wait=ip without a network device, and the undo after a timeout.
 */
import { AddressError, isReason, toolFailed, unavailable, usageError } from '../../shared/errors';
import type { Ctx } from '../../shared/verb';
import { clientCommand } from './client';
import { execInInstance, guestPathKind } from './guest';
import { getInstance, lxc, query, ref, requireInstance, waitIpv4, waitStatus, type InstanceState } from './tool';

/**
 * `lxc start`, then wait as `wait` says (running | ip | none) within one `timeoutMs`
 * budget; returns the status reached, the IPv4s (wait=ip) and the ms it all took.
 * wait=ip on an instance with no network device can never succeed: RC 2 before anything
 * starts. When the budget runs out (RC 5) the instance is stopped again, so after the
 * failure it is as it was; the message says so (or says it is still running, when the
 * stop failed too).
 */
export async function startAndWait(ctx: Ctx, remote: string | undefined, name: string, wait: string, timeoutMs: number) {
  const t0 = ctx.clock.now();
  // What can never succeed is refused before anything starts. Under dryrun the instance may
  // be one this call only would have made (clone_from_base start=true): not checked then.
  await ctx.effect(() => requireWaitable(ctx, remote, name, wait), undefined);
  const left = () => Math.max(1000, timeoutMs - (ctx.clock.now() - t0));
  let ready: Ready;
  try {
    // LXD finishes the start operation (and lxc start exits 0) once the instance is
    // Running, about 4 ms after the status shows it (host-notes): no probe is needed for
    // wait=running. A probe right then is slow (60-70 ms while LXD sets up the nic).
    await lxc(ctx, ['start', ref(remote, name)], { timeoutMs });
    if (wait === 'ip' || wait === 'ipv6') await waitStatus(ctx, remote, name, 'Running', left());
    ready = await waitReady(ctx, remote, name, wait, left);
  } catch (e) {
    if (isReason(e, 'timedOut')) throw await ctx.effect(() => undoStart(ctx, remote, name, e), e);
    throw e;
  }
  return { status: wait === 'none' ? 'Started' : 'Running', ...ready, ms: Math.round(ctx.clock.now() - t0) };
}

/**
 * The wait of `start` on an instance that is already running (nothing is started, and
 * nothing stopped again at RC 5): what startAndWait waits for after `lxc start`.
 */
export async function waitRunning(ctx: Ctx, remote: string | undefined, name: string, wait: string, timeoutMs: number) {
  await requireWaitable(ctx, remote, name, wait);
  return { status: 'Running', ...(await waitReady(ctx, remote, name, wait, () => timeoutMs)) };
}

/** What the waits found: the global IPv4s (wait=ip) or IPv6s (wait=ipv6), cloud-init's status (wait=cloud-init). */
interface Ready {
  ips: string[];
  ipv6: string[];
  cloudInit: string;
}

/** The waits of a running instance (ip, ipv6, cloud-init, agent; running and none wait for nothing), each within what `left()` says remains (ms). */
async function waitReady(ctx: Ctx, remote: string | undefined, name: string, wait: string, left: () => number): Promise<Ready> {
  const ready: Ready = { ips: [], ipv6: [], cloudInit: '' };
  if (wait === 'ip' || wait === 'ipv6') {
    const found = (await waitIpv4(ctx, remote, name, left(), wait === 'ip' ? 'inet' : 'inet6')).value ?? [];
    if (wait === 'ip') ready.ips = found;
    else ready.ipv6 = found;
  }
  if (wait === 'cloud-init') ready.cloudInit = await waitCloudInit(ctx, remote, name, left());
  if (wait === 'agent') await waitAgent(ctx, remote, name, left());
  return ready;
}

/** Where an image keeps the cloud-init program (Debian/Ubuntu: /usr/bin; pip installs: /usr/local/bin). */
const CLOUD_INIT_PATHS = ['/usr/bin/cloud-init', '/usr/local/bin/cloud-init', '/bin/cloud-init'];

/**
 * RC 2 / RC 6 before anything starts for a wait that can never succeed: wait=ip or ipv6
 * with no network device (RC 2), wait=agent on a container (RC 2: the lxd-agent is a
 * VM's), wait=cloud-init when the image has no cloud-init program (RC 6).
 */
async function requireWaitable(ctx: Ctx, remote: string | undefined, name: string, wait: string): Promise<void> {
  if (wait === 'ip' || wait === 'ipv6') return requireNic(ctx, remote, name, wait);
  if (wait === 'agent') {
    const inst = await requireInstance(ctx, remote, name);
    if (inst.type !== 'virtual-machine') throw usageError(`start: wait=agent waits for a VM's lxd-agent; ${name} is a ${inst.type}: use wait=running (a container runs its commands without an agent)`);
  }
  if (wait === 'cloud-init') {
    for (const p of CLOUD_INIT_PATHS) if ((await guestPathKind(ctx, remote, name, p)) === 'file') return;
    throw unavailable(`start: ${name} has no cloud-init (none of ${CLOUD_INIT_PATHS.join(', ')}): its image does not run it, so wait=cloud-init could never succeed; nothing was started. Use wait=running or wait=ip`);
  }
}

/**
 * Poll `cloud-init status` in the instance (every 0.5 s to 2 s, `lxc exec`) until it says
 * done; RC 1 when it says error (cloud-init ran and failed: `cloud-init status --long`
 * in the guest says what), RC 6 when disabled, RC 5 at the deadline. Returns the status.
 */
async function waitCloudInit(ctx: Ctx, remote: string | undefined, name: string, timeoutMs: number): Promise<string> {
  const r = await ctx.poll(
    async () => {
      const out = await execInInstance(ctx, remote, name, { argv: ['cloud-init', 'status'], viaShell: false }, { env: [], timeoutMs: 30_000 });
      const status = /^status:\s*(.+)$/m.exec(String(out.result ?? ''))?.[1]?.trim() ?? '';
      if (status === 'done') return status;
      if (status === 'error') throw toolFailed(`start: cloud-init in ${name} finished with status: error (lxc exec ${name} -- cloud-init status --long says why)`, { vars: { STATUS: 'Running', CLOUD_INIT: status } });
      if (status === 'disabled') throw unavailable(`start: cloud-init is disabled in ${name}, so it will never be done`, { vars: { STATUS: 'Running', CLOUD_INIT: status } });
      return undefined; // not run, running
    },
    { timeoutMs, what: `cloud-init in ${name} to be done`, initialMs: 500, maxMs: 2000 },
  );
  return r.value ?? 'done';
}

/** Poll the VM's state until LXD reports its processes, which it reads from the lxd-agent (-1 until the agent answers); RC 5 at the deadline. */
async function waitAgent(ctx: Ctx, remote: string | undefined, name: string, timeoutMs: number): Promise<void> {
  await ctx.poll(
    async () => {
      const s = await query<InstanceState>(ctx, remote, `/1.0/instances/${encodeURIComponent(name)}/state`);
      return (s.processes ?? -1) > 0 ? true : undefined;
    },
    { timeoutMs, what: `the lxd-agent of ${name} to answer`, initialMs: 250, maxMs: 1000 },
  );
}

/** RC 2 unless the instance has a nic device (its own or from a profile). */
export async function requireNic(ctx: Ctx, remote: string | undefined, name: string, wait = 'ip') {
  const inst = await requireInstance(ctx, remote, name);
  const nics = Object.values(inst.expanded_devices ?? {}).filter((d) => d.type === 'nic');
  if (nics.length === 0) {
    throw usageError(
      `start: ${name} has no network device, so wait=${wait} could never succeed; nothing was started. ` +
        `Add one (profile=rexx-net at create, or lxc config device add ${name} eth0 nic network=rexxbr0), or use wait=running`,
    );
  }
}

/**
 * Wait until no LXD operation touches the instance and none has for `quietMs` (a killed
 * `lxc start` may still be on its way to the daemon), at most 30 s. Returns its status then.
 */
async function settledStatus(ctx: Ctx, remote: string | undefined, name: string, quietMs = 300): Promise<string> {
  const me = `/1.0/instances/${name}`;
  let quietSince = ctx.clock.now();
  const polled = await ctx.poll(
    async () => {
      const ops = await query<{ running?: Array<{ resources?: { instances?: string[] } | null }> | null }>(ctx, remote, '/1.0/operations?recursion=1');
      const busy = (ops.running ?? []).some((o) => (o.resources?.instances ?? []).some((i) => i === me || i.startsWith(`${me}/`)));
      if (busy) quietSince = ctx.clock.now();
      if (busy || ctx.clock.now() - quietSince < quietMs) return undefined;
      return (await getInstance(ctx, remote, name))?.status ?? 'gone';
    },
    { timeoutMs: 30_000, what: `LXD to finish what it was doing with ${name}`, initialMs: 25, maxMs: 100 },
  ).catch(() => undefined);
  return polled?.value ?? (await getInstance(ctx, remote, name))?.status ?? 'gone';
}

/**
 * After a start that ran out of time: LXD goes on starting an instance whose `lxc start`
 * was killed, so wait for it to settle and stop it at once. Returns the timeout error to
 * throw, saying what state the instance was left in (STATUS too).
 */
async function undoStart(ctx: Ctx, remote: string | undefined, name: string, e: AddressError): Promise<AddressError> {
  let status = await settledStatus(ctx, remote, name);
  if (status === 'Running' || status === 'Frozen') {
    const stopped = await ctx.run(clientCommand(ctx, ['stop', ref(remote, name), '--force']), { timeoutMs: 60_000 });
    status = await settledStatus(ctx, remote, name);
    if (!stopped.ok || status !== 'Stopped') {
      const why = stopped.ok ? '' : ` (stopping it failed: ${stopped.stderr.trim()})`;
      return new AddressError('timedOut', `${e.message}; ${name} is still ${status}${why}`, { cause: e, vars: { STATUS: status } });
    }
  }
  return new AddressError('timedOut', `${e.message}; ${name} was stopped again, as it was before (STATUS=${status})`, { cause: e, vars: { STATUS: status } });
}
