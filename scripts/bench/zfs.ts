/**
 * Benchmark (not a test): ADDRESS ZFS against the raw zfs CLI, side by side in one run,
 * on the default pool (env REXX_ZFS_POOL, else rexxpool).
 *   1. clone: raw `zfs snapshot B@sN` + `zfs clone B@sN X` (what a script without a
 *      registry does) vs `clone_from_base base=B name=Y` (one zfs clone of @rexx-base);
 *      also the identical `zfs clone -o org.rexxjs:cloned-from=…` by hand (handler overhead).
 *   2. rollback: raw `zfs rollback D@s` vs `rollback name=D snapshot=s`, after the same
 *      small write to each.
 *   3. 10 clones: count=10 in parallel vs 10 clone_from_base calls in a row (and 10 raw
 *      zfs clone in a row for reference).
 * Interleaved (alternating which goes first), medians of N (BENCH_N, default 20).
 * Run: npm run bench:zfs
 */
import * as fs from 'node:fs';
import { execa } from 'execa';
import { createHandler } from '../../shared/dispatch';
import { table } from '../../handlers/zfs';
import { fmt, median, ratio, strict, timed } from './stats';

const N = Math.max(20, Number(process.env.BENCH_N ?? 20));
const POOL = process.env.REXX_ZFS_POOL || 'rexxpool';
const ROOT = `${POOL}/bench-${process.pid}`;
const zfsH = createHandler(table);

const must = strict(zfsH);
async function raw(args: string[]) {
  const r = await execa('zfs', args, { reject: false });
  if (r.exitCode !== 0) throw new Error(`zfs ${args.join(' ')}: ${r.stderr}`);
}
/** Destroy (not timed), with zfs-fuse's unmount-and-retry. */
const destroy = (name: string) => must(`destroy name=${name} recursive=true force=true`);

async function benchClone() {
  const r: number[] = [];
  const same: number[] = [];
  const h: number[] = [];
  for (let i = 0; i < N; i++) {
    const a = `${ROOT}/raw-${i}`;
    const c = `${ROOT}/same-${i}`;
    const b = `${ROOT}/h-${i}`;
    const runRaw = async () => r.push(await timed(async () => { await raw(['snapshot', `${ROOT}/base@s${i}`]); await raw(['clone', `${ROOT}/base@s${i}`, a]); }));
    // The exact command clone_from_base runs, by hand: the handler's own overhead.
    const runSame = async () => same.push(await timed(() => raw(['clone', '-o', `org.rexxjs:cloned-from=${ROOT}/base`, `${ROOT}/base@rexx-base`, c])));
    const runH = async () => h.push(await timed(() => must(`clone_from_base base=${ROOT}/base name=${b}`)));
    const order = i % 2 ? [runRaw, runSame, runH] : [runH, runSame, runRaw];
    for (const f of order) await f();
    await destroy(a);
    await destroy(c);
    await destroy(b);
    await raw(['destroy', `${ROOT}/base@s${i}`]);
  }
  return { raw: median(r), same: median(same), handler: median(h) };
}

async function benchRollback() {
  const r: number[] = [];
  const h: number[] = [];
  for (const d of ['rb-raw', 'rb-h']) {
    await must(`create name=${ROOT}/${d}`);
    await must(`snapshot name=${ROOT}/${d} snapshot=s`);
  }
  for (let i = 0; i < N; i++) {
    fs.writeFileSync(`/${ROOT}/rb-raw/f`, `change ${i}`);
    fs.writeFileSync(`/${ROOT}/rb-h/f`, `change ${i}`);
    const runRaw = async () => r.push(await timed(() => raw(['rollback', `${ROOT}/rb-raw@s`])));
    const runH = async () => h.push(await timed(() => must(`rollback name=${ROOT}/rb-h snapshot=s`)));
    if (i % 2) { await runRaw(); await runH(); } else { await runH(); await runRaw(); }
  }
  return { raw: median(r), handler: median(h) };
}

async function benchTen() {
  const par: number[] = [];
  const ser: number[] = [];
  const rawSer: number[] = [];
  const rounds = Math.max(3, Math.round(N / 4));
  for (let i = 0; i < rounds; i++) {
    const p = `${ROOT}/par${i}`;
    par.push(await timed(() => must(`clone_from_base base=${ROOT}/base name=${p} count=10 concurrency=10`)));
    ser.push(await timed(async () => { for (let k = 1; k <= 10; k++) await must(`clone_from_base base=${ROOT}/base name=${ROOT}/ser${i}-${k}`); }));
    rawSer.push(await timed(async () => { for (let k = 1; k <= 10; k++) await raw(['clone', `${ROOT}/base@rexx-base`, `${ROOT}/raw${i}-${k}`]); }));
    for (let k = 1; k <= 10; k++) {
      await destroy(`${p}-${k}`);
      await destroy(`${ROOT}/ser${i}-${k}`);
      await destroy(`${ROOT}/raw${i}-${k}`);
    }
  }
  return { parallel: median(par), serial: median(ser), rawSerial: median(rawSer), rounds };
}

async function main() {
  const st = await zfsH('status');
  if (!st.success) throw new Error(`ZFS not available: ${st.errorMessage} (run scripts/setup-host.sh)`);
  await must(`create name=${ROOT}`);
  try {
    await must(`create name=${ROOT}/base`);
    fs.writeFileSync(`/${ROOT}/base/data`, Buffer.alloc(1 << 20, 3));
    await must(`register_base name=${ROOT}/base`);
    const clone = await benchClone();
    const rb = await benchRollback();
    const ten = await benchTen();
    console.log(`ADDRESS ZFS benchmark (${st.rexxVariables.IMPLEMENTATION}, pool ${POOL}), medians in ms, N=${N}`);
    console.log('operation                                      raw      handler   ratio');
    console.log(`clone: snapshot+clone vs clone_from_base ${fmt(clone.raw, 9)} ${fmt(clone.handler, 9)}   ${ratio(clone.handler, clone.raw)}x`);
    console.log(`clone: same zfs clone -o by hand        ${fmt(clone.same, 9)} ${fmt(clone.handler, 9)}   ${ratio(clone.handler, clone.same)}x`);
    console.log(`rollback to a snapshot                   ${fmt(rb.raw, 9)} ${fmt(rb.handler, 9)}   ${ratio(rb.handler, rb.raw)}x`);
    console.log(`10 clones (medians of ${ten.rounds} rounds):`);
    console.log(`  10 raw zfs clone in a row              ${fmt(ten.rawSerial, 9)}`);
    console.log(`  10 clone_from_base in a row            ${fmt(ten.serial, 9)}`);
    console.log(`  clone_from_base count=10 (parallel)    ${fmt(ten.parallel, 9)}   ${ratio(ten.parallel, ten.serial)}x of serial`);
    const floor = (x: number) => (x <= 1.1 ? 'ok' : 'OVER');
    console.log(`floors (<= 1.10x raw): clone ${floor(clone.handler / clone.raw)}, rollback ${floor(rb.handler / rb.raw)}`);
  } finally {
    await zfsH(`destroy name=${ROOT} recursive=true force=true`);
    await execa('zfs', ['destroy', '-R', ROOT], { reject: false });
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
