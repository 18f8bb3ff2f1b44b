/**
 * ADDRESS QEMU with corrupt state files, on the real qemu-img and qemu-system-x86_64
 * (the cached tiny guest under TCG), each case in its own state folder: a truncated,
 * empty or wrong-shaped vm.json of a running VM, and a truncated, empty, wrong-shaped
 * or kind-less NAME.base.json. list / list_bases skip the file and name it in stem
 * CORRUPT; the verbs that need it answer RC 1 naming it; delete force=true and
 * unregister_base force=true still clean up; no write ever replaces the file.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler, type AddressHandler } from '../../shared/dispatch';
import { table } from '../../handlers/qemu';
import { qemuProcesses } from '../helpers/qemu';
import { recordCounts } from '../helpers/reliability';
import { RUN_ID } from '../helpers/run-id';

const G = '/var/lib/rexx-address/qemu-guest';
const KERNEL = `kernel=${G}/vmlinuz initrd=${G}/initrd.img append="console=ttyS0 quiet" accel=tcg memory=128`;
const dirs: Array<{ dir: string; h: AddressHandler }> = [];
const stemValues = (s: unknown) => Object.entries((s ?? {}) as Record<string, unknown>).filter(([k]) => k !== '0').map(([, v]) => v);

function fresh() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `rexx-qcorrupt-${RUN_ID}-`));
  const h = createHandler(table, { env: { ...process.env, REXX_QEMU_DIR: dir } });
  dirs.push({ dir, h });
  return { dir, h };
}
async function ok(h: AddressHandler, cmd: string) {
  const r = await h(cmd);
  expect(r.errorCode, `${cmd}: ${r.errorMessage}`).toBe(0);
  return r;
}

/** Per check: how many corruptions it was tried on, and what failed. */
const tally = new Map<string, { tried: number; failed: string[] }>();
function check(name: string, kind: string, held: boolean, detail: string) {
  const t = tally.get(name) ?? { tried: 0, failed: [] };
  t.tried++;
  if (!held) t.failed.push(`${kind}: ${detail}`);
  tally.set(name, t);
}

