/**
 * pool_create layouts, log and cache devices, pool_export/pool_import and scrub, driven by
 * the injected fake runner: the argv each builds, and what is refused before anything runs.
 */
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createHandler } from '../../../shared/dispatch';
import { table } from '../../../handlers/zfs';
import { fakeRunner, type FakeReply } from '../../helpers/fake-runner';

const env = { REXX_ADDRESS_STRICT_VARS: '1', PATH: '/nonexistent', REXX_ZFS_POOL: 'fakepool', REXX_ZFS_IMPL: 'zfs-fuse' };
const status = (scrub: string, state = 'ONLINE') =>
  `  pool: fakepool\n state: ${state}\n scrub: ${scrub}\nconfig:\n\n\tNAME        STATE     READ WRITE CKSUM\n\tfakepool    ${state}       0     0     0\n\t  /v/a.img  ${state}       0     0     0\n\nerrors: No known data errors\n`;
/** zpool list of the new pool: "no such pool" (pool_create asks first); everything else exit 0. */
const noPool = (more: (argv: string[]) => FakeReply | undefined = () => undefined) =>
  fakeRunner((argv) => (argv[1] === 'list' ? { exitCode: 1, stderr: "cannot open 'p1': no such pool\n" } : more(argv)));
const creates = (calls: string[][]) => calls.filter((c) => c[0] === 'zpool' && c[1] === 'create');

