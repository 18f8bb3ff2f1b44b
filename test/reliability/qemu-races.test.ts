/**
 * ADDRESS QEMU under parallel calls on the real qemu-img and qemu-system-x86_64, each
 * check in its own state folder (REXX_QEMU_DIR): N calls at once, then a count of what
 * survived (recordCounts). register_base of one disk (in one process and from separate
 * processes), create of one VM name, clone_from_base to distinct names and to one
 * name, start of one VM, and unregister_base racing clone_from_base.
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

const ROOT = path.resolve(__dirname, '../..');
const G = '/var/lib/rexx-address/qemu-guest';
const KERNEL = `kernel=${G}/vmlinuz initrd=${G}/initrd.img append="console=ttyS0 quiet" accel=tcg memory=128`;
const dirs: string[] = [];
const handlers: AddressHandler[] = [];

/** A handler on a fresh state folder of its own. */
function fresh(): { h: AddressHandler; dir: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `rexx-qrace-${RUN_ID}-`));
  dirs.push(dir);
  const h = createHandler(table, { env: { ...process.env, REXX_QEMU_DIR: dir } });
  handlers.push(h);
  return { h, dir };
}
const rcs = (rs: Array<{ errorCode: number }>) => rs.map((r) => r.errorCode);
const count = (xs: number[], v: number) => xs.filter((x) => x === v).length;
const stemValues = (s: unknown) => Object.entries((s ?? {}) as Record<string, unknown>).filter(([k]) => k !== '0').map(([, v]) => v);
async function ok(h: AddressHandler, cmd: string) {
  const r = await h(cmd);
  expect(r.errorCode, `${cmd}: ${r.errorMessage}`).toBe(0);
  return r;
}

