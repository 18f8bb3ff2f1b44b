/**
 * ADDRESS ZFS on real zfs-fuse (scripts/setup-host.sh), in a throwaway file-backed
 * pool: pool verbs, datasets and properties, mount/unmount, rename, destroy refusals,
 * the zvol/lz4 refusals zfs-fuse gives, stats and status.
 */
import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { throwawayPool, uniq } from './zfs-test-env';

const pool = throwawayPool('ds');
const h = pool.h;
const P = pool.name;

beforeAll(() => pool.create());
afterAll(() => pool.destroy());

describe('ADDRESS ZFS pools and datasets on zfs-fuse', () => {
  it('pool_create made the pool with what zfs-fuse supports of the recommended options', async () => {
    const r = await h(`pool_status pool=${P}`);
    expect(r.rexxVariables).toMatchObject({ POOL: P, HEALTH: 'ONLINE', VERSION: '23' });
    expect(r.rexxVariables.SIZE as number).toBeGreaterThan(100 * 2 ** 20);
    expect((await h(`get name=${P} property=atime`)).output).toBe('off');
  });

  it('pool_create refuses an existing pool (RC 4)', async () => {
    expect((await h(`pool_create pool=${P} vdev=${pool.img}`)).errorCode).toBe(4);
  });

  it('pool_check lists each deviation with its fix; fix=true applies what zfs-fuse supports', async () => {
    await h(`set name=${P} property=atime=on`);
    const r = await h(`pool_check pool=${P}`);
    const devs = Object.values(r.rexxVariables.DEVIATIONS as object).slice(1);
    expect(devs).toEqual(expect.arrayContaining(['autotrim', 'compression', 'xattr', 'atime']));
    expect(devs).not.toContain('ashift');
    expect(r.output).toContain(`zfs set compression=lz4 ${P} (needs OpenZFS`);
    const f = await h(`pool_check pool=${P} fix=true`);
    expect(f.rexxVariables.FIXED).toEqual({ 0: 1, 1: 'atime' });
    expect((await h(`get name=${P} property=atime`)).output).toBe('off');
  });

  it('pool_destroy without force=true is refused (RC 7) and the pool stays', async () => {
    expect((await h(`pool_destroy pool=${P}`)).errorCode).toBe(7);
    expect((await h(`pool_status pool=${P}`)).output).toBe('ONLINE');
  });

  it('create with properties and parents; get and set, user properties included', async () => {
    const d = uniq('ds');
    const r = await h(`create name=${d}/a/b parents=true property=atime=off property=org.example:owner=ops`);
    expect(r).toMatchObject({ success: true, output: `${P}/${d}/a/b` });
    expect((await h(`get name=${d}/a/b property=org.example:owner`)).output).toBe('ops');
    expect((await h(`set name=${P}/${d}/a/b property=org.example:owner="dev team" property=compression=gzip`)).success).toBe(true);
    const g = await h(`get name=${d}/a/b property=org.example:owner property=compression`);
    expect(g.rexxVariables.VALUES).toEqual({ 0: 2, 1: 'dev team', 2: 'gzip' });
    expect((await h(`create name=${d}/a/b`)).errorCode).toBe(4);
    expect((await h(`create name=nope-${d}/x`)).errorCode).toBe(3);
    expect((await h(`get name=${d}/missing property=used`)).errorCode).toBe(3);
  });

  it('list: stems, type filter, recursive or one level', async () => {
    const d = uniq('ls');
    await h(`create name=${d}/x/y parents=true`);
    await h(`snapshot name=${d} snapshot=s1`);
    const all = await h(`list name=${d}`);
    expect(all.rexxVariables.DATASETS).toEqual({ 0: 3, 1: `${P}/${d}`, 2: `${P}/${d}/x`, 3: `${P}/${d}/x/y` });
    expect((all.rexxVariables.MOUNTPOINTS as Record<number, string>)[1]).toBe(`/${P}/${d}`);
    expect((await h(`list name=${d} recursive=false`)).rexxVariables.DATASETS).toEqual({ 0: 2, 1: `${P}/${d}`, 2: `${P}/${d}/x` });
    expect((await h(`list name=${d} type=snapshot`)).rexxVariables.DATASETS).toEqual({ 0: 1, 1: `${P}/${d}@s1` });
  });

  it('unmount and mount (already-done states are fine)', async () => {
    const d = uniq('mnt');
    await h(`create name=${d}`);
    fs.writeFileSync(`/${P}/${d}/f`, 'x');
    expect((await h(`unmount ${d}`)).rexxVariables.ALREADY).toBe(0);
    expect(fs.existsSync(`/${P}/${d}/f`)).toBe(false);
    expect((await h(`unmount ${d}`)).rexxVariables.ALREADY).toBe(1);
    const m = await h(`mount ${d}`);
    expect(m).toMatchObject({ success: true, output: `/${P}/${d}` });
    expect(fs.readFileSync(`/${P}/${d}/f`, 'utf8')).toBe('x');
    expect((await h(`mount ${d}`)).rexxVariables.ALREADY).toBe(1);
  });

  it('rename a mounted dataset (zfs-fuse busy retry)', async () => {
    const d = uniq('ren');
    await h(`create name=${d}`);
    const r = await h(`rename name=${d} to=${d}-new`);
    expect(r).toMatchObject({ success: true, output: `${P}/${d}-new` });
    expect((await h(`list name=${d}-new`)).success).toBe(true);
    expect((await h(`list name=${d}`)).errorCode).toBe(3);
  });

  it('destroy refuses with dependents (RC 7, DEPENDENTS), destroys with recursive=true', async () => {
    const d = uniq('del');
    await h(`create name=${d}/child parents=true`);
    await h(`snapshot name=${d} snapshot=s1`);
    await h(`clone name=${d} snapshot=s1 target=${d}-clone`);
    const r = await h(`destroy ${d}`);
    expect(r.errorCode).toBe(7);
    const deps = Object.values(r.rexxVariables.DEPENDENTS as object).slice(1);
    expect(deps.sort()).toEqual([`${P}/${d}-clone`, `${P}/${d}/child`, `${P}/${d}@s1`].sort());
    expect(r.errorMessage).toContain('recursive=true');
    const ok = await h(`destroy name=${d} recursive=true`);
    expect(ok.success, ok.errorMessage).toBe(true);
    expect((await h(`list name=${d}`)).errorCode).toBe(3);
    expect((await h(`list name=${d}-clone`)).errorCode).toBe(3);
    expect((await h(`destroy ${d}`)).errorCode).toBe(3);
  });

  it('a plain mounted dataset destroys at once (unmount + retry on "busy")', async () => {
    const d = uniq('busy');
    await h(`create name=${d}`);
    fs.writeFileSync(`/${P}/${d}/f`, 'x');
    expect((await h(`destroy ${d}`)).success).toBe(true);
    expect((await h(`list name=${d}`)).errorCode).toBe(3);
  });

  it('zvols: create_volume is refused with RC 6 naming OpenZFS; forcing the OpenZFS path gets zfs-fuse\'s own abort, also RC 6', async () => {
    const r = await h(`create_volume name=${uniq('vol')} size=16M`);
    expect(r.errorCode).toBe(6);
    expect(r.errorMessage).toMatch(/needs OpenZFS 2\.x; this host runs zfs-fuse/);
    const { createHandler } = await import('../../../shared/dispatch');
    const { table } = await import('../../../handlers/zfs');
    const forced = createHandler(table, { env: { ...process.env, REXX_ZFS_POOL: P, REXX_ZFS_IMPL: 'openzfs' } });
    const f = await forced(`create_volume name=${uniq('vol')} size=16M`);
    expect(f.errorCode).toBe(6);
    expect(f.errorMessage).toMatch(/Function not implemented/);
    const d = uniq('rs');
    await h(`create name=${d}`);
    expect((await h(`resize name=${d} size=1G`)).errorCode).toBe(2);
  });

  it('lz4: zfs-fuse rejects it; set gives RC 1 with zfs\'s message listing what it accepts', async () => {
    const d = uniq('lz4');
    await h(`create name=${d}`);
    const r = await h(`set name=${d} property=compression=lz4`);
    expect(r.errorCode).toBe(1);
    expect(r.errorMessage).toMatch(/'compression' must be one of/);
  });

  it('stats: numbers for a dataset and for the pool', async () => {
    const d = uniq('st');
    await h(`create name=${d}`);
    fs.writeFileSync(`/${P}/${d}/blob`, Buffer.alloc(1 << 20, 7));
    await h(`snapshot name=${d}`); // forces the txg so space accounting catches up
    const r = await h(`stats ${d}`);
    expect(r.rexxVariables.REFERENCED as number).toBeGreaterThan(1 << 19);
    expect(r.rexxVariables.COMPRESSRATIO).toBe(1);
    const p = await h('stats');
    expect(p.rexxVariables.DATASET).toBe(P);
    expect(p.rexxVariables.AVAILABLE as number).toBeGreaterThan(0);
  });

  it('status names zfs-fuse and what it lacks', async () => {
    const r = await h('status');
    expect(r.rexxVariables).toMatchObject({ IMPLEMENTATION: 'zfs-fuse', REACHABLE: 1, DEFAULT_POOL: P, DEFAULT_POOL_HEALTH: 'ONLINE' });
    expect(r.output).toMatch(/lacks zvols/);
  });

  it('dryrun lists the commands and changes nothing', async () => {
    const d = uniq('dry');
    const r = await h(`create name=${d} dryrun=true`);
    expect(r.output).toBe(`zfs create ${P}/${d}`);
    expect((await h(`list name=${d}`)).errorCode).toBe(3);
  });
});
