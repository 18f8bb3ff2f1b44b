/**
 * Benchmark (not a test): the same verbs through ADDRESS LXD on `lxc` and through
 * ADDRESS INCUS on `incus`, each beside the raw client command that does the same, in
 * one run (each round runs the four in a rotated order; median of N each). Shows that the
 * client table costs nothing (the ratio to the raw command is the same on both), and how
 * the two daemons compare on this host (LXD 5.0 on its btrfs pool, Incus 6.0 on a dir pool).
 *   exec            CLIENT exec NAME -- /bin/sh -c true
 *   snapshot        lxc snapshot / incus snapshot create
 *   delete_snapshot lxc delete NAME/SNAP / incus snapshot delete
 *   config_set      CLIENT config set
 *   info (stopped)  CLIENT query /1.0/instances/NAME (one GET, as info of a stopped instance)
 *   copy (stopped)  CLIENT copy
 * Run: npm run bench:incus  (N via BENCH_N, default 11)
 */
import { execa } from 'execa';
import { table as incusTable } from '../../handlers/incus';
import { table as lxdTable } from '../../handlers/lxd';
import { createHandler } from '../../shared/dispatch';
import { fmt, median, ratio, strict, timed } from './stats';

const N = Number(process.env.BENCH_N ?? 11);
const RUN = `bench-inc-${process.pid}`;
const LIVE = `${RUN}-live`;
const STOPPED = `${RUN}-stopped`;
type Client = 'lxc' | 'incus';
const CLIENTS: Client[] = ['lxc', 'incus'];
const handlers = {
  lxc: strict(createHandler(lxdTable, { env: { ...process.env, REXX_LXD_CLIENT: 'lxc' } })),
  incus: strict(createHandler(incusTable)),
};

async function raw(c: Client, args: string[]) {
  const r = await execa(c, args, { reject: false, stdin: 'ignore' });
  if (r.exitCode !== 0) throw new Error(`${c} ${args.join(' ')}: ${r.stderr}`);
}

/** One verb: its handler command and the raw client argv, for run `i` (names made unique by i). */
interface Row {
  what: string;
  handler: (i: number) => string;
  raw: (c: Client, i: number) => string[];
  before?: (c: Client, i: number) => Promise<unknown>;
  after?: (c: Client, i: number) => Promise<unknown>;
}

const snapDelete = (c: Client, snap: string) => (c === 'incus' ? ['snapshot', 'delete', LIVE, snap] : ['delete', `${LIVE}/${snap}`]);
const snapCreate = (c: Client, snap: string) => (c === 'incus' ? ['snapshot', 'create', LIVE, snap] : ['snapshot', LIVE, snap]);

const ROWS: Row[] = [
  { what: 'exec', handler: () => `exec name=${LIVE} command=true`, raw: () => ['exec', LIVE, '--', '/bin/sh', '-c', 'true'] },
  { what: 'snapshot', handler: (i) => `snapshot name=${LIVE} snapshot=h${i}`, raw: (c, i) => snapCreate(c, `r${i}`) },
  {
    what: 'delete_snapshot',
    // One after the other: LXD 5.0 refuses a snapshot while another of the same instance is being made.
    before: async (c, i) => (await raw(c, snapCreate(c, `dh${i}`)), raw(c, snapCreate(c, `dr${i}`))),
    handler: (i) => `delete_snapshot name=${LIVE} snapshot=dh${i}`,
    raw: (c, i) => snapDelete(c, `dr${i}`),
  },
  { what: 'config_set', handler: (i) => `config_set name=${LIVE} config=user.bench=${i}`, raw: (_, i) => ['config', 'set', LIVE, `user.bench=${i}`] },
  { what: 'info (stopped)', handler: () => `info name=${STOPPED}`, raw: () => ['query', `/1.0/instances/${STOPPED}`] },
  {
    what: 'copy (stopped)',
    handler: (i) => `copy source=${STOPPED} destination=${RUN}-h${i}`,
    raw: (_, i) => ['copy', STOPPED, `${RUN}-r${i}`],
    after: (c, i) => Promise.all([raw(c, ['delete', `${RUN}-h${i}`]), raw(c, ['delete', `${RUN}-r${i}`])]),
  },
];

async function measure(row: Row) {
  const t: Record<string, number[]> = { 'lxc handler': [], 'lxc raw': [], 'incus handler': [], 'incus raw': [] };
  const runs = CLIENTS.flatMap((c) => [
    { key: `${c} handler`, c, run: (i: number) => handlers[c](row.handler(i)) },
    { key: `${c} raw`, c, run: (i: number) => raw(c, row.raw(c, i)) },
  ]);
  for (let i = 0; i < N; i++) {
    for (const c of CLIENTS) await row.before?.(c, i);
    for (let k = 0; k < runs.length; k++) {
      const r = runs[(i + k) % runs.length]!;
      t[r.key]!.push(await timed(() => r.run(i)));
    }
    for (const c of CLIENTS) await row.after?.(c, i);
  }
  return Object.fromEntries(Object.entries(t).map(([k, v]) => [k, median(v)]));
}

async function main() {
  try {
    for (const c of CLIENTS) {
      await raw(c, ['init', 'tiny', LIVE]);
      await raw(c, ['start', LIVE]);
      await raw(c, ['init', 'tiny', STOPPED]);
    }
    console.log(`instances ${LIVE} (running) and ${STOPPED} (stopped) on each daemon, N=${N}, medians in ms\n`);
    console.log('verb              ADDRESS LXD  raw lxc  ratio | ADDRESS INCUS  raw incus  ratio | incus/lxc raw');
    for (const row of ROWS) {
      const m = await measure(row);
      const [lh, lr, ih, ir] = [m['lxc handler']!, m['lxc raw']!, m['incus handler']!, m['incus raw']!];
      console.log(`${row.what.padEnd(16)} ${fmt(lh, 11)} ${fmt(lr)}  ${ratio(lh, lr)}x | ${fmt(ih, 13)} ${fmt(ir, 10)}  ${ratio(ih, ir)}x | ${ratio(ir, lr)}x`);
    }
  } finally {
    for (const c of CLIENTS) {
      const names = (await execa(c, ['list', '--format', 'csv', '-c', 'n'], { reject: false })).stdout.split('\n').filter((n) => n.startsWith(RUN));
      for (const n of names) await execa(c, ['delete', '--force', n], { reject: false });
    }
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
