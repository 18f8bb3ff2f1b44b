/**
 * Pool layouts on real zfs-fuse (pool version 23), with throwaway file-backed pools under
 * /var/tmp: a mirror (with a log device) and a raidz of 3 files (and raidz2), each listed
 * with its devices; cache= on a file (RC 6: zfs-fuse takes only disks); export and
 * import -d; scrub wait=true; a mirror leg removed → DEGRADED, the leg UNAVAIL, and
 * pool_check RC 1; pool_export refused while a process sits in the pool.
 */
import * as fs from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler } from '../../../shared/dispatch';
import { table } from '../../../handlers/zfs';
import { RUN_ID } from '../../helpers/run-id';
import { requireZfs } from './zfs-test-env';

const h = createHandler(table, { env: { ...process.env } });
const M = `rexxt-mir-${RUN_ID}`;
const Z = `rexxt-rz-${RUN_ID}`;
const Z2 = `rexxt-rz2-${RUN_ID}`;
const C = `rexxt-cache-${RUN_ID}`;
const file = (pool: string, leg: string) => `/var/tmp/${pool}-${leg}.img`;
const pools = [M, Z, Z2, C];
const values = (stem: unknown) => Object.values(stem as object).slice(1);
const zpoolNames = async () => (await execa('zpool', ['list', '-H', '-o', 'name'], { reject: false })).stdout.split('\n');

beforeAll(() => requireZfs());
afterAll(async () => {
  for (const p of pools) {
    if (!(await zpoolNames()).includes(p)) continue;
    const r = await h(`pool_destroy pool=${p} force=true`);
    if (!r.success) {
      await new Promise((res) => setTimeout(res, 500));
      await execa('zpool', ['destroy', '-f', p], { reject: false });
    }
  }
  for (const p of pools) for (const leg of ['a', 'b', 'c', 'l']) fs.rmSync(file(p, leg), { force: true });
});

describe('pool layouts on zfs-fuse', () => {
  it('layout=mirror of 2 files with a log file: pool_status lists mirror-0, both legs and the log device', async () => {
    const r = await h(`pool_create pool=${M} layout=mirror vdev=${file(M, 'a')} vdev=${file(M, 'b')} log=${file(M, 'l')} size=128M`);
    expect(r.errorCode, r.errorMessage).toBe(0);
    const s = await h(`pool_status pool=${M}`);
    expect(s.rexxVariables.HEALTH).toBe('ONLINE');
    expect(values(s.rexxVariables.DEVICES)).toEqual(['mirror-0', file(M, 'a'), file(M, 'b'), file(M, 'l')]);
    expect(values(s.rexxVariables.DEVICE_STATES)).toEqual(['ONLINE', 'ONLINE', 'ONLINE', 'ONLINE']);
    expect(values(s.rexxVariables.DEVICE_ROLES)).toEqual(['data', 'data', 'data', 'log']);
    expect((await h(`pool_check pool=${M}`)).errorCode).toBe(0);
  });

  it('layout=raidz of 3 files and layout=raidz2 of 3 files', async () => {
    for (const [p, layout] of [[Z, 'raidz'], [Z2, 'raidz2']] as const) {
      const r = await h(`pool_create pool=${p} layout=${layout} vdev=${file(p, 'a')} vdev=${file(p, 'b')} vdev=${file(p, 'c')} size=128M`);
      expect(r.errorCode, r.errorMessage).toBe(0);
      const s = await h(`pool_status pool=${p}`);
      // zfs-fuse names a single-parity group raidz1-0
      expect(values(s.rexxVariables.DEVICES)).toEqual([`${layout === 'raidz' ? 'raidz1' : layout}-0`, file(p, 'a'), file(p, 'b'), file(p, 'c')]);
      expect(s.rexxVariables.HEALTH).toBe('ONLINE');
    }
    expect((await h(`pool_destroy pool=${Z2} force=true`)).errorCode).toBe(0);
  });

  it('cache= on a file: RC 6 naming the feature (zfs-fuse takes cache devices only on disks); no pool, no files left', async () => {
    const r = await h(`pool_create pool=${C} vdev=${file(C, 'a')} cache=${file(C, 'c')} size=128M`);
    expect(r.errorCode).toBe(6);
    expect(r.errorMessage).toMatch(/cache= \(L2ARC\).*cache device must be a disk/);
    expect(await zpoolNames()).not.toContain(C);
    expect(fs.existsSync(file(C, 'a')) || fs.existsSync(file(C, 'c'))).toBe(false);
  });

  it('scrub wait=true ends "completed" with 0 errors', async () => {
    fs.writeFileSync(`/${M}/data`, Buffer.alloc(4 << 20, 7));
    const r = await h(`scrub pool=${M} wait=true timeout=2m`);
    expect(r.errorCode, r.errorMessage).toBe(0);
    expect(r.rexxVariables).toMatchObject({ SCRUB_STATE: 'completed', SCRUB_ERRORS: 0, SCRUB_PERCENT: 100 });
    expect((await h(`pool_status pool=${M}`)).rexxVariables.SCRUB_STATE).toBe('completed');
  });

  it('pool_export is refused (RC 7) while a process works in the pool, then exports; pool_import dir= brings it back', async () => {
    const child: ChildProcess = spawn('sleep', ['60'], { cwd: `/${M}`, stdio: 'ignore' });
    try {
      await new Promise((res) => setTimeout(res, 200));
      const busy = await h(`pool_export pool=${M}`);
      expect(busy.errorCode).toBe(7);
      expect(values(busy.rexxVariables.IN_USE_BY).join(' ')).toMatch(/sleep/);
    } finally {
      child.kill();
      await new Promise((res) => child.once('exit', res));
    }
    expect((await h(`pool_export pool=${M}`)).errorCode).toBe(0);
    expect(await zpoolNames()).not.toContain(M);
    const imp = await h(`pool_import pool=${M} dir=/var/tmp`);
    expect(imp.errorCode, imp.errorMessage).toBe(0);
    expect(imp.rexxVariables.HEALTH).toBe('ONLINE');
    expect(fs.readFileSync(`/${M}/data`).length).toBe(4 << 20);
  });

  it('a mirror leg removed, then export and import: DEGRADED, the leg UNAVAIL, pool_check RC 1 naming it; the data still reads', async () => {
    expect((await h(`pool_export pool=${M}`)).errorCode).toBe(0);
    fs.rmSync(file(M, 'b'));
    const imp = await h(`pool_import pool=${M} dir=/var/tmp`);
    expect(imp.errorCode, imp.errorMessage).toBe(0);
    expect(imp.rexxVariables.HEALTH).toBe('DEGRADED');
    const s = await h(`pool_status pool=${M}`);
    expect(s.output).toBe('DEGRADED');
    const devs = values(s.rexxVariables.DEVICES);
    const states = values(s.rexxVariables.DEVICE_STATES);
    expect(states[devs.indexOf('mirror-0')]).toBe('DEGRADED');
    expect(states[devs.indexOf(file(M, 'b'))]).toBe('UNAVAIL');
    const c = await h(`pool_check pool=${M}`);
    expect(c.errorCode).toBe(1);
    expect(c.errorMessage).toContain(`${file(M, 'b')} UNAVAIL`);
    expect(c.rexxVariables).toMatchObject({ OK: 0, HEALTH: 'DEGRADED' });
    expect(fs.readFileSync(`/${M}/data`).length).toBe(4 << 20);
  });
});
