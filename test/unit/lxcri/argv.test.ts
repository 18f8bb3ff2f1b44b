/**
 * Argument vectors the LXCRI verbs build (dryrun=true, or fake binaries where the verb
 * must read something first), and the pure helpers: error classification, the crun
 * hybrid-cgroup wrapper, checkpoint names, config.json patching, the image index.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createHandler } from '../../../shared/dispatch';
import { classify } from '../../../shared/errors';
import type { RunResult } from '../../../shared/runner';
import { table } from '../../../handlers/lxcri';
import { patchProcess } from '../../../handlers/lxcri/bundle-config';
import { OCI_ERRORS } from '../../../handlers/lxcri/errors';
import { entryFromLayout, skopeoSource, splitRef } from '../../../handlers/lxcri/images';
import { CRUN_HYBRID_SCRIPT, hybridCgroups } from '../../../handlers/lxcri/runtime';
import { rtArgv } from '../../../handlers/lxcri/tool';
import { createEffects } from '../../../shared/effects';
import { fakeBin } from '../../helpers/fakebin';

/** Host reads and the clock, as ctx gives them to the handler. */
const host = createEffects({ dryrun: false, log: () => undefined });

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-lxcri-unit-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const ENV = { PATH: process.env.PATH, REXX_OCI_ROOT: `${tmp}/run`, REXX_OCI_DIR: `${tmp}/oci` };
const R = `${tmp}/run/runc`;
const h = createHandler(table, { env: ENV });
const planned = async (cmd: string) => {
  const r = await h(`${cmd} dryrun=true`);
  expect(r.errorCode, r.errorMessage).toBe(0);
  return r.output.split('\n');
};

describe('lifecycle argv (dryrun)', () => {
  /** The fixed script that appends the container's stdout and stderr to ROOT/ID.out.log. */
  const OUT = `sh -c 'f=$1; shift; exec "$@" >>"$f" 2>&1' sh ${R}/c1.out.log`;
  it('run is run -d with a --log file and its output into ROOT/ID.out.log, no zfs unless asked', async () => {
    expect(await planned('run name=c1 bundle=/srv/b1 runtime=runc zfs=false')).toEqual([
      `${OUT} runc --root ${R} --log ${R}/c1.log --log-format json run -d --pid-file ${R}/c1.pid --bundle /srv/b1 c1`,
    ]);
  });
  it('create, start, kill, pause, resume, delete --force', async () => {
    expect(await planned('create c1 /srv/b1 runtime=runc zfs=false')).toEqual([`${OUT} runc --root ${R} --log ${R}/c1.log --log-format json create --pid-file ${R}/c1.pid --bundle /srv/b1 c1`]);
    expect(await planned('start c1 runtime=runc')).toEqual([`runc --root ${R} start c1`]);
    expect(await planned('kill c1 SIGKILL all=true runtime=runc')).toEqual([`runc --root ${R} kill --all c1 KILL`]);
    expect(await planned('pause c1 runtime=runc')).toEqual([`runc --root ${R} pause c1`]);
    expect(await planned('resume c1 runtime=runc')).toEqual([`runc --root ${R} resume c1`]);
  });
  it('env REXX_OCI_RUNTIME picks the runtime without probing', async () => {
    const h2 = createHandler(table, { env: { ...ENV, REXX_OCI_RUNTIME: 'lxcri' } });
    const r = await h2('pause c1 dryrun=true');
    expect(r.output).toBe(`lxcri --root ${tmp}/run/lxcri pause c1`);
  });
});

describe('crun on hybrid cgroups', () => {
  const mi = '35 30 0:30 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw\n36 30 0:31 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n';
  it('detects cgroup2 at /sys/fs/cgroup/unified', () => {
    expect(hybridCgroups(mi)).toBe(true);
    expect(hybridCgroups('30 1 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n')).toBe(false);
  });
  it('wraps crun in a private mount namespace with a fixed script; arguments stay separate argv words', () => {
    const argv = rtArgv({ name: 'crun', root: '/run/x/crun', wrapper: ['unshare', '-m', '--propagation', 'private', '--', 'sh', '-c', CRUN_HYBRID_SCRIPT, 'crun'] }, ['state', 'c1']);
    expect(argv).toEqual(['unshare', '-m', '--propagation', 'private', '--', 'sh', '-c', 'umount /sys/fs/cgroup/unified 2>/dev/null; exec crun "$@"', 'crun', '--root', '/run/x/crun', 'state', 'c1']);
  });
});

