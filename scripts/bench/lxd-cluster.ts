/**
 * Benchmark (not a test): clone_from_base count=30 on the 3-member LXD cluster
 * (scripts/setup-cluster.sh) against the same on the single host, side by side in one
 * run, and where the cluster's time goes:
 *   1. clone_from_base count=30: host (btrfs pool: a subvolume snapshot each) | cluster,
 *      placed by LXD (spread over the members) | cluster, target= the base's member
 *      (no transfer) — BENCH_N rounds (default 2), interleaved, median wall time.
 *   2. one clone (raw lxc copy, median of BENCH_ONE, default 7): host | cluster on the
 *      base's member (dir pool: a full copy of the rootfs) | cluster on another member
 *      (a migration: the snapshot is sent over the cluster network).
 *   3. placement and API: `lxc query /1.0` host (unix socket) vs cluster (HTTPS); `lxc
 *      init` with and without --target (the scheduler's pick).
 *   4. image transfer: the tiny image (1 MB) pushed host -> cluster (lxc image copy --mode push).
 * Run: npm run bench:lxd-cluster  (the cluster is made first if it is not up)
 */
import * as path from 'node:path';
import { execa } from 'execa';
import { createHandler } from '../../shared/dispatch';
import { table } from '../../handlers/lxd';
import { fmt, median, ms, ratio, strict, timed } from './stats';

const C = 'rexx-cluster';
const N = Number(process.env.BENCH_N ?? 2);
const ONE = Number(process.env.BENCH_ONE ?? 7);
const COUNT = Number(process.env.BENCH_COUNT ?? 30);
const ID = process.pid;
const lxd = createHandler(table);
const must = strict(lxd);
const made: string[] = [];

