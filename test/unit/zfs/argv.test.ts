/**
 * ZFS verbs build the expected `zfs`/`zpool` argv — including the OpenZFS-only ones
 * (zvols, lz4, autotrim) this host cannot run — checked against fake binaries on PATH
 * that record their argv (test/helpers/fakebin.ts), or with dryrun=true.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createHandler } from '../../../shared/dispatch';
import { table } from '../../../handlers/zfs';
import { fakeBin, type FakeBin, type FakeSpec } from '../../helpers/fakebin';
import { isSession, sessionAnswer, sessionTarget } from '../../helpers/zfs-session';

const fakes: FakeBin[] = [];
afterEach(() => {
  while (fakes.length) fakes.pop()!.cleanup();
});

const READS = new Set(['get', 'list', 'version', 'status']);

/** A handler whose zfs/zpool/ssh/dd are fakes; impl forces the implementation detection. */
function withZfs(specs: Record<string, FakeSpec> = {}, impl: 'openzfs' | 'zfs-fuse' = 'openzfs') {
  // pool `scratch` does not exist yet (pool_create asks first)
  const zpool: FakeSpec = { when: [{ match: 'list -H -o name scratch', exit: 1, stderr: "cannot open 'scratch': no such pool" }] };
  const fake = fakeBin({ zfs: {}, zpool, ssh: {}, dd: {}, truncate: {}, ...specs });
  fakes.push(fake);
  return {
    h: createHandler(table, { env: { ...fake.env, REXX_ZFS_IMPL: impl, REXX_ZFS_SSH_MUX: '0' } }),
    calls: () => fake.calls(),
    /** Only the commands that change something (no zfs get/list/version). */
    writes: () => fake.calls().filter((c) => !(c[0] === 'zfs' && READS.has(c[1]!)) && !(c[0] === 'zpool' && READS.has(c[1]!))),
  };
}

