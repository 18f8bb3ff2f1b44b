/**
 * Running VMs: start (qemu-system -daemonize, then QMP), stop (system_powerdown, then
 * quit), pause / resume (QMP stop / cont). A VM whose QEMU died gives RC 1 with the
 * last serial lines in ERRORTEXT.
 */
import { refused } from '../../../shared/errors';
import { defineVerb, type Ctx } from '../../../shared/verb';
import { FORCE, NAME, timeout, WAIT } from '../params';
import { liveness, loadVm, vmPaths, withVmLock } from '../state';
import { dropTaps } from '../network';
import { clearStale, qmpStatus, settle, startVm, stopVm, vmCrashed, vmDied } from '../vm';


/** What start and restart report for wait=agent and wait=cloud-init. */
const AGENT_WAIT_VARS = {
  AGENT_MS: 'ms from launch until the guest agent answered (wait=agent, wait=cloud-init)',
  CLOUD_INIT: "cloud-init's status line, e.g. \"status: done\" (wait=cloud-init)",
  CLOUD_INIT_MS: 'ms from launch until cloud-init was done (wait=cloud-init)',
} as const;

export const start = defineVerb({
  name: 'start',
  aliases: ['start_if_stopped'],
  long: true,
  summary: 'boot a VM (qemu-system -daemonize, QMP socket, serial log) and wait until QMP says running, or wait=serial:TEXT until the guest prints TEXT, wait=agent until its guest agent answers, wait=cloud-init until cloud-init is done; ACCEL says kvm or tcg',
  params: { ...NAME, ...WAIT, ...timeout(120_000, 'give up after this long (RC 5)') },
  positional: ['name'],
  examples: ['start name=web-1', 'start name=web-1 wait=serial:REXX-GUEST-READY timeout=60s', 'start name=web-2 wait=ip timeout=90s', 'start name=web-1 wait=cloud-init timeout=5m'],
  vars: {
    STATUS: 'running, stopped (the guest powered off after wait=serial), started (wait=none), or crashed',
    PID: 'QEMU pid',
    ACCEL: 'kvm or tcg',
    ACCEL_REASON: 'why that accelerator',
    ALREADY: '1 when it was already running',
    START_MS: 'ms from launch to the state waited for',
    QMP_MS: 'ms until QMP said running',
    READY_MS: 'ms until the serial text appeared (wait=serial:) or the guest had an IPv4 (wait=ip)',
    IPV4: 'wait=ip: the guest\'s IPv4 address (from its guest agent, else its DHCP lease on the bridge)',
    IP_SOURCE: 'wait=ip: agent (guest-network-get-interfaces) or lease (the bridge\'s dnsmasq lease)',
    ...AGENT_WAIT_VARS,
  },
  async run(p, ctx) {
    // One task for the whole start (launch included); each wait inside shows as its own.
    const task = ctx.progress(`starting ${p.name}`, { unit: 'ms', total: p.timeout });
    try {
      return await startVm(ctx, p.name, p.wait, p.timeout);
    } finally {
      task.end();
    }
  },
});

/** The running VM's QMP socket, RC 1 when its QEMU died, RC 7 when it is stopped. */
function running(ctx: Ctx, name: string, verb: string): string {
  loadVm(ctx, name);
  const l = liveness(ctx, name);
  if (l.kind === 'crashed') throw vmCrashed(ctx, name, l.pid);
  if (l.kind === 'stopped') throw refused(`${verb}: VM ${name} is not running`);
  return vmPaths(ctx, name).qmp;
}

