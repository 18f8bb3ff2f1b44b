/**
 * Retention policies (handlers/zfs/policy.ts, verbs/policy.ts) with the injected fake
 * runner and a fake clock: period starts, names, what is due, what is pruned and
 * protected, check_snapshots' thresholds and RCs, the one `zfs get` per call, the argv
 * of every write, the cron entry, and hostile values for every new parameter.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createHandler } from '../../../shared/dispatch';
import { table } from '../../../handlers/zfs';
import { autosnapName, cronEntry, parseAutosnap, periodStart, POLICY_PROPS } from '../../../handlers/zfs/policy';
import { fakeRunner, type FakeReply } from '../../helpers/fake-runner';
import { CANARY, HOSTILE } from '../../helpers/hostile';

const env = { REXX_ADDRESS_STRICT_VARS: '1', PATH: '/nonexistent', REXX_ZFS_POOL: 'fakepool', REXX_ZFS_IMPL: 'zfs-fuse' };
const writes = (calls: string[][]) => calls.filter((c) => !['get', 'list', 'version'].includes(c[1]!));
const at = (iso: string) => Date.parse(iso);
const clockAt = (iso: string) => ({ now: () => at(iso), sleep: async () => {} });

/** One dataset or snapshot of the fake pool, as `zfs get -r` prints it. */
interface Obj { name: string; props?: Record<string, string>; local?: Record<string, string> }

/** `zfs get -H -p -o name,property,value,source PROPS -r …` output for `objs`. */
function getOutput(objs: Obj[], props: string[]): string {
  const lines: string[] = [];
  for (const o of objs) {
    for (const k of props) {
      if (o.local?.[k] !== undefined) lines.push(`${o.name}\t${k}\t${o.local[k]}\tlocal`);
      else lines.push(`${o.name}\t${k}\t${o.props?.[k] ?? (k === 'createtxg' ? '1' : '-')}\t-`);
    }
  }
  return lines.join('\n') + '\n';
}

/** A fake runner whose `zfs get` answers from `objs`. */
function poolRunner(objs: Obj[]) {
  return fakeRunner((argv): FakeReply | undefined => {
    if (argv[1] === 'list' && argv.includes('name,origin')) {
      return { stdout: objs.filter((o) => !o.name.includes('@')).map((o) => `${o.name}\t${o.props?.origin ?? '-'}\n`).join('') };
    }
    if (argv[1] !== 'get' && argv[1] !== 'list') return undefined;
    const ri = argv.indexOf('-r');
    const root = ri >= 0 ? argv[ri + 1] : undefined;
    if (root && !objs.some((o) => o.name === root)) return { exitCode: 1, stderr: `cannot open '${root}': dataset does not exist\n` };
    const inRoot = (n: string) => !root || n === root || n.startsWith(`${root}/`) || n.startsWith(`${root}@`);
    // zfs list -H -o name -t filesystem,volume -r [ROOT]: the datasets, no snapshot
    if (argv[1] === 'list' && argv.includes('filesystem,volume')) return { stdout: objs.filter((o) => !o.name.includes('@') && inRoot(o.name)).map((o) => `${o.name}\n`).join('') };
    // zfs list -H -o name,createtxg,userrefs -t snapshot -d 1 DS…: those datasets' own snapshots
    if (argv[1] === 'list' && argv.includes('snapshot') && argv.includes('-d')) {
      const dss = argv.slice(argv.indexOf('-d') + 2);
      return { stdout: objs.filter((o) => dss.includes(o.name.split('@')[0]!) && o.name.includes('@')).map((o) => `${o.name}\t${o.props?.createtxg ?? '1'}\t${o.props?.userrefs ?? '0'}\n`).join('') };
    }
    if (argv[1] !== 'get') return undefined;
    const pi = argv.findIndex((a) => a.includes('org.rexxjs:policy-') || a.includes('createtxg'))!;
    const props = argv[pi]!.split(',');
    const named = ri >= 0 ? undefined : argv.slice(pi + 1);
    const local = argv.includes('-s');
    let out = getOutput(objs.filter((o) => inRoot(o.name)), props);
    if (local) out = out.split('\n').filter((l) => l.endsWith('\tlocal')).join('\n');
    if (named) out = out.split('\n').filter((l) => named.includes(l.split('\t')[0]!)).join('\n');
    return { stdout: out };
  });
}

