/**
 * A QEMU stuck in its own exit (fake QEMU: a failure the real one produces only by a
 * race). QEMU 7.2 can hang for good in qemu_cleanup → monitor_cleanup when a QMP client
 * sends a command while the guest powers off: the process lives on, its QMP socket
 * greets and never answers, its disks are already closed. Seen in CI as `state` RC 5
 * for ever and the next `start` finding the VM "already running".
 *
 * The fake: a process whose command line names the VM's QMP socket (what the handler
 * checks to know its QEMU), a unix socket there that greets and stays silent, and the
 * serial log a Linux guest leaves when it powers off. `state` then ends the stuck QEMU
 * and says stopped; with a disk still open (QEMU not that far in its exit), or a guest
 * that did not power off, it never kills and answers RC 5.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, it } from 'vitest';
import { createHandler } from '../../../shared/dispatch';
import { table } from '../../../handlers/qemu';

const cleanups: Array<() => void> = [];
afterAll(() => cleanups.splice(0).forEach((f) => f()));

const alive = (p: ChildProcess) => p.exitCode === null && p.signalCode === null;

/** A VM definition with a fake QEMU running for it; `serial` is its console log, `holdOpen` a file the fake keeps open. */
async function stuckVm(serial: string, holdOpen?: string) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-qstuck-'));
  const kernel = path.join(dir, 'vmlinuz');
  fs.writeFileSync(kernel, 'not a kernel');
  const h = createHandler(table, { env: { ...process.env, REXX_QEMU_DIR: dir } });
  const made = await h(`create name=s1 kernel=${kernel} accel=tcg`);
  if (made.errorCode) throw new Error(`create: ${made.errorMessage}`);
  const vm = path.join(dir, 'vms', 's1');
  const qmp = path.join(vm, 'qmp.sock');
  const srv = net.createServer((s) => s.write('{"QMP": {"version": {"qemu": {"major": 7, "minor": 2}}, "capabilities": ["oob"]}}\r\n'));
  await new Promise<void>((r) => srv.listen(qmp, r));
  // sh stays (no exec), so its command line keeps the QMP path ($0); $1 is a file it holds open.
  const fake = spawn('sh', ['-c', holdOpen ? 'exec 3<"$1"; read x' : 'read x', qmp, holdOpen ?? ''], { stdio: ['pipe', 'ignore', 'ignore'] });
  fs.writeFileSync(path.join(vm, 'qemu.pid'), `${fake.pid}\n`);
  fs.writeFileSync(path.join(vm, 'serial.log'), serial);
  cleanups.push(() => {
    fake.kill('SIGKILL');
    srv.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  // let sh run its redirection before the handler looks at its files
  await new Promise((r) => setTimeout(r, 200));
  return { h, fake, dir };
}

const POWERED_OFF = 'REXX-GUEST-READY\r\n[    2.417133] reboot: Power down\r\n';

// Each state call waits out its 5 s QMP deadline and the 2 s settle.
describe.concurrent('a QEMU stuck in its exit after the guest powered off (fake QEMU)', { timeout: 30_000 }, () => {
  it('state ends it (SIGKILL) and says stopped, and stays stopped', async ({ expect }) => {
    const { h, fake } = await stuckVm(POWERED_OFF);
    const r = await h('state s1');
    expect(r.errorCode, r.errorMessage).toBe(0);
    expect(r.output).toBe('stopped');
    expect(r.rexxVariables).toMatchObject({ STATUS: 'stopped', PID: 0 });
    await new Promise((res) => setTimeout(res, 100));
    expect(alive(fake)).toBe(false);
    expect((await h('state s1')).output).toBe('stopped');
  });

  it('8 state calls at once: all RC 0 and stopped (none sees it killed, as a crash)', async ({ expect }) => {
    const { h, fake } = await stuckVm(POWERED_OFF);
    const rs = await Promise.all(Array.from({ length: 8 }, () => h('state s1')));
    expect(rs.map((r) => [r.errorCode, r.output])).toEqual(Array.from({ length: 8 }, () => [0, 'stopped']));
    expect(alive(fake)).toBe(false);
  });

  it('a disk still open (QEMU not yet past closing its block devices): RC 5, never killed', async ({ expect }) => {
    const disk = path.join(os.tmpdir(), `rexx-qstuck-disk-${process.pid}.qcow2`);
    fs.writeFileSync(disk, 'x');
    cleanups.push(() => fs.rmSync(disk, { force: true }));
    const { h, fake } = await stuckVm(POWERED_OFF, disk);
    const r = await h('state s1');
    expect(r.errorCode, r.errorMessage).toBe(5);
    expect(alive(fake)).toBe(true);
  });

  it('a guest that did not power off (its console says something else): RC 5, never killed', async ({ expect }) => {
    const { h, fake } = await stuckVm('REXX-GUEST-READY\r\n~ # ');
    const r = await h('state s1');
    expect(r.errorCode, r.errorMessage).toBe(5);
    expect(alive(fake)).toBe(true);
  });
});
