/**
 * Benchmark (not a test): ADDRESS LXD against the raw lxc CLI, side by side in one run.
 *   1. clone: raw `lxc copy BASE/rexx-base X` vs `clone_from_base base=BASE name=X`
 *      (interleaved, median of N each) on the default (btrfs) pool.
 *   2. start lag: time between the instance reaching Running (seen by an independent
 *      watcher polling GET /1.0/instances/NAME on the unix socket every ~2 ms) and
 *      `start` returning.
 *   3. 10 clones with count=10 vs 10 clone_from_base calls in a row.
 * Run: npm run bench:lxd  (N via BENCH_N, default 20)
 */
import { execa } from 'execa';
import { createHandler } from '../../shared/dispatch';
import { table } from '../../handlers/lxd';
import { unixGet } from '../../shared/unix-http';
import { fmt, median, ms, ratio, strict } from './stats';

const N = Number(process.env.BENCH_N ?? 20);
const SOCKET = `${process.env.LXD_DIR ?? '/var/lib/lxd'}/unix.socket`;
const lxd = createHandler(table);
const BASE = `bench-base-${process.pid}`;
const made = new Set<string>();

const must = strict(lxd);
async function rawLxc(args: string[]) {
  const r = await execa('lxc', args, { reject: false });
  if (r.exitCode !== 0) throw new Error(`lxc ${args.join(' ')}: ${r.stderr}`);
}
const remove = async (names: string[]) => {
  await Promise.all(names.map((n) => execa('lxc', ['delete', '--force', n], { reject: false })));
  names.forEach((n) => made.delete(n));
};

/** Status of one instance straight from the REST API (the watcher's probe, ~2 ms). */
async function status(name: string): Promise<string> {
  const r = await unixGet(SOCKET, `/1.0/instances/${name}`, 5000);
  return (JSON.parse(r.body).metadata?.status as string) ?? '';
}

async function benchClone() {
  const raw: number[] = [];
  const handler: number[] = [];
  for (let i = 0; i < N; i++) {
    const a = `bench-raw-${process.pid}-${i}`;
    const b = `bench-h-${process.pid}-${i}`;
    made.add(a).add(b);
    // Alternate which goes first so neither always meets a warm daemon.
    const runRaw = async () => { const t = performance.now(); await rawLxc(['copy', `${BASE}/rexx-base`, a]); raw.push(ms(t)); };
    const runHandler = async () => { const t = performance.now(); await must(`clone_from_base base=${BASE} name=${b}`); handler.push(ms(t)); };
    if (i % 2) { await runRaw(); await runHandler(); } else { await runHandler(); await runRaw(); }
    await remove([a, b]);
  }
  return { raw: median(raw), handler: median(handler) };
}

async function benchStartLag() {
  const lags: number[] = [];
  const rawLags: number[] = [];
  for (let i = 0; i < Math.min(N, 20); i++) {
    for (const mode of ['handler', 'raw'] as const) {
      const name = `bench-start-${process.pid}-${i}-${mode}`;
      made.add(name);
      await must(`clone_from_base base=${BASE} name=${name}`);
      let seen = 0;
      let watching = true;
      const watcher = (async () => {
        while (watching && !seen) {
          if ((await status(name)) === 'Running') seen = performance.now();
          else await new Promise((r) => setTimeout(r, 2));
        }
      })();
      if (mode === 'handler') await must(`start name=${name}`);
      else await rawLxc(['start', name]);
      const returned = performance.now();
      // For raw `lxc start`, Running may appear after it returns: wait for the watcher.
      const until = performance.now() + 5000;
      while (!seen && performance.now() < until) await new Promise((r) => setTimeout(r, 1));
      watching = false;
      await watcher;
      (mode === 'handler' ? lags : rawLags).push(returned - seen);
      await remove([name]);
    }
  }
  return { handler: median(lags), raw: median(rawLags), max: Math.max(...lags) };
}

async function benchParallel() {
  const par: number[] = [];
  const ser: number[] = [];
  for (let round = 0; round < 5; round++) {
    const p = `bench-par-${process.pid}-${round}`;
    const names = Array.from({ length: 10 }, (_, i) => `${p}-${i + 1}`);
    names.forEach((n) => made.add(n));
    let t = performance.now();
    await must(`clone_from_base base=${BASE} name=${p} count=10 concurrency=10`);
    par.push(ms(t));
    await remove(names);
    const s = `bench-ser-${process.pid}-${round}`;
    const snames = Array.from({ length: 10 }, (_, i) => `${s}-${i + 1}`);
    snames.forEach((n) => made.add(n));
    t = performance.now();
    for (const n of snames) await must(`clone_from_base base=${BASE} name=${n}`);
    ser.push(ms(t));
    await remove(snames);
  }
  return { parallel: median(par), serial: median(ser) };
}

async function main() {
  made.add(BASE);
  await must(`register_base name=${BASE} image=tiny`);
  try {
    const pool = (await execa('lxc', ['query', `/1.0/instances/${BASE}`])).stdout;
    console.log(`base ${BASE} on pool ${JSON.parse(pool).expanded_devices?.root?.pool ?? '?'}, N=${N}`);
    const c = await benchClone();
    const s = await benchStartLag();
    const p = await benchParallel();
    console.log('\nmetric                                   median ms   ratio');
    console.log(`raw lxc copy BASE/rexx-base X          ${fmt(c.raw)}`);
    console.log(`clone_from_base                        ${fmt(c.handler)}   ${ratio(c.handler, c.raw)}x raw   (floor <= 1.10x)`);
    console.log(`start: Running -> start returns (lag)  ${fmt(s.handler)}   max ${s.max.toFixed(1)} ms   (floor <= 50 ms)`);
    console.log(`raw lxc start: Running -> it returns   ${fmt(s.raw)}   (negative: returns before Running is visible)`);
    console.log(`10 clones, count=10 (parallel)         ${fmt(p.parallel)}`);
    console.log(`10 clones, one call each (serial)      ${fmt(p.serial)}   parallel = ${ratio(p.parallel, p.serial)}x serial (floor <= 0.6x)`);
  } finally {
    await remove([...made]);
  }
}

main().catch(async (e) => {
  console.error(e);
  await remove([...made]);
  process.exit(1);
});