const policy = (h: number, d = 0, w = 0, m = 0, y = 0, recursive = 'off') => ({
  [POLICY_PROPS.hourly]: String(h), [POLICY_PROPS.daily]: String(d), [POLICY_PROPS.weekly]: String(w),
  [POLICY_PROPS.monthly]: String(m), [POLICY_PROPS.yearly]: String(y), [POLICY_PROPS.recursive]: recursive,
});

let txg = 100;
const snap = (ds: string, short: string, extra: Record<string, string> = {}): Obj => ({ name: `${ds}@${short}`, props: { createtxg: String(++txg), ...extra } });

describe('policy periods and names (pure)', () => {
  it('periodStart: hour, day, ISO week (Monday), month, year, in UTC', () => {
    const now = at('2026-11-29T18:42:13Z'); // a Sunday
    expect(new Date(periodStart('hourly', now)).toISOString()).toBe('2026-11-29T18:00:00.000Z');
    expect(new Date(periodStart('daily', now)).toISOString()).toBe('2026-11-29T00:00:00.000Z');
    expect(new Date(periodStart('weekly', now)).toISOString()).toBe('2026-11-23T00:00:00.000Z');
    expect(new Date(periodStart('weekly', at('2026-11-30T00:00:00Z'))).toISOString()).toBe('2026-11-30T00:00:00.000Z');
    expect(new Date(periodStart('weekly', at('2026-01-01T05:00:00Z'))).toISOString()).toBe('2025-12-29T00:00:00.000Z');
    expect(new Date(periodStart('monthly', now)).toISOString()).toBe('2026-11-01T00:00:00.000Z');
    expect(new Date(periodStart('yearly', now)).toISOString()).toBe('2026-01-01T00:00:00.000Z');
  });

  it('autosnap names are sanoid\'s (UTC, whole seconds) and parse back; other names are not autosnaps', () => {
    expect(autosnapName('hourly', at('2026-11-29T18:00:00.750Z'))).toBe('autosnap_2026-11-29_18:00:00_hourly');
    expect(parseAutosnap('autosnap_2026-11-29_18:00:00_hourly')).toEqual({ period: 'hourly', timeMs: at('2026-11-29T18:00:00Z') });
    for (const n of ['autosnap_2026-11-29_18:00:00_minutely', 'autosnap_2026-11-29_18:00:00_hourly_x', 'repl-1', 'autosnap_2026-13-99_18:00:00_daily']) expect(parseAutosnap(n)).toBeUndefined();
  });

  it('cronEntry: */N or on the hour, autosnap then autoprune with the same scope', () => {
    expect(cronEntry(15, [])).toContain('*/15 * * * * root rexx-address zfs autosnap; rexx-address zfs autoprune\n');
    expect(cronEntry(60, ['pool=tank'])).toContain('0 * * * * root rexx-address zfs autosnap pool=tank; rexx-address zfs autoprune pool=tank\n');
  });
});

