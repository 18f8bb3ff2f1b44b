/**
 * Benchmark (not a test): ADDRESS ZFS's `autosnap` + `autoprune` against the same work as
 * raw zfs commands in a loop, side by side in one run, on the default pool (env
 * REXX_ZFS_POOL, else rexxpool). Two trees of D datasets (BENCH_DATASETS, default 20)
 * with S autosnaps each (BENCH_SNAPS, default 10: 200 snapshots per tree), each dataset
 * under a policy of hourly=S. One round moves the clock one hour on, so every dataset has
 * one hourly due and, once taken, one past the count:
 *   - handler: `autosnap name=TREE` then `autoprune name=TREE`: each reads the tree's
 *     filesystems (`zfs list -t filesystem,volume` and one `zfs get -s local` of their
 *     names, no snapshot listed; autoprune also one `zfs list` of the pool's clones), then
 *     the snapshots a group of datasets at a time (`zfs list -t snapshot -d 1 DS…`, 8
 *     groups) while other groups' D `zfs snapshot` / D `zfs destroy` run, 4 groups at a
 *     time by default; a second tree with concurrency=1 (one read of every snapshot, then
 *     the writes one after another);
 *   - raw: per dataset `zfs snapshot DS@NEW`, then per dataset `zfs destroy DS@OLDEST`,
 *     the names known in advance (the least a script could run: no reads at all);
 *   - raw+list: the same with one `zfs list -H -o name -t snapshot -r DS` per dataset
 *     first, as a script that looks before it prunes does.
 * Interleaved (alternating which goes first), medians of N rounds (BENCH_N, default 5).
 * Run: npm run bench:zfs-policy
 */
import { execa } from 'execa';
import { createHandler } from '../../shared/dispatch';
import { table } from '../../handlers/zfs';
import { autosnapName } from '../../handlers/zfs/policy';
import { fmt, median, ratio, strict, timed } from './stats';

const N = Math.max(3, Number(process.env.BENCH_N ?? 5));
const D = Math.max(1, Number(process.env.BENCH_DATASETS ?? 20));
const S = Math.max(1, Number(process.env.BENCH_SNAPS ?? 10));
const POOL = process.env.REXX_ZFS_POOL || 'rexxpool';
const ROOT = `${POOL}/benchpol-${process.pid}`;
let nowMs = Date.parse('2026-01-01T00:00:00Z');
const h = createHandler(table, { clock: { now: () => nowMs } });
const must = strict(h);

