/** Read-only verbs: state (one VM), console (its serial log), status (handler and tools). */
import { AddressError } from '../../../shared/errors';
import { stem } from '../../../shared/result';
import { statusOutput, statusVars, unreachable } from '../../../shared/status';
import { defineVerb } from '../../../shared/verb';
import { kvmVerdict, QEMU_SYSTEM } from '../accel';
import { NAME } from '../params';
import { liveness, loadRun, loadVm, serialTail, stateDir, vmNames, vmPaths } from '../state';
import { GUEST_DEAD, guestDeadWhy, qmpStatus, settle, vmCrashed, vmDied } from '../vm';

export const state = defineVerb({
  name: 'state',
  summary: 'one VM: RESULT its status (QMP query-status: running, paused, …; or stopped); PID, ACCEL, UPTIME (s), BASE, DISK; a killed or crashed QEMU, or a guest in internal-error / guest-panicked / io-error, is RC 1; a QEMU stuck in its own exit after its guest powered off (QMP silent, disks closed) is ended (SIGKILL) and stopped',
  params: { ...NAME },
  positional: ['name'],
  vars: {
    STATUS: 'QMP status (running, paused, …), stopped, or crashed',
    PID: 'QEMU pid (0 when stopped)',
    ACCEL: 'kvm or tcg',
    UPTIME: 'seconds since start',
    BASE: 'the base its disk is an overlay of',
    DISK: 'its disk',
    MEMORY: 'MiB',
    CPUS: 'virtual CPUs',
  },
  async run(p, ctx) {
    const def = loadVm(ctx, p.name);
    const paths = vmPaths(ctx, p.name);
    const l = liveness(ctx, p.name);
    const vars: Record<string, unknown> = { STATUS: 'stopped', PID: 0, ACCEL: '', UPTIME: 0, BASE: def.base, DISK: def.disk, MEMORY: def.memoryMiB, CPUS: def.cpus };
    if (l.kind === 'crashed') throw vmCrashed(ctx, p.name, l.pid);
    if (l.kind === 'running') {
      const run = loadRun(ctx, p.name);
      vars.PID = l.pid;
      vars.ACCEL = run?.accel ?? '';
      vars.UPTIME = run ? Math.round((ctx.clock.now() - run.startedAt) / 1000) : 0;
      try {
        vars.STATUS = await ctx.qmp(paths.qmp, qmpStatus, 5_000);
      } catch (e) {
        // QEMU may be exiting right now (the guest powered off): tell that apart from a crash.
        const now = await settle(ctx, p.name);
        if (now === 'crashed') throw vmDied(ctx, p.name, 'QEMU went away while being asked');
        if (now === 'running') throw e;
        Object.assign(vars, { STATUS: 'stopped', PID: 0, ACCEL: '', UPTIME: 0 });
      }
    }
    if (GUEST_DEAD.has(String(vars.STATUS))) {
      const e = vmDied(ctx, p.name, guestDeadWhy(String(vars.STATUS)));
      throw new AddressError('toolFailed', e.message, { vars: { ...vars } });
    }
    return { result: String(vars.STATUS), vars };
  },
});

export const consoleVerb = defineVerb({
  name: 'console',
  aliases: ['logs'],
  summary: 'the last lines of the VM\'s serial log (escape codes and \\r removed): RESULT and stem LINES',
  params: { name: { ...NAME.name, aliases: ['vm'] }, lines: { type: 'int', default: 20, min: 1, max: 10_000, doc: 'how many lines' } },
  positional: ['name'],
  vars: { LINES: { stem: 'the last lines of the serial console' } },
  async run(p, ctx) {
    loadVm(ctx, p.name);
    const lines = serialTail(ctx, p.name, p.lines);
    return { result: lines.join('\n'), vars: { LINES: stem(lines) } };
  },
});

export const status = defineVerb({
  name: 'status',
  aliases: ['verify_host'],
  summary: 'handler version, qemu-img and qemu-system versions, state directory, whether KVM works here (KVM, KVM_REASON), VM count',
  params: {},
  vars: {
    ...statusVars('1 when qemu-img and qemu-system answer, else 0'),
    QEMU_IMG: 'qemu-img version line',
    QEMU_SYSTEM: 'qemu-system version line',
    STATE_DIR: 'the state folder',
    STATE_DIR_EXISTS: '1 or 0',
    KVM: '1 when KVM really works here, else 0',
    KVM_REASON: 'why',
    VMS: 'how many VMs are defined',
  },
  async run(_p, ctx) {
    const first = async (argv: string[]) => {
      const r = await ctx.run(argv, { readOnly: true, timeoutMs: 10_000 });
      if (r.missing) throw unreachable(`${argv[0]} is not installed (run scripts/setup-host.sh)`);
      return (r.stdout.split('\n')[0] ?? '').trim();
    };
    const img = await first(['qemu-img', '--version']);
    const sys = await first([QEMU_SYSTEM, '--version']);
    const kvm = await kvmVerdict(ctx);
    const dir = stateDir(ctx);
    const vars = {
      QEMU_IMG: img, QEMU_SYSTEM: sys, STATE_DIR: dir,
      STATE_DIR_EXISTS: ctx.fs.exists(dir) ? 1 : 0, KVM: kvm.kvm ? 1 : 0, KVM_REASON: kvm.reason, VMS: vmNames(ctx).length,
    };
    return statusOutput([img, sys, `state ${dir}`, `kvm ${kvm.kvm ? 'yes' : 'no'} (${kvm.reason})`, `vms ${vars.VMS}`], vars);
  },
});