describe('autosnap (fake runner, fake clock)', () => {
  const D = 'fakepool/web';
  it('takes what is due: hourly after the hour began, daily not (one taken today), weekly none yet; count 0 never; one zfs get', async () => {
    const f = poolRunner([
      { name: 'fakepool' },
      { name: D, local: policy(24, 7, 4, 0, 0) },
      snap(D, 'autosnap_2026-11-29_17:00:00_hourly'),
      snap(D, 'autosnap_2026-11-29_00:00:05_daily'),
    ]);
    const r = await createHandler(table, { env, runner: f.runner, clock: clockAt('2026-11-29T18:00:01Z') })('autosnap');
    expect(r.errorCode, r.errorMessage).toBe(0);
    expect(writes(f.calls)).toEqual([
      ['zfs', 'snapshot', `${D}@autosnap_2026-11-29_18:00:01_hourly`],
      ['zfs', 'snapshot', `${D}@autosnap_2026-11-29_18:00:01_weekly`],
    ]);
    expect(f.calls.filter((c) => c[1] === 'get')).toHaveLength(1);
    expect(r.rexxVariables.CREATED).toEqual({ 0: 2, 1: `${D}@autosnap_2026-11-29_18:00:01_hourly`, 2: `${D}@autosnap_2026-11-29_18:00:01_weekly` });
  });

  it('nothing due within the same hour; a recursive policy takes zfs snapshot -r and its children are not snapshotted again', async () => {
    const f = poolRunner([
      { name: 'fakepool' },
      { name: 'fakepool/ct', local: policy(0, 7, 0, 0, 0, 'on') },
      { name: 'fakepool/ct/a', local: policy(0, 3) },
      { name: D, local: policy(24) },
      snap(D, 'autosnap_2026-11-29_18:00:00_hourly'),
    ]);
    const r = await createHandler(table, { env, runner: f.runner, clock: clockAt('2026-11-29T18:59:59Z') })('autosnap');
    expect(r.errorCode, r.errorMessage).toBe(0);
    expect(writes(f.calls)).toEqual([['zfs', 'snapshot', '-r', 'fakepool/ct@autosnap_2026-11-29_18:59:59_daily']]);
  });

  it('name= limits it to that subtree; a missing name= is RC 3; dryrun records the snapshot commands and CREATED', async () => {
    const objs = [{ name: 'fakepool' }, { name: D, local: policy(1) }, { name: 'fakepool/db', local: policy(1) }];
    const f = poolRunner(objs);
    const h = createHandler(table, { env, runner: f.runner, clock: clockAt('2026-11-29T18:00:00Z') });
    const dry = await h('autosnap name=web dryrun=true');
    expect(dry.errorCode, dry.errorMessage).toBe(0);
    expect(dry.rexxVariables.COMMANDS).toEqual({ 0: 1, 1: `zfs snapshot ${D}@autosnap_2026-11-29_18:00:00_hourly` });
    expect(dry.rexxVariables.CREATED).toEqual({ 0: 1, 1: `${D}@autosnap_2026-11-29_18:00:00_hourly` });
    expect(writes(f.calls)).toEqual([]);
    expect((await h('autosnap name=nope')).errorCode).toBe(3);
  });
});