beforeAll(async () => {
  const v = await execa('qemu-img', ['--version'], { reject: false }).catch(() => undefined);
  if (!v || v.exitCode !== 0) throw new Error('qemu-img is not installed: run scripts/setup-host.sh');
  for (const f of ['vmlinuz', 'initrd.img']) if (!fs.existsSync(path.join(G, f))) throw new Error(`${G}/${f} missing: run scripts/build-qemu-guest.sh`);
  if (!fs.existsSync(path.join(ROOT, 'dist/handlers/qemu/index.js'))) throw new Error('dist/ missing: npm run build');
});
afterAll(async () => {
  for (const [i, dir] of dirs.entries()) {
    const l = await handlers[i]!('list');
    for (const vm of stemValues(l.rexxVariables.VMS)) await handlers[i]!(`delete ${vm} force=true`);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

describe('QEMU races', () => {
  it('10 parallel register_base of one disk: exactly one RC 0, the rest RC 4', async () => {
    const { h, dir } = fresh();
    await ok(h, 'create_disk name=gold size=16M');
    const rs = await Promise.all(Array.from({ length: 10 }, () => h('register_base name=gold')));
    const codes = rcs(rs);
    recordCounts('qemu: 10 parallel register_base of one disk (one process) → one RC 0, rest RC 4', 10, held(codes));
    expect(codes.sort()).toEqual([0, 4, 4, 4, 4, 4, 4, 4, 4, 4]);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'images', 'gold.base.json'), 'utf8')).created).toBe(rs.find((r) => r.errorCode === 0)!.rexxVariables.CREATED);
  });

  it('10 register_base of one disk from 10 processes: exactly one RC 0, the rest RC 4', async () => {
    const { h, dir } = fresh();
    await ok(h, 'create_disk name=gold size=16M');
    const script = `
      const { createHandler } = require(${JSON.stringify(path.join(ROOT, 'dist/shared/dispatch'))});
      const { table } = require(${JSON.stringify(path.join(ROOT, 'dist/handlers/qemu'))});
      createHandler(table)('register_base name=gold').then((r) => process.stdout.write(String(r.errorCode)));`;
    const ps = await Promise.all(Array.from({ length: 10 }, () => execa('node', ['-e', script], { env: { ...process.env, REXX_QEMU_DIR: dir }, reject: false })));
    const codes = ps.map((p) => Number(p.stdout));
    recordCounts('qemu: 10 processes register_base one disk → one RC 0, rest RC 4', 10, held(codes));
    expect(codes.sort(), ps.map((p) => p.stderr).join('\n')).toEqual([0, 4, 4, 4, 4, 4, 4, 4, 4, 4]);
  });

  it('10 parallel create of one VM name: exactly one RC 0, the rest RC 4', async () => {
    const { h } = fresh();
    const rs = await Promise.all(Array.from({ length: 10 }, (_, i) => h(`create name=same ${KERNEL} cpus=${i + 1}`)));
    const codes = rcs(rs);
    recordCounts('qemu: 10 parallel create of one VM name → one RC 0, rest RC 4', 10, held(codes));
    expect(codes.sort()).toEqual([0, 4, 4, 4, 4, 4, 4, 4, 4, 4]);
    expect(stemValues((await ok(h, 'list')).rexxVariables.VMS)).toEqual(['same']);
  });

  it('20 parallel clone_from_base to distinct names: all RC 0, all listed', async () => {
    const { h } = fresh();
    await ok(h, 'create_disk name=gold size=16M');
    await ok(h, 'register_base name=gold');
    const names = Array.from({ length: 20 }, (_, i) => `c${i}`);
    const rs = await Promise.all(names.map((n) => h(`clone_from_base base=gold name=${n} ${KERNEL}`)));
    const listed = stemValues((await ok(h, 'list base=gold')).rexxVariables.VMS);
    const good = names.filter((n, i) => rs[i]!.errorCode === 0 && listed.includes(n)).length;
    recordCounts('qemu: 20 parallel clone_from_base to distinct names → all RC 0 and listed', 20, good);
    expect(rs.map((r) => r.errorMessage).filter(Boolean)).toEqual([]);
    expect(listed).toEqual([...names].sort());
  });

  it('10 parallel clone_from_base to one name: exactly one RC 0, the rest RC 4, the disk intact', async () => {
    const { h, dir } = fresh();
    await ok(h, 'create_disk name=gold size=16M');
    await ok(h, 'register_base name=gold');
    const rs = await Promise.all(Array.from({ length: 10 }, () => h(`clone_from_base base=gold name=one ${KERNEL}`)));
    const codes = rcs(rs);
    const check = await execa('qemu-img', ['check', '-q', path.join(dir, 'images', 'one.qcow2')], { reject: false });
    const info = await ok(h, 'info name=one');
    const intact = check.exitCode === 0 && info.rexxVariables.BASE === 'gold';
    recordCounts('qemu: 10 parallel clone_from_base to one name → one RC 0, rest RC 4, disk intact', 10, intact ? held(codes) : 0);
    expect(codes.sort(), rs.map((r) => r.errorMessage).join('\n')).toEqual([0, 4, 4, 4, 4, 4, 4, 4, 4, 4]);
    expect(check.exitCode, check.stdout + check.stderr).toBe(0);
    expect(info.rexxVariables.BASE).toBe('gold');
    expect(stemValues((await ok(h, 'list')).rexxVariables.VMS)).toEqual(['one']);
  });

  it('5 parallel start of one VM: one QEMU, the others see it running (ALREADY=1)', async () => {
    const { h, dir } = fresh();
    await ok(h, `create name=vm1 ${KERNEL}`);
    const rs = await Promise.all(Array.from({ length: 5 }, () => h('start vm1')));
    const qemus = qemuProcesses(path.join(dir, 'vms', 'vm1', 'qmp.sock'));
    const st = await h('state vm1');
    const launched = rs.filter((r) => r.errorCode === 0 && r.rexxVariables.ALREADY === 0).length;
    const already = rs.filter((r) => r.errorCode === 0 && r.rexxVariables.ALREADY === 1).length;
    const good = qemus.length === 1 && st.errorCode === 0 && st.output === 'running' ? Math.min(launched, 1) + already : 0;
    recordCounts('qemu: 5 parallel start of one VM → one QEMU, others ALREADY=1, state running', 5, good);
    await h('stop vm1 force=true');
    for (const pid of qemuProcesses(path.join(dir, 'vms', 'vm1', 'qmp.sock'))) process.kill(pid, 'SIGKILL');
    expect(rs.map((r) => r.errorMessage).filter(Boolean)).toEqual([]);
    expect([launched, already]).toEqual([1, 4]);
    expect(qemus).toHaveLength(1);
    expect(st.output).toBe('running');
  });

  it('unregister_base racing clone_from_base: never a clone of a base that is gone (10 rounds)', async () => {
    const { h, dir } = fresh();
    await ok(h, 'create_disk name=gold size=16M');
    let good = 0;
    const bad: string[] = [];
    for (let i = 0; i < 10; i++) {
      await ok(h, 'register_base name=gold');
      const [c, u] = await Promise.all([h(`clone_from_base base=gold name=r${i} ${KERNEL}`), h('unregister_base gold')]);
      const registered = fs.existsSync(path.join(dir, 'images', 'gold.base.json'));
      const vmExists = fs.existsSync(path.join(dir, 'vms', `r${i}`, 'vm.json'));
      const consistent =
        (c.errorCode === 0 && u.errorCode === 7 && registered && vmExists) || (u.errorCode === 0 && c.errorCode === 3 && !registered && !vmExists);
      if (consistent) good++;
      else bad.push(`round ${i}: clone RC ${c.errorCode}, unregister RC ${u.errorCode}, base registered ${registered}, VM exists ${vmExists}`);
      if (vmExists) await h(`delete r${i}`);
      if (registered) await ok(h, 'unregister_base gold');
    }
    recordCounts('qemu: unregister_base racing clone_from_base → clone kept with base, or neither', 10, good);
    expect(bad).toEqual([]);
  });
});

/** Of 10 calls on one thing, how many gave the promised outcome: one RC 0, the others RC 4. */
function held(codes: number[]): number {
  const zeros = count(codes, 0);
  return (zeros >= 1 ? 1 : 0) + Math.min(count(codes, 4), codes.length - 1);
}