describe('CRIU checkpoint / restore (fake binary)', () => {
  it('checkpoint runs <runtime> checkpoint --image-path DIR --leave-running ID and records kind criu; restore uses restore -d', async () => {
    const state = JSON.stringify({ id: 'c1', pid: 42, status: 'running', bundle: `${tmp}/b1` });
    const fake = fakeBin({ runc: { stdout: state }, criu: {}, zfs: { exit: 1, stderr: "cannot open 'rexxpool/containers/c1': dataset does not exist" } });
    try {
      const hf = createHandler(table, { env: { ...ENV, PATH: fake.env.PATH } });
      const r = await hf('checkpoint c1 backend=criu runtime=runc');
      expect(r.errorCode, r.errorMessage).toBe(0);
      expect(r.rexxVariables.KIND).toBe('criu');
      const dir = `${tmp}/oci/checkpoints/c1/${r.output}`;
      expect(fake.calls()).toContainEqual(['runc', '--root', R, 'checkpoint', '--image-path', dir, '--leave-running', 'c1']);
      expect(JSON.parse(fs.readFileSync(`${dir}/rexx-checkpoint.json`, 'utf8')).kind).toBe('criu');
      const l = await hf('list_checkpoints c1 runtime=runc');
      expect(l.rexxVariables.KINDS).toEqual({ 0: 1, 1: 'criu' });
      const r2 = await hf('checkpoint c1 backend=criu leave_running=false runtime=runc');
      expect(fake.calls()).toContainEqual(['runc', '--root', R, 'checkpoint', '--image-path', `${tmp}/oci/checkpoints/c1/${r2.output}`, 'c1']);
      const rs = await hf(`restore c1 snapshot=${r.output} runtime=runc`);
      expect(rs.errorCode, rs.errorMessage).toBe(0);
      expect(fake.calls()).toContainEqual(['runc', '--root', R, 'delete', '--force', 'c1']);
      expect(fake.calls()).toContainEqual(['runc', '--root', R, '--log', `${R}/c1.log`, '--log-format', 'json', 'restore', '-d', '--image-path', dir, '--bundle', `${tmp}/b1`, 'c1']);
      const pr = await hf('prune c1 keep=0 runtime=runc');
      expect(pr.rexxVariables.PRUNED).toEqual({ 0: 2, 1: r.output, 2: r2.output });
    } finally {
      fake.cleanup();
    }
  }, 30_000); // ~20 node fake binaries: seconds on a loaded host

  it('a damaged rexx-checkpoint.json (fake runc: CRIU cannot dump on this kernel) is RC 1 naming it, not a checkpoint that silently vanishes', async () => {
    const state = JSON.stringify({ id: 'c2', pid: 42, status: 'running', bundle: `${tmp}/b2` });
    const fake = fakeBin({ runc: { stdout: state }, criu: {}, zfs: { exit: 1, stderr: "cannot open 'rexxpool/containers/c2': dataset does not exist" } });
    try {
      const hf = createHandler(table, { env: { ...ENV, PATH: fake.env.PATH } });
      const a = (await hf('checkpoint c2 backend=criu runtime=runc')).output;
      const b = (await hf('checkpoint c2 backend=criu runtime=runc')).output;
      const meta = `${tmp}/oci/checkpoints/c2/${a}/rexx-checkpoint.json`;
      expect(fs.readdirSync(path.dirname(meta)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
      fs.writeFileSync(meta, fs.readFileSync(meta, 'utf8').slice(0, 20));
      const l = await hf('list_checkpoints c2 runtime=runc');
      expect(l.errorCode).toBe(1);
      expect(l.errorMessage).toContain(meta);
      expect(l.errorMessage).toMatch(/rm -r /);
      // prune must not act on a list it could not read.
      expect((await hf('prune c2 keep=0 runtime=runc')).errorCode).toBe(1);
      expect(fs.existsSync(`${tmp}/oci/checkpoints/c2/${b}`)).toBe(true);
      // A directory without the file is an unfinished checkpoint: skipped.
      fs.rmSync(meta);
      expect((await hf('list_checkpoints c2 runtime=runc')).rexxVariables.CHECKPOINTS).toEqual({ 0: 1, 1: b });
    } finally {
      fake.cleanup();
    }
  }, 30_000);
});

describe('classification of runtime messages', () => {
  const res = (stderr: string): RunResult => ({ argv: ['runc'], ok: false, exitCode: 1, signal: null, timedOut: false, missing: false, stdout: '', stderr, durationMs: 1 });
  it.each([
    ['time="x" level=error msg="container does not exist"', 3],
    ['error opening file `/run/crun/c9/status`: No such file or directory', 3],
    ['runc run failed: container with given ID already exists', 4],
    ['cannot delete container t1 that is not stopped: running', 7],
    ['criu failed: type DUMP errno 0\nlog file: dump.log', 1],
  ])('%s → RC %i', (msg, rc) => expect(classify(res(msg), OCI_ERRORS).rc).toBe(rc));
});

describe('helpers', () => {
  it('patchProcess sets args, env (replacing same names), cwd, terminal, readonly', () => {
    const c = patchProcess({ process: { args: ['sh'], env: ['PATH=/bin', 'A=1'], terminal: true }, root: { path: 'rootfs', readonly: true } }, { args: ['sleep', '9'], env: ['A=2'], cwd: '/tmp', terminal: false, readonly: false });
    expect(c.process).toEqual({ args: ['sleep', '9'], env: ['PATH=/bin', 'A=2'], cwd: '/tmp', terminal: false });
    expect(c.root).toEqual({ path: 'rootfs', readonly: false });
  });
  it('image refs and skopeo sources', () => {
    expect(splitRef('library/busybox:1.36')).toEqual(['library/busybox', '1.36']);
    expect(splitRef('busybox')).toEqual(['busybox', 'latest']);
    expect(skopeoSource(host, tmp, undefined)).toBe(`oci:${tmp}`);
    expect(skopeoSource(host, `${tmp}/x.tar`, 'app:1')).toBe(`docker-archive:${tmp}/x.tar:app:1`);
  });
  it('an index entry is read from index.json → manifest → config', () => {
    const lay = `${tmp}/layout`;
    fs.mkdirSync(`${lay}/blobs/sha256`, { recursive: true });
    fs.writeFileSync(`${lay}/blobs/sha256/m1`, JSON.stringify({ config: { digest: 'sha256:c1', size: 10 }, layers: [{ digest: 'sha256:l1', size: 100 }, { digest: 'sha256:l2', size: 5 }] }));
    fs.writeFileSync(`${lay}/index.json`, JSON.stringify({ manifests: [{ digest: 'sha256:m1', size: 300, annotations: { 'org.opencontainers.image.ref.name': 'bb:1' } }] }));
    const e = entryFromLayout(host, lay, 'bb', '1', 'oci:/x');
    expect(e).toMatchObject({ digest: 'sha256:m1', configDigest: 'sha256:c1', layers: ['sha256:l1', 'sha256:l2'], size: 415 });
  });
});
