/**
 * Live migration on this host (QEMU 7.2, docs/devel/migration.rst): an incoming QEMU
 * with the same machine and the same disk (shared: both open the one file; the incoming
 * one takes it over when the switch happens) is started with `-incoming defer` beside the
 * running one (its own pidfile and QMP socket, `qemu.pid.K` / `qmp.sock.K`, the serial
 * log appended to), `migrate-incoming URI` on it, QMP `migrate URI` on the running one,
 * `query-migrate` polled to completed. Then the old QEMU quits and `qemu.pid` /
 * `qmp.sock` become symlinks to the new one's files (when it exits, QEMU removes the
 * files it made and the links dangle: the VM reads as stopped), and run.json records
 * the new QEMU.
 *
 * `target=ssh:[user@]HOST[:PORT]` starts the incoming QEMU on HOST instead (remote.ts:
 * one ssh connection carries its launch, its QMP and the stream; HOST sees the VM folder,
 * disks and kernel at the same paths). When HOST is this machine (its pidfile and
 * process are visible here) the switch is the same as above; when the VM left for
 * another host, the old QEMU quits and this host's record reads stopped, PID being the
 * QEMU pid on HOST.
 */
import * as path from 'node:path';
import { alreadyExists, notFound, refused, toolFailed } from '../../../shared/errors';
import { regexRule } from '../../../shared/names';
import { defineVerb } from '../../../shared/verb';
import { chooseAccel } from '../accel';
import { checkHostFile } from '../hostfiles';
import { awaitMigration, vmSocket, type MigrateInfo } from '../migration';
import { absPath, NAME, timeout } from '../params';
import { closeSsh, openSsh, parseSshTarget, runOnPeer, sshTarget, type SshPeer } from '../remote';
import { isVmProcess, liveness, loadRun, loadVm, vmPaths, withVmLock, type RunInfo } from '../state';
import { guestCannotRun, guestDeadWhy, launch, qemuArgv, qmpStatus, stopVm, vmCrashed, vmDied, waitUntil } from '../vm';

/** unix, unix:PATH, tcp:127.0.0.1:PORT (or localhost), ssh:[user@]HOST[:PORT] (remote.ts). */
const target = regexRule(
  'migration target',
  /^(?:unix|unix:\/[^,]*|tcp:(?:127\.0\.0\.1|localhost):\d{1,5}|ssh:.*)$/,
  'unix (a socket in the VM folder), unix:/ABSOLUTE/PATH (no commas), tcp:127.0.0.1:PORT or tcp:localhost:PORT (this host), or ssh:[user@]HOST[:PORT] (an incoming QEMU on HOST)',
  (v) => {
    if (v.startsWith('unix:')) return absPath.check(v.slice(5)) ?? (v.length - 5 > 107 ? 'the socket path is longer than 107 bytes' : undefined);
    if (v.startsWith('tcp:')) {
      const port = Number(v.slice(v.lastIndexOf(':') + 1));
      return port >= 1 && port <= 65535 ? undefined : 'the port must be 1-65535';
    }
    if (v.startsWith('ssh:')) return sshTarget.check(v);
    return undefined;
  },
);

