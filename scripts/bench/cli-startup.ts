/**
 * Benchmark (not a test): the rexx-address CLI as a whole process, side by side in one
 * run, interleaved, median of N (BENCH_N, default 20) each, wall ms from spawn to exit:
 *   node -e 0                                    bare node
 *   rexx-address T --help                        for each target T
 *   the same from the unbundled compiled tree   (every handler loaded: the CLI before bundling)
 *   lxc info NAME                                the raw tool
 *   rexx-address lxd "info name=NAME"            one query through the handler
 *   with REXXJS_HOME: rexx-address rexx given `x = 1` on stdin (RexxJS and all four
 *   handlers loaded) beside RexxJS's own cli.js --stdin given the same
 * and the ratios the CLI is held to: --help / node, info / (node + lxc info).
 * Run: npm run bench:cli  (needs LXD up and the image "tiny": scripts/setup-host.sh)
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { TARGETS } from '../../cli/main';
import { fmt, median, ratio } from './stats';

const N = Number(process.env.BENCH_N ?? 20);
const ROOT = path.join(__dirname, '..', '..', '..');
const BIN = path.join(ROOT, 'bin', 'rexx-address.js');
const NAME = `bench-cli-${process.pid}`;

/** Wall ms of one whole process; throws when it fails. */
function wall(argv: string[], input?: string): number {
  const t0 = performance.now();
  const r = spawnSync(argv[0]!, argv.slice(1), { stdio: [input === undefined ? 'ignore' : 'pipe', 'ignore', 'pipe'], input });
  const t = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: exit ${r.status} ${r.stderr}`);
  return t;
}

const cases: Record<string, string[]> = {
  'node -e 0': [process.execPath, '-e', '0'],
  ...Object.fromEntries(TARGETS.map((t) => [`rexx-address ${t} --help`, [process.execPath, BIN, t, '--help']])),
  // The compiled tree without bundles, all four handlers loaded (how the CLI started before the bundles).
  'unbundled: rexx-address lxd --help': [process.execPath, '-e', `require(${JSON.stringify(path.join(ROOT, 'dist/cli/main.js'))}).main(['lxd', '--help'], undefined, require(${JSON.stringify(path.join(ROOT, 'dist/cli/tree.js'))}).loadFromTree)`],
  'lxc info NAME': ['lxc', 'info', NAME],
  'rexx-address lxd "info name=NAME"': [process.execPath, BIN, 'lxd', `info name=${NAME}`],
  ...(process.env.REXXJS_HOME
    ? {
        'rexx-address rexx <<< "x = 1"': [process.execPath, BIN, 'rexx'],
        'RexxJS cli.js --stdin <<< "x = 1"': [process.execPath, path.join(process.env.REXXJS_HOME, 'core', 'src', 'cli.js'), '--stdin'],
      }
    : {}),
};

function main() {
  wall(['lxc', 'init', 'tiny', NAME]);
  try {
    const times: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
    // The REXX cases read one line of REXX on stdin; the others read nothing.
    const input = (k: string) => (k.includes('<<<') ? 'x = 1\n' : undefined);
    for (const [k, argv] of Object.entries(cases)) wall(argv, input(k)); // warm-up: page cache, LXD's own caches
    for (let i = 0; i < N; i++) for (const [k, argv] of Object.entries(cases)) times[k]!.push(wall(argv, input(k)));
    const m = Object.fromEntries(Object.entries(times).map(([k, xs]) => [k, median(xs)]));
    console.log(`CLI start-up, whole processes, median of ${N}, interleaved (ms)`);
    for (const k of Object.keys(cases)) console.log(`${fmt(m[k]!)}  ${k}`);
    const node = m['node -e 0']!;
    for (const t of TARGETS) console.log(`ratio --help ${t} / node -e 0: ${ratio(m[`rexx-address ${t} --help`]!, node)} (goal ≤ 2.00)`);
    console.log(`ratio info / (node -e 0 + lxc info): ${ratio(m['rexx-address lxd "info name=NAME"']!, node + m['lxc info NAME']!)} (goal ≤ 2.00)`);
    const session = m['rexx-address rexx <<< "x = 1"'];
    if (session !== undefined) console.log(`ratio rexx session start-up / RexxJS cli.js: ${ratio(session, m['RexxJS cli.js --stdin <<< "x = 1"']!)}`);
  } finally {
    spawnSync('lxc', ['delete', '--force', NAME]);
  }
}

main();