describe('autoprune (fake runner)', () => {
  const D = 'fakepool/web';
  it('destroys all but the newest count per period, oldest first; holds, clones, base and unreplicated ones are PROTECTED', async () => {
    const objs: Obj[] = [
      { name: 'fakepool' },
      { name: D, local: { ...policy(2, 1), 'org.rexxjs:base-snapshot': 'autosnap_2026-11-29_11:00:00_hourly' } },
      snap(D, 'autosnap_2026-11-27_00:00:00_daily'),
      snap(D, 'autosnap_2026-11-28_00:00:00_daily'),
      snap(D, 'autosnap_2026-11-29_10:00:00_hourly'),
      snap(D, 'autosnap_2026-11-29_11:00:00_hourly'), // base
      snap(D, 'autosnap_2026-11-29_12:00:00_hourly', { userrefs: '1' }), // held
      snap(D, 'autosnap_2026-11-29_13:00:00_hourly'), // origin of a clone
      snap(D, 'autosnap_2026-11-29_14:00:00_hourly'),
      snap(D, 'repl-1790000000'),
      snap(D, 'autosnap_2026-11-29_15:00:00_hourly'), // newer than repl-: not replicated
      snap(D, 'autosnap_2026-11-29_16:00:00_hourly'),
      snap(D, 'autosnap_2026-11-29_17:00:00_hourly'),
      snap(D, 'manual-keep'),
      { name: 'fakepool/clone', props: { origin: `${D}@autosnap_2026-11-29_13:00:00_hourly` } },
    ];
    const f = poolRunner(objs);
    const r = await createHandler(table, { env, runner: f.runner })('autoprune');
    expect(r.errorCode, r.errorMessage).toBe(0);
    expect(writes(f.calls)).toEqual([
      ['zfs', 'destroy', `${D}@autosnap_2026-11-29_10:00:00_hourly`],
      ['zfs', 'destroy', `${D}@autosnap_2026-11-29_14:00:00_hourly`],
      ['zfs', 'destroy', `${D}@autosnap_2026-11-27_00:00:00_daily`],
    ]);
    // the filesystems and their local properties (no snapshot listed), the clones (filesystems
    // only), then the snapshots of the governed datasets only
    expect(f.calls.filter((c) => c[1] === 'get' || c[1] === 'list')).toEqual([
      ['zfs', 'list', '-H', '-o', 'name', '-t', 'filesystem,volume', '-r'],
      ['zfs', 'get', '-H', '-p', '-o', 'name,property,value,source', '-s', 'local', expect.stringMatching(/^org\.rexxjs:policy-hourly,.*,org\.rexxjs:base-snapshot$/), 'fakepool', D, 'fakepool/clone'],
      ['zfs', 'list', '-H', '-o', 'name,origin', '-t', 'filesystem,volume', '-r', 'fakepool'],
      ['zfs', 'list', '-H', '-o', 'name,createtxg,userrefs', '-t', 'snapshot', '-d', '1', D],
    ]);
    expect(Object.values(r.rexxVariables.PROTECTED as object).slice(1)).toEqual([
      `${D}@autosnap_2026-11-29_11:00:00_hourly (base)`,
      `${D}@autosnap_2026-11-29_12:00:00_hourly (holds)`,
      `${D}@autosnap_2026-11-29_13:00:00_hourly (clones)`,
      `${D}@autosnap_2026-11-29_15:00:00_hourly (not replicated)`,
    ]);
    // dryrun: the same destroys, recorded, nothing run
    const f2 = poolRunner(objs);
    const dry = await createHandler(table, { env, runner: f2.runner })('autoprune dryrun=true');
    expect(dry.rexxVariables.COMMANDS).toEqual({ 0: 3, 1: `zfs destroy ${D}@autosnap_2026-11-29_10:00:00_hourly`, 2: `zfs destroy ${D}@autosnap_2026-11-29_14:00:00_hourly`, 3: `zfs destroy ${D}@autosnap_2026-11-27_00:00:00_daily` });
    expect(writes(f2.calls)).toEqual([]);
  });

  it('a recursive policy prunes the descendants with its counts; count 0 keeps none', async () => {
    const f = poolRunner([
      { name: 'fakepool' },
      { name: 'fakepool/ct', local: policy(0, 1, 0, 0, 0, 'on') },
      { name: 'fakepool/ct/a' },
      snap('fakepool/ct', 'autosnap_2026-11-28_00:00:00_daily'),
      snap('fakepool/ct', 'autosnap_2026-11-29_00:00:00_daily'),
      snap('fakepool/ct', 'autosnap_2026-11-29_05:00:00_hourly'),
      snap('fakepool/ct/a', 'autosnap_2026-11-28_00:00:00_daily'),
      snap('fakepool/ct/a', 'autosnap_2026-11-29_00:00:00_daily'),
    ]);
    const r = await createHandler(table, { env, runner: f.runner })('autoprune pool=fakepool');
    expect(r.errorCode, r.errorMessage).toBe(0);
    // (the datasets' destroys may run at once: the calls in any order, DESTROYED in the datasets' order)
    expect(writes(f.calls).map((c) => c[2]).sort()).toEqual(Object.values(r.rexxVariables.DESTROYED as object).slice(1).sort());
    expect(Object.values(r.rexxVariables.DESTROYED as object).slice(1)).toEqual([
      'fakepool/ct@autosnap_2026-11-29_05:00:00_hourly',
      'fakepool/ct@autosnap_2026-11-28_00:00:00_daily',
      'fakepool/ct/a@autosnap_2026-11-28_00:00:00_daily',
    ]);
  });

  it('a destroy zfs refuses (a hold taken since the read) does not stop the others; the RC and DESTROYED say what went', async () => {
    const f = poolRunner([{ name: 'fakepool' }, { name: D, local: policy(0) }, snap(D, 'autosnap_2026-11-29_10:00:00_hourly'), snap(D, 'autosnap_2026-11-29_11:00:00_hourly')]);
    const inner = f.runner;
    let n = 0;
    const runner: typeof inner = (o) => {
      const c = inner(o);
      return { ...c, run: async (argv, opts) => (argv[1] === 'destroy' && n++ === 0 ? { ...(await c.run(['true'], opts)), argv, ok: false, exitCode: 1, stderr: `cannot destroy '${argv[2]}': dataset is busy\n` } : c.run(argv, opts)) };
    };
    const r = await createHandler(table, { env, runner })('autoprune');
    expect(r.errorCode).toBe(1);
    expect(r.rexxVariables.DESTROYED).toEqual({ 0: 1, 1: `${D}@autosnap_2026-11-29_11:00:00_hourly` });
  });
});

