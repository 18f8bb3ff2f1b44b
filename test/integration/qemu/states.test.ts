/**
 * VM state snapshots on real QEMU (TCG) with the busybox guest in counter mode
 * (rexx.counter=1: "REXX-COUNTER N" on the serial console every ~200 ms): save_state
 * (lz4, zstd; the VM going on, or stop=true), restore_state going on from where the
 * counter was, the parent chain, prune_states keeping what a kept state builds on,
 * export_state / import_state into a second VM, and an interrupted save (its compressor
 * killed) left Invalid while the guest runs on.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler, type AddressHandler } from '../../../shared/dispatch';
import { sleep } from '../../../shared/poll';
import { table } from '../../../handlers/qemu';
import { qemuProcesses, removeQemuState } from '../../helpers/qemu';

const G = process.env.REXX_QEMU_GUEST_DIR || '/var/lib/rexx-address/qemu-guest';
const GUEST = `kernel=${G}/vmlinuz initrd=${G}/initrd.img append="console=ttyS0 quiet rexx.counter=1" accel=tcg memory=128M`;
let dir: string;
let h: AddressHandler;
const ok = async (cmd: string) => {
  const r = await h(cmd);
  expect(r.errorCode, `${cmd}: ${r.errorMessage}`).toBe(0);
  return r;
};
/** The counter values on VM `vm`'s serial log, in order. */
const counters = (vm: string) => [...fs.readFileSync(path.join(dir, 'vms', vm, 'serial.log'), 'utf8').matchAll(/REXX-COUNTER (\d+)/g)].map((m) => Number(m[1]));
const last = (vm: string) => counters(vm).at(-1) ?? -1;
/** Wait until VM `vm` prints a counter above `n`; the values seen. */
async function counterPast(vm: string, n: number, ms = 20_000): Promise<number[]> {
  const end = Date.now() + ms;
  for (;;) {
    const c = counters(vm);
    if ((c.at(-1) ?? -1) > n) return c;
    if (Date.now() > end) throw new Error(`${vm}: no counter above ${n} within ${ms} ms (seen ${c.slice(-3).join(',')})`);
    await sleep(50);
  }
}

beforeAll(async () => {
  for (const f of ['vmlinuz', 'initrd.img']) if (!fs.existsSync(path.join(G, f))) throw new Error(`${G}/${f} missing: run scripts/build-qemu-guest.sh`);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-qstates-'));
  h = createHandler(table, { env: { ...process.env, REXX_QEMU_DIR: dir, REXX_QEMU_PATHS: G } });
  await ok('create_disk name=d1 size=16M');
  await ok(`create name=s1 disk=d1 ${GUEST}`);
  await ok('start s1 wait=serial:REXX-COUNTER timeout=90s');
  await counterPast('s1', 2);
});
afterAll(() => removeQemuState(h, dir));

