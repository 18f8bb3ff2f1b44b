/**
 * replicate/send argv on the OpenZFS paths zfs-fuse cannot run (fake runner answering as
 * an OpenZFS 2.x pool would: `zpool get all` with `version -` and feature@ rows,
 * `written`, `receive_resume_token`), checked against OpenZFS's documented syntax
 * (zfs-send(8): `-w`, `-c`, `-L`, `-t receive_resume_token`; zfs-receive(8): `-s`, `-F`):
 * raw/compressed/large_blocks flags, a resumed stream first, RC 6 naming a disabled
 * feature, RC 7 on data written after the common snapshot, bwlimit's pv/mbuffer stage,
 * the shared ssh connection options, recursive with exclude.
 */
import { describe, expect, it } from 'vitest';
import { createHandler } from '../../../shared/dispatch';
import { table } from '../../../handlers/zfs';
import { globMatches, splitReplTarget, zfsReplTarget } from '../../../handlers/zfs/names';
import { parsePoolGetAll } from '../../../handlers/zfs/features';
import { parseSessionLookup, sessionScript } from '../../../handlers/zfs/verbs/replication';
import { fakeRunner, type FakeReply } from '../../helpers/fake-runner';
import { isSession, sessionAnswer, sessionReceive, sessionTarget } from '../../helpers/zfs-session';

const env = { REXX_ADDRESS_STRICT_VARS: '1', PATH: '/nonexistent', REXX_ZFS_POOL: 'fakepool', REXX_ZFS_IMPL: 'openzfs', REXX_ZFS_SSH_MUX: '0' };

/** `zpool get all POOL` as OpenZFS 2.2 prints it (table form; features disabled unless listed). */
const getAll = (pool: string, features: Record<string, string>) =>
  [
    'NAME  PROPERTY  VALUE  SOURCE',
    `${pool}  size  9.50G  -`,
    `${pool}  version  -  default`,
    ...['async_destroy', 'encryption', 'lz4_compress', 'large_blocks', 'extensible_dataset'].map((f) => `${pool}  feature@${f}  ${features[f] ?? 'disabled'}  local`),
  ].join('\n');
const ALL = { encryption: 'active', lz4_compress: 'active', large_blocks: 'enabled', extensible_dataset: 'active', async_destroy: 'enabled' };

/** `zfs get -H -p -o name,property,value,source … -d 1 DS`: snapshots as [name, guid, txg], dataset props. */
const getD1 = (ds: string, snaps: Array<[string, string, number]>, props: Record<string, string> = {}) =>
  [
    ...Object.entries(props).map(([k, v]) => `${ds}\t${k}\t${v}\t-`),
    ...snaps.flatMap(([n, g, t]) => [`${ds}@${n}\tcreatetxg\t${t}\t-`, `${ds}@${n}\tguid\t${g}\t-`]),
  ].join('\n');

interface World {
  pools?: Record<string, Record<string, string>>;
  datasets: Record<string, string>;
  tools?: string[];
}

/** A fake runner for a source host and an ssh peer that both run OpenZFS. */
function world(w: World) {
  return fakeRunner((argv): FakeReply | undefined => {
    if (isSession(argv)) {
      const ds = sessionTarget(argv);
      return { stdout: sessionAnswer(ds, w.datasets[ds]) };
    }
    const a = argv[0] === 'ssh' ? argv.slice(argv.findIndex((x) => x === 'zfs' || x === 'zpool')) : argv;
    if (a[0] === 'zpool' && a[1] === 'get') return { stdout: getAll(a[3]!, w.pools?.[a[3]!] ?? ALL) };
    if (a[0] === 'zfs' && a[1] === 'get') {
      const ds = a.at(-1)!;
      return ds in w.datasets ? { stdout: w.datasets[ds] } : { exitCode: 1, stderr: `cannot open '${ds}': dataset does not exist` };
    }
    if (a[0] === 'zfs' && a[1] === 'list') return { stdout: Object.keys(w.datasets).filter((d) => d.startsWith('fakepool/')).join('\n') };
    if (a[0] === 'pv' || a[0] === 'mbuffer') return (w.tools ?? ['pv']).includes(a[0]) ? {} : { missing: true };
    return undefined;
  });
}

