/**
 * Retention policies on real zfs-fuse in a throwaway pool: the policy is user properties
 * in the pool (read back by another handler, and after the pool is exported and
 * imported again); autosnap takes what is due under a clock the test moves; autoprune
 * keeps the newest count and never a held snapshot or a clone's origin; dryrun changes
 * nothing and names exactly what the real run then does; check_snapshots' RC; the cron
 * entry schedule writes, then its two commands run as cron would run them.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler } from '../../../shared/dispatch';
import { table } from '../../../handlers/zfs';
import { sh, throwawayPool, uniq } from './zfs-test-env';

const pool = throwawayPool('pol');
const P = pool.name;
const h = pool.h;
const cli = path.join(__dirname, '..', '..', '..', 'bin', 'rexx-address.js');
let cronDir: string;
let nowMs = Date.parse('2026-11-29T18:00:00Z');
/** A handler whose clock the test moves (only `now`; sleeps stay real). */
let timed: ReturnType<typeof createHandler>;

beforeAll(async () => {
  if (!fs.existsSync(path.join(__dirname, '..', '..', '..', 'dist', 'cli.js'))) throw new Error('dist/ is missing: run "npm run build" before the integration tests');
  cronDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-cron-'));
  timed = createHandler(table, { env: { ...process.env, REXX_ZFS_POOL: P, REXX_ZFS_CRON_DIR: cronDir }, clock: { now: () => nowMs } });
  await pool.create();
});
afterAll(async () => {
  if (cronDir) fs.rmSync(cronDir, { recursive: true, force: true });
  await pool.destroy();
});

const vals = (s: unknown) => Object.values(s as object).slice(1) as string[];
const must = async (hh: typeof h, cmd: string) => {
  const r = await hh(cmd);
  if (!r.success) throw new Error(`${cmd}: RC ${r.errorCode} ${r.errorMessage}`);
  return r;
};
/** Every snapshot in the pool, sorted (raw zfs). */
const snapshots = async () => (await sh(['zfs', 'list', '-H', '-o', 'name', '-t', 'snapshot', '-r', P])).split('\n').filter(Boolean).sort();
const hour = 3_600_000;

