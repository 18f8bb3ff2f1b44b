/**
 * ADDRESS LXCRI checkpoints against the raw commands, interleaved in one run, medians of
 * N (BENCH_N, default 20), on the tiny busybox rootfs.
 *   1. ZFS: raw `runc pause` + `zfs snapshot` + `runc resume` (spawnSync, and execa like
 *      the handler's runner) vs handler `checkpoint` (goal ≤ 1.15×), and what each step a
 *      checkpoint could add costs alone (runc state, the dataset lookup, the lock), so the
 *      difference can be placed.
 *   2. CRIU: raw `runc checkpoint --image-path D` + `runc restore -d --image-path D` vs
 *      handler `checkpoint backend=criu leave_running=false` + `restore` (goal ≤ 1.10×).
 *      Only where `criu check` passes; elsewhere it prints "skipped: criu check failed: …".
 * Run: npm run bench:lxcri-checkpoint
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import * as lockfile from 'proper-lockfile';
import { createHandler } from '../../shared/dispatch';
import { argvLine } from '../../shared/runner';
import { table } from '../../handlers/lxcri';
import { busyboxRootfs, removeContainers } from './oci-env';
import { fmt, median, ratio, strict, timed } from './stats';

const N = Number(process.env.BENCH_N ?? 20);
const POOL = process.env.REXX_ZFS_POOL || 'rexxpool';
const P = `lxk${process.pid}`;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-lxcri-ckbench-'));
const ROOT = `${tmp}/run/runc`;
const h = createHandler(table, { env: { ...process.env, REXX_OCI_DIR: `${tmp}/oci`, REXX_OCI_ROOT: `${tmp}/run`, REXX_ZFS_POOL: POOL } });
const must = strict(h);

const raw = (cmd: string, args: string[]) => {
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status})`);
};
const quiet = (cmd: string, args: string[]) => spawnSync(cmd, args, { stdio: 'ignore' });

async function bundle(name: string) {
  const b = `${tmp}/${name}`;
  busyboxRootfs(`${b}/rootfs`, ['sh', 'sleep']);
  // A counter in the shell's memory: a process whose state a CRIU dump has to carry.
  await must(`spec bundle=${b} arg=sh arg=-c ${argvLine(['arg=i=0; while true; do i=$((i+1)); sleep 0.1; done'])} readonly=false runtime=runc`);
  return b;
}

type Row = [string, number, number | undefined, string];

async function zfsRows(rows: Row[]) {
  const id = `${P}-z`;
  const b = await bundle(id);
  await must(`run name=${id} bundle=${b} zfs=true runtime=runc`);
  const ds = `${POOL}/containers/${id}`;
  const [rawSync, rawExeca, hCk, state, list, get, lock] = [[], [], [], [], [], [], []] as number[][];
  const lockDir = `${tmp}/locks`;
  fs.mkdirSync(lockDir, { recursive: true });
  fs.writeFileSync(`${lockDir}/x`, '');
  for (let i = 0; i < N; i++) {
    rawSync.push(
      await timed(() => {
        raw('runc', ['--root', ROOT, 'pause', id]);
        raw('zfs', ['snapshot', `${ds}@raw-${i}`]);
        raw('runc', ['--root', ROOT, 'resume', id]);
      }),
    );
    rawExeca.push(
      await timed(async () => {
        await execa('runc', ['--root', ROOT, 'pause', id]);
        await execa('zfs', ['snapshot', `${ds}@rawx-${i}`]);
        await execa('runc', ['--root', ROOT, 'resume', id]);
      }),
    );
    // The default name is checkpoint-<unix seconds>; a second checkpoint of the container in
    // the same second first meets that name taken (one failed zfs snapshot per taken name).
    // The raw loop's names are known in advance, so start each on a fresh second (untimed).
    await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 5));
    hCk.push(await timed(() => must(`checkpoint ${id} runtime=runc`)));
    // What the checkpoint used to add, each alone.
    state.push(await timed(() => raw('runc', ['--root', ROOT, 'state', id])));
    list.push(await timed(() => raw('zfs', ['list', '-H', '-o', 'name,mountpoint,mounted', '-t', 'filesystem'])));
    get.push(await timed(() => raw('zfs', ['get', '-H', '-p', '-o', 'property,value', 'mountpoint', ds])));
    lock.push(await timed(async () => (await lockfile.lock(`${lockDir}/x`, { realpath: false }))()));
  }
  rows.push(['checkpoint zfs: raw pause+snapshot+resume (spawnSync) | handler', median(rawSync), median(hCk), 'goal ≤ 1.15× (1.21× with runc pause/resume, before the freezer)']);
  rows.push(['checkpoint zfs: raw pause+snapshot+resume (execa) | handler', median(rawExeca), median(hCk), 'same spawn path as the handler']);
  rows.push(['  step alone: runc state (no longer in a runc checkpoint)', median(state), undefined, '']);
  rows.push(['  step alone: zfs list of every filesystem (kept per handler now)', median(list), undefined, '']);
  rows.push(['  step alone: zfs get mountpoint (kept per handler now)', median(get), undefined, '']);
  rows.push(['  step alone: the container lock (proper-lockfile lock + unlock)', median(lock), undefined, 'still taken']);
  await must(`delete ${id} force=true purge=true runtime=runc`);
}

/** Why CRIU cannot work here ('' when `criu check` passes). */
function criuProblem(): string {
  const r = spawnSync('criu', ['check'], { encoding: 'utf8' });
  if (r.error) return `criu is not installed (${r.error.message})`;
  if (r.status === 0) return '';
  return (`${r.stderr}${r.stdout}`.split('\n').find((l) => /Error/.test(l)) ?? `exit ${r.status}`).trim();
}