beforeAll(async () => {
  const v = await execa('qemu-system-x86_64', ['--version'], { reject: false }).catch(() => undefined);
  if (!v || v.exitCode !== 0) throw new Error('qemu-system-x86_64 is not installed: run scripts/setup-host.sh');
  for (const f of ['vmlinuz', 'initrd.img']) if (!fs.existsSync(path.join(G, f))) throw new Error(`${G}/${f} missing: run scripts/build-qemu-guest.sh`);
});
afterAll(async () => {
  for (const { dir, h } of dirs) {
    for (const vm of fs.existsSync(path.join(dir, 'vms')) ? fs.readdirSync(path.join(dir, 'vms')) : []) {
      await h(`delete ${vm} force=true`);
      for (const pid of qemuProcesses(path.join(dir, 'vms', vm, 'qmp.sock'))) process.kill(pid, 'SIGKILL');
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

const VM_CORRUPTIONS: Array<[string, (valid: string) => string]> = [
  ['truncated', (v) => v.slice(0, Math.floor(v.length / 2))],
  ['empty', () => ''],
  ['wrong shape', (v) => JSON.stringify({ ...JSON.parse(v), memoryMiB: 'lots', cpus: -1 })],
];

describe('a corrupt vm.json', () => {
  it.each(VM_CORRUPTIONS)('%s: list skips it, the VM verbs say RC 1 naming it, delete force=true still works', async (kind, corrupt) => {
    const { dir, h } = fresh();
    await ok(h, 'create_disk name=gold size=16M');
    await ok(h, 'register_base gold');
    await ok(h, `clone_from_base base=gold name=good ${KERNEL}`);
    await ok(h, `create name=bad ${KERNEL}`);
    await ok(h, 'start bad');
    const file = path.join(dir, 'vms', 'bad', 'vm.json');
    const text = corrupt(fs.readFileSync(file, 'utf8'));
    fs.writeFileSync(file, text);
    const names = (r: { errorMessage: string }) => r.errorMessage.includes(file);

    const l = await h('list');
    check('list skips a corrupt vm.json, lists the rest, names it in CORRUPT', kind,
      l.errorCode === 0 && JSON.stringify(stemValues(l.rexxVariables.VMS)) === '["good"]' && JSON.stringify(stemValues(l.rexxVariables.CORRUPT)) === JSON.stringify([file]),
      `RC ${l.errorCode} ${l.errorMessage} VMS ${JSON.stringify(l.rexxVariables.VMS)} CORRUPT ${JSON.stringify(l.rexxVariables.CORRUPT)}`);
    for (const verb of ['state bad', 'start bad', 'stop bad', 'delete bad']) {
      const r = await h(verb);
      check(`${verb.split(' ')[0]} of a VM with a corrupt vm.json → RC 1 naming the file`, kind, r.errorCode === 1 && names(r), `RC ${r.errorCode} ${r.errorMessage}`);
    }
    for (const verb of [`create name=bad ${KERNEL}`, `clone_from_base base=gold name=bad ${KERNEL}`]) {
      const r = await h(verb);
      check(`${verb.split(' ')[0]} over a corrupt vm.json → RC 4, the file untouched`, kind, r.errorCode === 4 && fs.readFileSync(file, 'utf8') === text, `RC ${r.errorCode} ${r.errorMessage}`);
    }
    const u = await h('unregister_base gold');
    check('unregister_base counts a VM with a corrupt vm.json as a possible clone (RC 7)', kind,
      u.errorCode === 7 && stemValues(u.rexxVariables.DEPENDENTS).includes('bad'), `RC ${u.errorCode} ${u.errorMessage}`);
    check('no verb replaced the corrupt vm.json', kind, fs.readFileSync(file, 'utf8') === text, 'changed');

    const qmp = path.join(dir, 'vms', 'bad', 'qmp.sock');
    const before = qemuProcesses(qmp).length;
    const d = await h('delete bad force=true');
    check('delete force=true of a running VM with a corrupt vm.json: QEMU gone, folder gone, CORRUPT names it', kind,
      before === 1 && d.errorCode === 0 && d.rexxVariables.CORRUPT === file && qemuProcesses(qmp).length === 0 && !fs.existsSync(path.join(dir, 'vms', 'bad')),
      `QEMUs before ${before}, RC ${d.errorCode} ${d.errorMessage}, after ${qemuProcesses(qmp).length}, folder ${fs.existsSync(path.join(dir, 'vms', 'bad'))}`);
    const l2 = await h('list');
    check('after delete force=true, list is whole again', kind,
      l2.errorCode === 0 && JSON.stringify(stemValues(l2.rexxVariables.VMS)) === '["good"]' && stemValues(l2.rexxVariables.CORRUPT).length === 0, JSON.stringify(l2.rexxVariables));
  });
});

const BASE_CORRUPTIONS: Array<[string, (valid: string) => string]> = [
  ['truncated', (v) => v.slice(0, Math.floor(v.length / 2))],
  ['empty', () => ''],
  ['wrong shape', (v) => JSON.stringify({ ...JSON.parse(v), virtualSize: 'big' })],
  ['missing kind', (v) => JSON.stringify({ ...JSON.parse(v), kind: undefined })],
];

describe('a corrupt NAME.base.json', () => {
  it.each(BASE_CORRUPTIONS)('%s: list_bases skips it, clone and register say RC 1 naming it, unregister_base force=true forgets it', async (kind, corrupt) => {
    const { dir, h } = fresh();
    for (const b of ['gold', 'bad']) {
      await ok(h, `create_disk name=${b} size=16M`);
      await ok(h, `register_base ${b}`);
    }
    await ok(h, `clone_from_base base=bad name=c1 ${KERNEL}`);
    const file = path.join(dir, 'images', 'bad.base.json');
    const text = corrupt(fs.readFileSync(file, 'utf8'));
    fs.writeFileSync(file, text);
    const names = (r: { errorMessage: string }) => r.errorMessage.includes(file);

    const l = await h('list_bases');
    check('list_bases skips a corrupt record, lists the rest, names it in CORRUPT', kind,
      l.errorCode === 0 && JSON.stringify(stemValues(l.rexxVariables.BASES)) === '["gold"]' && JSON.stringify(stemValues(l.rexxVariables.CORRUPT)) === JSON.stringify([file]),
      `RC ${l.errorCode} ${l.errorMessage} ${JSON.stringify(l.rexxVariables)}`);
    const c = await h(`clone_from_base base=bad name=c2 ${KERNEL}`);
    check('clone_from_base of a corrupt base → RC 1 naming the file, no VM made', kind,
      c.errorCode === 1 && names(c) && !fs.existsSync(path.join(dir, 'vms', 'c2')) && !fs.existsSync(path.join(dir, 'images', 'c2.qcow2')),
      `RC ${c.errorCode} ${c.errorMessage}`);
    for (const verb of ['register_base bad', 'unregister_base bad', 'info name=c1', 'resize name=bad size=32M']) {
      const r = await h(verb);
      check(`${verb.split(' ')[0]} touching a corrupt base record → RC 1 naming the file`, kind, r.errorCode === 1 && names(r), `RC ${r.errorCode} ${r.errorMessage}`);
    }
    check('no verb replaced the corrupt base record', kind, fs.readFileSync(file, 'utf8') === text, 'changed');
    const u = await h('unregister_base bad force=true');
    const l2 = await h('list_bases');
    check('unregister_base force=true forgets a corrupt record; list_bases is whole again', kind,
      u.errorCode === 0 && !fs.existsSync(file) && l2.errorCode === 0 && stemValues(l2.rexxVariables.CORRUPT).length === 0,
      `RC ${u.errorCode} ${u.errorMessage}; then ${JSON.stringify(l2.rexxVariables)}`);
    await ok(h, 'delete c1');
  });
});

describe('counts', () => {
  it('every check held for every corruption', () => {
    for (const [name, t] of tally) recordCounts(`qemu corrupt state: ${name}`, t.tried, t.tried - t.failed.length);
    const failed = [...tally].flatMap(([name, t]) => t.failed.map((f) => `${name} — ${f}`));
    expect(failed).toEqual([]);
  });
});