describe('ADDRESS ZFS retention policies on zfs-fuse', () => {
  it('policy_set stores local org.rexxjs:policy-* properties; another handler reads them; they survive export and import of the pool', async () => {
    const d = uniq('keep');
    await must(h, `create name=${d}/kid parents=true`);
    const r = await must(h, `policy_set name=${d} hourly=36 daily=30 weekly=8 monthly=3 recursive=true`);
    expect(r.output).toBe(`${P}/${d} hourly=36 daily=30 weekly=8 monthly=3 yearly=0 recursive=true`);
    const raw = await sh(['zfs', 'get', '-H', '-o', 'property,value,source', 'org.rexxjs:policy-hourly,org.rexxjs:policy-yearly,org.rexxjs:policy-recursive', `${P}/${d}`]);
    expect(raw.split('\n')).toEqual(['org.rexxjs:policy-hourly\t36\tlocal', 'org.rexxjs:policy-yearly\t0\tlocal', 'org.rexxjs:policy-recursive\ton\tlocal']);
    await sh(['zpool', 'export', P]);
    await sh(['zpool', 'import', '-d', path.dirname(pool.img), P]);
    const other = createHandler(table, { env: { ...process.env, REXX_ZFS_POOL: P } });
    const g = await must(other, `policy_get ${d}`);
    expect(g.output).toBe('hourly=36 daily=30 weekly=8 monthly=3 yearly=0 recursive=true');
    expect(g.rexxVariables).toMatchObject({ HOURLY: 36, DAILY: 30, WEEKLY: 8, MONTHLY: 3, YEARLY: 0, RECURSIVE: 'true' });
    // the child only inherits: it has no policy of its own
    expect(vals((await must(other, `policy_list pool=${P}`)).rexxVariables.DATASETS)).toEqual([`${P}/${d}`]);
    expect((await other(`policy_get ${d}/kid`)).errorCode).toBe(3);
    await must(other, `policy_set ${d} weekly=2`);
    expect((await must(other, `policy_get ${d}`)).output).toBe('hourly=36 daily=30 weekly=2 monthly=3 yearly=0 recursive=true');
    await must(other, `policy_remove ${d}`);
    expect((await other(`policy_get ${d}`)).errorCode).toBe(3);
    expect((await other('policy_set name=nope-missing hourly=1')).errorCode).toBe(3);
  });

  it('autosnap takes what is due (hour, day; -r for a recursive policy), nothing twice in one period; dryrun names it and changes nothing', async () => {
    const a = uniq('as'), b = uniq('asr');
    await must(h, `create name=${a}`);
    await must(h, `create name=${b}/kid parents=true`);
    await must(h, `policy_set ${a} hourly=2 daily=1`);
    await must(h, `policy_set ${b} daily=1 recursive=true`);
    nowMs = Date.parse('2026-11-29T18:00:00Z');
    const before = await snapshots();
    const dry = await must(timed, `autosnap pool=${P} dryrun=true`);
    expect(await snapshots()).toEqual(before);
    const expected = [`${P}/${a}@autosnap_2026-11-29_18:00:00_hourly`, `${P}/${a}@autosnap_2026-11-29_18:00:00_daily`, `${P}/${b}@autosnap_2026-11-29_18:00:00_daily`];
    expect(vals(dry.rexxVariables.CREATED)).toEqual(expected);
    expect(vals(dry.rexxVariables.COMMANDS)).toEqual([`zfs snapshot ${expected[0]}`, `zfs snapshot ${expected[1]}`, `zfs snapshot -r ${expected[2]}`]);
    const r = await must(timed, `autosnap pool=${P}`);
    expect(vals(r.rexxVariables.CREATED)).toEqual(expected);
    expect(await snapshots()).toEqual([...before, ...expected, `${P}/${b}/kid@autosnap_2026-11-29_18:00:00_daily`].sort());
    nowMs += 30 * 60_000;
    expect(vals((await must(timed, `autosnap pool=${P}`)).rexxVariables.CREATED)).toEqual([]);
    nowMs += 31 * 60_000; // 19:01
    expect(vals((await must(timed, `autosnap name=${a}`)).rexxVariables.CREATED)).toEqual([`${P}/${a}@autosnap_2026-11-29_19:01:00_hourly`]);
    await must(h, `policy_remove ${b}`);
    await must(h, `policy_remove ${a}`);
  });

  it('autoprune keeps the newest count; a held snapshot and a clone\'s origin are PROTECTED; dryrun names exactly what the real run destroys', async () => {
    const d = uniq('ap');
    await must(h, `create name=${d}`);
    await must(h, `policy_set ${d} hourly=2`);
    const taken: string[] = [];
    nowMs = Date.parse('2026-11-30T01:00:00Z');
    for (let i = 0; i < 6; i++) {
      taken.push(...vals((await must(timed, `autosnap name=${d}`)).rexxVariables.CREATED));
      nowMs += hour;
    }
    expect(taken).toHaveLength(6);
    const short = (n: string) => n.split('@')[1]!;
    await must(h, `hold name=${d} snapshot=${short(taken[1]!)} tag=keep`);
    const clone = uniq('apclone');
    await must(h, `clone name=${d} snapshot=${short(taken[2]!)} target=${clone}`);
    const before = await snapshots();
    const dry = await must(timed, `autoprune name=${d} dryrun=true`);
    expect(await snapshots()).toEqual(before);
    expect(vals(dry.rexxVariables.DESTROYED)).toEqual([taken[0], taken[3]]);
    expect(vals(dry.rexxVariables.COMMANDS)).toEqual([`zfs destroy ${taken[0]}`, `zfs destroy ${taken[3]}`]);
    const r = await must(timed, `autoprune name=${d}`);
    expect(vals(r.rexxVariables.DESTROYED)).toEqual(vals(dry.rexxVariables.DESTROYED));
    expect(vals(r.rexxVariables.PROTECTED)).toEqual([`${taken[1]} (holds)`, `${taken[2]} (clones)`]);
    expect(await snapshots()).toEqual(before.filter((s) => s !== taken[0] && s !== taken[3]));
    // again: nothing more to destroy, the same two protected
    expect(vals((await must(timed, `autoprune name=${d}`)).rexxVariables.DESTROYED)).toEqual([]);
    await must(h, `release name=${d} snapshot=${short(taken[1]!)} tag=keep`);
    expect(vals((await must(timed, `autoprune name=${d}`)).rexxVariables.DESTROYED)).toEqual([taken[1]]);
    await must(h, `destroy name=${clone}`);
    await must(h, `policy_remove ${d}`);
  });

  it('check_snapshots: RC 0 OK, 1 WARNING, 2 CRITICAL with a Nagios line', async () => {
    const d = uniq('chk');
    await must(h, `create name=${d}`);
    await must(h, `policy_set ${d} hourly=3`);
    const scope = `check_snapshots name=${d}`;
    nowMs = Date.parse('2026-12-01T10:00:00Z');
    let r = await timed(scope);
    expect([r.errorCode, r.output]).toEqual([2, `CRITICAL: ${P}/${d} hourly has none`]);
    await must(timed, `autosnap name=${d}`);
    nowMs += 80 * 60_000;
    r = await timed(scope);
    expect([r.errorCode, r.output, r.rexxVariables.STATUS]).toEqual([0, 'OK: 1 snapshot periods on 1 datasets are fresh', 'OK']);
    nowMs += 20 * 60_000;
    r = await timed(scope);
    expect([r.errorCode, r.output]).toEqual([1, `WARNING: ${P}/${d} hourly is 100m old`]);
    nowMs += 30 * 60_000;
    r = await timed(scope);
    expect([r.errorCode, r.output]).toEqual([2, `CRITICAL: ${P}/${d} hourly is 2h old`]);
    await must(h, `policy_remove ${d}`);
  });

  it('schedule writes the cron entry, unschedule removes it; its two commands, run as cron would, snapshot and prune', async () => {
    const d = uniq('cron');
    await must(h, `create name=${d}`);
    await must(h, `policy_set ${d} hourly=1`);
    await sh(['zfs', 'snapshot', `${P}/${d}@autosnap_2026-01-01_00:00:00_hourly`]);
    const s = await must(timed, `schedule pool=${P} every=10`);
    const file = path.join(cronDir, 'rexx-address-zfs');
    expect(s.rexxVariables.FILE).toBe(file);
    const text = fs.readFileSync(file, 'utf8');
    const line = `*/10 * * * * root rexx-address zfs autosnap pool=${P}; rexx-address zfs autoprune pool=${P}`;
    expect(text.split('\n')).toContain(line);
    expect(text).toMatch(/^SHELL=\/bin\/sh$/m);
    // What cron runs: the part after the user, commands split at "; ".
    const commands = line.replace(/^(\S+\s+){5}root\s+/, '').split('; ').map((c) => c.split(' '));
    for (const [bin, ...args] of commands) {
      expect(bin).toBe('rexx-address');
      const r = await execa('node', [cli, ...args], { reject: false, env: { PATH: process.env.PATH } });
      expect(r.exitCode, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    }
    const left = (await snapshots()).filter((n) => n.startsWith(`${P}/${d}@`));
    expect(left).toHaveLength(1);
    expect(left[0]).toMatch(new RegExp(`^${P}/${d}@autosnap_\\d{4}-\\d{2}-\\d{2}_\\d{2}:\\d{2}:\\d{2}_hourly$`));
    expect(left[0]).not.toContain('2026-01-01');
    expect((await must(timed, 'unschedule')).rexxVariables.FILE).toBe(file);
    expect(fs.existsSync(file)).toBe(false);
    await must(h, `policy_remove ${d}`);
  });
});