describe('check_snapshots (fake runner, fake clock): RC 0/1/2 is the answer', () => {
  const D = 'fakepool/web';
  const objs = (hourly: string, daily?: string): Obj[] => [
    { name: 'fakepool' },
    { name: D, local: policy(24, daily ? 7 : 0) },
    snap(D, `autosnap_${hourly}_hourly`),
    ...(daily ? [snap(D, `autosnap_${daily}_daily`)] : []),
  ];
  const check = async (o: Obj[], now: string) => createHandler(table, { env, runner: poolRunner(o).runner, clock: clockAt(now) })('check_snapshots');

  it('hourly: up to 1.5 h OK, over 1.5 h WARNING, over 2 h CRITICAL; none at all CRITICAL', async () => {
    let r = await check(objs('2026-11-29_17:00:00'), '2026-11-29T18:30:00Z');
    expect([r.errorCode, r.output]).toEqual([0, 'OK: 1 snapshot periods on 1 datasets are fresh']);
    expect(r.rexxVariables.STATUS).toBe('OK');
    r = await check(objs('2026-11-29_17:00:00'), '2026-11-29T18:31:00Z');
    expect([r.errorCode, r.output]).toEqual([1, 'WARNING: fakepool/web hourly is 91m old']);
    expect(r.rexxVariables.STATUS).toBe('WARNING');
    r = await check(objs('2026-11-29_17:00:00'), '2026-11-29T19:00:01Z');
    expect(r.errorCode).toBe(2);
    expect(r.output).toBe('CRITICAL: fakepool/web hourly is 2h old');
    r = await check(objs('2026-11-29_17:00:00', '2026-11-28_00:00:00'), '2026-11-29T18:00:00Z');
    expect(r.errorCode).toBe(1);
    expect(r.output).toBe('WARNING: fakepool/web daily is 42h old');
    r = await check([{ name: 'fakepool' }, { name: D, local: policy(0, 1) }], '2026-11-29T18:00:00Z');
    expect([r.errorCode, r.output]).toEqual([2, 'CRITICAL: fakepool/web daily has none']);
    expect(r.rexxVariables.PROBLEMS).toEqual({ 0: 1, 1: 'fakepool/web daily has none' });
  });
});

describe('policy_set / policy_get / policy_list (fake runner)', () => {
  it('a new policy sets every period (the missing ones 0) and recursive, one zfs set each; an update only the given ones', async () => {
    const f = poolRunner([{ name: 'fakepool/web' }]);
    const r = await createHandler(table, { env, runner: f.runner })('policy_set name=web hourly=36 daily=30');
    expect(r.errorCode, r.errorMessage).toBe(0);
    expect(r.output).toBe('fakepool/web hourly=36 daily=30 weekly=0 monthly=0 yearly=0 recursive=false');
    expect(writes(f.calls)).toEqual([
      ['zfs', 'set', 'org.rexxjs:policy-hourly=36', 'fakepool/web'],
      ['zfs', 'set', 'org.rexxjs:policy-daily=30', 'fakepool/web'],
      ['zfs', 'set', 'org.rexxjs:policy-weekly=0', 'fakepool/web'],
      ['zfs', 'set', 'org.rexxjs:policy-monthly=0', 'fakepool/web'],
      ['zfs', 'set', 'org.rexxjs:policy-yearly=0', 'fakepool/web'],
      ['zfs', 'set', 'org.rexxjs:policy-recursive=off', 'fakepool/web'],
    ]);
    const f2 = poolRunner([{ name: 'fakepool/web', local: policy(36, 30) }]);
    const h2 = createHandler(table, { env, runner: f2.runner });
    expect((await h2('policy_set web weekly=8 recursive=true')).output).toBe('fakepool/web hourly=36 daily=30 weekly=8 monthly=0 yearly=0 recursive=true');
    expect(writes(f2.calls)).toEqual([
      ['zfs', 'set', 'org.rexxjs:policy-weekly=8', 'fakepool/web'],
      ['zfs', 'set', 'org.rexxjs:policy-recursive=on', 'fakepool/web'],
    ]);
    const got = await h2('policy_get web');
    expect(got.rexxVariables).toMatchObject({ HOURLY: 36, DAILY: 30, WEEKLY: 0, RECURSIVE: 'false' });
    const list = await h2('policy_list');
    expect(list.rexxVariables.DATASETS).toEqual({ 0: 1, 1: 'fakepool/web' });
  });

  it('policy_set without a period is RC 2, nothing run; policy_get of a dataset without one is RC 3', async () => {
    const f = poolRunner([{ name: 'fakepool/web' }]);
    const h = createHandler(table, { env, runner: f.runner });
    expect((await h('policy_set name=web')).errorCode).toBe(2);
    expect(f.calls).toEqual([]);
    expect((await h('policy_get name=web')).errorCode).toBe(3);
  });

  it('a hand-set value that is not a count reads as 0', async () => {
    const f = poolRunner([{ name: 'fakepool/web', local: { ...policy(5), [POLICY_PROPS.hourly]: '1e3' } }]);
    expect((await createHandler(table, { env, runner: f.runner })('policy_get web')).rexxVariables.HOURLY).toBe(0);
  });
});