export const stop = defineVerb({
  name: 'stop',
  aliases: ['stop_if_running'],
  summary: 'stop a VM: QMP system_powerdown, then quit when timeout passes (force=true quits at once); METHOD says which; a stopped VM is RC 0',
  params: { ...NAME, force: { ...FORCE.force, doc: 'quit QEMU at once (QMP quit) instead of asking the guest to power off' }, ...timeout(30_000, 'how long the guest may take to power off before QEMU is told to quit') },
  positional: ['name'],
  examples: ['stop name=web-1', 'stop name=web-1 force=true'],
  vars: { STATUS: 'stopped, or crashed', METHOD: 'powerdown, quit or none', WAS: 'running, stopped or crashed before' },
  async run(p, ctx) {
    const def = loadVm(ctx, p.name);
    const l = liveness(ctx, p.name);
    if (l.kind !== 'running') {
      await withVmLock(ctx, p.name, () => clearStale(ctx, p.name));
      await dropTaps(ctx, def, vmPaths(ctx, p.name).dir);
      return { result: 'stopped', vars: { STATUS: 'stopped', METHOD: 'none', WAS: l.kind } };
    }
    const method = await stopVm(ctx, p.name, p.force, p.timeout);
    await withVmLock(ctx, p.name, () => clearStale(ctx, p.name));
    // The taps of bridged NICs outlive QEMU (ip tuntap add makes them persistent): remove them.
    await dropTaps(ctx, def, vmPaths(ctx, p.name).dir);
    return { result: 'stopped', vars: { STATUS: 'stopped', METHOD: method, WAS: 'running' } };
  },
});

export const restart = defineVerb({
  name: 'restart',
  summary: 'stop a VM (as stop does, force=true at once) and start it again, waiting as wait= says',
  params: {
    ...NAME,
    force: { ...FORCE.force, doc: 'quit QEMU at once instead of asking the guest to power off' },
    ...WAIT,
    ...timeout(120_000, 'how long the stop and the start may take, each'),
  },
  positional: ['name'],
  vars: {
    STATUS: 'running (or as wait= says), or crashed',
    PID: 'the new QEMU pid',
    ACCEL: 'kvm or tcg',
    ACCEL_REASON: 'why that accelerator',
    ALREADY: '0',
    START_MS: 'ms from launch to the state waited for',
    QMP_MS: 'ms until QMP said running',
    READY_MS: 'ms until the serial text appeared (wait=serial:) or the guest had an IPv4 (wait=ip)',
    IPV4: 'wait=ip: the guest\'s IPv4 address (from its guest agent, else its DHCP lease on the bridge)',
    IP_SOURCE: 'wait=ip: agent (guest-network-get-interfaces) or lease (the bridge\'s dnsmasq lease)',
    ...AGENT_WAIT_VARS,
    METHOD: 'how it stopped: powerdown, quit, kill or none',
  },
  async run(p, ctx) {
    loadVm(ctx, p.name);
    let method = 'none';
    if (liveness(ctx, p.name).kind === 'running') method = await stopVm(ctx, p.name, p.force, p.timeout);
    const out = await startVm(ctx, p.name, p.wait, p.timeout, { afterStop: method !== 'none' });
    return { ...out, vars: { ...out.vars, METHOD: method } };
  },
});

/** QMP `command`, then confirm the status; `event` is what QEMU announces (STOP / RESUME). */
async function toggle(ctx: Ctx, name: string, command: 'stop' | 'cont', want: string, event: string, verb: string) {
  const sock = running(ctx, name, verb);
  return ctx.qmp(sock, async (q) => {
    const before = await qmpStatus(q);
    if (before === want) return { result: want, vars: { STATUS: want, EVENT: '' } };
    if (before !== 'running' && before !== 'paused') throw vmDied(ctx, name, `cannot ${verb} a guest in QMP status ${before}`);
    await q.execute(command);
    const ev = await q.waitEvent(event, 5_000);
    const after = await qmpStatus(q);
    return { result: after, vars: { STATUS: after, EVENT: ev.event } };
  }).catch(async (e) => {
    if ((await settle(ctx, name)) !== 'running') throw vmDied(ctx, name, `QEMU went away during ${verb}`);
    throw e;
  });
}

export const pause = defineVerb({
  name: 'pause',
  summary: 'pause a running VM (QMP stop; waits for the STOP event); already paused is RC 0',
  params: { ...NAME },
  positional: ['name'],
  vars: { STATUS: 'paused, or crashed', EVENT: 'the QMP event seen (STOP)' },
  async run(p, ctx) {
    return toggle(ctx, p.name, 'stop', 'paused', 'STOP', 'pause');
  },
});

export const resume = defineVerb({
  name: 'resume',
  summary: 'resume a paused VM (QMP cont; waits for the RESUME event); already running is RC 0',
  params: { ...NAME },
  positional: ['name'],
  vars: { STATUS: 'running, or crashed', EVENT: 'the QMP event seen (RESUME)' },
  async run(p, ctx) {
    return toggle(ctx, p.name, 'cont', 'running', 'RESUME', 'resume');
  },
});

