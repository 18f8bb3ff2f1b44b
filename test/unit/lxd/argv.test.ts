/**
 * LXD verbs build the expected `lxc` argv, and lxc's error texts map to the right RC —
 * checked against a fake `lxc` on PATH that records its argv (test/helpers/fakebin.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHandler } from '../../../shared/dispatch';
import { table } from '../../../handlers/lxd';
import { plainArgv } from '../../../shared/guest-exec';
import { fakeBin, type FakeBin, type FakeSpec } from '../../helpers/fakebin';

const fakes: FakeBin[] = [];
afterEach(() => {
  while (fakes.length) fakes.pop()!.cleanup();
});

/** A handler whose `lxc` is a fake printing `spec`; returns the handler and the recorded calls. */
function withLxc(spec: FakeSpec = {}) {
  const fake = fakeBin({ lxc: spec });
  fakes.push(fake);
  return { h: createHandler(table, { env: fake.env }), calls: () => fake.calls().map((c) => c.slice(1)) };
}

const inst = (status: string, config: Record<string, string> = {}) =>
  JSON.stringify({ name: 'web', status, status_code: 0, type: 'container', config, profiles: ['default'], created_at: '2026-01-01T00:00:00Z' });

/** What copy adds so that a copy of a base is not a base (an empty value removes a key). */
const NOT_A_BASE = ['--config', 'user.rexx.base.snapshot=', '--config', 'user.rexx.base.created=', '--config', 'user.rexx.base.description='];

