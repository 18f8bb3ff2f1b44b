/**
 * The guest agent pieces without a guest: the QGA client against a fake qemu-ga on a
 * unix socket (sync with guest-sync-delimited and its 0xFF byte, a previous client's
 * replies dropped, silence → RC 5), agentExec's mapping of guest-exec/guest-exec-status
 * (exit code, signal, base64 output, program not found → RC 3), and the argv the verbs
 * build: the agent channel and seed CD in qemuArgv, exec's cwd=/user= wrapping,
 * cloud-localds (fake runner: dryrun plans, nothing runs).
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createHandler } from '../../../shared/dispatch';
import { AddressError } from '../../../shared/errors';
import { createEffects } from '../../../shared/effects';
import { poll } from '../../../shared/poll';
import { AgentPool, QGA_READS, qgaEffect, withAgent } from '../../../shared/qmp';
import type { Ctx } from '../../../shared/verb';
import { table } from '../../../handlers/qemu';
import { agentExec, GUEST_PATH } from '../../../handlers/qemu/agent';
import { vmPaths, type VmDef } from '../../../handlers/qemu/state';
import { qemuArgv } from '../../../handlers/qemu/vm';
import { agentArgv } from '../../../handlers/qemu/verbs/guest';
import { cloudLocaldsArgv, isFileRef } from '../../../handlers/qemu/verbs/cloudinit';
import { fakeBin, type FakeBin } from '../../helpers/fakebin';

type Cmd = { execute: string; id?: unknown; arguments?: Record<string, unknown> };
const servers: net.Server[] = [];
const dirs: string[] = [];
const fakes: FakeBin[] = [];
afterEach(() => {
  servers.splice(0).forEach((s) => s.close());
  dirs.splice(0).forEach((d) => fs.rmSync(d, { recursive: true, force: true }));
  fakes.splice(0).forEach((f) => f.cleanup());
});

/** A fake qemu-ga: no greeting; `reply` answers each command (undefined: silence). Sync is answered with 0xFF first, as qemu-ga does. */
function fakeAgent(reply: (c: Cmd) => unknown, o: { stale?: boolean; silent?: boolean; conns?: net.Socket[] } = {}): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-qga-'));
  dirs.push(d);
  const sock = path.join(d, 'qga.sock');
  const srv = net.createServer((s) => {
    o.conns?.push(s);
    let buf = '';
    s.on('data', (b) => {
      buf += b.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const cmd = JSON.parse(buf.slice(0, nl)) as Cmd;
        buf = buf.slice(nl + 1);
        if (o.silent) continue;
        if (cmd.execute === 'guest-sync-delimited') {
          // A previous client's replies still queued, then the 0xFF and this one's.
          if (o.stale) s.write('{"return": 12345, "id": "rexx-old"}\n{"return": {"pid": 9}, "id": "rexx-older"}\n');
          s.write(Buffer.concat([Buffer.from([0xff]), Buffer.from(`{"return": ${JSON.stringify(cmd.arguments!.id)}, "id": ${JSON.stringify(cmd.id)}}\n`)]));
          continue;
        }
        const r = reply(cmd);
        if (r !== undefined) s.write(`${JSON.stringify({ ...(r as object), id: cmd.id })}\n`);
      }
    });
  });
  srv.listen(sock);
  servers.push(srv);
  return sock;
}
const rcOf = async (p: Promise<unknown>) => p.then(() => 0, (e) => (e instanceof AddressError ? e.rc : -1));
const b64 = (s: string) => Buffer.from(s).toString('base64');

/** The parts of a ctx agentExec uses: the real clock and poller. */
const ctx = (() => {
  const fx = createEffects({ dryrun: false, log: () => undefined });
  return { ...fx, poll: (probe: () => Promise<unknown>, o: Parameters<typeof poll>[1]) => poll(probe, o) } as unknown as Ctx;
})();

