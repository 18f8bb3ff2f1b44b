/**
 * Never unmount a dataset in use (a FUSE unmount of a dataset ZFS still finds busy wedges
 * zfs-fuse: host-notes), on real zfs-fuse with real users: a process whose cwd is in the
 * dataset, a process in another mount namespace holding a copy of the mount, and runc
 * containers (state under the project's runc root /run/rexx-address/runc) whose bundle
 * or rootfs is the dataset. Every verb that would unmount refuses with RC 7 naming them,
 * and leaves the dataset mounted. Only the refusal is tested against a live user; the
 * clean-up then goes in the safe order: containers deleted (runc delete -f), processes
 * ended, and only then the datasets destroyed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUN_ID } from '../../helpers/run-id';
import { throwawayPool, uniq } from './zfs-test-env';

const pool = throwawayPool('busy');
const h = pool.h;
const P = pool.name;
const RUNC_ROOT = '/run/rexx-address/runc';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-zfs-inuse-'));
const procs: ChildProcess[] = [];
const containers: string[] = [];
const vals = (s: unknown) => Object.values((s ?? { 0: 0 }) as object).slice(1);

/** Start a process we own; it is ended in afterAll at the latest. */
function start(argv: string[], cwd = '/'): ChildProcess {
  const c = spawn(argv[0]!, argv.slice(1), { cwd, stdio: 'ignore' });
  procs.push(c);
  return c;
}
async function end(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const gone = new Promise((r) => c.once('exit', r));
  c.kill('SIGKILL');
  await gone;
}
const runcDelete = (id: string) => execa('runc', ['--root', RUNC_ROOT, 'delete', '-f', id], { reject: false });

/** A busybox bundle in `bundle` (rootfs/ inside it) whose container runs `sleep 300`. */
async function makeBundle(bundle: string): Promise<void> {
  const root = path.join(bundle, 'rootfs');
  for (const d of ['bin', 'proc', 'sys', 'dev', 'tmp']) fs.mkdirSync(path.join(root, d), { recursive: true });
  fs.copyFileSync('/bin/busybox', `${root}/bin/busybox`);
  fs.chmodSync(`${root}/bin/busybox`, 0o755);
  for (const a of ['sh', 'sleep']) fs.symlinkSync('busybox', `${root}/bin/${a}`);
  fs.rmSync(path.join(bundle, 'config.json'), { force: true });
  await execa('runc', ['spec'], { cwd: bundle });
  const f = path.join(bundle, 'config.json');
  const c = JSON.parse(fs.readFileSync(f, 'utf8'));
  c.process.terminal = false;
  c.process.args = ['sleep', '300'];
  c.root.readonly = false;
  fs.writeFileSync(f, JSON.stringify(c));
}

async function runContainer(id: string, bundle: string): Promise<void> {
  containers.push(id);
  // The detached container inherits runc's stdio: any pipe (execa's {file} target is one
  // too) would stay open until the container exits, so stderr is a plain file descriptor.
  const log = path.join(tmp, `${id}.log`);
  const fd = fs.openSync(log, 'w');
  try {
    const c = spawn('runc', ['--root', RUNC_ROOT, 'run', '-d', '--bundle', bundle, id], { stdio: ['ignore', 'ignore', fd] });
    const code = await new Promise<number | null>((r) => c.once('exit', r));
    if (code !== 0) throw new Error(`runc run ${id}: ${fs.readFileSync(log, 'utf8')}`);
  } finally {
    fs.closeSync(fd);
  }
}

/** Every verb that would unmount `name` refuses (RC 7) naming `who`, and `name` stays mounted. */
async function expectRefusedEverywhere(name: string, who: RegExp): Promise<void> {
  await h(`snapshot name=${name} snapshot=s-${Date.now()}`);
  for (const cmd of [
    `destroy name=${name} recursive=true force=true`,
    `unmount name=${name}`,
    `unmount name=${name} force=true`,
    `rename name=${name} to=${name}-moved`,
    `rollback name=${name}`,
    `set name=${name} property=mountpoint=/${P}/${name}-elsewhere`,
    `pool_destroy pool=${P} force=true`,
  ]) {
    const r = await h(cmd);
    expect(r.errorCode, `${cmd}: ${r.errorMessage}`).toBe(7);
    expect(r.errorMessage, cmd).toMatch(who);
    expect(vals(r.rexxVariables.IN_USE_BY).join('\n'), cmd).toMatch(who);
  }
  expect((await h(`get name=${name} property=mounted`)).output).toBe('yes');
}