describe('pools with an injected runner (fake runner)', () => {
  it.each([
    ['vdev=/v/a vdev=/v/b', ['p1', '/v/a', '/v/b']],
    ['layout=mirror vdev=/v/a vdev=/v/b', ['p1', 'mirror', '/v/a', '/v/b']],
    ['layout=raidz vdev=/v/a vdev=/v/b vdev=/v/c', ['p1', 'raidz', '/v/a', '/v/b', '/v/c']],
    ['layout=raidz2 vdev=/v/a vdev=/v/b vdev=/v/c', ['p1', 'raidz2', '/v/a', '/v/b', '/v/c']],
    ['layout=mirror vdev=/v/a vdev=/v/b log=/v/l cache=/v/c', ['p1', 'mirror', '/v/a', '/v/b', 'log', '/v/l', 'cache', '/v/c']],
    ['vdev=/v/a log=/v/l1 log=/v/l2', ['p1', '/v/a', 'log', '/v/l1', '/v/l2']],
  ])('pool_create %s', async (args, tail) => {
    const f = noPool();
    const r = await createHandler(table, { env, runner: f.runner })(`pool_create pool=p1 mountpoint=none recommended=false ${args}`);
    expect(r.errorCode, r.errorMessage).toBe(0);
    expect(creates(f.calls)).toEqual([['zpool', 'create', '-m', 'none', ...tail]]);
  });

  it.each([
    ['layout=mirror vdev=/v/a', /layout=mirror needs at least 2/],
    ['layout=raidz vdev=/v/a', /layout=raidz needs at least 2/],
    ['layout=raidz2 vdev=/v/a vdev=/v/b', /layout=raidz2 needs at least 3/],
    ['layout=raid5 vdev=/v/a vdev=/v/b', /layout/],
    ['vdev=/v/a log=rel.img', /log= must be an absolute path/],
    ['vdev=/v/a cache=rel.img', /cache= must be an absolute path/],
    ['vdev=/v/a log=/v/a', /given twice/],
  ])('pool_create %s: RC 2, nothing ran', async (args, msg) => {
    const f = noPool();
    const r = await createHandler(table, { env, runner: f.runner })(`pool_create pool=p1 ${args}`);
    expect(r.errorCode).toBe(2);
    expect(r.errorMessage).toMatch(msg);
    expect(f.calls).toEqual([]);
  });

  it('cache= on zfs-fuse ("cache device must be a disk or disk slice"): RC 6 naming the feature; the vdev files made by size= are removed', async () => {
    const dir = fs.mkdtempSync('/tmp/rexx-pools-');
    const f = noPool((argv) => {
      if (argv[0] === 'truncate') fs.writeFileSync(argv[3]!, '');
      if (argv[1] === 'create') return { exitCode: 1, stderr: "cannot create 'p1': cache device must be a disk or disk slice\n" };
      return undefined;
    });
    const r = await createHandler(table, { env, runner: f.runner })(`pool_create pool=p1 mountpoint=none vdev=${dir}/a.img cache=${dir}/c.img size=64M`);
    expect(r.errorCode).toBe(6);
    expect(r.errorMessage).toMatch(/cache= \(L2ARC\) devices on files are not supported.*cache device must be a disk/);
    expect(fs.readdirSync(dir)).toEqual([]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('pool_export and pool_import -d (fake runner)', async () => {
    const f = fakeRunner((argv) => (argv[1] === 'status' ? { stdout: status('none requested') } : undefined));
    const h = createHandler(table, { env, runner: f.runner });
    expect((await h('pool_export pool=p1')).errorCode).toBe(0);
    const imp = await h('pool_import pool=p1 dir=/var/tmp');
    expect(imp.errorCode, imp.errorMessage).toBe(0);
    expect(imp.rexxVariables.HEALTH).toBe('ONLINE');
    expect(f.calls.filter((c) => c[1] !== 'status')).toEqual([['zpool', 'export', 'p1'], ['zpool', 'import', '-d', '/var/tmp', 'p1']]);
    expect((await h('pool_import pool=p1 dir=var/tmp')).errorCode).toBe(2);
  });

  it('scrub wait=true polls zpool status until the scrub is no longer in progress (fake runner)', async () => {
    let n = 0;
    const f = fakeRunner((argv) =>
      argv[1] === 'status' ? { stdout: status(n++ < 2 ? 'scrub in progress for 0h0m, 40.00% done, 0h0m to go' : 'scrub completed after 0h0m with 2 errors on Mon Nov 30 01:38:47 2026') } : undefined,
    );
    const r = await createHandler(table, { env, runner: f.runner })('scrub wait=true');
    expect(r.errorCode, r.errorMessage).toBe(0);
    expect(r.output).toBe('completed');
    expect(r.rexxVariables).toMatchObject({ SCRUB_STATE: 'completed', SCRUB_ERRORS: 2, SCRUB_PERCENT: 100 });
    expect(f.calls[0]).toEqual(['zpool', 'scrub', 'fakepool']);
    expect(f.calls.filter((c) => c[1] === 'status').length).toBe(4);
  });

  it('scrub wait=true that outlasts timeout=: RC 5; scrub stop=true runs zpool scrub -s (fake runner)', async () => {
    const f = fakeRunner((argv) => (argv[1] === 'status' ? { stdout: status('scrub in progress for 0h0m, 40.00% done, 0h0m to go') } : undefined));
    const h = createHandler(table, { env, runner: f.runner });
    expect((await h('scrub wait=true timeout=200ms')).errorCode).toBe(5);
    const s = await h('scrub pool=p1 stop=true');
    expect(s.errorCode).toBe(0);
    expect(f.calls.filter((c) => c[1] === 'scrub').at(-1)).toEqual(['zpool', 'scrub', '-s', 'p1']);
    expect((await h('scrub stop=true wait=true')).errorCode).toBe(2);
  });

  it('pool_check of a pool with a device not ONLINE: RC 1 with HEALTH and BAD_DEVICES (fake runner)', async () => {
    const f = fakeRunner((argv) => (argv[1] === 'status' ? { stdout: status('none requested', 'DEGRADED') } : undefined));
    const r = await createHandler(table, { env, runner: f.runner })('pool_check');
    expect(r.errorCode).toBe(1);
    expect(r.errorMessage).toMatch(/pool fakepool is DEGRADED: \/v\/a\.img DEGRADED/);
    expect(r.rexxVariables).toMatchObject({ OK: 0, HEALTH: 'DEGRADED', BAD_DEVICES: { 0: 1, 1: '/v/a.img DEGRADED' } });
  });
});