describe('QGA client (fake qemu-ga)', () => {
  it('syncs with guest-sync-delimited past the 0xFF byte and a previous client\'s replies, then runs commands by id', async () => {
    const sock = fakeAgent((c) => (c.execute === 'guest-get-host-name' ? { return: { 'host-name': 'g1' } } : { error: { class: 'CommandNotFound', desc: 'nope' } }), { stale: true });
    const name = await withAgent(sock, (q) => q.execute<{ 'host-name': string }>('guest-get-host-name'));
    expect(name['host-name']).toBe('g1');
    expect(await rcOf(withAgent(sock, (q) => q.execute('guest-nope')))).toBe(1);
  });

  it('an agent that never answers is RC 5 naming qemu-ga; a missing socket RC 6', async () => {
    const sock = fakeAgent(() => undefined, { silent: true });
    const e = await withAgent(sock, async () => 1, 200).catch((x) => x as AddressError);
    expect((e as AddressError).rc).toBe(5);
    expect((e as AddressError).message).toMatch(/qemu-ga/);
    expect(await rcOf(withAgent('/nonexistent/qga.sock', async () => 1, 200))).toBe(6);
  });

  it('AgentPool keeps one synced session per socket: back-to-back calls and parallel ones share it; idle, it is closed', async () => {
    const conns: net.Socket[] = [];
    let syncs = 0;
    const sock = fakeAgent((c) => ({ return: c.execute }), { conns });
    const pool = new AgentPool(150);
    const spy = (q: Parameters<Parameters<AgentPool['use']>[1]>[0]) => q.execute<string>('guest-ping');
    const orig = conns.length;
    expect(await pool.use(sock, spy)).toBe('guest-ping');
    expect(await pool.use(sock, spy)).toBe('guest-ping');
    expect(await Promise.all([1, 2, 3].map(() => pool.use(sock, spy)))).toEqual(['guest-ping', 'guest-ping', 'guest-ping']);
    expect(conns.length - orig).toBe(1);
    syncs = conns.length;
    // Past the idle time the client hangs up; the next call connects again.
    await new Promise((r) => setTimeout(r, 300));
    expect(conns[0]!.destroyed || conns[0]!.readableEnded).toBe(true);
    await pool.use(sock, spy);
    expect(conns.length).toBe(syncs + 1);
    pool.dropAll();
  });

  it('AgentPool: a timeout or a socket closed under it is not reused (the next call reconnects); drop closes the kept one; a guest error keeps it', async () => {
    const conns: net.Socket[] = [];
    let mode = 'ok';
    const sock = fakeAgent((c) => (mode === 'silent' && c.execute === 'guest-ping' ? undefined : c.execute === 'guest-nope' ? { error: { class: 'CommandNotFound', desc: 'nope' } } : { return: 1 }), { conns });
    const pool = new AgentPool(10_000);
    const ping = (t?: number) => pool.use(sock, (q) => q.execute('guest-ping', undefined, t));
    await ping();
    expect(await rcOf(pool.use(sock, (q) => q.execute('guest-nope')))).toBe(1);
    await ping();
    expect(conns.length).toBe(1);
    mode = 'silent';
    expect(await rcOf(ping(100))).toBe(5);
    mode = 'ok';
    await ping();
    expect(conns.length).toBe(2);
    conns[1]!.destroy(); // QEMU went away (or restarted) between two calls
    await new Promise((r) => setTimeout(r, 50));
    await ping();
    expect(conns.length).toBe(3);
    pool.drop(sock);
    await new Promise((r) => setTimeout(r, 50));
    expect(conns[2]!.destroyed || conns[2]!.readableEnded).toBe(true);
    await ping();
    expect(conns.length).toBe(4);
    pool.dropAll();
  });

  it('under dryrun only reading guest-* commands reach the agent', async () => {
    const seen: string[] = [];
    const sock = fakeAgent((c) => (seen.push(c.execute), { return: {} }));
    const lines: string[] = [];
    await qgaEffect(true, (l) => lines.push(l))(sock, async (q) => {
      await q.execute('guest-get-osinfo');
      await q.execute('guest-exec', { path: '/bin/true' });
    });
    expect(seen).toEqual(['guest-get-osinfo']);
    expect(lines.join('\n')).toMatch(/# would qga .*guest-exec/);
    expect(['guest-ping', 'guest-exec-status', 'guest-network-get-interfaces', 'guest-get-host-name'].every((c) => QGA_READS.test(c))).toBe(true);
    expect(['guest-exec', 'guest-file-write', 'guest-shutdown', 'guest-file-open'].some((c) => QGA_READS.test(c))).toBe(false);
  });
});

describe('agentExec (fake qemu-ga)', () => {
  it('guest-exec with PATH and env (only when env is given), stdin base64, then guest-exec-status until exited: exit code and decoded output', async () => {
    let calls = 0;
    let exec: Cmd | undefined;
    const sock = fakeAgent((c) => {
      if (c.execute === 'guest-exec') return (exec = c, { return: { pid: 42 } });
      if (c.execute === 'guest-exec-status') return ++calls < 3 ? { return: { exited: false } } : { return: { exited: true, exitcode: 3, 'out-data': b64('hi\n'), 'err-data': b64('oops\n') } };
      return undefined;
    });
    const r = await withAgent(sock, (q) => agentExec(ctx, q, ['/bin/sh', '-c', 'x'], { env: ['A=1'], input: 'in', timeoutMs: 5_000 }));
    expect(r).toEqual({ exitCode: 3, stdout: 'hi\n', stderr: 'oops\n', truncated: false });
    expect(exec!.arguments).toEqual({ path: '/bin/sh', arg: ['-c', 'x'], env: [GUEST_PATH, 'A=1'], 'capture-output': true, 'input-data': b64('in') });
    expect(calls).toBe(3);
  });

  it('a signal is 128+N; a program the agent cannot start is RC 3; one that never exits is RC 5 and is killed', async () => {
    const killed: unknown[] = [];
    const sock = fakeAgent((c) => {
      const p = c.arguments?.path;
      if (c.execute === 'guest-exec' && p === 'kill') return (killed.push(c.arguments!.arg), { return: { pid: 2 } });
      if (c.execute === 'guest-exec' && p === '/nope') return { error: { class: 'GenericError', desc: "Guest agent command failed, error was 'Failed to execute child process \u201C/nope\u201D (No such file or directory)'" } };
      if (c.execute === 'guest-exec') return { return: { pid: p === '/hang' ? 7 : 8 } };
      if (c.execute === 'guest-exec-status') return c.arguments!.pid === 7 ? { return: { exited: false } } : { return: { exited: true, signal: 9 } };
      return undefined;
    });
    expect((await withAgent(sock, (q) => agentExec(ctx, q, ['/sig'], { timeoutMs: 5_000 }))).exitCode).toBe(137);
    expect(await rcOf(withAgent(sock, (q) => agentExec(ctx, q, ['/nope'], { timeoutMs: 5_000 })))).toBe(3);
    expect(await rcOf(withAgent(sock, (q) => agentExec(ctx, q, ['/hang'], { timeoutMs: 300 })))).toBe(5);
    expect(killed).toEqual([['-KILL', '7']]);
  });
});

describe('argv the agent verbs build', () => {
  const def: VmDef = {
    name: 'vm1', disk: '', format: '', base: '', memoryMiB: 256, cpus: 1, kernel: '/k', initrd: '', append: '', accel: 'tcg', network: 'none', created: '',
  };
  const p = vmPaths({ env: { REXX_QEMU_DIR: '/s' } }, 'vm1');
  it('every VM has the agent channel unless agent=false; a seed is a read-only IDE CD', () => {
    expect(qemuArgv(def, p, 'tcg').join(' ')).toContain('-chardev socket,path=/s/vms/vm1/qga.sock,server=on,wait=off,id=qga0 -device virtio-serial-pci,id=qga-serial0 -device virtserialport,bus=qga-serial0.0,chardev=qga0,name=org.qemu.guest_agent.0');
    expect(qemuArgv({ ...def, agent: false }, p, 'tcg')).not.toContain('-chardev');
    expect(qemuArgv({ ...def, seed: '/s/vms/vm1/seed.iso' }, p, 'tcg').join(' ')).toContain('-blockdev driver=file,filename=/s/vms/vm1/seed.iso,node-name=seed0,read-only=on -device ide-cd,drive=seed0,id=seed0-cd');
  });

  it('exec wraps cwd= in a shell cd (the directory as an argument, never in the script) and user= in setpriv', () => {
    const g = { argv: ['/bin/sh', '-c', 'id'], viaShell: true };
    expect(agentArgv(g, {})).toEqual(['/bin/sh', '-c', 'id']);
    expect(agentArgv(g, { cwd: '/tmp/$(reboot)' })).toEqual(['/bin/sh', '-c', 'cd -- "$1" && shift && exec "$@"', 'sh', '/tmp/$(reboot)', '/bin/sh', '-c', 'id']);
    expect(agentArgv(g, { user: 1000 })).toEqual(['setpriv', '--reuid=1000', '--regid=1000', '--clear-groups', '--', '/bin/sh', '-c', 'id']);
  });

  it('cloud-localds gets files in the VM folder after "--"; a value is a file only when it is one line starting with "/"', () => {
    expect(cloudLocaldsArgv('/s/vms/vm1/seed.iso.tmp', '/s/vms/vm1/cloud-init', true)).toEqual([
      'cloud-localds', '--network-config=/s/vms/vm1/cloud-init/network-config', '--', '/s/vms/vm1/seed.iso.tmp', '/s/vms/vm1/cloud-init/user-data', '/s/vms/vm1/cloud-init/meta-data',
    ]);
    expect(isFileRef('/srv/user-data')).toBe(true);
    expect(isFileRef('#cloud-config\nruncmd: []')).toBe(false);
    expect(isFileRef('/x\n')).toBe(false);
  });

  it('cloud_init on a VM plans cloud-localds (dryrun, fake binary: nothing runs); a ".." file path is RC 2; a running VM is refused', async () => {
    const fake = fakeBin({ 'cloud-localds': {}, 'qemu-system-x86_64': {}, 'qemu-img': {} });
    fakes.push(fake);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-qga-ci-'));
    dirs.push(dir);
    const h = createHandler(table, { env: { ...fake.env, REXX_QEMU_DIR: dir, REXX_QEMU_PATHS: '/bin' } });
    expect((await h('create name=vm1 kernel=/bin/sh accel=tcg')).errorCode).toBe(0);
    const r = await h('cloud_init vm1 user_data="#cloud-config" dryrun=true');
    expect(r.errorCode, r.errorMessage).toBe(0);
    expect(r.output).toContain(`cloud-localds -- ${dir}/vms/vm1/seed.iso.tmp ${dir}/vms/vm1/cloud-init/user-data ${dir}/vms/vm1/cloud-init/meta-data`);
    expect((await h('cloud_init vm1 user_data=/etc/../etc/shadow')).errorCode).toBe(2);
    expect((await h('cloud_init vm1 user_data=/no/such/file')).errorCode).toBe(3);
    expect((await h('cloud_init nosuchvm user_data="#cloud-config"')).errorCode).toBe(3);
    expect(fake.calls()).toEqual([]);
    expect(fs.existsSync(path.join(dir, 'vms', 'vm1', 'seed.iso'))).toBe(false);
  });

  it('agent verbs on a stopped VM are RC 7 (exec: -7), on an agent=false VM RC 7, nothing runs', async () => {
    const fake = fakeBin({ 'qemu-system-x86_64': {}, 'qemu-img': {} });
    fakes.push(fake);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-qga-st-'));
    dirs.push(dir);
    const h = createHandler(table, { env: { ...fake.env, REXX_QEMU_DIR: dir, REXX_QEMU_PATHS: '/bin' } });
    expect((await h('create name=vm1 kernel=/bin/sh')).errorCode).toBe(0);
    expect((await h('create name=vm2 kernel=/bin/sh agent=false')).errorCode).toBe(0);
    expect((await h('exec vm1 command=true')).errorCode).toBe(-7);
    expect((await h('file_pull vm1 path=/etc/hostname')).errorCode).toBe(7);
    expect((await h('guest_info vm1')).errorCode).toBe(7);
    const r = await h('guest_info vm2');
    expect(r.errorCode).toBe(7);
    expect(r.errorMessage).toMatch(/agent=false/);
    expect((await h('exec nosuch command=true')).errorCode).toBe(-3);
    expect((await h('start vm2 wait=agent')).errorCode).toBe(7);
    expect(fake.calls()).toEqual([]);
  });
});