/** The stream commands that ran, a replicate ssh session as the receive it ran (one dropped unused ran none). */
const pipes = (calls: string[][], leads: Map<string[], string>) => calls.flatMap((c) => (isSession(c) ? (leads.has(c) ? [sessionReceive(c, leads.get(c))] : []) : [c])).filter((c) => (c[0] === 'zfs' && c[1] === 'send') || c.includes('receive') || c[0] === 'pv' || c[0] === 'mbuffer').filter((c) => !c.includes('--version') && !c.includes('-V'));
const sshTail = (c: string[]) => (c[0] === 'ssh' ? c.slice(c.indexOf('backup1') + 1) : c);

describe('replication on OpenZFS pools (fake runner)', () => {
  it('raw=, compressed=, large_blocks=: zfs send -w -c -L SRC@SNAP into ssh HOST zfs receive DST (fake runner)', async () => {
    const f = world({ datasets: { 'fakepool/web': getD1('fakepool/web', [['s1', '11', 10]]) } });
    const r = await createHandler(table, { env, runner: f.runner })('send name=web snapshot=s1 target=backup1:tank/web raw=true compressed=true large_blocks=true');
    expect(r.errorCode, r.errorMessage).toBe(0);
    expect(pipes(f.calls, f.leads).map(sshTail)).toEqual([['zfs', 'send', '-w', '-c', '-L', 'fakepool/web@s1'], ['zfs', 'receive', 'tank/web']]);
    expect(r.rexxVariables).toMatchObject({ MODE: 'full', HOST: 'backup1', TARGET: 'tank/web' });
  });

  it('resume=true: a target holding a receive_resume_token is finished first (send -t TOKEN | receive -s), then the incremental with receive -s -F (fake runner)', async () => {
    const f = world({
      datasets: {
        'fakepool/web': getD1('fakepool/web', [['s1', '11', 10], ['s2', '22', 20]]),
        'tank/web': getD1('tank/web', [['s1', '11', 5]], { receive_resume_token: '1-abc-def', written: '0' }),
      },
    });
    const r = await createHandler(table, { env, runner: f.runner })('send name=web snapshot=s2 target=backup1:tank/web resume=true');
    expect(r.errorCode, r.errorMessage).toBe(0);
    expect(pipes(f.calls, f.leads).map(sshTail)).toEqual([
      ['zfs', 'send', '-t', '1-abc-def'], ['zfs', 'receive', '-s', 'tank/web'],
      ['zfs', 'send', '-i', 'fakepool/web@s1', 'fakepool/web@s2'], ['zfs', 'receive', '-s', '-F', 'tank/web'],
    ]);
    expect(r.rexxVariables).toMatchObject({ RESUMED: 1, MODE: 'incremental', FROM: 's1' });
    const get = f.calls.find((c) => c[0] === 'ssh' && c.includes('get') && c.includes('tank/web'))!;
    expect(get).toContain('createtxg,guid,org.rexxjs:base-snapshot,written,receive_resume_token');
  });

  it('resume=true reads the target on its own: zfs-fuse refuses written in the list, asked again without it, once per handler and side (fake runner)', async () => {
    const f = fakeRunner((argv) => {
      if (argv.includes('zpool')) return { stdout: getAll(argv.at(-1)!, ALL) };
      if (argv.includes('get') && argv.some((a) => a.includes('written'))) return { exitCode: 2, stderr: "bad property list: invalid property 'written'\nusage: …" };
      if (argv.includes('get') && argv.at(-1) === 'fakepool/web') return { stdout: getD1('fakepool/web', [['s1', '11', 10]]) };
      if (argv.includes('get')) return { exitCode: 1, stderr: "cannot open 'tank/web': dataset does not exist" };
      return undefined;
    });
    const h = createHandler(table, { env, runner: f.runner });
    expect((await h('send name=web snapshot=s1 target=backup1:tank/web resume=true')).errorCode).toBe(0);
    expect((await h('send name=web snapshot=s1 target=backup1:tank/w2 resume=true')).errorCode).toBe(0);
    const gets = f.calls.filter((c) => c[0] === 'ssh' && c.includes('get') && !c.includes('zpool')).map((c) => c.at(-4));
    expect(gets).toEqual([
      'createtxg,guid,org.rexxjs:base-snapshot,written,receive_resume_token',
      'createtxg,guid,org.rexxjs:base-snapshot,receive_resume_token',
      'createtxg,guid,org.rexxjs:base-snapshot,receive_resume_token',
    ]);
  });

  it('over ssh one session reads the target (written on its own, where that zfs has it) and receives the stream: its answer parsed (fake runner)', () => {
    const argv = ['ssh', 'backup1', 'sh', '-c', 'x'];
    const list = getD1('tank/web', [['s1', '11', 10]]);
    expect(parseSessionLookup(`${list}\nrexx-written\n4096\nrexx-lookup 0\n`, 'tank/web', argv)).toEqual({ snaps: [{ name: 's1', guid: '11', txg: 10 }], written: 4096 });
    // zfs-fuse: no written (its zfs get failed into /dev/null, nothing printed)
    expect(parseSessionLookup(`${list}\nrexx-written\nrexx-lookup 0\n`, 'tank/web', argv)).toEqual({ snaps: [{ name: 's1', guid: '11', txg: 10 }] });
    expect(parseSessionLookup(sessionAnswer('tank/web', undefined), 'tank/web', argv)).toBeUndefined();
    expect(() => parseSessionLookup("cannot open 'tank': permission denied\nrexx-written\nrexx-lookup 1\n", 'tank/web', argv)).toThrow(/permission denied/);
    expect(() => parseSessionLookup('Welcome to backup1\n', 'tank/web', argv)).toThrow(/did not answer the lookup/);
    // every name in the script is quoted again (shell-quote), and the receive is exec'd: its status is ssh's
    expect(sessionScript('tank/web-1:x')).toContain('exec zfs receive -F tank/web-1\\:x ;;');
  });

  it('a feature that is disabled on either pool is RC 6 naming it, before anything is sent (fake runner)', async () => {
    const f = world({ pools: { tank: { ...ALL, encryption: 'disabled' } }, datasets: { 'fakepool/web': getD1('fakepool/web', [['s1', '11', 10]]) } });
    const r = await createHandler(table, { env, runner: f.runner })('replicate name=web target=backup1:tank/web raw=true');
    expect(r.errorCode).toBe(6);
    expect(r.errorMessage).toBe('raw=true needs feature@encryption (send -w raw stream); pool tank on backup1 has feature@encryption disabled');
    expect(f.calls.filter((c) => c.includes('snapshot') || c.includes('send'))).toEqual([]);
  });

  it('data written on the target after the common snapshot (written > 0) is RC 7; force=true receives with -F (fake runner)', async () => {
    const datasets = {
      'fakepool/web': getD1('fakepool/web', [['s1', '11', 10], ['s2', '22', 20]]),
      'tank/web': getD1('tank/web', [['s1', '11', 5]], { written: '81920' }),
    };
    const f = world({ datasets });
    const h = createHandler(table, { env, runner: f.runner });
    const r = await h('send name=web snapshot=s2 target=backup1:tank/web');
    expect(r.errorCode).toBe(7);
    expect(r.errorMessage).toMatch(/tank\/web has diverged from fakepool\/web: it has 81920 bytes written after @s1; give force=true/);
    expect(pipes(f.calls, f.leads)).toEqual([]);
    const g = await h('send name=web snapshot=s2 target=backup1:tank/web force=true');
    expect(g.errorCode, g.errorMessage).toBe(0);
    expect(pipes(f.calls, f.leads).map(sshTail)).toEqual([['zfs', 'send', '-i', 'fakepool/web@s1', 'fakepool/web@s2'], ['zfs', 'receive', '-F', 'tank/web']]);
  });

  it('newer snapshots on the target: RC 7 naming them; force=true rolls back to the common one (zfs rollback -r) first (fake runner)', async () => {
    const f = world({
      datasets: {
        'fakepool/web': getD1('fakepool/web', [['s1', '11', 10], ['s2', '22', 20], ['s3', '33', 30]]),
        'tank/web': getD1('tank/web', [['s1', '11', 5], ['mine', '99', 6], ['s2', '77', 7]]),
      },
    });
    const h = createHandler(table, { env, runner: f.runner });
    const r = await h('send name=web snapshot=s3 target=backup1:tank/web');
    expect(r.errorCode).toBe(7);
    expect(r.errorMessage).toMatch(/snapshot\(s\) mine, s2 newer than the common @s1/);
    expect((await h('send name=web snapshot=s3 target=backup1:tank/web force=true intermediate=true')).errorCode).toBe(0);
    expect(f.calls.filter((c) => c.includes('rollback')).map(sshTail)).toEqual([['zfs', 'rollback', '-r', 'tank/web@s1']]);
    expect(pipes(f.calls, f.leads).map(sshTail)).toEqual([['zfs', 'send', '-I', 'fakepool/web@s1', 'fakepool/web@s3'], ['zfs', 'receive', '-F', 'tank/web']]);
  });

  it('bwlimit=10M puts pv -q -L 10485760 between send and receive; without pv, mbuffer -q -r; without either RC 6 (fake runner)', async () => {
    const datasets = { 'fakepool/web': getD1('fakepool/web', [['s1', '11', 10]]) };
    let f = world({ datasets });
    expect((await createHandler(table, { env, runner: f.runner })('send name=web snapshot=s1 target=backup1:tank/web bwlimit=10M')).errorCode).toBe(0);
    expect(pipes(f.calls, f.leads).map(sshTail)).toEqual([['zfs', 'send', 'fakepool/web@s1'], ['pv', '-q', '-L', '10485760'], ['zfs', 'receive', 'tank/web']]);
    f = world({ datasets, tools: ['mbuffer'] });
    expect((await createHandler(table, { env, runner: f.runner })('send name=web snapshot=s1 target=backup1:tank/web bwlimit=1G')).errorCode).toBe(0);
    expect(pipes(f.calls, f.leads)[1]).toEqual(['mbuffer', '-q', '-r', String(2 ** 30)]);
    f = world({ datasets, tools: [] });
    const r = await createHandler(table, { env, runner: f.runner })('send name=web snapshot=s1 target=backup1:tank/web bwlimit=1G');
    expect(r.errorCode).toBe(6);
    expect(r.errorMessage).toMatch(/bwlimit= needs pv or mbuffer/);
  });

  it('ssh lookups share one connection: -o ControlMaster=auto -o ControlPath=$TMPDIR/rexx-zfs-ssh-HASH -o ControlPersist=60; the stream\'s session has its own (fake runner)', async () => {
    const f = world({ datasets: { 'fakepool/web': getD1('fakepool/web', [['s1', '11', 10]]) } });
    const r = await createHandler(table, { env: { ...env, REXX_ZFS_SSH_MUX: '', TMPDIR: '/run/x' }, runner: f.runner })('send name=web snapshot=s1 target=root@backup1:tank/web raw=true');
    expect(r.errorCode, r.errorMessage).toBe(0);
    const ssh = f.calls.filter((c) => c[0] === 'ssh');
    const lookups = ssh.filter((c) => !isSession(c));
    const stream = ssh.filter(isSession);
    expect(lookups.length).toBeGreaterThan(0); // zpool get all (the features raw= needs)
    for (const c of lookups) expect(c.slice(0, 9)).toEqual(['ssh', '-o', 'BatchMode=yes', '-o', 'ControlMaster=auto', '-o', expect.stringMatching(/^ControlPath=\/run\/x\/rexx-zfs-ssh-[0-9a-f]{20}$/), '-o', 'ControlPersist=60']);
    expect(new Set(lookups.map((c) => c[6])).size).toBe(1);
    expect(stream.length).toBe(1);
    expect(stream[0]!.some((a) => a.startsWith('ControlPath='))).toBe(false);
  });

  it('recursive=true: each dataset of the tree on its own, parents first, minus exclude= globs and what is under them (fake runner)', async () => {
    const snap = (ds: string) => getD1(ds, [['s1', '11', 10]]);
    const names = ['fakepool/web', 'fakepool/web/app', 'fakepool/web/cache', 'fakepool/web/cache/x', 'fakepool/web/tmp-1'];
    const f = world({ datasets: Object.fromEntries(names.map((n) => [n, snap(n)])) });
    const r = await createHandler(table, { env, runner: f.runner })('send name=web snapshot=s1 target=backup1:tank/web recursive=true exclude=cache exclude=tmp-?');
    expect(r.errorCode, r.errorMessage).toBe(0);
    expect(pipes(f.calls, f.leads).map(sshTail)).toEqual([
      ['zfs', 'send', 'fakepool/web@s1'], ['zfs', 'receive', 'tank/web'],
      ['zfs', 'send', 'fakepool/web/app@s1'], ['zfs', 'receive', 'tank/web/app'],
    ]);
    expect(r.rexxVariables.EXCLUDED).toEqual({ 0: 3, 1: 'fakepool/web/cache', 2: 'fakepool/web/cache/x', 3: 'fakepool/web/tmp-1' });
  });

  it('target=, exclude=: the parsing and the rules (hosts, users, globs)', () => {
    expect(splitReplTarget('tank/web')).toEqual({ dataset: 'tank/web' });
    expect(splitReplTarget('root@b1.example:tank/web')).toEqual({ host: 'root@b1.example', dataset: 'tank/web' });
    expect(splitReplTarget('b1:tank')).toEqual({ host: 'b1', dataset: 'tank' });
    expect(splitReplTarget('b1:a:b/c')).toEqual({ host: 'b1', dataset: 'a:b/c' });
    for (const bad of ['-oProxyCommand=x:tank/web', 'host;rm:tank/web', 'a b:tank/web', '$(id):tank/web', 'hôst:tank/web', 'u@-x:tank', 'h:-tank', 'h:tank/../x', 'h:', ':tank', 'h:tank@s']) {
      expect(zfsReplTarget.check(bad), bad).toBeTruthy();
    }
    expect(globMatches('cache', 'cache')).toBe(true);
    expect(globMatches('cache', 'cache/x')).toBe(false);
    expect(globMatches('*/tmp', 'a/tmp')).toBe(true);
    expect(globMatches('*', 'a/b')).toBe(false);
    expect(globMatches('a.b', 'axb')).toBe(false);
    expect(parsePoolGetAll('p', '', 'NAME PROPERTY VALUE SOURCE\np version 23 default\n')).toEqual({ pool: 'p', host: '', version: 23, features: {} });
  });

  it('exclude= without recursive=true, the host twice, and the target options with file= are RC 2, nothing ran (fake runner)', async () => {
    const f = world({ datasets: {} });
    const h = createHandler(table, { env, runner: f.runner });
    expect((await h('replicate name=web target=b1:tank/web exclude=x')).errorCode).toBe(2);
    expect((await h('replicate name=web target=b1:tank/web ssh=b1')).errorCode).toBe(2);
    expect((await h('send name=web file=/tmp/x.zfs intermediate=true')).errorCode).toBe(2);
    expect((await h('send name=web file=/tmp/x.zfs ssh=b1')).errorCode).toBe(2);
    expect(f.calls).toEqual([]);
  });
});
