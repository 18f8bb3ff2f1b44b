/**
 * Benchmark (not a test): how ADDRESS LXD's verbs grow with the number of instances, and
 * the space a clone adds. With 10, 100 and 300 instances (BENCH_SIZES, comma-separated)
 * cloned from one registered base of the tiny image, it times side by side, median of
 * BENCH_N (default 5):
 *   clone_from_base (one more)   vs  lxc copy BASE/rexx-base X
 *   list                         vs  lxc list --format csv
 *   list_bases                   vs  lxc query /1.0/instances?recursion=1 (what it reads)
 *   info NAME                    vs  lxc info NAME
 * and counts the calls to LXD each verb makes (`lxc` runs and socket GETs, from trace=true), to show which are one
 * call whatever N is and which are N. Space: the pool's used bytes (GET
 * /1.0/storage-pools/POOL/resources) before and after the clones, per clone, against the
 * base's rootfs size (`du -sb`), which a full copy would add.
 * Everything it made is deleted at the end, also on failure.
 * Run: npm run bench:lxd-scale   (BENCH_POOL: the pool of the clones, default the one
 * the default profile uses)
 */
import { execa } from 'execa';
import { createHandler } from '../../shared/dispatch';
import { table } from '../../handlers/lxd';
import { mapLimit } from '../../shared/poll';
import { fmt, median, ratio, strict, timed } from './stats';

const N = Math.max(1, Number(process.env.BENCH_N ?? 5));
const SIZES = (process.env.BENCH_SIZES ?? '10,100,300').split(',').map(Number).filter((n) => n > 0).sort((a, b) => a - b);
const TAG = `${process.pid}`;
const BASE = `bscale-base-${TAG}`;
const lxd = createHandler(table);
const must = strict(lxd);
const made = new Set<string>();

