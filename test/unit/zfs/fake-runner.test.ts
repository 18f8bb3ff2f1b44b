/**
 * ZFS verbs driven by an injected fake runner (test/helpers/fake-runner.ts) instead of
 * fake binaries on PATH: the failures zfs-fuse gives that a test cannot make the real one
 * give on demand ("dataset is busy" once, then not), and what errors.ts decides of them.
 * The pool `fakepool` is mounted nowhere, so the in-use check reads /proc and runs nothing.
 */
import { describe, expect, it } from 'vitest';
import { createHandler } from '../../../shared/dispatch';
import { table } from '../../../handlers/zfs';
import { fakeRunner } from '../../helpers/fake-runner';

const env = { REXX_ADDRESS_STRICT_VARS: '1', PATH: '/nonexistent', REXX_ZFS_POOL: 'fakepool', REXX_ZFS_IMPL: 'zfs-fuse' };
/** Only the commands that change something (no zfs get/list/version). */
const writes = (calls: string[][]) => calls.filter((c) => !['get', 'list', 'version'].includes(c[1]!));
/** A clock whose sleeps return at once (and are counted). */
const fastClock = () => {
  const slept: number[] = [];
  return { slept, clock: { now: () => 1_800_000_000_000, sleep: async (ms: number) => void slept.push(ms) } };
};

describe('ZFS verbs with an injected runner (fake runner)', () => {
  it('destroy of a mounted dataset: zfs-fuse says "dataset is busy", the dataset is unmounted and the destroy retried (fake runner)', async () => {
    let destroys = 0;
    const f = fakeRunner((argv) => {
      if (argv[1] === 'destroy' && destroys++ === 0) return { exitCode: 1, stderr: "cannot destroy 'fakepool/web': dataset is busy\n" };
      return undefined;
    });
    const r = await createHandler(table, { env, runner: f.runner })('destroy name=web');
    expect(r.errorCode, r.errorMessage).toBe(0);
    expect(writes(f.calls)).toEqual([
      ['zfs', 'destroy', 'fakepool/web'],
      ['zfs', 'unmount', 'fakepool/web'],
      ['zfs', 'destroy', 'fakepool/web'],
    ]);
  });

  it('"dataset is busy" that outlasts the retries stays RC 1 with zfs\'s message; the waits go through the injected clock (fake runner)', async () => {
    const f = fakeRunner((argv) => (argv[1] === 'destroy' ? { exitCode: 1, stderr: "cannot destroy 'fakepool/web': dataset is busy\n" } : undefined));
    const { slept, clock } = fastClock();
    const r = await createHandler(table, { env, runner: f.runner, clock })('destroy name=web');
    expect(r.errorCode).toBe(1);
    expect(r.errorMessage).toMatch(/dataset is busy/);
    expect(writes(f.calls).filter((c) => c[1] === 'destroy').length).toBe(5);
    expect(slept).toEqual([50, 100, 200]);
  });

  it('rollback to a snapshot that is not the latest: RC 7 telling discard_newer=true, from one zfs rollback (fake runner)', async () => {
    const f = fakeRunner(() => ({
      exitCode: 1,
      stderr: "cannot rollback to 'fakepool/web@s1': more recent snapshots exist\nuse '-r' to force deletion of the following snapshots:\nfakepool/web@s2\n",
    }));
    const r = await createHandler(table, { env, runner: f.runner })('rollback name=web snapshot=s1');
    expect(r.errorCode).toBe(7);
    expect(r.errorMessage).toMatch(/^rollback: fakepool\/web@s1 is not the latest snapshot; give discard_newer=true .*more recent snapshots exist/);
    expect(f.calls).toEqual([['zfs', 'rollback', 'fakepool/web@s1']]);
  });

  it('hold and release: one implementation, HOLDS read back from userrefs (fake runner)', async () => {
    const f = fakeRunner((argv) => (argv[1] === 'get' ? { stdout: 'userrefs\t2\n' } : undefined));
    const h = createHandler(table, { env, runner: f.runner });
    const held = await h('hold name=web snapshot=s1 tag=keep');
    expect(held.rexxVariables.HOLDS).toBe(2);
    const released = await h('release name=web snapshot=s1 recursive=true');
    expect(released.rexxVariables.HOLDS).toBe(2);
    expect(writes(f.calls)).toEqual([
      ['zfs', 'hold', 'keep', 'fakepool/web@s1'],
      ['zfs', 'release', '-r', 'rexx', 'fakepool/web@s1'],
    ]);
  });

  it('the implementation is learnt once per handler instance (ctx.cache), and a new handler asks again (fake runner)', async () => {
    const f = fakeRunner((argv) => (argv[1] === 'version' ? { stdout: 'zfs-2.2.4-1\n' } : argv[0] === 'zpool' ? { stdout: 'fakepool\tONLINE\n' } : undefined));
    const noImpl = { ...env, REXX_ZFS_IMPL: '' };
    const h = createHandler(table, { env: noImpl, runner: f.runner });
    expect((await h('status')).rexxVariables.IMPLEMENTATION).toBe('openzfs');
    await h('status');
    expect(f.calls.filter((c) => c[1] === 'version').length).toBe(1);
    await createHandler(table, { env: noImpl, runner: f.runner })('status');
    expect(f.calls.filter((c) => c[1] === 'version').length).toBe(2);
  });
});