async function raw(args: string[]): Promise<string> {
  const r = await execa('zfs', args, { reject: false });
  if (r.exitCode !== 0) throw new Error(`zfs ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const trees = ['h', 'h1', 'raw', 'list'] as const;
const ds = (tree: string, i: number) => `${ROOT}/${tree}/d${i}`;
/** The autosnaps of each dataset of the raw trees, oldest first (kept by the script itself). */
const have = new Map<string, string[]>();

async function setup() {
  await must(`create name=${ROOT}`);
  for (const t of trees) {
    await must(`create name=${ROOT}/${t}`);
    for (let i = 0; i < D; i++) {
      await must(`create name=${ds(t, i)}`);
      if (t === 'h' || t === 'h1') await must(`policy_set name=${ds(t, i)} hourly=${S}`);
      have.set(ds(t, i), []);
    }
  }
  // S hours of history, the same names in every tree: one `zfs snapshot -r` of the root an
  // hour (also on ROOT and the tree folders, which no policy governs and no column reads).
  for (let k = 0; k < S; k++) {
    const short = autosnapName('hourly', nowMs);
    await raw(['snapshot', '-r', `${ROOT}@${short}`]);
    for (const t of trees) for (let i = 0; i < D; i++) have.get(ds(t, i))!.push(short);
    nowMs += 3_600_000;
  }
}

/** The raw loop for one round; with `look`, one zfs list per dataset first. */
async function rawRound(tree: string, look: boolean) {
  const short = autosnapName('hourly', nowMs);
  for (let i = 0; i < D; i++) {
    const d = ds(tree, i);
    if (look) await raw(['list', '-H', '-o', 'name', '-t', 'snapshot', '-r', d]);
    await raw(['snapshot', `${d}@${short}`]);
    have.get(d)!.push(short);
  }
  for (let i = 0; i < D; i++) {
    const d = ds(tree, i);
    await raw(['destroy', `${d}@${have.get(d)!.shift()!}`]);
  }
}

async function main() {
  console.log(`zfs-policy bench: ${D} datasets × ${S} snapshots per tree (${D * S}), ${N} rounds, pool ${POOL}`);
  await setup();
  const res = { h: [] as number[], snap: [] as number[], prune: [] as number[], h1: [] as number[], snap1: [] as number[], prune1: [] as number[], raw: [] as number[], list: [] as number[] };
  try {
    for (let r = 0; r < N; r++) {
      /** autosnap then autoprune on `tree` with concurrency=`c`; pushes [total, autosnap, autoprune]. */
      const handler = async (tree: string, c: number, into: number[][]) => {
        let a = 0, p = 0;
        const total = await timed(async () => {
          a = await timed(async () => {
            const x = await must(`autosnap name=${ROOT}/${tree} concurrency=${c}`);
            if (Number((x.rexxVariables.CREATED as Record<number, unknown>)[0]) !== D) throw new Error(`autosnap took ${JSON.stringify(x.rexxVariables.CREATED)}`);
          });
          p = await timed(async () => {
            const x = await must(`autoprune name=${ROOT}/${tree} concurrency=${c}`);
            if (Number((x.rexxVariables.DESTROYED as Record<number, unknown>)[0]) !== D) throw new Error(`autoprune destroyed ${JSON.stringify(x.rexxVariables.DESTROYED)}`);
          });
        });
        into[0]!.push(total);
        into[1]!.push(a);
        into[2]!.push(p);
      };
      const runH = () => handler('h', 4, [res.h, res.snap, res.prune]);
      const runH1 = () => handler('h1', 1, [res.h1, res.snap1, res.prune1]);
      const runRaw = async () => res.raw.push(await timed(() => rawRound('raw', false)));
      const runList = async () => res.list.push(await timed(() => rawRound('list', true)));
      for (const f of r % 2 ? [runRaw, runList, runH1, runH] : [runH, runH1, runList, runRaw]) await f();
      nowMs += 3_600_000;
    }
    // The figures before the clean-up (destroying thousands of snapshots takes minutes on zfs-fuse).
    report(res);
  } finally {
    await must(`destroy name=${ROOT} recursive=true force=true`);
  }
}

function report(res: Record<'h' | 'snap' | 'prune' | 'h1' | 'snap1' | 'prune1' | 'raw' | 'list', number[]>) {
  const mh = median(res.h), m1 = median(res.h1), mr = median(res.raw), ml = median(res.list);
  console.log('                                          median ms');
  console.log(`handler autosnap+autoprune (concurrency=4) ${fmt(mh)}   (autosnap ${fmt(median(res.snap), 0)}, autoprune ${fmt(median(res.prune), 0)})`);
  console.log(`handler autosnap+autoprune (concurrency=1) ${fmt(m1)}   (autosnap ${fmt(median(res.snap1), 0)}, autoprune ${fmt(median(res.prune1), 0)})`);
  console.log(`raw snapshot + destroy loop                ${fmt(mr)}   handler/raw ${ratio(mh, mr)} (concurrency=1: ${ratio(m1, mr)})`);
  console.log(`raw list + snapshot + destroy loop         ${fmt(ml)}   handler/raw+list ${ratio(mh, ml)} (concurrency=1: ${ratio(m1, ml)})`);
  console.log(`per round: ${D} zfs snapshot + ${D} zfs destroy in every column; the handler adds per verb 1 zfs list + 1 zfs get of the filesystems and the snapshot lists (1 with concurrency=1, else 8 of ${Math.ceil(D / 8)} datasets; autoprune 1 zfs list of clones); raw+list adds ${D} zfs list`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