export const migrate = defineVerb({
  name: 'migrate',
  long: true,
  summary: 'live-migrate a running VM to a new QEMU (same machine and disk) on this host, or on HOST over ssh: -incoming defer, QMP migrate to target=, query-migrate polled to completed; the VM then is the new QEMU (the old one quits); TOTAL_MS and DOWNTIME_MS as QEMU reports them',
  params: {
    ...NAME,
    target: { type: 'string', default: 'unix', rule: target, doc: 'where the stream goes: unix (a socket in the VM folder), unix:PATH (absolute; RC 4 when it exists), tcp:127.0.0.1:PORT, or ssh:[user@]HOST[:PORT]: the incoming QEMU runs on HOST (ssh -o BatchMode=yes [-F $REXX_QEMU_SSH_CONFIG]; key login, known host key; HOST sees the VM folder and disks at the same paths), its QMP and the stream forwarded over that one ssh connection; RC 6 when ssh cannot log in' },
    ...timeout(300_000, 'how long the migration may take'),
  },
  positional: ['name'],
  examples: ['migrate name=web-1', 'migrate name=web-1 target=tcp:127.0.0.1:4444', 'migrate name=web-1 target=ssh:root@host2'],
  vars: {
    STATUS: 'running (or paused, as the guest was)',
    PID: 'the new QEMU pid (on HOST for target=ssh:)',
    TARGET: 'the migration URI used (ssh:… as given)',
    HOST: 'the ssh destination of target=ssh:, else blank',
    BYTES: 'RAM bytes sent (query-migrate ram.transferred)',
    TOTAL_MS: 'ms from start to end of the migration (query-migrate total-time)',
    DOWNTIME_MS: 'ms the guest was stopped for the switch (query-migrate downtime)',
    SETUP_MS: 'ms of migration set-up (query-migrate setup-time)',
  },
  async run(p, ctx) {
    const ssh = p.target.startsWith('ssh:') ? parseSshTarget(p.target) : undefined;
    const def = loadVm(ctx, p.name);
    // A tap is held by the QEMU that opened it: the incoming QEMU on this host could not open it too.
    const bridged = [def.network, ...(def.nics ?? []).map((n) => n.network)].filter((n) => n?.startsWith('bridge:'));
    if (bridged.length) throw refused(`migrate: VM ${p.name} has a NIC on ${bridged.join(', ')}: its tap is held by the running QEMU, so a second QEMU on this host cannot take it over (a move within this host works for network=user or none)`);
    const paths = vmPaths(ctx, p.name);
    if (p.target.startsWith('unix:')) {
      const sock = p.target.slice(5);
      // QEMU makes the socket there: a host path as any other QEMU is given (RC 7 outside the allowed folders).
      checkHostFile(ctx, `target=${p.target}`, sock);
      // QEMU unlinks what is at the path before it listens: never a file that is there.
      if (ctx.fs.lstat(sock)) throw alreadyExists(`migrate: ${sock} exists; give a path where nothing is`);
      if (!ctx.fs.stat(path.dirname(sock))?.isDirectory()) throw notFound(`migrate: folder ${path.dirname(sock)} does not exist`);
    }
    const l = liveness(ctx, p.name);
    if (l.kind === 'crashed') throw vmCrashed(ctx, p.name, l.pid);
    if (l.kind === 'stopped') throw refused(`migrate: VM ${p.name} is not running`);
    return withVmLock(ctx, p.name, async () => {
      const accel = loadRun(ctx, p.name)?.accel ?? (await chooseAccel(ctx, def.accel)).accel;
      const k = [1, 2, 3].find((i) => !ctx.fs.lstat(`${paths.pid}.${i}`) && !ctx.fs.lstat(`${paths.qmp}.${i}`) && !ctx.fs.lstat(`${paths.qga}.${i}`));
      if (!k) throw refused(`migrate: ${paths.pid}.1-3 all exist: stop the VM (force=true) to clear them`);
      // (the guest agent's socket too: the incoming QEMU would otherwise take over the running one's path)
      const beside = { pid: `${paths.pid}.${k}`, qmp: vmSocket(paths.dir, `qmp.sock.${k}`), qga: vmSocket(paths.dir, `qga.sock.${k}`) };
      const opts = { incoming: 'defer', appendSerial: true, beside };
      // Where the running QEMU sends the stream (uri), where the incoming one listens (inUri), and its QMP socket as seen from here.
      let uri = p.target === 'unix' ? `unix:${vmSocket(paths.dir, 'migrate.sock')}` : p.target;
      let inUri = uri;
      let inQmp = beside.qmp;
      let peer: SshPeer | undefined;
      const local: string[] = [];
      if (p.target === 'unix') ctx.fs.remove(uri.slice(5));
      const newPid = () => Number(ctx.fs.readText(beside.pid)?.trim() ?? 0);
      let info: MigrateInfo;
      let status: string;
      try {
        if (ssh) {
          // The incoming QEMU on HOST (remote.ts): its QMP and migration sockets forwarded here over one ssh connection.
          peer = { ...ssh, config: ctx.env.REXX_QEMU_SSH_CONFIG || undefined, control: vmSocket(paths.dir, 'ssh.ctl') };
          const remoteMig = vmSocket(paths.dir, `migrate.sock.${k}`);
          inQmp = vmSocket(paths.dir, 'fwd-qmp.sock');
          const fwdMig = vmSocket(paths.dir, 'fwd-migrate.sock');
          local.push(peer.control, inQmp, fwdMig);
          for (const f of local) ctx.fs.remove(f);
          await openSsh(ctx, peer, [[inQmp, beside.qmp], [fwdMig, remoteMig]], Math.min(p.timeout, 30_000));
          await runOnPeer(ctx, peer, [['mkdir', '-p', '--', paths.dir], qemuArgv(def, { ...paths, ...beside }, accel, undefined, opts)], 60_000, 'starting the incoming QEMU');
          inUri = `unix:${remoteMig}`;
          uri = `unix:${fwdMig}`;
        } else {
          await launch(ctx, def, accel, undefined, opts);
        }
        // The QMP steps read back the QEMU just launched: under dryrun there is none, and the plan is a completed move.
        ({ info, status } = await ctx.effect(async () => {
          await ctx.qmp(inQmp, (q) => q.execute('migrate-incoming', { uri: inUri }));
          const done = await ctx.qmp(paths.qmp, async (q) => {
            const s = await qmpStatus(q);
            if (guestCannotRun(s)) throw vmDied(ctx, p.name, guestDeadWhy(s));
            await q.execute('migrate', { uri });
            return awaitMigration(ctx, q, p.timeout, `migrate ${p.name} to ${p.target === 'unix' ? uri : p.target}`);
          });
          const now = await ctx.qmp(inQmp, async (q) => {
            let s = '';
            const ok = await waitUntil(ctx, async () => (s = await qmpStatus(q)) !== 'inmigrate', { timeoutMs: 30_000, initialMs: 10, maxMs: 100 });
            if (!ok) throw toolFailed(`migrate ${p.name}: the incoming QEMU stayed in status inmigrate`);
            if (guestCannotRun(s)) throw vmDied(ctx, p.name, guestDeadWhy(s));
            return s;
          });
          return { info: done, status: now };
        }, { info: { status: 'completed' } as MigrateInfo, status: 'running' }));
      } catch (e) {
        // The old QEMU goes on (a failed migration resumes it); the new one goes.
        const pid = newPid();
        await ctx.qmp(inQmp, (q) => q.execute('quit'), 5_000).catch(() => undefined);
        if (pid > 0 && isVmProcess(ctx, p.name, pid) && !(await waitUntil(ctx, () => !ctx.signal.alive(pid), { timeoutMs: 5_000, initialMs: 10, maxMs: 50 }))) ctx.signal.kill(pid, 'SIGKILL');
        ctx.fs.remove(beside.pid);
        ctx.fs.remove(beside.qmp);
        ctx.fs.remove(beside.qga);
        if (peer) await closeSsh(ctx, peer);
        for (const f of local) ctx.fs.remove(f);
        throw e;
      }
      let pid = newPid();
      // Moved to another host: this host does not see the new QEMU (pidfile, process); HOST's copy of the VM folder has it.
      const left = peer !== undefined && !(pid > 0 && isVmProcess(ctx, p.name, pid));
      if (peer && left) pid = Number((await runOnPeer(ctx, peer, [['cat', '--', beside.pid]], 10_000, 'reading the new QEMU\'s pidfile').catch(() => '0')).trim()) || 0;
      if (peer) await closeSsh(ctx, peer);
      for (const f of local) ctx.fs.remove(f);
      // The switch: the old QEMU quits (removing its own pidfile and socket), the names point at the new one's.
      await stopVm(ctx, p.name, true, 0);
      if (!left) {
        ctx.fs.symlink(path.basename(beside.pid), paths.pid);
        ctx.fs.symlink(path.basename(beside.qmp), paths.qmp);
        ctx.fs.remove(paths.qga); // (the old QEMU's, if it left it)
        ctx.fs.symlink(path.basename(beside.qga), paths.qga);
        ctx.state.write(paths.run, { accel, startedAt: ctx.clock.now(), argv: qemuArgv(def, { ...paths, ...beside }, accel, undefined, opts) } satisfies RunInfo);
      }
      if (p.target === 'unix') ctx.fs.remove(uri.slice(5));
      return {
        result: status,
        vars: {
          STATUS: status, PID: pid, TARGET: p.target === 'unix' ? uri : p.target, HOST: ssh?.dest ?? '', BYTES: info.ram?.transferred ?? 0,
          TOTAL_MS: info['total-time'] ?? 0, DOWNTIME_MS: info.downtime ?? 0, SETUP_MS: info['setup-time'] ?? 0,
        },
      };
    });
  },
});
