/**
 * Benchmark (not a test): ADDRESS LXCRI against the raw runtime CLI, side by side and
 * interleaved in one run, medians of N (BENCH_N, default 20), on the tiny busybox image.
 *   1. run: raw `runc run -d` (spawned through execa like the handler's runner, and through
 *      spawnSync) vs handler `run` (which also confirms running via --pid-file).
 *   2. checkpoint on zfs-fuse: handler (pause → zfs snapshot → resume) vs the same three
 *      raw commands; the seed (Proxmox LXCRI v0.3.0) claims 1–3 s.
 *   3. restore (stop, zfs rollback, run again): handler; the seed claims 2–5 s.
 *   4. a new container from a cloned rootfs (clone_from_base + run) vs from a copied one
 *      (cp -a of the bundle + run).
 * Run: npm run bench:lxcri
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import { createHandler } from '../../shared/dispatch';
import { table } from '../../handlers/lxcri';
import { busyboxRootfs, destroyEmptyParents, removeContainers } from './oci-env';
import { fmt, median, ratio, strict, timed } from './stats';

const N = Number(process.env.BENCH_N ?? 20);
const POOL = process.env.REXX_ZFS_POOL || 'rexxpool';
const P = `lxb${process.pid}`;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-lxcri-bench-'));
const ROOT = `${tmp}/run/runc`;
const h = createHandler(table, { env: { ...process.env, REXX_OCI_DIR: `${tmp}/oci`, REXX_OCI_ROOT: `${tmp}/run`, REXX_ZFS_POOL: POOL } });

const raw = (cmd: string, args: string[]) => {
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status})`);
};
const quiet = (cmd: string, args: string[]) => spawnSync(cmd, args, { stdio: 'ignore' });
const must = strict(h);

const rootfs = (dir: string) => busyboxRootfs(dir, ['sh', 'sleep', 'cat', 'echo']);
async function bundle(name: string) {
  const b = `${tmp}/${name}`;
  rootfs(`${b}/rootfs`);
  await must(`spec bundle=${b} arg=sleep arg=1000 readonly=false runtime=runc`);
  return b;
}

const PARENTS = [`${POOL}/containers`, `${POOL}/images`];
const hadParent = new Set(PARENTS.filter((d) => quiet('zfs', ['list', '-H', d]).status === 0));

const rows: Array<[string, number, number | undefined, string]> = [];

async function main() {
  const b = await bundle(`${P}-plain`);
  // 1. run -d raw vs handler. Raw twice: through execa (the same spawn path the handler's
  // runner uses) and through spawnSync (the cheapest spawn Node has), to show what is spawn cost.
  const rawRun: number[] = [];
  const rawSync: number[] = [];
  const hRun: number[] = [];
  const steps: Array<[number[], (i: number) => Promise<unknown> | unknown, string]> = [
    [rawRun, (i) => execa('runc', ['--root', ROOT, 'run', '-d', '--bundle', b, `${P}-r${i}`], { stdio: 'ignore' }), 'r'],
    [rawSync, (i) => raw('runc', ['--root', ROOT, 'run', '-d', '--bundle', b, `${P}-s${i}`]), 's'],
    [hRun, (i) => must(`run name=${P}-h${i} bundle=${b} runtime=runc`), 'h'],
  ];
  for (let i = 0; i < N; i++) {
    // rotate which goes first, so none always follows another's delete
    for (let k = 0; k < steps.length; k++) {
      const [arr, f] = steps[(i + k) % steps.length]!;
      arr.push(await timed(() => f(i)));
    }
    for (const [, , tag] of steps) quiet('runc', ['--root', ROOT, 'delete', '-f', `${P}-${tag}${i}`]);
  }
  rows.push(['run (raw runc run -d via execa | handler run)', median(rawRun), median(hRun), 'floor ≤ 1.10×']);
  rows.push(['run (raw runc run -d via spawnSync | handler run)', median(rawSync), median(hRun), 'spawn-cost reference']);

  // 2./3. checkpoint + restore on a zfs-fuse rootfs
  const bz = await bundle(`${P}-z`);
  await must(`run name=${P}-z bundle=${bz} zfs=true runtime=runc`);
  const ds = `${POOL}/containers/${P}-z`;
  const rawCk: number[] = [];
  const hCk: number[] = [];
  const hRs: number[] = [];
  for (let i = 0; i < N; i++) {
    rawCk.push(
      await timed(() => {
        raw('runc', ['--root', ROOT, 'pause', `${P}-z`]);
        raw('zfs', ['snapshot', `${ds}@raw-${i}`]);
        raw('runc', ['--root', ROOT, 'resume', `${P}-z`]);
      }),
    );
    hCk.push(await timed(() => must(`checkpoint ${P}-z runtime=runc`)));
    hRs.push(await timed(() => must(`restore ${P}-z runtime=runc`)));
  }
  rows.push(['checkpoint zfs (raw pause+snapshot+resume | handler)', median(rawCk), median(hCk), 'floor ≤ 100 ms; seed 1–3 s']);
  rows.push(['restore zfs (handler: delete, rollback, run)', median(hRs), undefined, 'seed 2–5 s']);

  // 4. new container from a cloned vs a copied rootfs
  await must(`register_base name=${P}-base bundle=${b}`);
  const cloneRun: number[] = [];
  const copyRun: number[] = [];
  for (let i = 0; i < N; i++) {
    cloneRun.push(await timed(() => must(`clone_from_base base=${P}-base name=${P}-c${i} start=true bundle_dir=${tmp}/clones runtime=runc`)));
    copyRun.push(
      await timed(async () => {
        raw('cp', ['-a', b, `${tmp}/${P}-k${i}`]);
        await must(`run name=${P}-k${i} bundle=${tmp}/${P}-k${i} runtime=runc`);
      }),
    );
  }
  rows.push(['new container: copied rootfs (cp -a + run) | cloned (clone_from_base start=true)', median(copyRun), median(cloneRun), 'tiny image (1 MB)']);

  console.log(`ADDRESS LXCRI benchmark, N=${N} each, medians in ms (runc 1.1.5, zfs-fuse pool ${POOL})\n`);
  console.log(`${'what'.padEnd(82)} ${'raw/A'.padStart(9)} ${'handler/B'.padStart(9)} ${'B/A'.padStart(6)}  note`);
  for (const [what, a, bb, note] of rows) {
    console.log(`${what.padEnd(82)} ${fmt(a, 9)} ${bb === undefined ? ''.padStart(9) : fmt(bb, 9)} ${bb === undefined ? ''.padStart(6) : ratio(bb, a).padStart(6)}  ${note}`);
  }
}

function cleanup() {
  removeContainers(ROOT, POOL, P);
  destroyEmptyParents(PARENTS, hadParent);
  fs.rmSync(tmp, { recursive: true, force: true });
}

main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(cleanup);