beforeAll(() => pool.create());
afterAll(async () => {
  // The safe order: containers first, then our processes, then the datasets.
  for (const id of containers) await runcDelete(id);
  for (const c of procs) await end(c);
  await pool.destroy();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('ADDRESS ZFS never unmounts a dataset in use (RC 7, IN_USE_BY)', () => {
  it('a process whose cwd is in the dataset: every unmounting verb names its pid and command; once it ends, destroy works', async () => {
    const d = uniq('cwd');
    await h(`create name=${d}`);
    const p = start(['sleep', '300'], `/${P}/${d}`);
    await expectRefusedEverywhere(d, new RegExp(`pid ${p.pid} \\(sleep 300\\)`));
    await end(p);
    const r = await h(`destroy name=${d} recursive=true`);
    expect(r.success, r.errorMessage).toBe(true);
  });

  it('a child dataset in use blocks destroy recursive=true of its parent', async () => {
    const d = uniq('parent');
    await h(`create name=${d}/kid parents=true`);
    const p = start(['sleep', '300'], `/${P}/${d}/kid`);
    const r = await h(`destroy name=${d} recursive=true`);
    expect(r.errorCode, r.errorMessage).toBe(7);
    expect(r.errorMessage).toMatch(new RegExp(`pid ${p.pid}`));
    await end(p);
    expect((await h(`destroy name=${d} recursive=true`)).success).toBe(true);
  });

  it('a process in another mount namespace that holds a copy of the mount (no open file) is named too', async () => {
    const d = uniq('ns');
    await h(`create name=${d}`);
    const p = start(['unshare', '-m', '--propagation', 'private', 'sleep', '300']);
    await new Promise((r) => setTimeout(r, 300)); // unshare has made its namespace and exec'd sleep
    const r = await h(`destroy name=${d}`);
    expect(r.errorCode, r.errorMessage).toBe(7);
    expect(r.errorMessage).toMatch(new RegExp(`pid ${p.pid} \\(sleep 300\\)`));
    await end(p);
    expect((await h(`destroy name=${d}`)).success).toBe(true);
  });

  it('runc containers: bundle on the dataset, and rootfs as the mountpoint — refused naming the container; deleted first, then destroyed', async () => {
    // 1. the dataset is the bundle (config.json and rootfs/ on it)
    const b1 = uniq('bundle');
    await h(`create name=${b1}`);
    await makeBundle(`/${P}/${b1}`);
    const id1 = `it-zfs-${RUN_ID}-1`;
    await runContainer(id1, `/${P}/${b1}`);
    // 2. the dataset is mounted as the bundle's rootfs
    const bundle2 = path.join(tmp, 'b2');
    fs.mkdirSync(bundle2);
    const r2 = uniq('rootfs');
    expect((await h(`create name=${r2} property=mountpoint=${bundle2}/rootfs`)).success).toBe(true);
    await makeBundle(bundle2);
    const id2 = `it-zfs-${RUN_ID}-2`;
    await runContainer(id2, bundle2);

    await expectRefusedEverywhere(b1, new RegExp(`container runc/${id1} \\(pid \\d+: sleep 300\\)`));
    await expectRefusedEverywhere(r2, new RegExp(`container runc/${id2} \\(pid \\d+: sleep 300\\)`));

    for (const id of [id1, id2]) expect((await runcDelete(id)).exitCode).toBe(0);
    for (const d of [b1, r2]) {
      const r = await h(`destroy name=${d} recursive=true`);
      expect(r.success, r.errorMessage).toBe(true);
    }
  });
});
