/**
 * Live migration on real QEMU (TCG) on this host, with the busybox guest in counter
 * mode (rexx.counter=1): over a unix socket in the VM folder, over an explicit unix
 * path, over tcp:127.0.0.1 and over ssh to this host (the test sshd on 127.0.0.1,
 * test/helpers/sshd.ts: the incoming QEMU is started through ssh, its QMP and the
 * stream forwarded over that connection); the counter goes on across each move (no restart from 0),
 * the VM's pid is the new QEMU's, the old QEMU is gone, stop and start work after.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler, type AddressHandler } from '../../../shared/dispatch';
import { sleep } from '../../../shared/poll';
import { table } from '../../../handlers/qemu';
import { qemuProcesses, removeQemuState } from '../../helpers/qemu';
import { startSshd, type TestSshd } from '../../helpers/sshd';

const G = process.env.REXX_QEMU_GUEST_DIR || '/var/lib/rexx-address/qemu-guest';
const GUEST = `kernel=${G}/vmlinuz initrd=${G}/initrd.img append="console=ttyS0 quiet rexx.counter=1" accel=tcg memory=128M`;
let dir: string;
let h: AddressHandler;
let sshd: TestSshd;
const ok = async (cmd: string) => {
  const r = await h(cmd);
  expect(r.errorCode, `${cmd}: ${r.errorMessage}`).toBe(0);
  return r;
};
const counters = () => [...fs.readFileSync(path.join(dir, 'vms/m1/serial.log'), 'utf8').matchAll(/REXX-COUNTER (\d+)/g)].map((m) => Number(m[1]));
async function counterPast(n: number, ms = 20_000): Promise<number[]> {
  const end = Date.now() + ms;
  for (;;) {
    const c = counters();
    if ((c.at(-1) ?? -1) > n) return c;
    if (Date.now() > end) throw new Error(`no counter above ${n} within ${ms} ms`);
    await sleep(50);
  }
}
/** A TCP port free on 127.0.0.1 now. */
const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });

beforeAll(async () => {
  for (const f of ['vmlinuz', 'initrd.img']) if (!fs.existsSync(path.join(G, f))) throw new Error(`${G}/${f} missing: run scripts/build-qemu-guest.sh`);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-qmig-'));
  sshd = await startSshd();
  h = createHandler(table, { env: { ...process.env, REXX_QEMU_DIR: dir, REXX_QEMU_PATHS: G, REXX_QEMU_SSH_CONFIG: sshd.config } });
  await ok('create_disk name=d1 size=16M');
  await ok(`create name=m1 disk=d1 ${GUEST}`);
  await ok('start m1 wait=serial:REXX-COUNTER timeout=90s');
  await counterPast(2);
});
afterAll(async () => {
  await removeQemuState(h, dir);
  await sshd?.stop();
});

describe('migrate', () => {
  it.each([
    ['unix (a socket in the VM folder)', () => 'unix'],
    ['unix:PATH', () => `unix:${dir}/explicit.sock`],
    ['tcp:127.0.0.1:PORT', async () => `tcp:127.0.0.1:${await freePort()}`],
    ['ssh:HOST (the test sshd on 127.0.0.1)', () => `ssh:${sshd.peer}`],
  ])('over %s: the new QEMU runs the guest on, the counter never restarts, the old QEMU is gone', async (_what, target) => {
    const oldPid = (await ok('state m1')).rexxVariables.PID as number;
    const before = counters().at(-1)!;
    const r = await ok(`migrate m1 target=${await target()}`);
    expect(r.rexxVariables.STATUS).toBe('running');
    expect(r.rexxVariables.PID).not.toBe(oldPid);
    expect(r.rexxVariables.BYTES as number).toBeGreaterThan(1_000_000);
    expect(r.rexxVariables.TOTAL_MS as number).toBeGreaterThan(0);
    expect(r.rexxVariables.DOWNTIME_MS as number).toBeGreaterThanOrEqual(0);
    const st = await ok('state m1');
    expect(st.rexxVariables).toMatchObject({ STATUS: 'running', PID: r.rexxVariables.PID });
    // Nothing of the ssh connection is left: no forwarded sockets, no control socket, no ssh process.
    expect(fs.readdirSync(path.join(dir, 'vms/m1')).filter((f) => /^(fwd-|ssh\.ctl|migrate\.sock)/.test(f))).toEqual([]);
    expect(qemuProcesses(path.join(dir, 'vms/m1/'))).toEqual([r.rexxVariables.PID]);
    const c = await counterPast(before + 3);
    // One guest: the counter only ever goes up by one, across the move.
    for (let i = 1; i < c.length; i++) expect(c[i]).toBe(c[i - 1]! + 1);
  });

  it('a stopped VM is RC 7; ssh: to a host that refuses is RC 6 and the VM runs on; dryrun plans and moves nothing; an existing unix path is RC 4; after a move, stop and start work', async () => {
    const pid = (await ok('state m1')).rexxVariables.PID;
    const r6 = await h('migrate m1 target=ssh:127.0.0.1:1');
    expect(r6.errorCode, r6.errorMessage).toBe(6);
    expect((await ok('state m1')).rexxVariables).toMatchObject({ STATUS: 'running', PID: pid });
    expect(qemuProcesses(path.join(dir, 'vms/m1/'))).toEqual([pid]);
    // dryrun plans the ssh steps and QMP nothing: the same QEMU runs, the folder is as it was.
    const files = fs.readdirSync(path.join(dir, 'vms/m1')).sort();
    const d = await ok(`migrate m1 target=ssh:${sshd.peer} dryrun=true`);
    expect(String(d.output)).toContain(`-f -N ${sshd.peer}`);
    expect(String(d.output)).toMatch(/qemu-system-x86_64/);
    expect((await ok('state m1')).rexxVariables).toMatchObject({ STATUS: 'running', PID: pid });
    expect(qemuProcesses(path.join(dir, 'vms/m1/'))).toEqual([pid]);
    expect(fs.readdirSync(path.join(dir, 'vms/m1')).sort()).toEqual(files);
    fs.writeFileSync(path.join(dir, 'taken'), 'x');
    expect((await h(`migrate m1 target=unix:${dir}/taken`)).errorCode).toBe(4);
    expect(fs.readFileSync(path.join(dir, 'taken'), 'utf8')).toBe('x');
    expect((await ok('stop m1 force=true')).rexxVariables.WAS).toBe('running');
    expect((await ok('state m1')).output).toBe('stopped');
    expect((await h('migrate m1')).errorCode).toBe(7);
    await ok('start m1 wait=serial:REXX-COUNTER timeout=90s');
    await ok('migrate m1');
    await ok('stop m1 force=true');
    expect(qemuProcesses(path.join(dir, 'vms/m1/'))).toEqual([]);
  });
});
