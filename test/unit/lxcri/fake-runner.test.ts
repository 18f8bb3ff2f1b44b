/**
 * LXCRI verbs driven by an injected fake runner (test/helpers/fake-runner.ts) and clock:
 * no runtime, zfs or PATH fakes. What the runtime and zfs answer is given per argv, so
 * the order of commands, a name collision in the same second, a refusal and the
 * per-handler runtime cache can be checked exactly.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createHandler } from '../../../shared/dispatch';
import { table } from '../../../handlers/lxcri';
import { fakeRunner, type FakeReply } from '../../helpers/fake-runner';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-lxcri-fake-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const env = { PATH: '/nonexistent', REXX_OCI_ROOT: `${tmp}/run`, REXX_OCI_DIR: `${tmp}/oci`, REXX_ZFS_POOL: 'rexxpool' };
const R = `${tmp}/run/runc`;
const NOW = 1_795_240_000_123;
const clock = { now: () => NOW, sleep: async () => undefined };
const state = (status: string) => ({ stdout: JSON.stringify({ id: 'c1', pid: 42, status, bundle: '/srv/b/c1' }) });

describe('LXCRI with an injected fake runner (fake runner)', () => {
  it('checkpoint on ZFS (fake runner): pause, snapshot, a taken name in the same second gets -2, resume — in that order', async () => {
    const f = fakeRunner((argv): FakeReply | undefined => {
      const a = argv.join(' ');
      if (a.endsWith(' state c1')) return state('running');
      if (a.startsWith('zfs list -H -o name,mountpoint,mounted')) return { stdout: 'rexxpool\t/rexxpool\tyes\nrexxpool/containers/c1\t/srv/b/c1/rootfs\tyes\n' };
      if (a.startsWith('zfs get -H -p -o property,value mountpoint')) return { stdout: 'mountpoint\t/srv/b/c1/rootfs\n' };
      if (a.includes('@checkpoint-1795240000') && !a.includes('@checkpoint-1795240000-2')) {
        return { exitCode: 1, stderr: "cannot create snapshot 'rexxpool/containers/c1@checkpoint-1795240000': dataset already exists" };
      }
      return undefined;
    });
    const h = createHandler(table, { env, runner: f.runner, clock });
    const r = await h('checkpoint c1 runtime=runc');
    expect(r.errorCode, r.errorMessage).toBe(0);
    expect(r.output).toBe('checkpoint-1795240000-2');
    expect(r.rexxVariables).toMatchObject({ KIND: 'zfs', DATASET: 'rexxpool/containers/c1', SNAPSHOT: 'checkpoint-1795240000-2' });
    const writes = f.calls.filter((c) => c.includes('pause') || c.includes('resume') || c.includes('snapshot'));
    expect(writes).toEqual([
      ['runc', '--root', R, 'pause', 'c1'],
      ['zfs', 'snapshot', '-o', 'org.rexxjs:checkpoint-kind=zfs', 'rexxpool/containers/c1@checkpoint-1795240000'],
      ['zfs', 'snapshot', '-o', 'org.rexxjs:checkpoint-kind=zfs', 'rexxpool/containers/c1@checkpoint-1795240000-2'],
      ['runc', '--root', R, 'resume', 'c1'],
    ]);
  });

  it('delete of a running container without force=true (fake runner): RC 7, and nothing is deleted', async () => {
    const f = fakeRunner((argv) => (argv.at(-1) === 'c1' && argv.includes('state') ? state('running') : undefined));
    const r = await createHandler(table, { env, runner: f.runner })('delete c1 runtime=runc');
    expect(r.errorCode).toBe(7);
    expect(r.errorMessage).toMatch(/c1 is running; kill it first, or delete with force=true/);
    expect(f.calls.filter((c) => c.includes('delete'))).toEqual([]);
  });

  it('exec where cwd= is not in the container (fake runner): RC -3 from the runtime message, not the command status', async () => {
    const f = fakeRunner((argv) =>
      argv.includes('exec')
        ? { exitCode: 1, stderr: 'time="2026-01-01T00:00:00Z" level=error msg="runc exec failed: unable to start container process: chdir to cwd ("/nope") set in config.json failed: no such file or directory"' }
        : undefined,
    );
    const r = await createHandler(table, { env, runner: f.runner })('exec c1 arg=true cwd=/nope runtime=runc');
    expect(r.errorCode).toBe(-3);
    expect(r.errorMessage).toMatch(/cwd=\/nope does not exist/);
  });

  it('runtime=auto is probed once per handler instance (ctx.cache), again by a new handler (fake runner)', async () => {
    let status = 'running';
    const f = fakeRunner((argv) => {
      if (argv[1] === '--version') return argv[0] === 'runc' ? undefined : { missing: true };
      if (argv.includes('pause')) status = 'paused';
      if (argv.includes('resume')) status = 'running';
      return argv.includes('state') ? state(status) : undefined;
    });
    const h = createHandler(table, { env, runner: f.runner });
    expect((await h('pause c1')).errorCode).toBe(0);
    expect((await h('resume c1')).errorCode).toBe(0);
    const probes = () => f.calls.filter((c) => c[1] === '--version').length;
    const once = probes();
    expect(once).toBeGreaterThanOrEqual(3);
    await createHandler(table, { env, runner: f.runner })('pause c1');
    expect(probes()).toBe(2 * once);
    expect(f.calls.filter((c) => c[0] === 'runc' && c[1] === '--root').map((c) => c[3])).toEqual(['pause', 'state', 'resume', 'state', 'pause', 'state']);
  });
});

describe('ZFS checkpoint on runc spawns what the raw way does (fake runner)', () => {
  it('no runc state (bundle from state.json), the dataset looked up once per handler, and looked up again when zfs says it is gone', async () => {
    fs.mkdirSync(`${R}/q1`, { recursive: true });
    fs.writeFileSync(`${R}/q1/state.json`, JSON.stringify({ id: 'q1', config: { labels: ['bundle=/srv/b/q1'], rootfs: '/srv/b/q1/rootfs' } }));
    let current = 'rexxpool/containers/q1';
    const f = fakeRunner((argv): FakeReply | undefined => {
      const a = argv.join(' ');
      if (a.startsWith('zfs list -H -o name,mountpoint,mounted')) return { stdout: `rexxpool\t/rexxpool\tyes\n${current}\t/srv/b/q1/rootfs\tyes\n` };
      if (a.startsWith('zfs get -H -p -o property,value mountpoint')) return { stdout: 'mountpoint\t/srv/b/q1/rootfs\n' };
      if (a.startsWith('zfs snapshot') && !a.includes(`${current}@`)) return { exitCode: 1, stderr: `cannot open '${argv.at(-1)!.split('@')[0]}': dataset does not exist` };
      return undefined;
    });
    const h = createHandler(table, { env, runner: f.runner, clock });
    const first = await h('checkpoint q1 runtime=runc');
    expect(first.errorCode, first.errorMessage).toBe(0);
    expect(first.rexxVariables).toMatchObject({ STATUS: 'running', DATASET: 'rexxpool/containers/q1' });
    const second = await h('checkpoint q1 runtime=runc');
    expect(second.errorCode, second.errorMessage).toBe(0);
    const tools = (from: number) => f.calls.slice(from).map((c) => (c[0] === 'runc' ? `runc ${c[3]}` : `zfs ${c[1]}`));
    // The first: the lookup (zfs list, zfs get), then pause, snapshot, resume; never `runc state`.
    expect(tools(0).filter((t) => t !== 'runc --version')).toEqual(['zfs list', 'zfs get', 'runc pause', 'zfs snapshot', 'runc resume', 'runc pause', 'zfs snapshot', 'runc resume']);
    // The dataset is renamed behind the handler's back: the snapshot fails, the lookup runs again, the checkpoint goes to the new name.
    current = 'rexxpool/moved/q1';
    const n = f.calls.length;
    const third = await h('checkpoint q1 runtime=runc');
    expect(third.errorCode, third.errorMessage).toBe(0);
    expect(third.rexxVariables.DATASET).toBe('rexxpool/moved/q1');
    expect(tools(n)).toEqual(['runc pause', 'zfs snapshot', 'runc resume', 'zfs list', 'zfs get', 'runc pause', 'zfs snapshot', 'runc resume']);
  });
});
