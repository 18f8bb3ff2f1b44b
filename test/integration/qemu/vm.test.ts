/**
 * ADDRESS QEMU VMs on the real qemu-system-x86_64, booting the cached tiny guest
 * (scripts/build-qemu-guest.sh) a handful of times under TCG: start to QMP running and
 * to the guest's marker, pause/resume, a running snapshot (QMP job), stop (powerdown
 * then quit) and force, clones started in parallel, a VM killed or exiting early →
 * RC 1 with the serial tail, wait timeouts → RC 5, and accel=kvm where KVM is broken.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler, type AddressHandler } from '../../../shared/dispatch';
import { sleep } from '../../../shared/poll';
import { table } from '../../../handlers/qemu';
import { removeQemuState } from '../../helpers/qemu';

const G = '/var/lib/rexx-address/qemu-guest';
const MARKER = 'REXX-GUEST-READY';
const SHELL = `kernel=${G}/vmlinuz initrd=${G}/initrd.img append="console=ttyS0 quiet" accel=tcg memory=192`;
const HALT = `kernel=${G}/vmlinuz initrd=${G}/initrd.img append="console=ttyS0 rexx.halt=1 quiet" accel=tcg memory=192`;
let dir: string;
let h: AddressHandler;
const ok = async (cmd: string) => {
  const r = await h(cmd);
  expect(r.errorCode, `${cmd}: ${r.errorMessage}`).toBe(0);
  return r;
};
const pidOf = (vm: string) => Number(fs.readFileSync(path.join(dir, 'vms', vm, 'qemu.pid'), 'utf8'));

beforeAll(async () => {
  const v = await execa('qemu-system-x86_64', ['--version'], { reject: false }).catch(() => undefined);
  if (!v || v.exitCode !== 0) throw new Error('qemu-system-x86_64 is not installed: run scripts/setup-host.sh');
  for (const f of ['vmlinuz', 'initrd.img']) if (!fs.existsSync(path.join(G, f))) throw new Error(`${G}/${f} missing: run scripts/build-qemu-guest.sh`);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-qvm-'));
  h = createHandler(table, { env: { ...process.env, REXX_QEMU_DIR: dir } });
  await ok('create_disk name=gold size=16M');
  await ok('register_base gold');
});
afterAll(() => removeQemuState(h, dir));

describe('a booted VM', () => {
  it('starts to QMP running, pauses, resumes, snapshots while running, prints its marker, stops', async () => {
    await ok(`clone_from_base base=gold name=vm1 ${SHELL}`);
    const s = await ok('start vm1');
    expect(s.rexxVariables).toMatchObject({ STATUS: 'running', ACCEL: 'tcg', ALREADY: 0 });
    expect(s.rexxVariables.QMP_MS).toBeGreaterThan(0);
    expect((await ok('start vm1')).rexxVariables.ALREADY).toBe(1);
    const st = await ok('state vm1');
    expect(st.rexxVariables).toMatchObject({ STATUS: 'running', ACCEL: 'tcg', BASE: 'gold', PID: pidOf('vm1') });
    expect((await ok('pause vm1')).rexxVariables).toMatchObject({ STATUS: 'paused', EVENT: 'STOP' });
    expect((await ok('state vm1')).output).toBe('paused');
    expect((await ok('pause vm1')).rexxVariables.STATUS).toBe('paused');
    expect((await ok('resume vm1')).rexxVariables).toMatchObject({ STATUS: 'running', EVENT: 'RESUME' });
    // snapshot once the guest sits at its prompt (a snapshot taken mid-boot while the kernel
    // is still being loaded through fw_cfg does not resume usefully)
    for (let i = 0; i < 200 && !(await h('console vm1')).output.includes(MARKER); i++) await sleep(100);
    expect((await ok('console vm1 lines=50')).output).toContain(MARKER);
    // start of a running VM still waits for what wait= asks: text already printed counts, text never printed is RC 5.
    expect((await ok(`start vm1 wait=serial:${MARKER}`)).rexxVariables).toMatchObject({ ALREADY: 1, STATUS: 'running' });
    expect((await h('start vm1 wait=serial:NEVER-PRINTED timeout=1s')).errorCode).toBe(5);
    expect((await ok('snapshot vm1 snapshot=live')).rexxVariables.METHOD).toBe('qmp');
    expect((await ok('list_snapshots vm1')).rexxVariables.SNAPSHOTS).toEqual({ 0: 1, 1: 'live' });
    expect((await ok('restore vm1 snapshot=live')).rexxVariables.METHOD).toBe('qmp');
    expect((await ok('state vm1')).output).toBe('running');
    expect((await h('restore vm1 snapshot=nope')).errorCode).toBe(1);
    expect((await ok('snapshot vm1 snapshot=live2')).rexxVariables.METHOD).toBe('qmp');
    expect((await ok('delete_snapshot vm1 snapshot=live2')).rexxVariables.METHOD).toBe('qmp');
    expect((await ok('list_snapshots vm1')).rexxVariables.SNAPSHOTS).toEqual({ 0: 1, 1: 'live' });
    const stop = await ok('stop vm1 timeout=1s');
    expect(['powerdown', 'quit']).toContain(stop.rexxVariables.METHOD);
    expect((await ok('state vm1')).output).toBe('stopped');
    expect((await ok('stop vm1')).rexxVariables.METHOD).toBe('none');
  });

  it('wait=serial:MARKER returns once the guest prints it; a guest that powers off leaves a stopped VM', async () => {
    await ok(`create name=halt1 ${HALT}`);
    const s = await ok(`start halt1 wait=serial:${MARKER} timeout=90s`);
    expect(s.rexxVariables.READY_MS).toBeGreaterThan(0);
    for (let i = 0; i < 100 && (await ok('state halt1')).output !== 'stopped'; i++) await sleep(100);
    expect((await ok('state halt1')).output).toBe('stopped');
  });

  it('a guest that exits before printing the awaited text → RC 1 with the last serial lines', async () => {
    const r = await h('start halt1 wait=serial:NEVER-PRINTED timeout=90s');
    expect(r.errorCode).toBe(1);
    expect(r.errorMessage).toMatch(/QEMU exited before the guest printed "NEVER-PRINTED".*last serial lines:.*REXX-GUEST-READY/);
  });

  it('a wait that times out is RC 5; a killed QEMU gives RC 1 with the serial tail; stop cleans up', async () => {
    await ok(`create name=kill1 ${SHELL}`);
    const r = await h('start kill1 wait=serial:NEVER-PRINTED timeout=1500ms');
    expect(r.errorCode).toBe(5);
    expect((await ok('state kill1')).output).toBe('running');
    for (let i = 0; i < 200 && !(await h('console kill1')).output.includes(MARKER); i++) await sleep(100);
    process.kill(pidOf('kill1'), 'SIGKILL');
    await sleep(300);
    const st = await h('state kill1');
    expect(st.errorCode).toBe(1);
    expect(st.errorMessage).toMatch(/crashed or was killed — last serial lines:.*REXX-GUEST-READY/);
    expect((await h('pause kill1')).errorCode).toBe(1);
    expect((await ok('stop kill1')).rexxVariables.WAS).toBe('crashed');
    expect((await ok('state kill1')).output).toBe('stopped');
  });

  it('a VM killed while start waits → RC 1, never a hang', async () => {
    await ok(`create name=kill2 ${SHELL}`);
    const pending = h('start kill2 wait=serial:NEVER-PRINTED timeout=90s');
    const pidFile = path.join(dir, 'vms', 'kill2', 'qemu.pid');
    for (let i = 0; i < 100 && !fs.existsSync(pidFile); i++) await sleep(50);
    await sleep(500);
    process.kill(pidOf('kill2'), 'SIGKILL');
    const r = await pending;
    expect(r.errorCode).toBe(1);
    expect(r.errorMessage).toMatch(/VM kill2: QEMU exited/);
    await ok('stop kill2');
  });

  it('clones started in parallel; delete refuses a running VM without force; stop force=true quits at once', async () => {
    const r = await ok(`clone_from_base base=gold name=par count=2 start=true ${SHELL}`);
    expect(r.rexxVariables.CLONES).toEqual({ 0: 2, 1: 'par-1', 2: 'par-2' });
    expect((await ok('list status=running')).rexxVariables.VMS).toEqual({ 0: 2, 1: 'par-1', 2: 'par-2' });
    expect((await h('delete par-1')).errorCode).toBe(7);
    expect((await ok('stop par-1 force=true')).rexxVariables.METHOD).toBe('quit');
    await ok('delete par-2 force=true');
    expect((await h('state par-2')).errorCode).toBe(3);
    expect(fs.existsSync(path.join(dir, 'images', 'gold.qcow2'))).toBe(true);
  });

  it('accel=kvm: RC 6 with the reason where KVM does not work, else it boots under KVM', async () => {
    const st = await ok('status');
    await ok(`create name=kvm1 kernel=${G}/vmlinuz initrd=${G}/initrd.img append="console=ttyS0 rexx.halt=1 quiet" accel=kvm`);
    const r = await h('start kvm1');
    if (st.rexxVariables.KVM === 0) {
      expect(r.errorCode).toBe(6);
      expect(r.errorMessage).toMatch(/accel=kvm: KVM does not work on this host .*use accel=tcg or accel=auto/);
      const auto = await ok(`create name=auto1 ${HALT.replace('accel=tcg', 'accel=auto')}`);
      expect(auto.errorCode).toBe(0);
      const s = await ok(`start auto1 wait=serial:${MARKER}`);
      expect(s.rexxVariables.ACCEL).toBe('tcg');
      expect(String(s.rexxVariables.ACCEL_REASON)).toMatch(/KVM not usable/);
    } else {
      expect(r.errorCode, r.errorMessage).toBe(0);
      expect(r.rexxVariables.ACCEL).toBe('kvm');
      await ok('stop kvm1 force=true');
    }
  });
});