async function lxc(args: string[]) {
  // stdin closed: `lxc init` reads a config from a stdin that is not a terminal, and waits for its end
  const r = await execa('lxc', args, { reject: false, stdin: 'ignore' });
  if (r.exitCode !== 0) throw new Error(`lxc ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
const del = (refs: string[]) => Promise.all(refs.map((n) => execa('lxc', ['delete', '--force', n], { reject: false, stdin: 'ignore' })));
const location = async (name: string) => (JSON.parse(await lxc(['query', `${C}:/1.0/instances/${name}`])) as { location: string }).location;

const m = (xs: number[]) => median(xs);

async function main() {
  const setup = await execa('bash', [path.join(__dirname, '../../../scripts/setup-cluster.sh')], { reject: false, all: true, stdin: 'ignore' });
  if (setup.exitCode !== 0) throw new Error(`setup-cluster.sh: ${setup.all}`);
  const hostBase = `bench-hb-${ID}`;
  const clusterBase = `bench-cb-${ID}`;
  made.push(hostBase, `${C}:${clusterBase}`);
  await must(`register_base name=${hostBase} image=tiny`);
  await must(`create name=${clusterBase} image=${C}:tiny remote=${C} target=member1`);
  await must(`register_base name=${clusterBase} remote=${C}`);
  const baseAt = await location(clusterBase);

  // 1. count=30
  const runs: Record<'host' | 'spread' | 'pinned', number[]> = { host: [], spread: [], pinned: [] };
  const spreadOver: string[] = [];
  for (let i = 0; i < N; i++) {
    const order = i % 2 ? (['pinned', 'spread', 'host'] as const) : (['host', 'spread', 'pinned'] as const);
    for (const kind of order) {
      const name = `bench-${kind}-${ID}-${i}`;
      const cmd = kind === 'host'
        ? `clone_from_base base=${hostBase} name=${name} count=${COUNT}`
        : `clone_from_base base=${clusterBase} name=${name} count=${COUNT} remote=${C}${kind === 'pinned' ? ` target=${baseAt}` : ''}`;
      const t = performance.now();
      const r = await must(cmd);
      runs[kind].push(ms(t));
      const clones = Array.from({ length: COUNT }, (_, k) => `${name}-${k + 1}`);
      if (kind === 'spread' && i === 0) {
        const l = await must(`list remote=${C} filter=${name}-`);
        const locs = l.rexxVariables.LOCATIONS as Record<number, string>;
        const by: Record<string, number> = {};
        for (let k = 1; k <= Number(locs[0]); k++) by[locs[k]!] = (by[locs[k]!] ?? 0) + 1;
        spreadOver.push(...Object.entries(by).sort().map(([m, c]) => `${m} ${c}`));
      }
      void r;
      await del(kind === 'host' ? clones : clones.map((c) => `${C}:${c}`));
    }
  }

  console.log(`clone_from_base count=${COUNT} (median of ${N}, ms)         host     cluster  cluster/host`);
  console.log(`  host (btrfs snapshots)                     ${fmt(m(runs.host))}`);
  console.log(`  cluster, placed by LXD (${spreadOver.join(', ')})${' '.repeat(Math.max(0, 18 - spreadOver.join(', ').length))}${fmt(m(runs.spread), 17)}  ${ratio(m(runs.spread), m(runs.host))}x`);
  console.log(`  cluster, target=${baseAt} (the base's member)  ${fmt(m(runs.pinned), 16)}  ${ratio(m(runs.pinned), m(runs.host))}x`);

  // 2. one clone
  const other = baseAt === 'member2' ? 'member3' : 'member2';
  const one: Record<'host' | 'same' | 'other', number[]> = { host: [], same: [], other: [] };
  for (let i = 0; i < ONE; i++) {
    const h = `bench-1h-${ID}-${i}`, s = `bench-1s-${ID}-${i}`, o = `bench-1o-${ID}-${i}`;
    one.host.push(await timed(() => lxc(['copy', `${hostBase}/rexx-base`, h])));
    one.same.push(await timed(() => lxc(['copy', `${C}:${clusterBase}/rexx-base`, `${C}:${s}`, '--target', baseAt])));
    one.other.push(await timed(() => lxc(['copy', `${C}:${clusterBase}/rexx-base`, `${C}:${o}`, '--target', other])));
    await del([h, `${C}:${s}`, `${C}:${o}`]);
  }

  console.log(`one clone, raw lxc copy (median of ${ONE}, ms)`);
  console.log(`  host ${fmt(m(one.host))} | cluster, same member ${fmt(m(one.same))} (${ratio(m(one.same), m(one.host))}x) | cluster, other member ${fmt(m(one.other))} (${ratio(m(one.other), m(one.host))}x)`);

  // 3. API round trip and placement
  const q: Record<'host' | 'cluster', number[]> = { host: [], cluster: [] };
  for (let i = 0; i < 10; i++) {
    q.host.push(await timed(() => lxc(['query', '/1.0'])));
    q.cluster.push(await timed(() => lxc(['query', `${C}:/1.0`])));
  }
  const init: Record<'placed' | 'targeted', number[]> = { placed: [], targeted: [] };
  for (let i = 0; i < ONE; i++) {
    const a = `bench-ip-${ID}-${i}`, b = `bench-it-${ID}-${i}`;
    init.placed.push(await timed(() => lxc(['init', `${C}:tiny`, `${C}:${a}`, '-q'])));
    init.targeted.push(await timed(() => lxc(['init', `${C}:tiny`, `${C}:${b}`, '--target', baseAt, '-q'])));
    await del([`${C}:${a}`, `${C}:${b}`]);
  }

  console.log(`API: lxc query /1.0 host ${fmt(m(q.host))} | cluster ${fmt(m(q.cluster))} (${ratio(m(q.cluster), m(q.host))}x)`);
  console.log(`placement: lxc init placed by LXD ${fmt(m(init.placed))} | --target ${fmt(m(init.targeted))} (${ratio(m(init.placed), m(init.targeted))}x)`);

  // 4. image transfer host -> cluster (put back as setup-cluster.sh leaves it)
  const img: number[] = [];
  for (let i = 0; i < 3; i++) {
    await execa('lxc', ['image', 'delete', `${C}:tiny`], { reject: false, stdin: 'ignore' });
    img.push(await timed(() => lxc(['image', 'copy', 'tiny', `${C}:`, '--alias', 'tiny', '--mode', 'push', '-q'])));
  }
  console.log(`image transfer: tiny (1 MB) host -> cluster, --mode push ${fmt(m(img))} ms (median of 3)`);

}

main()
  .catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 1;
  })
  .finally(async () => {
    await execa('lxc', ['delete', '--force', `${C}:bench-cb-${ID}`], { reject: false });
    for (const n of made) if (!n.includes(':')) await lxd(`delete name=${n} force=true`);
  });