async function criuRows(rows: Row[]): Promise<string> {
  const why = criuProblem();
  if (why) return `CRIU checkpoint + restore: skipped: criu check failed: ${why}`;
  const id = `${P}-c`;
  const b = await bundle(id);
  const rawT: number[] = [];
  const hT: number[] = [];
  for (let i = 0; i < N; i++) {
    const rid = `${id}-raw`;
    raw('runc', ['--root', ROOT, 'run', '-d', '--bundle', b, rid]);
    const d = `${tmp}/raw-images-${i}`;
    rawT.push(
      await timed(() => {
        raw('runc', ['--root', ROOT, 'checkpoint', '--image-path', d, rid]);
        raw('runc', ['--root', ROOT, 'restore', '-d', '--image-path', d, '--bundle', b, rid]);
      }),
    );
    quiet('runc', ['--root', ROOT, 'delete', '-f', rid]);
    await must(`run name=${id} bundle=${b} zfs=false runtime=runc`);
    hT.push(
      await timed(async () => {
        await must(`checkpoint ${id} backend=criu leave_running=false runtime=runc`);
        await must(`restore ${id} bundle=${b} runtime=runc`);
      }),
    );
    await must(`delete ${id} force=true runtime=runc`);
  }
  rows.push(['CRIU checkpoint + restore: raw runc checkpoint/restore | handler', median(rawT), median(hT), 'goal ≤ 1.10×']);
  return '';
}

async function main() {
  const rows: Row[] = [];
  await zfsRows(rows);
  const skipped = await criuRows(rows);
  console.log(`ADDRESS LXCRI checkpoint benchmark, N=${N} each, medians in ms (runc 1.1, zfs-fuse pool ${POOL})\n`);
  console.log(`${'what'.padEnd(72)} ${'raw/A'.padStart(9)} ${'handler/B'.padStart(9)} ${'B/A'.padStart(6)}  note`);
  for (const [what, a, bb, note] of rows) {
    console.log(`${what.padEnd(72)} ${fmt(a, 9)} ${bb === undefined ? ''.padStart(9) : fmt(bb, 9)} ${bb === undefined ? ''.padStart(6) : ratio(bb, a).padStart(6)}  ${note}`);
  }
  if (skipped) console.log(`\n${skipped}`);
}

function cleanup() {
  removeContainers(ROOT, POOL, P);
  fs.rmSync(tmp, { recursive: true, force: true });
}

main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(cleanup);
