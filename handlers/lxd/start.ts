/**
 * Starting an instance and waiting for it, shared by `start`, `clone_from_base
 * start=true` and `register_base prepare=`: the wait for Running or an IPv4, the
 * fast refusal of wait=ip without a network device, and the undo after a timeout.
 */
import { AddressError, isReason, usageError } from '../../shared/errors';
import type { Ctx } from '../../shared/verb';
import { getInstance, lxc, query, ref, requireInstance, waitIpv4, waitStatus } from './tool';

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
  // Under dryrun the instance may be one this call only would have made (clone_from_base start=true).
  if (wait === 'ip') await ctx.effect(() => requireNic(ctx, remote, name), undefined);
  const left = () => Math.max(1000, timeoutMs - (ctx.clock.now() - t0));
  let ips: string[] = [];
  try {
    // LXD finishes the start operation (and lxc start exits 0) once the instance is
    // Running, about 4 ms after the status shows it (host-notes): no probe is needed for
    // wait=running. A probe right then is slow (60-70 ms while LXD sets up the nic).
    await lxc(ctx, ['start', ref(remote, name)], { timeoutMs });
    if (wait === 'ip') {
      await waitStatus(ctx, remote, name, 'Running', left());
      ips = (await waitIpv4(ctx, remote, name, left())).value ?? [];
    }
  } catch (e) {
    if (isReason(e, 'timedOut')) throw await ctx.effect(() => undoStart(ctx, remote, name, e), e);
    throw e;
  }
  return { status: wait === 'none' ? 'Started' : 'Running', ips, ms: Math.round(ctx.clock.now() - t0) };
}

/** RC 2 unless the instance has a nic device (its own or from a profile). */
export async function requireNic(ctx: Ctx, remote: string | undefined, name: string) {
  const inst = await requireInstance(ctx, remote, name);
  const nics = Object.values(inst.expanded_devices ?? {}).filter((d) => d.type === 'nic');
  if (nics.length === 0) {
    throw usageError(
      `start: ${name} has no network device, so wait=ip could never succeed; nothing was started. ` +
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
    const stopped = await ctx.run(['lxc', 'stop', ref(remote, name), '--force'], { timeoutMs: 60_000 });
    status = await settledStatus(ctx, remote, name);
    if (!stopped.ok || status !== 'Stopped') {
      const why = stopped.ok ? '' : ` (stopping it failed: ${stopped.stderr.trim()})`;
      return new AddressError('timedOut', `${e.message}; ${name} is still ${status}${why}`, { cause: e, vars: { STATUS: status } });
    }
  }
  return new AddressError('timedOut', `${e.message}; ${name} was stopped again, as it was before (STATUS=${status})`, { cause: e, vars: { STATUS: status } });
}