describe('argv of each verb (fake binary)', () => {
  it.each([
    ['create name=x image=tiny', [['init', 'tiny', 'x']]],
    ['init x tiny', [['init', 'tiny', 'x']]],
    [
      'create name=x image=images:debian/12 profile=default profile=net storage=fast memory=512MiB cpus=0-1 config=user.a=1 config=boot.autostart=true type=virtual-machine target=node1',
      [['init', 'images:debian/12', 'x', '--profile', 'default', '--profile', 'net', '--storage', 'fast', '--config', 'limits.memory=512MiB', '--config', 'limits.cpu=0-1', '--config', 'user.a=1', '--config', 'boot.autostart=true', '--vm', '--target', 'node1']],
    ],
    ['create name=x image=tiny remote=other', [['init', 'tiny', 'other:x']]],
    ['start web wait=none', [['start', 'web']]],
    ['stop web', [['stop', 'web', '--timeout', '30']]],
    ['stop web timeout=1500ms', [['stop', 'web', '--timeout', '2']]],
    ['stop web force', [['stop', 'web', '--force']]],
    ['delete web force=true', [['delete', 'web', '--force']]],
    ['copy source=web destination=web2', [['copy', 'web', 'web2', ...NOT_A_BASE, '--stateless']]],
    [
      'copy source=web destination=web to_remote=rexx-cluster mode=push target=member2',
      [['copy', 'web', 'rexx-cluster:web', ...NOT_A_BASE, '--target', 'member2', '--mode', 'push', '--stateless']],
    ],
    ['copy web web-back remote=rexx-cluster to_remote=local mode=relay', [['copy', 'rexx-cluster:web', 'local:web-back', ...NOT_A_BASE, '--mode', 'relay', '--stateless']]],
    ['move name=web to_remote=rexx-cluster mode=push', [['move', 'web', 'rexx-cluster:web', '--mode', 'push', '--stateless']]],
    ['move web rexx-cluster', [['move', 'web', 'rexx-cluster:web', '--stateless']]],
    ['move name=web remote=rexx-cluster target=member3', [['move', 'rexx-cluster:web', 'rexx-cluster:web', '--target', 'member3', '--stateless']]],
    ['move name=web remote=c to_remote=local destination=web2 storage=fast', [['move', 'c:web', 'local:web2', '--storage', 'fast', '--stateless']]],
    ['clone web/snap0 web-old instance_only storage=fast remote=r', [['copy', 'r:web/snap0', 'r:web-old', ...NOT_A_BASE, '--instance-only', '--storage', 'fast']]],
    ['snapshot web s1', [['snapshot', 'web', 's1']]],
    ['snapshot name=web snapshot=s1 stateful=true', [['snapshot', 'web', 's1', '--stateful']]],
    ['restore web s1', [['restore', 'web', 's1']]],
    ['delete_snapshot web s1', [['delete', 'web/s1']]],
    ['file_push name=web source=./index.html path=/var/www/index.html mode=0644 uid=0 gid=33 parents=true', [['file', 'push', './index.html', 'web/var/www/index.html', '--mode', '0644', '--uid', '0', '--gid', '33', '--create-dirs']]],
    ['file_push name=web path=/etc/motd content="hello there"', [['file', 'push', '-', 'web/etc/motd']]],
    ['file_pull name=web path=/etc/hostname destination=/tmp/h', [['file', 'pull', 'web/etc/hostname', '/tmp/h']]],
  ])('%s', async (cmd, argvs) => {
    const { h, calls } = withLxc();
    const r = await h(cmd);
    expect(r.errorMessage).toBe('');
    expect(calls()).toEqual(argvs);
  });

  it('start: lxc start exits once the instance is Running, so nothing more is asked (fake binary)', async () => {
    const { h, calls } = withLxc({ stdout: inst('Running') });
    const r = await h('start web');
    expect(r.success).toBe(true);
    expect(r.rexxVariables).toMatchObject({ STATUS: 'Running' });
    expect(calls()).toEqual([['start', 'web']]);
  });

  it('restart then waits for Running (fake binary)', async () => {
    const { h, calls } = withLxc({ stdout: inst('Running') });
    expect((await h('restart web')).success).toBe(true);
    expect(calls()).toEqual([['restart', 'web', '--timeout', '60'], ['query', '/1.0/instances/web']]);
  });

  it('delete without force looks the instance up first; a stopped one is deleted (fake binary)', async () => {
    const { h, calls } = withLxc({ stdout: inst('Stopped') });
    expect((await h('delete web')).success).toBe(true);
    expect(calls()).toEqual([['query', '/1.0/instances/web'], ['delete', 'web']]);
  });

  it.each([
    ['a running instance', inst('Running'), /is Running; stop it first/],
    ['a registered base', inst('Stopped', { 'user.rexx.base.snapshot': 'rexx-base' }), /is a registered base/],
  ])('delete of %s without force is refused, RC 7 (fake binary)', async (_l, stdout, why) => {
    const { h, calls } = withLxc({ stdout });
    const r = await h('delete web');
    expect(r.errorCode).toBe(7);
    expect(r.errorMessage).toMatch(why);
    expect(calls()).toEqual([['query', '/1.0/instances/web']]);
  });

  it('clone_from_base count=3 makes three copies of the base snapshot (fake binary)', async () => {
    const { h, calls } = withLxc();
    const r = await h('clone_from_base base=web name=w count=3 profile=p1 config=user.x=1 storage=fast');
    expect(r.success).toBe(true);
    expect(r.output).toBe('w-1\nw-2\nw-3');
    expect(r.rexxVariables).toMatchObject({ CLONES: { 0: 3, 1: 'w-1', 2: 'w-2', 3: 'w-3' }, CLONE_MS: expect.any(Number) });
    const argvs = calls().sort((a, b) => a[2]!.localeCompare(b[2]!));
    expect(argvs).toEqual(
      ['w-1', 'w-2', 'w-3'].map((n) => ['copy', 'web/rexx-base', n, '--config', 'user.rexx.cloned_from=web', '--profile', 'p1', '--config', 'user.x=1', '--storage', 'fast']),
    );
  });

  it('clone_from_base target= puts every clone on that cluster member (fake binary)', async () => {
    const { h, calls } = withLxc();
    expect((await h('clone_from_base base=web name=w count=2 remote=c target=member2')).success).toBe(true);
    expect(calls().sort((a, b) => a[2]!.localeCompare(b[2]!))).toEqual(
      ['w-1', 'w-2'].map((n) => ['copy', 'c:web/rexx-base', `c:${n}`, '--config', 'user.rexx.cloned_from=web', '--target', 'member2']),
    );
  });

  it('move without to_remote= or target= is RC 2 (a rename), before anything runs (fake binary)', async () => {
    const { h, calls } = withLxc();
    for (const cmd of ['move name=web', 'move name=web destination=web2', 'move name=web remote=c to_remote=c', 'move name=web to_remote=local']) {
      const r = await h(cmd);
      expect(r.errorCode, cmd).toBe(2);
      expect(r.errorMessage).toMatch(/to_remote=.*target=.*rename/);
    }
    expect(calls()).toEqual([]);
  });

  it.each([
    ['copy source=web destination=web to_remote=c', 'The source server isn\'t listening on the network', 7, /mode=push/],
    ['move name=web to_remote=c', 'The source server isn\'t listening on the network', 7, /mode=push/],
    ['move name=web remote=c target=member3', 'Error: Missing event connection with target cluster member', 6, /Missing event connection/],
    ['copy source=web destination=w2 remote=c', 'Error: Post "https://10.0.0.3:8443/1.0/instances": Unable to connect to: 10.0.0.3:8443 ([dial tcp 10.0.0.3:8443: connect: no route to host])', 6, /Unable to connect/],
    ['copy source=web destination=w2 to_remote=c mode=push', 'Error: Unable to perform container live migration. CRIU isn\'t installed on the destination server', 1, /CRIU/],
  ])('%s failing with "%s" is RC %i (fake binary)', async (cmd, stderr, rc, text) => {
    const { h } = withLxc({ stderr: `Error: ${stderr.replace(/^Error: /, '')}\n`, exit: 1 });
    const r = await h(cmd);
    expect(r.errorCode).toBe(rc);
    expect(r.errorMessage).toMatch(text);
  });

  it('list gives the LOCATION of each instance; info its LOCATION (fake binary)', async () => {
    const one = (name: string, location: string) => ({ ...JSON.parse(inst('Stopped')), name, location });
    const { h } = withLxc({ stdout: JSON.stringify([one('b', 'member2'), one('a', 'member1')]) });
    const r = await h('list remote=c');
    expect(r.rexxVariables).toMatchObject({ INSTANCES: { 0: 2, 1: 'a', 2: 'b' }, LOCATIONS: { 0: 2, 1: 'member1', 2: 'member2' } });
    const { h: h2 } = withLxc({ stdout: JSON.stringify(one('web', 'member3')) });
    expect((await h2('info web remote=c')).rexxVariables).toMatchObject({ LOCATION: 'member3' });
  });

  it('clone_from_base count=1 uses the name as is; start=true starts it (fake binary)', async () => {
    const { h, calls } = withLxc({ stdout: inst('Running') });
    expect((await h('clone_from_base web web-1 start=true')).output).toBe('web-1');
    expect(calls()).toEqual([
      ['copy', 'web/rexx-base', 'web-1', '--config', 'user.rexx.cloned_from=web'],
      ['start', 'web-1'],
    ]);
  });

  it('clone_from_base: a count that makes an overlong name is RC 2 before anything runs (fake binary)', async () => {
    const { h, calls } = withLxc();
    const r = await h(`clone_from_base base=web name=${'a'.repeat(62)} count=2`);
    expect(r.errorCode).toBe(2);
    expect(calls()).toEqual([]);
  });

  it('register_base of a stopped instance: snapshot then user.* keys (fake binary)', async () => {
    const { h, calls } = withLxc({ stdout: inst('Stopped'), when: [{ match: '/snapshots', stdout: '[]' }] });
    const r = await h('register_base web description="my base"');
    expect(r.errorMessage).toBe('');
    const c = calls();
    expect(c.slice(0, 4)).toEqual([['query', '/1.0/instances/web'], ['query', '/1.0/instances/web'], ['query', '/1.0/instances/web/snapshots'], ['snapshot', 'web', 'rexx-base']]);
    expect(c[4]!.slice(0, 4)).toEqual(['config', 'set', 'web', 'user.rexx.base.snapshot=rexx-base']);
    expect(c[4]![4]).toMatch(/^user\.rexx\.base\.created=\d{4}-\d\d-\d\dT/);
    expect(c[4]![5]).toBe('user.rexx.base.description=my base');
  });

  it('register_base of an already registered base is RC 4 (fake binary)', async () => {
    const { h } = withLxc({ stdout: inst('Stopped', { 'user.rexx.base.snapshot': 'rexx-base' }) });
    expect((await h('register_base web')).errorCode).toBe(4);
  });

  it('unregister_base removes the keys it finds and the snapshot (fake binary)', async () => {
    const { h, calls } = withLxc({ stdout: inst('Stopped', { 'user.rexx.base.snapshot': 'rexx-base', 'user.rexx.base.created': 'x' }) });
    expect((await h('unregister_base web')).success).toBe(true);
    expect(calls()).toEqual([
      ['query', '/1.0/instances/web'],
      ['config', 'unset', 'web', 'user.rexx.base.snapshot'],
      ['config', 'unset', 'web', 'user.rexx.base.created'],
      ['delete', 'web/rexx-base'],
    ]);
  });

  it('list and list_bases make one request for all instances (fake binary)', async () => {
    const all = JSON.stringify([
      JSON.parse(inst('Running', { 'user.rexx.cloned_from': 'base1' })),
      { ...JSON.parse(inst('Stopped', { 'user.rexx.base.snapshot': 'rexx-base', 'user.rexx.base.created': 'T' })), name: 'base1' },
    ]);
    const { h, calls } = withLxc({ stdout: all });
    const l = await h('list');
    expect(l.rexxVariables).toMatchObject({ INSTANCES: { 0: 2, 1: 'base1', 2: 'web' }, STATUSES: { 0: 2, 1: 'Stopped', 2: 'Running' } });
    expect((await h('list base=base1')).rexxVariables.INSTANCES).toEqual({ 0: 1, 1: 'web' });
    const b = await h('list_bases');
    expect(b.output).toBe('base1 rexx-base T');
    expect(b.rexxVariables).toMatchObject({ BASES: { 0: 1, 1: 'base1' } });
    expect(calls()).toEqual(Array(3).fill(['query', '/1.0/instances?recursion=1']));
  });

  it('info of a stopped clone reports its base without a state query (fake binary)', async () => {
    const { h, calls } = withLxc({ stdout: inst('Stopped', { 'user.rexx.cloned_from': 'base1' }) });
    const r = await h('state web');
    expect(r.output).toBe('Stopped');
    expect(r.rexxVariables).toMatchObject({ STATUS: 'Stopped', BASE: 'base1', IS_BASE: 0, PID: 0, IPV4: '' });
    expect(calls()).toEqual([['query', '/1.0/instances/web']]);
  });

  it('dryrun gives the same argv line the fake binary would have received (fake binary)', async () => {
    const { h, calls } = withLxc();
    const r = await h('create name=x image=tiny config=user.note="a b" dryrun=true');
    expect(r.output).toBe("lxc init tiny x --config 'user.note=a b'");
    expect(calls()).toEqual([]);
  });
});