describe('argv of each verb (fake binary)', () => {
  it.each([
    ['create name=web', [['zfs', 'create', 'rexxpool/web']]],
    // parents first, then the dataset itself without -p (zfs create -p answers 0 when it exists)
    ['create name=rexxpool/a/b parents=true property=compression=on property=org.example:k=v', [['zfs', 'create', '-p', 'rexxpool/a'], ['zfs', 'create', '-o', 'compression=on', '-o', 'org.example:k=v', 'rexxpool/a/b']]],
    ['create name=web pool=tank', [['zfs', 'create', 'tank/web']]],
    ['create_volume name=vm size=10G', [['zfs', 'create', '-s', '-o', 'volblocksize=16k', '-V', '10G', 'rexxpool/vm']]],
    ['create_volume name=vm size=10G sparse=false volblocksize=8k property=compression=lz4', [['zfs', 'create', '-o', 'volblocksize=8k', '-o', 'compression=lz4', '-V', '10G', 'rexxpool/vm']]],
    ['rename web web2', [['zfs', 'rename', 'rexxpool/web', 'rexxpool/web2']]],
    ['rename name=web to=x/web parents=true', [['zfs', 'rename', '-p', 'rexxpool/web', 'rexxpool/x/web']]],
    ['set name=web property=atime=off property=org.example:k=a,b', [['zfs', 'set', 'atime=off', 'rexxpool/web'], ['zfs', 'set', 'org.example:k=a,b', 'rexxpool/web']]],
    ['snapshot name=web snapshot=s1 recursive=true', [['zfs', 'snapshot', '-r', 'rexxpool/web@s1']]],
    ['rollback name=web snapshot=s1', [['zfs', 'rollback', 'rexxpool/web@s1']]],
    ['rollback name=web snapshot=s1 discard_newer=true', [['zfs', 'rollback', '-r', 'rexxpool/web@s1']]],
    ['clone name=web snapshot=s1 target=web2 property=atime=off', [['zfs', 'clone', '-o', 'atime=off', 'rexxpool/web@s1', 'rexxpool/web2']]],
    ['promote web2', [['zfs', 'promote', 'rexxpool/web2']]],
    ['register_base name=golden description="a b"', [['zfs', 'snapshot', 'rexxpool/golden@rexx-base'], ['zfs', 'set', 'org.rexxjs:base=on', 'rexxpool/golden'], ['zfs', 'set', 'org.rexxjs:base-snapshot=rexx-base', 'rexxpool/golden'], ['zfs', 'set', 'org.rexxjs:base-description=a b', 'rexxpool/golden']]],
    ['pool_destroy pool=scratch force=true', [['zpool', 'destroy', '-f', 'scratch']]],
    ['pool_create pool=scratch vdev=/dev/sdb vdev=/dev/sdc', [['zpool', 'create', '-o', 'ashift=12', '-o', 'autotrim=on', '-O', 'compression=lz4', '-O', 'xattr=sa', '-O', 'atime=off', 'scratch', '/dev/sdb', '/dev/sdc']]],
    ['pool_create pool=scratch vdev=/dev/sdb recommended=false mountpoint=/mnt/s', [['zpool', 'create', '-m', '/mnt/s', 'scratch', '/dev/sdb']]],
  ])('%s', async (cmd, argvs) => {
    const { h, writes } = withZfs();
    const r = await h(cmd);
    expect(r.errorMessage).toBe('');
    expect(writes()).toEqual(argvs);
  });

  it('rollback to a named snapshot runs exactly one command: no lookup first (fake binary)', async () => {
    const { h, calls } = withZfs();
    await h('rollback name=web snapshot=s1');
    expect(calls()).toEqual([['zfs', 'rollback', 'rexxpool/web@s1']]);
  });

  /** What `zfs get … -d 1 rexxpool/golden` answers for a registered base (the fake prints it for every zfs call). */
  const REGISTERED = 'rexxpool/golden\torg.rexxjs:base-snapshot\trexx-base\tlocal\nrexxpool/golden@rexx-base\tcreation\t1795240000\t-\n';

  it('clone_from_base: one lookup of the base, then one zfs clone (fake binary)', async () => {
    const { h, writes, calls } = withZfs({ zfs: { stdout: REGISTERED } });
    expect((await h('clone_from_base base=golden name=web')).errorMessage).toBe('');
    expect(writes()).toEqual([['zfs', 'clone', '-o', 'org.rexxjs:cloned-from=rexxpool/golden', 'rexxpool/golden@rexx-base', 'rexxpool/web']]);
    expect(calls().filter((c) => c[1] === 'get').length).toBe(1);
  });

  it('clone_from_base count=3 makes NAME-1..3: one lookup of the base, then one zfs clone each (fake binary)', async () => {
    const { h, calls } = withZfs({ zfs: { stdout: REGISTERED } });
    const r = await h('clone_from_base base=golden name=web count=3');
    expect(r.rexxVariables.CLONES).toEqual({ 0: 3, 1: 'rexxpool/web-1', 2: 'rexxpool/web-2', 3: 'rexxpool/web-3' });
    const clones = calls().filter((c) => c[1] === 'clone');
    expect(clones.map((c) => c.at(-1)).sort()).toEqual(['rexxpool/web-1', 'rexxpool/web-2', 'rexxpool/web-3']);
    expect(calls().length).toBe(4);
  });

  it('clone_from_base of a half-registered base (properties, no snapshot) is RC 3 and clones nothing (fake binary)', async () => {
    const { h, writes } = withZfs({ zfs: { stdout: 'rexxpool/golden\torg.rexxjs:base-snapshot\trexx-base\tlocal\n' } });
    const r = await h('clone_from_base base=golden name=web');
    expect(r.errorCode).toBe(3);
    expect(r.errorMessage).toMatch(/snapshot rexxpool\/golden@rexx-base is missing.*register_base name=rexxpool\/golden repairs it/);
    expect(writes()).toEqual([]);
  });

  it('pool_create on zfs-fuse keeps ashift and atime, skips what it lacks (fake binary)', async () => {
    const { h, writes } = withZfs({}, 'zfs-fuse');
    const r = await h('pool_create pool=scratch vdev=/var/tmp/none.img size=1G dryrun=false');
    expect(writes()).toEqual([
      ['truncate', '-s', '1G', '/var/tmp/none.img'],
      ['zpool', 'create', '-o', 'ashift=12', '-O', 'atime=off', 'scratch', '/var/tmp/none.img'],
    ]);
    expect(r.rexxVariables.SKIPPED).toEqual({ 0: 3, 1: 'autotrim=on', 2: 'compression=lz4', 3: 'xattr=sa' });
  });

  it('create_volume on zfs-fuse: RC 6 naming OpenZFS, nothing ran (fake binary)', async () => {
    const { h, calls } = withZfs({}, 'zfs-fuse');
    const r = await h('create_volume name=vm size=1G');
    expect(r.errorCode).toBe(6);
    expect(r.errorMessage).toMatch(/needs OpenZFS/);
    expect(calls()).toEqual([]);
  });

  it('resize reads type and volsize, grows, and refuses to shrink without force (fake binary)', async () => {
    const spec = { stdout: 'type\tvolume\nvolsize\t1073741824\n' };
    let t = withZfs({ zfs: spec });
    expect((await t.h('resize name=vm size=2G')).errorCode).toBe(0);
    expect(t.writes()).toEqual([['zfs', 'set', 'volsize=2G', 'rexxpool/vm']]);
    t = withZfs({ zfs: spec });
    const r = await t.h('resize name=vm size=512M');
    expect(r.errorCode).toBe(7);
    expect(t.writes()).toEqual([]);
    t = withZfs({ zfs: spec });
    expect((await t.h('resize name=vm size=512M force=true')).errorCode).toBe(0);
    t = withZfs({ zfs: { stdout: 'type\tfilesystem\nvolsize\t-\n' } });
    expect((await t.h('resize name=web size=2G')).errorCode).toBe(2);
  });

  it('pool_check fix=true on OpenZFS sets lz4, xattr=sa, atime=off and reports autotrim with its command (fake binary)', async () => {
    const { h, writes } = withZfs({
      // one answer for every zpool call: `zpool get`'s table, and the state line `zpool status` is read for
      zpool: { stdout: 'NAME PROPERTY VALUE SOURCE\ntank ashift 12 local\ntank autotrim off default\n state: ONLINE\n' },
      zfs: { stdout: 'compression\toff\nxattr\ton\natime\ton\n' },
    });
    const r = await h('pool_check pool=tank fix=true');
    expect(writes()).toEqual([
      ['zfs', 'set', 'compression=lz4', 'tank'],
      ['zfs', 'set', 'xattr=sa', 'tank'],
      ['zfs', 'set', 'atime=off', 'tank'],
    ]);
    expect(r.rexxVariables.DEVIATIONS).toEqual({ 0: 1, 1: 'autotrim' });
    expect(r.output).toContain('zpool set autotrim=on tank');
  });

  it('unregister_base clears the properties and defers the snapshot destroy (fake binary)', async () => {
    const { h, writes } = withZfs({ zfs: { stdout: REGISTERED } });
    expect((await h('unregister_base golden')).errorCode).toBe(0);
    expect(writes()).toEqual([
      ['zfs', 'inherit', 'org.rexxjs:base', 'rexxpool/golden'],
      ['zfs', 'inherit', 'org.rexxjs:base-snapshot', 'rexxpool/golden'],
      ['zfs', 'inherit', 'org.rexxjs:base-description', 'rexxpool/golden'],
      ['zfs', 'destroy', '-d', 'rexxpool/golden@rexx-base'],
    ]);
  });

  it('hold and release (fake binary)', async () => {
    let t = withZfs();
    await t.h('hold name=web snapshot=s1 tag=keep');
    expect(t.writes()).toEqual([['zfs', 'hold', 'keep', 'rexxpool/web@s1']]);
    t = withZfs();
    await t.h('release name=web snapshot=s1 recursive=true');
    expect(t.writes()).toEqual([['zfs', 'release', '-r', 'rexx', 'rexxpool/web@s1']]);
  });

  it('receive reads the stream file as stdin (fake binary)', async () => {
    const f = path.join(os.tmpdir(), `rexx-zfs-stream-${process.pid}`);
    fs.writeFileSync(f, 'stream');
    const { h, writes } = withZfs();
    expect((await h(`receive name=web file=${f} force=true`)).errorCode).toBe(0);
    expect(writes()).toEqual([['zfs', 'receive', '-F', 'rexxpool/web']]);
    fs.rmSync(f);
  });
});

