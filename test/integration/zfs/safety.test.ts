/**
 * ADDRESS ZFS safety on real zfs-fuse, one throwaway pool: send file= checks its target
 * and never leaves a partial file; register_base refuses oversized values up front and
 * create/set/clone undo what zfs did before failing; the base snapshot of a registered
 * base cannot be destroyed by any verb, and list_bases / register_base / clone_from_base
 * agree on a half-registered one; mountpoints over host files and property-carrying
 * streams are refused (RC 7) unless the handler's environment allows unsafe settings.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler } from '../../../shared/dispatch';
import { table } from '../../../handlers/zfs';
import { RUN_ID } from '../../helpers/run-id';
import { sh, throwawayPool, uniq } from './zfs-test-env';

const pool = throwawayPool('safe');
const h = pool.h;
const P = pool.name;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-zfs-safety-'));
const vals = (s: unknown) => Object.values((s ?? { 0: 0 }) as object).slice(1);
const snapshotsOf = async (d: string) => vals((await h(`list_snapshots name=${d}`)).rexxVariables.SNAPSHOTS);

beforeAll(() => pool.create());
afterAll(async () => {
  await pool.destroy();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('send file= (item 1)', () => {
  const d = uniq('sendf');

  beforeAll(async () => {
    await h(`create name=${d}`);
    fs.writeFileSync(`/${P}/${d}/big`, Buffer.alloc(3 << 20, 7)); // more than any pipe buffer
    await h(`snapshot name=${d} snapshot=s1`);
  });

  it('a missing folder is RC 3 at once (it hung for the whole timeout) and leaves nothing', async () => {
    const t0 = performance.now();
    const r = await h(`send name=${d} file=${tmp}/no-such-dir/x.zfs timeout=60s`);
    expect(r.errorCode, r.errorMessage).toBe(3);
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(fs.existsSync(`${tmp}/no-such-dir`)).toBe(false);
  });

  it('an existing file is RC 4 and stays as it was; force=true replaces it with the whole stream', async () => {
    const f = `${tmp}/exists.zfs`;
    fs.writeFileSync(f, 'keep me');
    const r = await h(`send name=${d} file=${f}`);
    expect(r.errorCode, r.errorMessage).toBe(4);
    expect(fs.readFileSync(f, 'utf8')).toBe('keep me');
    const ok = await h(`send name=${d} file=${f} force=true`);
    expect(ok.success, ok.errorMessage).toBe(true);
    expect(ok.rexxVariables.BYTES).toBe(fs.statSync(f).size);
    expect(fs.statSync(f).size).toBeGreaterThan(3 << 20);
    expect(fs.readdirSync(tmp).filter((n) => n.includes('rexx-partial'))).toEqual([]);
  });

  it('a stream that fails half-way (the folder is a dataset with a 1 MiB quota) leaves no partial file, and an older file is kept', async () => {
    const q = uniq('quota');
    await h(`create name=${q} property=quota=1M`);
    const dir = `/${P}/${q}`;
    const fresh = await h(`send name=${d} file=${dir}/new.zfs`);
    expect(fresh.errorCode, fresh.errorMessage).toBe(1);
    expect(fresh.errorMessage).toMatch(/quota|space/i);
    fs.writeFileSync(`${dir}/old.zfs`, 'the previous backup');
    const forced = await h(`send name=${d} file=${dir}/old.zfs force=true`);
    expect(forced.errorCode, forced.errorMessage).toBe(1);
    expect(fs.readdirSync(dir).sort()).toEqual(['old.zfs']);
    expect(fs.readFileSync(`${dir}/old.zfs`, 'utf8')).toBe('the previous backup');
  });
});

describe('all or nothing (item 3)', () => {
  it('a 9,000-character description is RC 2 up front: no snapshot, no properties', async () => {
    const d = uniq('desc');
    await h(`create name=${d}`);
    const r = await h('register_base', { name: d, description: 'x'.repeat(9000) });
    expect(r.errorCode, r.errorMessage).toBe(2);
    expect(r.errorMessage).toMatch(/the limit is 4096/);
    expect(await snapshotsOf(d)).toEqual([]);
    expect((await h(`get name=${d} property=org.rexxjs:base-snapshot`)).output).toBe('-');
    expect(vals((await h('list_bases')).rexxVariables.BASES)).not.toContain(`${P}/${d}`);
    // 4096 bytes, two of them per "é": the most a description may be (in every handler), registered in full.
    const max = await h('register_base', { name: d, description: 'é'.repeat(2048) });
    expect(max.success, max.errorMessage).toBe(true);
    expect((await h(`get name=${d} property=org.rexxjs:base-description`)).output).toBe('é'.repeat(2048));
    expect((await h('set', { name: d, property: `org.example:big=${'y'.repeat(8192)}` })).errorCode).toBe(2);
  });

  it('create whose mount fails after zfs made the dataset is undone (zfs said "created, but not mounted")', async () => {
    const full = uniq('full');
    await h(`create name=${full}`);
    fs.writeFileSync(`/${P}/${full}/f`, 'x');
    const c = uniq('c');
    const r = await h(`create name=${c}/inner parents=true property=mountpoint=/${P}/${full}`);
    expect(r.errorCode, r.errorMessage).toBe(1);
    expect(r.errorMessage).toMatch(/undone: destroy/);
    expect((await h(`list name=${c}`)).errorCode).toBe(3); // the parent -p made is gone too
  });

  it('pool_create that zpool refuses removes the vdev file it made (size=) and keeps one that was there', async () => {
    const img = path.join(tmp, 'small.img');
    const fresh = `${P}x`;
    // 1 MB is below zpool's 64 MB minimum: zpool create fails after truncate made the file
    const r = await h(`pool_create pool=${fresh} vdev=${img} size=1M`);
    expect(r.errorCode, r.errorMessage).toBe(1);
    expect(r.errorMessage).toMatch(/undone: remove/);
    expect(fs.existsSync(img)).toBe(false);
    fs.writeFileSync(img, '');
    expect((await h(`pool_create pool=${fresh} vdev=${img} size=1M`)).errorCode).toBe(1);
    expect(fs.existsSync(img)).toBe(true);
  });

  it('pool_create of a pool that exists is RC 4 before anything is made (zfs-fuse would say "mountpoint exists")', async () => {
    const img = path.join(tmp, 'dup.img');
    const r = await h(`pool_create pool=${P} vdev=${img} size=64M`);
    expect(r.errorCode, r.errorMessage).toBe(4);
    expect(r.errorMessage).toMatch(/already exists/);
    expect(fs.existsSync(img)).toBe(false);
  });

  it('set of several properties: a later failure puts the earlier ones back, mountpoint and mount included', async () => {
    const a = uniq('a');
    const b = uniq('b');
    await h(`create name=${a}`);
    await h(`create name=${b}`);
    fs.writeFileSync(`/${P}/${a}/f`, 'x');
    const r = await h(`set name=${b} property=org.example:k=1 property=mountpoint=/${P}/${a}`);
    expect(r.errorCode, r.errorMessage).toBe(1);
    expect((await h(`get name=${b} property=org.example:k`)).output).toBe('-');
    const g = await h(`get name=${b} property=mountpoint property=mounted`);
    expect(vals(g.rexxVariables.VALUES)).toEqual([`/${P}/${b}`, 'yes']);
    expect(vals(g.rexxVariables.SOURCES)[0]).toBe('default');
  });
});

describe('the base snapshot of a registered base (item 4)', () => {
  const base = uniq('golden');

  beforeAll(async () => {
    await h(`create name=${base}`);
    await h(`snapshot name=${base} snapshot=checkpoint-1`);
    fs.writeFileSync(`/${P}/${base}/v`, '1');
    expect((await h(`register_base name=${base}`)).success).toBe(true);
    await h(`snapshot name=${base} snapshot=rexx-later`);
  });

  it('destroy_snapshot of @rexx-base is RC 7 (also recursive from a parent); the base stays registered', async () => {
    const r = await h(`destroy_snapshot name=${base} snapshot=rexx-base`);
    expect(r.errorCode, r.errorMessage).toBe(7);
    expect(r.errorMessage).toMatch(/unregister_base/);
    expect((await h(`destroy_snapshot name=${P} snapshot=rexx-base recursive=true`)).errorCode).toBe(7);
    expect(await snapshotsOf(base)).toContain('rexx-base');
  });

  it('rollback discard_newer=true past @rexx-base is RC 7, and nothing was destroyed', async () => {
    const r = await h(`rollback name=${base} snapshot=checkpoint-1 discard_newer=true`);
    expect(r.errorCode, r.errorMessage).toBe(7);
    expect(await snapshotsOf(base)).toEqual(['checkpoint-1', 'rexx-base', 'rexx-later']);
  });

  it('prune prefix=rexx keep=0 keeps @rexx-base (PROTECTED) and prunes the rest', async () => {
    const r = await h(`prune name=${base} prefix=rexx keep=0`);
    expect(r.success, r.errorMessage).toBe(true);
    expect(vals(r.rexxVariables.PRUNED)).toEqual(['rexx-later']);
    expect(vals(r.rexxVariables.PROTECTED)).toEqual(['rexx-base']);
  });

  it('destroy recursive=true of a parent holding a base is RC 7 without force=true', async () => {
    const parent = uniq('parent');
    await h(`create name=${parent}/kid parents=true`);
    await h(`register_base name=${parent}/kid`);
    const r = await h(`destroy name=${parent} recursive=true`);
    expect(r.errorCode, r.errorMessage).toBe(7);
    expect(vals(r.rexxVariables.BASES)).toEqual([`${P}/${parent}/kid`]);
    expect((await h(`destroy name=${parent} recursive=true force=true`)).success).toBe(true);
  });

  it('a half-registered base (snapshot destroyed behind the handler\'s back): list_bases, clone_from_base and register_base agree, and register_base repairs it', async () => {
    const half = uniq('half');
    await h(`create name=${half}`);
    await h(`register_base name=${half}`);
    await sh(['zfs', 'destroy', `${P}/${half}@rexx-base`]);
    const l = await h('list_bases');
    expect(vals(l.rexxVariables.BASES)).not.toContain(`${P}/${half}`);
    expect(vals(l.rexxVariables.BROKEN_BASES)).toEqual([`${P}/${half}`]);
    const c = await h(`clone_from_base base=${half} name=${uniq('x')}`);
    expect(c.errorCode).toBe(3);
    expect(c.errorMessage).toMatch(/is missing/);
    const again = await h(`register_base name=${half}`);
    expect(again.success, again.errorMessage).toBe(true);
    expect(vals((await h('list_bases')).rexxVariables.BASES)).toContain(`${P}/${half}`);
    expect((await h(`clone_from_base base=${half} name=${uniq('y')}`)).success).toBe(true);
  });

  it('unregister_base with a live clone, then register_base again: the deferred old snapshot is moved aside, the clone keeps working', async () => {
    const g = uniq('again');
    await h(`create name=${g}`);
    fs.writeFileSync(`/${P}/${g}/v`, 'old');
    await h(`register_base name=${g}`);
    const c = uniq('kept');
    await h(`clone_from_base base=${g} name=${c}`);
    expect((await h(`unregister_base name=${g}`)).success).toBe(true);
    expect((await h(`clone_from_base base=${g} name=${uniq('z')}`)).errorCode).toBe(3); // not registered, even though @rexx-base lingers for the clone
    fs.writeFileSync(`/${P}/${g}/v`, 'new');
    const r = await h(`register_base name=${g}`);
    expect(r.success, r.errorMessage).toBe(true);
    const n = uniq('fresh');
    await h(`clone_from_base base=${g} name=${n}`);
    expect(fs.readFileSync(`/${P}/${n}/v`, 'utf8')).toBe('new');
    expect(fs.readFileSync(`/${P}/${c}/v`, 'utf8')).toBe('old');
  });
});

describe('mountpoints and properties that would hand the host over (item 5)', () => {
  const d = uniq('mp');
  const own = `rexx-it-${RUN_ID}`;

  beforeAll(async () => {
    await h(`create name=${d}`);
    await h(`snapshot name=${d} snapshot=s1`);
  });

  it.each([
    ['a system path', `/etc/${own}`],
    ['the root', '/'],
    ['a path through a symlink in the dataset', `/${P}/DS/link/${own}`],
  ])('set mountpoint= to %s is RC 7, nothing changed', async (_what, mp) => {
    fs.rmSync(`/${P}/${d}/link`, { force: true });
    fs.symlinkSync('/etc', `/${P}/${d}/link`);
    const r = await h(`set name=${d} property=mountpoint=${mp.replace('DS', d)}`);
    expect(r.errorCode, r.errorMessage).toBe(7);
    expect(r.errorMessage).toMatch(/REXX_ZFS_ALLOW_UNSAFE=1/);
    expect((await h(`get name=${d} property=mountpoint`)).output).toBe(`/${P}/${d}`);
    expect(fs.existsSync(`/etc/${own}`)).toBe(false);
  });

  it('a non-empty host folder is RC 7 for set, create, clone, clone_from_base; a new folder outside the pool is fine', async () => {
    const host = fs.mkdtempSync(path.join(tmp, 'hostdir-'));
    fs.writeFileSync(`${host}/hosts`, 'host data');
    expect((await h(`set name=${d} property=mountpoint=${host}`)).errorCode).toBe(7);
    expect((await h(`create name=${uniq('c')} property=mountpoint=${host}`)).errorCode).toBe(7);
    expect((await h(`clone name=${d} snapshot=s1 target=${uniq('cl')} property=mountpoint=${host}`)).errorCode).toBe(7);
    const b = uniq('mpbase');
    await h(`create name=${b}`);
    await h(`register_base name=${b}`);
    const cfb = uniq('cfb');
    expect((await h(`clone_from_base base=${b} name=${cfb} property=mountpoint=${host}`)).errorCode).toBe(7);
    expect((await h(`list name=${cfb}`)).errorCode).toBe(3);
    expect(fs.readdirSync(host)).toEqual(['hosts']);
    const fresh = path.join(tmp, `fresh-${RUN_ID}`);
    const ok = await h(`clone_from_base base=${b} name=${cfb} property=mountpoint=${fresh}`);
    expect(ok.success, ok.errorMessage).toBe(true);
    expect((await h(`get name=${cfb} property=mounted`)).output).toBe('yes');
    expect((await h(`destroy name=${cfb}`)).success).toBe(true);
  });

  it('pool_create over a system path is RC 7 and leaves no vdev file', async () => {
    const img = path.join(tmp, 'etc.img');
    const r = await h(`pool_create pool=rexxt-etc-${RUN_ID} vdev=${img} size=64M mountpoint=/etc`);
    expect(r.errorCode, r.errorMessage).toBe(7);
    expect(fs.existsSync(img)).toBe(false);
  });

  it('sharenfs, sharesmb and zoned are RC 7; setuid/exec/devices and canmount are allowed', async () => {
    for (const kv of ['sharenfs=on', 'sharesmb=on', 'zoned=on']) expect((await h(`set name=${d} property=${kv}`)).errorCode, kv).toBe(7);
    const r = await h(`set name=${d} property=setuid=off property=exec=off property=devices=off property=canmount=on`);
    expect(r.success, r.errorMessage).toBe(true);
  });

  it('a stream with properties (zfs send -p) is refused by receive (RC 7): it could mount anywhere', async () => {
    const f = path.join(tmp, 'props.zfs');
    await execa('sh', ['-c', `zfs send -p ${P}/${d}@s1 > ${f}`]);
    const r = await h(`receive name=${uniq('recv')} file=${f}`);
    expect(r.errorCode, r.errorMessage).toBe(7);
    expect(r.errorMessage).toMatch(/send -p or -R/);
  });

  it('with REXX_ZFS_ALLOW_UNSAFE=1 in the handler\'s environment a system path is allowed (a new folder below /opt)', async () => {
    const trusted = createHandler(table, { env: { ...process.env, REXX_ZFS_POOL: P, REXX_ZFS_ALLOW_UNSAFE: '1' } });
    const mp = `/opt/${own}`;
    try {
      const r = await trusted(`set name=${d} property=mountpoint=${mp}`);
      expect(r.success, r.errorMessage).toBe(true);
      expect((await h(`get name=${d} property=mounted`)).output).toBe('yes');
    } finally {
      await h(`set name=${d} property=mountpoint=/${P}/${d}`);
      fs.rmSync(mp, { recursive: true, force: true });
    }
  });
});