async function lxc(args: string[]): Promise<string> {
  const r = await execa('lxc', args, { reject: false });
  if (r.exitCode !== 0) throw new Error(`lxc ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** The calls to LXD one handler command makes (`lxc` runs and GETs on its socket): trace=true prints each as "+ Nms lxc …" or "+ Nms GET unix:…" on stderr. */
async function calls(cmd: string): Promise<number> {
  const write = process.stderr.write.bind(process.stderr);
  let n = 0;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    n += (String(chunk).match(/^\+ [\d.]+ms (?:lxc |GET unix:)/gm) ?? []).length;
    return true;
  }) as typeof process.stderr.write;
  try {
    await must(`${cmd} trace=true`);
  } finally {
    process.stderr.write = write;
  }
  return n;
}

/** Median ms of `a` and of `b` over N rounds, interleaved (the order alternates). */
async function pair(a: () => Promise<unknown>, b: () => Promise<unknown>): Promise<[number, number]> {
  const ta: number[] = [];
  const tb: number[] = [];
  for (let i = 0; i < N; i++) {
    if (i % 2) {
      tb.push(await timed(b));
      ta.push(await timed(a));
    } else {
      ta.push(await timed(a));
      tb.push(await timed(b));
    }
  }
  return [median(ta), median(tb)];
}

async function poolUsed(pool: string): Promise<number> {
  const r = JSON.parse(await lxc(['query', `/1.0/storage-pools/${pool}/resources`]));
  return Number(r.space?.used ?? 0);
}

async function remove(names: string[]) {
  await mapLimit(names, 8, (n) => execa('lxc', ['delete', '--force', n], { reject: false }));
  names.forEach((n) => made.delete(n));
}

async function main() {
  const pool = process.env.BENCH_POOL ?? JSON.parse(await lxc(['query', '/1.0/profiles/default'])).devices?.root?.pool;
  made.add(BASE);
  await must(`register_base name=${BASE} image=tiny storage=${pool}`);
  const rootfs = `/var/lib/lxd/storage-pools/${pool}/containers/${BASE}/rootfs`;
  const full = Number((await execa('du', ['-sb', rootfs], { reject: false })).stdout.split('\t')[0]) || 0;
  const before = await poolUsed(pool);
  const driver = JSON.parse(await lxc(['query', `/1.0/storage-pools/${pool}`])).driver;
  console.log(`pool ${pool} (${driver}), base ${BASE}, N=${N}, sizes ${SIZES.join(', ')}`);
  const rows: string[] = [];
  let have = 0;
  let batch = 0;
  try {
    for (const size of SIZES) {
      // Grow to `size` clones, count= at a time (parallel inside the handler).
      while (have < size) {
        const k = Math.min(50, size - have);
        const prefix = `bscale-${TAG}-${batch++}`;
        for (let i = 1; i <= k; i++) made.add(`${prefix}-${i}`);
        await must(`clone_from_base base=${BASE} name=${prefix} count=${k}`);
        have += k;
      }
      const probe = `bscale-${TAG}-0-1`;
      // One more clone each way (its delete after, outside the time).
      let extra = 0;
      const once = async (make: (n: string) => Promise<unknown>) => {
        const n = `bscale-${TAG}-x${extra++}`;
        made.add(n);
        const t = await timed(() => make(n));
        await remove([n]);
        return t;
      };
      const hc: number[] = [];
      const rc: number[] = [];
      for (let i = 0; i < N; i++) {
        const h = () => once((n) => must(`clone_from_base base=${BASE} name=${n}`));
        const r = () => once((n) => lxc(['copy', `${BASE}/rexx-base`, n]));
        if (i % 2) rc.push(await r()), hc.push(await h());
        else hc.push(await h()), rc.push(await r());
      }
      const [hClone, rClone] = [median(hc), median(rc)];
      const [hList, rList] = await pair(() => must('list'), () => lxc(['list', '--format', 'csv']));
      const [hBases, rBases] = await pair(() => must('list_bases'), () => lxc(['query', '/1.0/instances?recursion=1']));
      const [hInfo, rInfo] = await pair(() => must(`info name=${probe}`), () => lxc(['info', probe]));
      const c = {
        clone: await calls(`clone_from_base base=${BASE} name=bscale-${TAG}-calls`),
        list: await calls('list'),
        bases: await calls('list_bases'),
        info: await calls(`info name=${probe}`),
      };
      made.add(`bscale-${TAG}-calls`);
      await remove([`bscale-${TAG}-calls`]);
      rows.push(
        `${String(size).padStart(5)}  clone ${fmt(hClone)} / ${fmt(rClone)} = ${ratio(hClone, rClone)}x (${c.clone} calls)` +
          `  list ${fmt(hList)} / ${fmt(rList)} = ${ratio(hList, rList)}x (${c.list})` +
          `  list_bases ${fmt(hBases)} / ${fmt(rBases)} = ${ratio(hBases, rBases)}x (${c.bases})` +
          `  info ${fmt(hInfo)} / ${fmt(rInfo)} = ${ratio(hInfo, rInfo)}x (${c.info})`,
      );
      console.log(rows[rows.length - 1]);
    }
    const after = await poolUsed(pool);
    const perClone = (after - before) / have;
    console.log(`\ninstances  handler ms / raw ms = ratio (calls to LXD the verb made)`);
    for (const r of rows) console.log(r);
    console.log(`\nspace: pool used ${before} -> ${after} bytes for ${have} clones: ${Math.round(perClone)} bytes per clone`);
    if (full) console.log(`a full copy of the base rootfs is ${full} bytes: a clone adds ${((perClone / full) * 100).toFixed(3)}% of it (${(100 - (perClone / full) * 100).toFixed(3)}% saved)`);
  } finally {
    await remove([...made].filter((n) => n !== BASE));
    await execa('lxc', ['delete', '--force', BASE], { reject: false });
  }
}

main().catch(async (e) => {
  console.error(e);
  await remove([...made]);
  process.exit(1);
});