describe('save_state / restore_state / list_states / prune_states', () => {
  const ids: string[] = [];
  let before = 0;
  let after = 0;

  it('save_state (lz4) keeps the VM running; the state is Ready, its disk frozen under an overlay', async () => {
    const plan = await ok('save_state s1 snapshot=first dryrun=true');
    expect(plan.output).toMatch(/^socat -u UNIX-LISTEN:\S+state\.sock STDOUT '\|' lz4 -q -1 - \S+memory\.lz4$/m);
    expect(fs.existsSync(path.join(dir, 'vms/s1/states'))).toBe(false);
    expect((await ok('state s1')).output).toBe('running');
    before = last('s1');
    const r = await ok('save_state s1 snapshot=first');
    after = last('s1');
    ids.push(r.rexxVariables.SNAPSHOT as string);
    expect(r.rexxVariables).toMatchObject({ SNAPSHOT: 'first', PARENT: '', STATUS: 'running' });
    expect(r.rexxVariables.SIZE as number).toBeGreaterThan(0);
    expect(r.rexxVariables.STREAM_BYTES as number).toBeGreaterThan(r.rexxVariables.SIZE as number);
    await counterPast('s1', after + 2);
    const st = await ok('list_states s1');
    expect(st.rexxVariables).toMatchObject({ IDS: { 0: 1, 1: 'first' }, STATES: { 0: 1, 1: 'Ready' }, HEAD: 'first' });
    const snap = JSON.parse(fs.readFileSync(path.join(dir, 'vms/s1/states/first/snapshot.json'), 'utf8'));
    expect(snap).toMatchObject({ id: 'first', target: 's1', state: 'Ready', parent: '', kind: 'qemu' });
    expect(snap.data.disk).toBe(path.join(dir, 'images/d1.qcow2'));
    expect(fs.existsSync(path.join(dir, 'vms/s1/states/first/memory.lz4'))).toBe(true);
    expect((await h('restore_state s1 first')).errorCode).toBe(7); // running
    // The internal snapshots of a running VM follow the guest onto its overlay node.
    expect((await ok('snapshot s1 snapshot=inside')).rexxVariables.METHOD).toBe('qmp');
    expect((await ok('delete_snapshot s1 snapshot=inside')).rexxVariables.METHOD).toBe('qmp');
  });

  it('save_state compress=zstd stop=true stops it; its parent is the first', async () => {
    const r = await ok('save_state s1 compress=zstd stop=true');
    ids.push(r.rexxVariables.SNAPSHOT as string);
    expect(r.rexxVariables).toMatchObject({ PARENT: 'first', STATUS: 'stopped' });
    expect((await ok('state s1')).output).toBe('stopped');
  });

  it('restore_state first: the counter goes on from where it was saved, not from 0', async () => {
    const r = await ok('restore_state s1 snapshot=first');
    expect(r.rexxVariables).toMatchObject({ STATUS: 'running', SNAPSHOT: 'first' });
    const c = await counterPast('s1', before + 1);
    // A fresh boot would print 0 first; the restored guest's first line follows the saved value.
    expect(c[0]).toBeGreaterThan(before);
    expect(c[0]).toBeLessThanOrEqual(after + 3);
    expect((await ok('list_states s1')).rexxVariables.HEAD).toBe('first');
  });

  it('a save after a restore builds on the restored state; prune_states keep=1 keeps what the kept one builds on', async () => {
    const r = await ok('save_state s1 snapshot=third');
    expect(r.rexxVariables.PARENT).toBe('first');
    const p = await ok('prune_states s1 keep=1');
    // third is kept, first is its parent: only the zstd one goes.
    expect(p.rexxVariables.PRUNED).toEqual({ 0: 1, 1: ids[1] });
    expect(p.rexxVariables.KEPT).toEqual({ 0: 2, 1: 'first', 2: 'third' });
    expect((await ok('prune_states s1 keep=0')).rexxVariables.PRUNED).toEqual({ 0: 0 });
  });

  it('an interrupted save (its compressor killed) is left Invalid, never Ready, and the guest runs on', async () => {
    const killer = killWhenSeen('lz4', path.join(dir, 'vms/s1/states/broken'));
    const r = await h('save_state s1 snapshot=broken');
    await killer;
    expect(r.errorCode).not.toBe(0);
    const st = await ok('list_states s1');
    const i = Object.values(st.rexxVariables.IDS as Record<string, unknown>).indexOf('broken');
    expect((st.rexxVariables.STATES as Record<number, string>)[i]).toBe('Invalid');
    expect((await ok('state s1')).output).toBe('running');
    const n = last('s1');
    await counterPast('s1', n + 2);
    expect((await h('restore_state s1 snapshot=broken force=true')).errorCode).toBe(7);
  });

  it('export_state / import_state move a state to another VM, which goes on from it', async () => {
    const tar = path.join(dir, 'third.tar');
    await ok('stop s1 force=true');
    const savedAt = last('s1');
    const e = await ok(`export_state s1 third file=${tar}`);
    expect(e.rexxVariables.BYTES as number).toBeGreaterThan(0);
    expect((await h(`export_state s1 third file=${tar}`)).errorCode).toBe(4);
    await ok('create_disk name=d2 size=16M');
    await ok(`create name=s2 disk=d2 ${GUEST}`);
    const i = await ok(`import_state s2 file=${tar} snapshot=moved`);
    expect(i.rexxVariables.SNAPSHOT).toBe('moved');
    await ok('restore_state s2');
    const c = await counterPast('s2', 0);
    expect(c[0]).toBeGreaterThan(0);
    expect(c[0]).toBeLessThanOrEqual(savedAt + 40);
    await ok('stop s2 force=true');
  });

  it('import_state refuses a tarball with a symlink, a path or an extra member (RC 7) before extracting anything', async () => {
    const work = fs.mkdtempSync(path.join(dir, 'evil-'));
    fs.symlinkSync('/etc/shadow', path.join(work, 'memory.lz4'));
    fs.writeFileSync(path.join(work, 'snapshot.json'), '{}');
    fs.writeFileSync(path.join(work, 'extra'), 'x');
    const tar = (name: string, ...members: string[]) => execa('tar', ['-C', work, '-cf', path.join(dir, name), ...members]);
    await tar('link.tar', 'snapshot.json', 'memory.lz4');
    await tar('extra.tar', 'snapshot.json', 'extra');
    await execa('tar', ['-C', dir, '-cf', path.join(dir, 'dots.tar'), `${path.basename(work)}/../${path.basename(work)}/snapshot.json`]);
    const before = (await ok('list_states s2')).rexxVariables.IDS;
    for (const t of ['link.tar', 'extra.tar', 'dots.tar']) {
      const r = await h(`import_state s2 file=${path.join(dir, t)}`);
      expect(r.errorCode, `${t}: ${r.errorMessage}`).toBe(7);
    }
    expect((await ok('list_states s2')).rexxVariables.IDS).toEqual(before);
    expect((await h(`import_state s2 file=${path.join(dir, 'nope.tar')}`)).errorCode).toBe(3);
  });

  it('a restore from a truncated memory file fails (RC 1), the new QEMU gone and the VM as it was', async () => {
    const mem = path.join(dir, 'vms/s1/states/third/memory.lz4');
    fs.truncateSync(mem, Math.floor(fs.statSync(mem).size / 2));
    const head = (await ok('list_states s1')).rexxVariables.HEAD;
    const vmJson = fs.readFileSync(path.join(dir, 'vms/s1/vm.json'), 'utf8');
    const r = await h('restore_state s1 snapshot=third');
    expect(r.errorCode, r.errorMessage).toBe(1);
    expect((await ok('state s1')).output).toBe('stopped');
    expect(qemuProcesses(path.join(dir, 'vms/s1/'))).toEqual([]);
    expect((await ok('list_states s1')).rexxVariables.HEAD).toBe(head);
    expect(fs.readFileSync(path.join(dir, 'vms/s1/vm.json'), 'utf8')).toBe(vmJson);
    expect(fs.readdirSync(path.join(dir, 'vms/s1/states/third')).filter((f) => f.startsWith('restore-'))).toEqual([]);
  });
});

/** Kill (SIGKILL) the first process named `name` whose command line contains `fragment`, as soon as it appears. */
async function killWhenSeen(name: string, fragment: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    for (const d of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
      try {
        const argv = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
        if (path.basename(argv[0] ?? '') === name && argv.some((a) => a.includes(fragment))) {
          process.kill(Number(d), 'SIGKILL');
          return;
        }
      } catch {
        /* gone meanwhile */
      }
    }
    await sleep(2);
  }
  throw new Error(`no ${name} process with ${fragment} appeared`);
}