describe('schedule / unschedule (fake clock, temp cron dir)', () => {
  it('writes the entry atomically under REXX_ZFS_CRON_DIR, replaces it, removes it; dryrun writes nothing', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-cron-'));
    try {
      const h = createHandler(table, { env: { ...env, REXX_ZFS_CRON_DIR: dir } });
      const file = path.join(dir, 'rexx-address-zfs');
      expect((await h('schedule name=web every=5 dryrun=true')).errorCode).toBe(0);
      expect(fs.existsSync(file)).toBe(false);
      const r = await h('schedule name=web every=5');
      expect(r.errorCode, r.errorMessage).toBe(0);
      expect(r.rexxVariables.FILE).toBe(file);
      expect(fs.readFileSync(file, 'utf8')).toContain('*/5 * * * * root rexx-address zfs autosnap name=fakepool/web; rexx-address zfs autoprune name=fakepool/web\n');
      expect((fs.statSync(file).mode & 0o777).toString(8)).toBe('644');
      await h('schedule');
      expect(fs.readFileSync(file, 'utf8')).toContain('*/15 * * * * root rexx-address zfs autosnap; rexx-address zfs autoprune\n');
      expect(fs.readdirSync(dir)).toEqual(['rexx-address-zfs']);
      expect((await h('unschedule')).output).toBe(`removed ${file}`);
      expect(fs.existsSync(file)).toBe(false);
      expect((await h('unschedule')).rexxVariables.FILE).toBe('');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('hostile values in the new non-name parameters → RC 2, nothing run (fake runner)', () => {
  const ints: Array<[string, string]> = [
    ...['hourly', 'daily', 'weekly', 'monthly', 'yearly'].map((k): [string, string] => ['policy_set name=web', k]),
    ['schedule', 'every'],
    ['autosnap', 'concurrency'],
    ['autoprune', 'concurrency'],
  ];
  it.each(ints)('%s %s=', async (cmd, key) => {
    const f = poolRunner([{ name: 'fakepool/web' }]);
    const h = createHandler(table, { env: { ...env, REXX_ZFS_CRON_DIR: `${os.tmpdir()}/rexx-never-${process.pid}` }, runner: f.runner });
    for (const v of [...HOSTILE, '-1', '100001', '1.5', '0x10', '1e3', ' 1', '61']) {
      if (!['every', 'concurrency'].includes(key) && v === '61') continue;
      const verb = cmd.split(' ')[0]!;
      const args: Record<string, string> = cmd.includes('name=') ? { name: 'web' } : {};
      const r = await h(verb, { ...args, [key]: v });
      expect(r.errorCode, `${key}=${JSON.stringify(v)}`).toBe(2);
    }
    for (const v of ['maybe', '2', '', `$(touch ${CANARY})`]) expect((await h('policy_set', { name: 'web', hourly: '1', recursive: v })).errorCode).toBe(2);
    expect(f.calls).toEqual([]);
    expect(fs.existsSync(`${os.tmpdir()}/rexx-never-${process.pid}`)).toBe(false);
    expect(fs.existsSync(CANARY)).toBe(false);
  });
});
