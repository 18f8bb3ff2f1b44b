/**
 * zfs/zpool failures map to the RC table: the zfs-fuse "daemon not running" text is
 * RC 6 (unavailable), a missing binary RC 6, "does not exist" RC 3, "already exists"
 * RC 4, dependents RC 7 — with real verbs against fake binaries that print the exact
 * messages zfs-fuse 0.7 printed on this host.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createHandler } from '../../../shared/dispatch';
import { classify } from '../../../shared/errors';
import type { RunResult } from '../../../shared/runner';
import { table } from '../../../handlers/zfs';
import { pruneSelect } from '../../../handlers/zfs/snapshot';
import { parseSize } from '../../../shared/size';
import { fullName, ZFS_ERRORS } from '../../../handlers/zfs/tool';
import { fakeBin, type FakeBin, type FakeSpec } from '../../helpers/fakebin';

const fakes: FakeBin[] = [];
afterEach(() => {
  while (fakes.length) fakes.pop()!.cleanup();
});

const DAEMON_DOWN = 'connect: No such file or directory\nPlease make sure that the zfs-fuse daemon is running.\ninternal error: failed to initialize ZFS library\n';

function withZfs(spec: FakeSpec, impl = 'zfs-fuse') {
  const fake = fakeBin({ zfs: spec, zpool: spec });
  fakes.push(fake);
  return createHandler(table, { env: { ...fake.env, REXX_ZFS_IMPL: impl } });
}

const result = (stderr: string, exitCode = 1): RunResult => ({
  argv: ['zfs', 'x'], ok: false, exitCode, signal: null, timedOut: false, missing: false, stdout: '', stderr, durationMs: 1,
});

describe('error classification', () => {
  it.each([
    [DAEMON_DOWN, 'unavailable'],
    ["cannot open 'rexxpool/x': dataset does not exist", 'notFound'],
    ["cannot open 'nopool': no such pool", 'notFound'],
    ["cannot create 'rexxpool/x': dataset already exists", 'exists'],
    ["cannot destroy 'rexxpool/x': filesystem has children\nuse '-r' to destroy the following datasets:\nrexxpool/x@a", 'refused'],
    ["cannot destroy 'rexxpool/x@a': snapshot has dependent clones\nuse '-R' to destroy the following datasets:\nrexxpool/c", 'refused'],
    ["cannot rollback to 'rexxpool/x@a': more recent snapshots exist\nuse '-r' to force deletion of the following snapshots:\nrexxpool/x@b", 'refused'],
    ['internal error: Function not implemented', 'unavailable'],
    ['The ZFS modules are not loaded.\nTry running \'/sbin/modprobe zfs\' as root to load them.', 'unavailable'],
    ["cannot destroy 'rexxpool/x': dataset is busy", 'toolFailed'],
  ])('%s → %s', (stderr, kind) => {
    expect(classify(result(stderr), ZFS_ERRORS).kind).toBe(kind);
  });

  it('daemon stopped: every verb answers RC 6 (fake binary)', async () => {
    const h = withZfs({ exit: 1, stderr: DAEMON_DOWN });
    for (const cmd of ['list', 'create name=web', 'snapshot name=web', 'rollback name=web snapshot=s1', 'list_bases', 'pool_status', 'stats']) {
      const r = await h(cmd);
      expect(r.errorCode, cmd).toBe(6);
      expect(r.errorMessage).toMatch(/zfs-fuse daemon is running/);
    }
  });

  it('daemon stopped: status says REACHABLE=0 and which implementation (fake binary)', async () => {
    const h = withZfs({ exit: 1, stderr: DAEMON_DOWN });
    const r = await h('status');
    expect(r.errorCode).toBe(6);
    expect(r.rexxVariables).toMatchObject({ REACHABLE: 0, IMPLEMENTATION: 'zfs-fuse' });
  });

  it('zfs-fuse aborting on zvols ("Function not implemented", SIGABRT) is RC 6 when it does run (fake binary)', async () => {
    const h = withZfs({ exit: 134, stderr: 'internal error: Function not implemented\n' }, 'openzfs');
    const r = await h('create_volume name=vm size=1G');
    expect(r.errorCode).toBe(6);
  });

  it('binary missing → RC 6', async () => {
    const h = createHandler(table, { env: { PATH: '/nonexistent', REXX_ZFS_IMPL: 'zfs-fuse' } });
    const r = await h('list');
    expect(r.errorCode).toBe(6);
    expect(r.errorMessage).toMatch(/not installed/);
  });

  it('status without REXX_ZFS_IMPL detects OpenZFS by `zfs version` (fake binary)', async () => {
    const fake = fakeBin({ zfs: { stdout: 'zfs-2.2.4-1\nzfs-kmod-2.2.4-1\n' }, zpool: { stdout: 'tank\tONLINE\n' } });
    fakes.push(fake);
    const r = await createHandler(table, { env: fake.env })('status pool=tank');
    expect(r.rexxVariables).toMatchObject({ IMPLEMENTATION: 'openzfs', IMPLEMENTATION_VERSION: 'zfs-2.2.4-1', REACHABLE: 1, DEFAULT_POOL_HEALTH: 'ONLINE' });
    expect(r.rexxVariables.LACKS).toEqual({ 0: 0 });
  });
});

describe('helpers', () => {
  it('fullName: relative names join the pool; names starting with the pool are full', () => {
    const ctx = { env: { REXX_ZFS_POOL: 'tank' } };
    expect(fullName(ctx, undefined, 'web')).toBe('tank/web');
    expect(fullName(ctx, undefined, 'tank/web')).toBe('tank/web');
    expect(fullName(ctx, undefined, 'tank')).toBe('tank');
    expect(fullName(ctx, 'rexxpool', 'tankish/web')).toBe('rexxpool/tankish/web');
    expect(fullName({ env: {} }, undefined, 'web')).toBe('rexxpool/web');
  });

  it('parseSize', () => {
    expect(parseSize('16k')).toBe(16384);
    expect(parseSize('3.97G')).toBe(Math.round(3.97 * 2 ** 30));
    expect(parseSize('512MiB')).toBe(512 * 2 ** 20);
    expect(parseSize('1024')).toBe(1024);
    expect(parseSize('x')).toBeNaN();
  });

  it('pruneSelect keeps the newest N matching, honours older_than and the prefix', () => {
    const now = 1_000_000_000_000;
    const s = (n: string, ageS: number, txg: number) => ({ name: `p/d@${n}`, snapshot: n, createdEpoch: now / 1000 - ageS, usedBytes: 0, createtxg: txg });
    const snaps = [s('checkpoint-1', 500, 1), s('other', 400, 2), s('checkpoint-2', 300, 3), s('checkpoint-3', 100, 4)];
    expect(pruneSelect(snaps, { prefix: 'checkpoint-', keep: 1, nowMs: now }).map((x) => x.snapshot)).toEqual(['checkpoint-1', 'checkpoint-2']);
    expect(pruneSelect(snaps, { prefix: 'checkpoint-', olderThanMs: 200_000, nowMs: now }).map((x) => x.snapshot)).toEqual(['checkpoint-1', 'checkpoint-2']);
    expect(pruneSelect(snaps, { prefix: 'checkpoint-', keep: 0, olderThanMs: 400_000, nowMs: now }).map((x) => x.snapshot)).toEqual(['checkpoint-1']);
    expect(pruneSelect(snaps, { prefix: 'checkpoint-', keep: 5, nowMs: now })).toEqual([]);
  });
});
