/**
 * Benchmark (not a test): ADDRESS QEMU against raw qemu-img / qemu-system, side by
 * side in one run, interleaved.
 *   1. clone: raw `qemu-img create -f qcow2 -F qcow2 -b BASE X` vs
 *      `clone_from_base base=BASE name=Y` (which also writes the VM definition).
 *   2. boot (TCG, the cached tiny guest with rexx.halt=1): `start wait=serial:MARKER`
 *      (QMP_MS = start → QMP running, READY_MS = start → marker) vs the same
 *      qemu-system argv launched by hand, polling QMP and the serial file every 5 ms.
 *   3. 10 clones with count=10 concurrency=10 vs 10 clone_from_base calls in a row.
 * Run: npm run bench:qemu  (BENCH_N clones per side, default 20; BENCH_BOOTS, default 20)
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import { createHandler } from '../../shared/dispatch';
import { createEffects } from '../../shared/effects';
import { table } from '../../handlers/qemu';
import { Qmp } from '../../shared/qmp';
import { qemuArgv } from '../../handlers/qemu/vm';
import { loadVm, vmPaths } from '../../handlers/qemu/state';
import { fmt, median, ms, ratio, strict } from './stats';

const N = Number(process.env.BENCH_N ?? 20);
const BOOTS = Number(process.env.BENCH_BOOTS ?? 20);
const G = '/var/lib/rexx-address/qemu-guest';
const MARKER = 'REXX-GUEST-READY';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-qbench-'));
const env = { ...process.env, REXX_QEMU_DIR: dir };
const q = createHandler(table, { env });

const sleep = (n: number) => new Promise((r) => setTimeout(r, n));

const must = strict(q);

async function benchClone() {
  const raw: number[] = [];
  const handler: number[] = [];
  const base = path.join(dir, 'images', 'gold.qcow2');
  for (let i = 0; i < N; i++) {
    const a = path.join(dir, `raw-${i}.qcow2`);
    const runRaw = async () => {
      const t = performance.now();
      const r = await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', base, a], { reject: false });
      raw.push(ms(t));
      if (r.exitCode !== 0) throw new Error(r.stderr);
    };
    const runHandler = async () => {
      const t = performance.now();
      await must(`clone_from_base base=gold name=c${i}`);
      handler.push(ms(t));
    };
    if (i % 2) { await runRaw(); await runHandler(); } else { await runHandler(); await runRaw(); }
    fs.rmSync(a);
    await must(`delete c${i}`);
  }
  return { raw: median(raw), handler: median(handler) };
}

/** Launch the handler's own argv by hand and time QMP running and the marker. */
async function rawBoot(name: string) {
  const def = loadVm({ env, ...createEffects({ dryrun: false, log: () => undefined }) }, name);
  const p = vmPaths({ env }, name);
  fs.writeFileSync(p.serial, '');
  const argv = qemuArgv(def, p, 'tcg');
  const t = performance.now();
  const r = await execa(argv[0]!, argv.slice(1), { reject: false });
  if (r.exitCode !== 0) throw new Error(r.stderr);
  let running = 0;
  while (!running) {
    try {
      const c = await Qmp.connect(p.qmp, 2000);
      const s = await c.execute<{ status: string }>('query-status');
      c.close();
      if (s.status === 'running') running = ms(t);
    } catch {
      /* not yet */
    }
    if (!running) await sleep(5);
  }
  while (!fs.readFileSync(p.serial, 'utf8').includes(MARKER)) await sleep(5);
  const ready = ms(t);
  while (fs.existsSync(p.pid)) await sleep(20); // the guest powers itself off
  return { running, ready };
}

async function benchBoot() {
  await must(`create name=boot kernel=${G}/vmlinuz initrd=${G}/initrd.img append="console=ttyS0 rexx.halt=1 quiet" accel=tcg memory=192`);
  const h = { running: [] as number[], ready: [] as number[] };
  const r = { running: [] as number[], ready: [] as number[] };
  for (let i = 0; i < BOOTS; i++) {
    const viaHandler = async () => {
      const s = await must(`start boot wait=serial:${MARKER}`);
      h.running.push(Number(s.rexxVariables.QMP_MS));
      h.ready.push(Number(s.rexxVariables.READY_MS));
      while (fs.existsSync(vmPaths({ env }, 'boot').pid)) await sleep(20);
    };
    const byHand = async () => {
      const x = await rawBoot('boot');
      r.running.push(x.running);
      r.ready.push(x.ready);
    };
    if (i % 2) { await byHand(); await viaHandler(); } else { await viaHandler(); await byHand(); }
  }
  return { h: { running: median(h.running), ready: median(h.ready) }, r: { running: median(r.running), ready: median(r.ready) } };
}

async function benchParallel() {
  const par: number[] = [];
  const ser: number[] = [];
  for (let round = 0; round < N; round++) {
    let t = performance.now();
    await must(`clone_from_base base=gold name=p${round} count=10 concurrency=10`);
    par.push(ms(t));
    for (let i = 1; i <= 10; i++) await must(`delete p${round}-${i}`);
    t = performance.now();
    for (let i = 1; i <= 10; i++) await must(`clone_from_base base=gold name=s${round}-${i}`);
    ser.push(ms(t));
    for (let i = 1; i <= 10; i++) await must(`delete s${round}-${i}`);
  }
  return { parallel: median(par), serial: median(ser) };
}

async function main() {
  await must('create_disk name=gold size=1G');
  await must('register_base gold');
  const accel = await must('status');
  console.log(`state ${dir}, N=${N}, boots=${BOOTS}, KVM usable: ${accel.rexxVariables.KVM ? 'yes' : 'no'} (${accel.rexxVariables.KVM_REASON})`);
  const c = await benchClone();
  const p = await benchParallel();
  const b = await benchBoot();
  console.log('\nmetric                                        median ms   ratio');
  console.log(`raw qemu-img create -F qcow2 -b BASE X      ${fmt(c.raw)}`);
  console.log(`clone_from_base (overlay + VM definition)   ${fmt(c.handler)}   ${ratio(c.handler, c.raw)}x raw   (floor <= 1.10x, <= 30 ms)`);
  console.log(`10 clones, count=10 concurrency=10          ${fmt(p.parallel)}`);
  console.log(`10 clones, one call each (serial)           ${fmt(p.serial)}   parallel = ${ratio(p.parallel, p.serial)}x serial`);
  console.log(`raw qemu-system by hand -> QMP running      ${fmt(b.r.running)}`);
  console.log(`start -> QMP running (QMP_MS)               ${fmt(b.h.running)}   ${ratio(b.h.running, b.r.running)}x raw`);
  console.log(`raw qemu-system by hand -> guest marker     ${fmt(b.r.ready)}`);
  console.log(`start wait=serial:MARKER (READY_MS)         ${fmt(b.h.ready)}   ${ratio(b.h.ready, b.r.ready)}x raw`);
}

main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(async () => {
    await q('stop boot force=true');
    fs.rmSync(dir, { recursive: true, force: true });
  });