describe('exec: the guest /bin/sh -c by default, an exact argv with arg= or shell=never (fake binary)', () => {
  const X = ['exec', 'web', '--mode=non-interactive'];
  const SH = ['--', '/bin/sh', '-c'];
  it.each([
    ['command="ls -la /"', [...SH, 'ls -la /']],
    ['command="exit 3"', [...SH, 'exit 3']],
    ['command="cd /tmp"', [...SH, 'cd /tmp']],
    ['command="A=1 env"', [...SH, 'A=1 env']],
    ['web hostname', [...SH, 'hostname']],
    ['command="apt update && apt install -y nginx"', [...SH, 'apt update && apt install -y nginx']],
    ["command='cat /etc/os-release | head -1'", [...SH, 'cat /etc/os-release | head -1']],
    ["command='echo $HOME'", [...SH, 'echo $HOME']],
    ['command="ls -la /" shell=never', ['--', 'ls', '-la', '/']],
    [`command="echo 'a b'" shell=never`, ['--', 'echo', 'a b']],
    ['arg=ls arg=-la arg="a b;c"', ['--', 'ls', '-la', 'a b;c']],
    ['command=env env=A=1 env=B="x y" user=1000 group=1000', ['--env', 'A=1', '--env', 'B=x y', '--user', '1000', '--group', '1000', ...SH, 'env']],
  ])('exec name=web %s', async (rest, tail) => {
    const { h, calls } = withLxc({ stdout: 'out1\nout2' });
    const r = await h(rest.startsWith('web ') ? `exec ${rest}` : `exec name=web ${rest}`);
    expect(r.success).toBe(true);
    expect(r.output).toBe('out1\nout2');
    expect(r.rexxVariables).toMatchObject({ LINES: { 0: 2, 1: 'out1', 2: 'out2' }, STDERR: '', EXIT_CODE: 0, ERRORTEXT: '' });
    expect(calls()).toEqual([[...X, ...tail]]);
  });

  it('execute is exec (the name RexxJS\'s own LXD handler used)', async () => {
    const { h, calls } = withLxc();
    expect((await h("execute name=web command='apt update && apt install -y nodejs'")).success).toBe(true);
    expect(calls()).toEqual([[...X, ...SH, 'apt update && apt install -y nodejs']]);
  });

  it.each([
    ['exec name=web', /give command= or arg=/],
    ['exec name=web command=ls arg=ls', /give command= or arg=/],
    ['exec name=web command="a | b" shell=never', /shell syntax .* but shell=never/],
    ['exec name=web command=""', /command is empty/],
    ['exec name=web command=ls user=-1', /at least 0/],
    ['exec name=web command=ls cwd=tmp', /cwd=/],
    ['exec name=web command=ls env=1A=x', /env=/],
    ['exec name=web command=ls shell=auto', /shell=/],
  ])('%s → RC -2, nothing run (fake binary)', async (cmd, why) => {
    const { h, calls } = withLxc();
    const r = await h(cmd);
    expect(r.errorCode).toBe(-2);
    expect(r.errorMessage).toMatch(why);
    expect(r.rexxVariables).toMatchObject({ EXIT_CODE: '', STDERR: '', LINES: { 0: 0 } });
    expect(calls()).toEqual([]);
  });

  it("RC is the command's own exit code; STDERR and RESULT are kept (fake binary)", async () => {
    const { h } = withLxc({ exit: 3, stdout: 'partial', stderr: 'grep: nothing\n' });
    const r = await h('exec web "grep x /etc/hosts"');
    expect(r).toMatchObject({ success: false, errorCode: 3, errorMessage: 'grep: nothing', output: 'partial' });
    expect(r.rexxVariables).toMatchObject({ STDERR: 'grep: nothing', EXIT_CODE: 3, LINES: { 0: 1, 1: 'partial' } });
  });

  it('exit 1 without an lxc error is the command failing, RC 1 (fake binary)', async () => {
    const r = await withLxc({ exit: 1 }).h('exec web false');
    expect(r.errorCode).toBe(1);
    expect(r.errorMessage).toBe('command exited with code 1');
  });

  it.each([
    ['Error: Instance not found', -3],
    ['Error: Instance is not running', -1],
    ['Error: Get "http://unix.socket/1.0": dial unix /var/lib/lxd/unix.socket: connect: no such file or directory', -6],
  ])("lxc's own failure %j: the command never ran → RC %d (fake binary)", async (stderr, rc) => {
    const r = await withLxc({ exit: 1, stderr }).h('exec web hostname');
    expect(r.errorCode).toBe(rc);
    expect(r.errorMessage).toBe(stderr);
  });

  it('input= goes to the command on stdin (fake binary)', async () => {
    // a fake lxc that echoes its stdin, to see input= arrive
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-fake-stdin-'));
    try {
      fs.writeFileSync(path.join(dir, 'lxc'), '#!/bin/sh\nexec cat\n', { mode: 0o755 });
      const h = createHandler(table, { env: { PATH: `${dir}:${process.env.PATH}` } });
      const r = await h('exec web cat input="line 1"');
      expect(r.output).toBe('line 1');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([
    ['ls -la', ['ls', '-la']],
    ['a "b c"', ['a', 'b c']],
    ['a && b', undefined],
    ['a; b', undefined],
    ['echo $X', undefined],
    ['echo ${X}', undefined],
    ['ls *', undefined],
    ['a # c', undefined],
    ['(a)', undefined],
    ['a `b`', undefined],
  ])('plainArgv(%j) → %j', (cmd, argv) => expect(plainArgv(cmd)).toEqual(argv));
});

describe("lxc's error texts → RC (fake binary)", () => {
  it.each([
    ['Error: Get "http://unix.socket/1.0": dial unix /var/lib/lxd/unix.socket: connect: no such file or directory', 6],
    ['Error: Get "http://unix.socket/1.0": dial unix /var/lib/lxd/unix.socket: connect: connection refused', 6],
    ['Error: LXD unix socket "/var/lib/lxd/unix.socket" not accessible: permission denied', 6],
    ['Error: Instance not found', 3],
    ['Error: Failed checking instance exists "local:web": Instance not found', 3],
    ['Error: Not Found', 3],
    ['Error: Image "nope" not found', 3],
    ['Error: The remote "other" does not exist', 3],
    ['Error: Failed creating instance record: Add instance info to the database: This "instances" entry already exists', 4],
    ['Error: Instance "web" already exists', 4],
    ['Error: context deadline exceeded', 5],
    ['Error: Something unexpected happened', 1],
    ['', 1],
  ])('%j → RC %d', async (stderr, rc) => {
    const r = await withLxc({ exit: 1, stderr }).h('create name=x image=tiny');
    expect(r.success).toBe(false);
    expect(r.errorCode).toBe(rc);
    expect(r.rexxVariables.ERRORTEXT).toBe(r.errorMessage);
    if (stderr) expect(r.errorMessage).toBe(stderr);
  });

  it('a query that fails with "not found" makes info RC 3 (fake binary)', async () => {
    const r = await withLxc({ exit: 1, stderr: 'Error: Instance not found' }).h('info web');
    expect(r.errorCode).toBe(3);
    expect(r.errorMessage).toBe('instance web not found');
  });

  it('status when the daemon is down: RC 6 with REACHABLE=0 (fake binary)', async () => {
    const r = await withLxc({ exit: 1, stderr: 'Error: Get "http://unix.socket/1.0": dial unix /x/unix.socket: connect: no such file or directory' }).h('status');
    expect(r.errorCode).toBe(6);
    expect(r.rexxVariables).toMatchObject({ REACHABLE: 0, SERVER_VERSION: '' });
    expect(r.output).toMatch(/reachable no/);
  });

  it('start of an already running instance is RC 0 (fake binary)', async () => {
    const r = await withLxc({ exit: 1, stderr: 'Error: The instance is already running' }).h('start web');
    expect(r.success).toBe(true);
    expect(r.output).toBe('Running');
  });

  it('stop of an already stopped instance is RC 0 (fake binary)', async () => {
    const r = await withLxc({ exit: 1, stderr: 'Error: The instance is already stopped' }).h('stop web');
    expect(r.success).toBe(true);
  });

  it('clone_from_base from an unregistered base is RC 3 naming the base (fake binary)', async () => {
    const r = await withLxc({ exit: 1, stderr: 'Error: Failed to get snapshot: Instance snapshot not found' }).h('clone_from_base base=nob name=c count=2');
    expect(r.errorCode).toBe(3);
    expect(r.errorMessage).toMatch(/2 of 2 failed/);
    expect(r.errorMessage).toMatch(/base 'nob' not found/);
    expect(r.rexxVariables.CLONES).toEqual({ 0: 0 });
  });

  it('lxc missing from PATH (and no LXD socket to read from) → RC 6', async () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-empty-path-'));
    try {
      const h = createHandler(table, { env: { PATH: empty, LXD_SOCKET: path.join(empty, 'no-lxd.socket') } });
      for (const cmd of ['create name=x image=tiny', 'info web', 'exec web hostname', 'status']) {
        const r = await h(cmd);
        expect(r.errorCode, cmd).toBe(cmd.startsWith('exec') ? -6 : 6);
        expect(r.errorMessage).toMatch(/lxc is not installed or not on PATH/);
      }
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });
});
