/**
 * The base registry on real zfs-fuse: a base registered by one process is found and
 * cloned by another (the registry is ZFS user properties), count=N clones in
 * parallel, destroy refusals for a base, unregister with live clones, clone/promote.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { throwawayPool, uniq } from './zfs-test-env';

const pool = throwawayPool('base');
const h = pool.h;
const P = pool.name;
const cli = path.join(__dirname, '..', '..', '..', 'bin', 'rexx-address.js');

beforeAll(async () => {
  if (!fs.existsSync(path.join(__dirname, '..', '..', '..', 'dist', 'handlers', 'zfs', 'index.js'))) {
    throw new Error('dist/ is missing: run "npm run build" before the integration tests');
  }
  await pool.create();
});
afterAll(() => pool.destroy());

/** Run the CLI in a separate process, as another script would. */
const otherProcess = async (command: string) => {
  const r = await execa('node', [cli, 'zfs', '--json', command], { reject: false, env: { REXX_ZFS_POOL: P } });
  return JSON.parse(r.stdout) as { success: boolean; errorCode: number; errorMessage: string; output: string; rexxVariables: Record<string, unknown> };
};
const vals = (s: unknown) => Object.values(s as object).slice(1);

describe('ADDRESS ZFS bases and clones on zfs-fuse', () => {
  const base = uniq('golden');

  it('registers a base in another process; this one finds it in list_bases', async () => {
    await h(`create name=${base}`);
    fs.writeFileSync(`/${P}/${base}/os-release`, 'debian 12');
    const r = await otherProcess(`register_base name=${base} description="debian rootfs"`);
    expect(r.success, r.errorMessage).toBe(true);
    expect(r.rexxVariables).toMatchObject({ BASE: `${P}/${base}`, SNAPSHOT: 'rexx-base' });
    const l = await h('list_bases');
    expect(vals(l.rexxVariables.BASES)).toEqual([`${P}/${base}`]);
    expect(l.output).toMatch(new RegExp(`^${P}/${base} rexx-base \\d{4}-`));
    expect((await h(`get name=${base} property=org.rexxjs:base`)).output).toBe('on');
    expect((await h(`register_base name=${base}`)).errorCode).toBe(4);
  });

  it('a child of a base inherits the properties but is not listed as a base', async () => {
    await h(`create name=${base}/kid`);
    expect(vals((await h('list_bases')).rexxVariables.BASES)).toEqual([`${P}/${base}`]);
    await h(`destroy name=${base}/kid`);
  });

  it('another process clones it; the clone has the data and knows its base', async () => {
    const c = uniq('web');
    const r = await otherProcess(`clone_from_base base=${base} name=${c}`);
    expect(r.success, r.errorMessage).toBe(true);
    expect(r.rexxVariables.CLONES).toEqual({ 0: 1, 1: `${P}/${c}` });
    expect(fs.readFileSync(`/${P}/${c}/os-release`, 'utf8')).toBe('debian 12');
    expect((await h(`get name=${c} property=org.rexxjs:cloned-from`)).output).toBe(`${P}/${base}`);
    expect((await h(`get name=${c} property=origin`)).output).toBe(`${P}/${base}@rexx-base`);
    expect((await h(`clone_from_base base=${base} name=${c}`)).errorCode).toBe(4);
  });

  it('count=5 in parallel makes NAME-1..NAME-5', async () => {
    const c = uniq('many');
    const r = await h(`clone_from_base base=${base} name=${c} count=5 concurrency=5`);
    expect(r.success, r.errorMessage).toBe(true);
    expect(vals(r.rexxVariables.CLONES)).toEqual([1, 2, 3, 4, 5].map((i) => `${P}/${c}-${i}`));
    expect(typeof r.rexxVariables.CLONE_MS).toBe('number');
    for (let i = 1; i <= 5; i++) expect(fs.existsSync(`/${P}/${c}-${i}/os-release`)).toBe(true);
  });

  it('an unregistered base is RC 3', async () => {
    const r = await h(`clone_from_base base=${uniq('nobase')} name=${uniq('x')}`);
    expect(r.errorCode).toBe(3);
    expect(r.errorMessage).toMatch(/is not registered/);
  });

  it('destroy of a base is refused without force=true (RC 7), and with dependents without recursive=true', async () => {
    expect((await h(`destroy name=${base}`)).errorCode).toBe(7);
    const r = await h(`destroy name=${base} force=true`);
    expect(r.errorCode).toBe(7);
    expect(vals(r.rexxVariables.DEPENDENTS)).toContain(`${P}/${base}@rexx-base`);
    expect(vals(r.rexxVariables.CLONES).length).toBe(6);
  });

  it('refresh=true re-takes the snapshot; clones of the old one keep working', async () => {
    fs.writeFileSync(`/${P}/${base}/os-release`, 'debian 13');
    const r = await h(`register_base name=${base} refresh=true`);
    expect(r.success, r.errorMessage).toBe(true);
    const c = uniq('new');
    await h(`clone_from_base base=${base} name=${c}`);
    expect(fs.readFileSync(`/${P}/${c}/os-release`, 'utf8')).toBe('debian 13');
  });

  it('unregister_base with live clones: properties gone, clones still there', async () => {
    const r = await h(`unregister_base ${base}`);
    expect(r.success, r.errorMessage).toBe(true);
    expect(vals((await h('list_bases')).rexxVariables.BASES)).toEqual([]);
    expect((await h(`unregister_base ${base}`)).errorCode).toBe(3);
    expect(vals((await h('list name=' + P)).rexxVariables.DATASETS).length).toBeGreaterThan(7);
  });

  it('clone and promote: the clone becomes independent and its origin can go', async () => {
    const o = uniq('orig');
    const c = uniq('cl');
    await h(`create name=${o}`);
    fs.writeFileSync(`/${P}/${o}/f`, 'origin');
    await h(`snapshot name=${o} snapshot=s1`);
    expect((await h(`clone name=${o} snapshot=s1 target=${c}`)).rexxVariables.ORIGIN).toBe(`${P}/${o}@s1`);
    expect((await h(`promote ${c}`)).success).toBe(true);
    expect((await h(`get name=${c} property=origin`)).output).toBe('-');
    const d = await h(`destroy name=${o}`);
    expect(d.success, d.errorMessage).toBe(true);
    expect(fs.readFileSync(`/${P}/${c}/f`, 'utf8')).toBe('origin');
  });
});