describe('replication argv (dryrun, fake binary for the lookups)', () => {
  const txgs = 'rexxpool/web@s1\tcreatetxg\t10\nrexxpool/web@s2\tcreatetxg\t20\n';

  it('send to a file: zfs send | dd of=a hidden file beside FILE (moved into place afterwards), no shell', async () => {
    const { h } = withZfs();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-send-argv-'));
    const r = await h(`send name=web snapshot=s1 file=${dir}/web.zfs dryrun=true`);
    expect(r.output).toMatch(new RegExp(`^zfs send rexxpool/web@s1 '\\|' dd of=${dir}/\\.web\\.zfs\\.rexx-partial-\\d+-[0-9a-f]{8} bs=1M conv=fsync status=none$`));
    const i = await h(`send name=web snapshot=s2 from=s1 file=${dir}/web-i.zfs dryrun=true`);
    expect(i.output).toMatch(/^zfs send -i rexxpool\/web@s1 rexxpool\/web@s2 '\|' dd of=\S+\/\.web-i\.zfs\.rexx-partial-/);
    fs.rmSync(dir, { recursive: true });
  });

  it('send into a missing target over ssh: full stream into ssh HOST zfs receive', async () => {
    const { h, calls } = withZfs({ zfs: { stdout: txgs }, ssh: { exit: 1, stderr: "cannot open 'tank/web': dataset does not exist", when: [{ match: 'zpool get all', stdout: '' }] } });
    const r = await h('send name=web snapshot=s1 target=web target_pool=tank ssh=root@backup1 dryrun=true');
    expect(r.errorMessage).toBe('');
    expect(r.output).toBe('zfs send rexxpool/web@s1 \'|\' ssh -o BatchMode=yes root@backup1 zfs receive tank/web');
    expect(calls().find((c) => c[0] === 'ssh')).toEqual(['ssh', '-o', 'BatchMode=yes', 'root@backup1', 'zfs', 'get', '-H', '-p', '-o', 'name,property,value,source', 'createtxg,guid,org.rexxjs:base-snapshot,written', '-d', '1', 'tank/web']);
  });

  it('send into a target with a common snapshot: incremental from it, received with -F', async () => {
    const { h } = withZfs({ ssh: { stdout: 'tank/web\tcreatetxg\t5\t-\ntank/web@s1\tcreatetxg\t10\t-\n' }, zfs: { stdout: txgs } });
    const r = await h('send name=web snapshot=s2 target=tank/web target_pool=tank ssh=backup1 dryrun=true');
    expect(r.output).toBe('zfs send -i rexxpool/web@s1 rexxpool/web@s2 \'|\' ssh -o BatchMode=yes backup1 zfs receive -F tank/web');
  });

  it('a local target with no common snapshot is refused (RC 7) unless force=true, which receives aside, then destroys the old one and renames', async () => {
    const { h } = withZfs({ zfs: { stdout: `${txgs}backup/web\tcreatetxg\t5\nbackup/web@other\tcreatetxg\t9\n` } });
    expect((await h('send name=web snapshot=s1 target=web target_pool=backup dryrun=true')).errorCode).toBe(7);
    const f = await h('send name=web snapshot=s1 target=web target_pool=backup force=true dryrun=true');
    const [recv, destroy, rename, ...rest] = f.output.split('\n');
    const aside = /zfs receive (backup\/web-rexx-recv-[0-9a-f]{6})$/.exec(recv!)?.[1];
    expect(recv).toBe(`zfs send rexxpool/web@s1 '|' zfs receive ${aside}`);
    expect([destroy, rename, ...rest]).toEqual(['zfs destroy -r backup/web', `zfs rename ${aside} backup/web`]);
  });

  it('the same over ssh: the remote steps, with -F CONFIG from env REXX_ZFS_SSH_CONFIG', async () => {
    const target = 'tank/web\tcreatetxg\t5\t-\ntank/web@other\tcreatetxg\t9\t-\n';
    const fake = fakeBin({ zfs: { stdout: 'rexxpool/web@s1\tcreatetxg\t10\n' }, ssh: { when: [{ match: ' sh -c ', stdout: sessionAnswer('tank/web', target) }] } });
    fakes.push(fake);
    const h = createHandler(table, { env: { ...fake.env, REXX_ZFS_IMPL: 'zfs-fuse', REXX_ZFS_SSH_CONFIG: '/etc/rexx/ssh_config', REXX_ZFS_SSH_MUX: '0' } });
    const f = await h('send name=web snapshot=s1 target=tank/web target_pool=tank ssh=backup1 force=true');
    expect(f.errorMessage).toBe('');
    const ssh = fake.calls().filter((c) => c[0] === 'ssh').map((c) => c.slice(1));
    // One session read the target (and would have received into it); it ended unused: the plan is a receive aside.
    expect(ssh[0]!.slice(0, 6)).toEqual(['-o', 'BatchMode=yes', '-F', '/etc/rexx/ssh_config', 'backup1', 'sh']);
    expect(sessionTarget(['ssh', ...ssh[0]!])).toBe('tank/web');
    const aside = ssh[1]!.at(-1)!;
    expect(aside).toMatch(/^tank\/web-rexx-recv-[0-9a-f]{6}$/);
    expect(ssh.slice(1)).toEqual([
      ['-o', 'BatchMode=yes', '-F', '/etc/rexx/ssh_config', 'backup1', 'zfs', 'receive', aside],
      ['-o', 'BatchMode=yes', '-F', '/etc/rexx/ssh_config', 'backup1', 'zfs', 'destroy', '-r', 'tank/web'],
      ['-o', 'BatchMode=yes', '-F', '/etc/rexx/ssh_config', 'backup1', 'zfs', 'rename', aside, 'tank/web'],
    ]);
  });

  it('force=true never replaces a target that is a registered base, and an incremental that would destroy its base snapshot is refused (RC 7)', async () => {
    const session = (get: string) => ({ when: [{ match: ' sh -c ', stdout: sessionAnswer('tank/web', get) }] });
    let t = withZfs({ zfs: { stdout: txgs }, ssh: session('tank/web\tcreatetxg\t5\t-\ntank/web\torg.rexxjs:base-snapshot\trexx-base\tlocal\ntank/web@rexx-base\tcreatetxg\t9\t-\n') });
    const r = await t.h('send name=web snapshot=s1 target=tank/web target_pool=tank ssh=backup1 force=true');
    expect(r.errorCode).toBe(7);
    expect(r.errorMessage).toMatch(/registered base/);
    // the session's lookup, ended unused: nothing else ran there
    expect(t.calls().filter((c) => c[0] === 'ssh').map((c) => isSession(c))).toEqual([true]);
    t = withZfs({
      zfs: { stdout: txgs },
      ssh: session('tank/web\torg.rexxjs:base-snapshot\trexx-base\tlocal\ntank/web@s1\tcreatetxg\t10\t-\ntank/web@rexx-base\tcreatetxg\t15\t-\n'),
    });
    const i = await t.h('send name=web snapshot=s2 target=tank/web target_pool=tank ssh=backup1');
    expect(i.errorCode).toBe(7);
    expect(i.errorMessage).toMatch(/tank\/web@rexx-base is the snapshot of a registered base and newer than s1/);
  });

  it('send needs exactly one of file= and target= (RC 2)', async () => {
    const { h, calls } = withZfs();
    expect((await h('send name=web snapshot=s1')).errorCode).toBe(2);
    expect(calls()).toEqual([]);
  });

  it('prune under dryrun lists the destroys it would run', async () => {
    const now = Math.floor(Date.now() / 1000);
    const out = [1, 2, 3, 4].map((i) => `rexxpool/web@checkpoint-${i}\tcreation\t${now - 1000 + i}\nrexxpool/web@checkpoint-${i}\tcreatetxg\t${i}\n`).join('');
    const { h } = withZfs({ zfs: { stdout: `${out}rexxpool/web@keepme\tcreatetxg\t9\n` } });
    const r = await h('prune name=web keep=2 dryrun=true');
    expect(r.output.split('\n')).toEqual(['zfs destroy rexxpool/web@checkpoint-1', 'zfs destroy rexxpool/web@checkpoint-2']);
    // and its stems say what it would destroy and keep (Verb.dryrunVars)
    expect(r.rexxVariables.PRUNED).toEqual({ 0: 2, 1: 'checkpoint-1', 2: 'checkpoint-2' });
    expect(r.rexxVariables.KEPT).toEqual({ 0: 2, 1: 'checkpoint-3', 2: 'checkpoint-4' });
  });
});
