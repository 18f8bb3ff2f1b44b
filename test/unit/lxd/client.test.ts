/**
 * The lxc/incus client table (handlers/lxd/client.ts): the argv each client gets for what
 * the verbs say in lxc's words, which client a handler picks (ADDRESS INCUS,
 * REXX_LXD_CLIENT, auto from PATH and the daemons' sockets), and Incus's error texts
 * mapped to the same RCs — with an injected fake runner, so nothing runs.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { table as incusTable } from '../../../handlers/incus';
import { table as lxdTable } from '../../../handlers/lxd';
import { CLIENTS, clientArgv } from '../../../handlers/lxd/client';
import { createHandler } from '../../../shared/dispatch';
import type { HandlerTable } from '../../../shared/verb';
import { fakeRunner, type FakeReply } from '../../helpers/fake-runner';
import { HOSTILE } from '../../helpers/hostile';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-client-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const SERVER = JSON.stringify({ environment: { server_version: '6.0.4', storage: 'dir', storage_supported_drivers: [{ Name: 'dir' }], kernel_version: '6.18' } });
const inst = (status: string, config: Record<string, string> = {}) =>
  JSON.stringify({ name: 'web', status, status_code: 0, type: 'container', config, profiles: ['default'], created_at: '2026-01-01T00:00:00Z' });

/** A handler of `table` with a fake runner answering `reply` (default: status's /1.0 and a stopped instance). */
function handler(table: HandlerTable, env: Record<string, string>, reply?: (argv: string[]) => FakeReply | undefined) {
  const f = fakeRunner((argv) => reply?.(argv) ?? (argv.at(-1) === '/1.0' ? { stdout: SERVER } : argv[1] === 'query' ? { stdout: inst('Stopped') } : undefined));
  return { h: createHandler(table, { env: { REXX_ADDRESS_STRICT_VARS: '1', PATH: '/nonexistent', ...env }, runner: f.runner }), f };
}

describe('clientArgv: lxc\'s words to each client\'s (pure)', () => {
  const incus = (...a: string[]) => clientArgv(CLIENTS.incus, a);
  it.each([
    [['snapshot', 'web', 's1'], ['snapshot', 'create', 'web', 's1']],
    [['snapshot', 'other:web', 's1', '--stateful'], ['snapshot', 'create', 'other:web', 's1', '--stateful']],
    [['restore', 'web', 's1'], ['snapshot', 'restore', 'web', 's1']],
    [['delete', 'web/s1'], ['snapshot', 'delete', 'web', 's1']],
    [['delete', 'other:web/rexx-base'], ['snapshot', 'delete', 'other:web', 'rexx-base']],
    [['rename', 'web/rexx-base', 'web/rexx-aside-1'], ['snapshot', 'rename', 'web', 'rexx-base', 'rexx-aside-1']],
    [['delete', 'web', '--force'], ['delete', 'web', '--force']],
    [['rename', 'web', 'www'], ['rename', 'web', 'www']],
    [['copy', 'web/rexx-base', 'web-1', '--config', 'user.rexx.cloned_from=web'], ['copy', 'web/rexx-base', 'web-1', '--config', 'user.rexx.cloned_from=web']],
    [['init', 'tiny', 'web', '--config', 'security.devlxd=false'], ['init', 'tiny', 'web', '--config', 'security.guestapi=false']],
    [['config', 'set', 'web', 'security.devlxd.images=true', 'user.a=1'], ['config', 'set', 'web', 'security.guestapi.images=true', 'user.a=1']],
    [['config', 'set', 'web', 'security.devlxd='], ['config', 'set', 'web', 'security.guestapi=']],
    // A command's own words are never touched.
    [['exec', 'web', '--mode=non-interactive', '--', 'echo', 'security.devlxd=1'], ['exec', 'web', '--mode=non-interactive', '--', 'echo', 'security.devlxd=1']],
    [['file', 'push', '/tmp/security.devlxd', 'web/root/x'], ['file', 'push', '/tmp/security.devlxd', 'web/root/x']],
    [['query', '/1.0/instances/web'], ['query', '/1.0/instances/web']],
    [['monitor', '--type=lifecycle', '--format=json'], ['monitor', '--type=lifecycle', '--format=json']],
  ])('incus %j → %j', (from, to) => {
    expect(incus(...from)).toEqual(to);
  });

  it('lxc gets the verbs\' argv as it is', () => {
    for (const a of [['snapshot', 'web', 's1'], ['delete', 'web/s1'], ['init', 'tiny', 'web', '--config', 'security.devlxd=false']]) {
      expect(clientArgv(CLIENTS.lxc, a)).toEqual(a);
    }
  });
});

describe('ADDRESS INCUS runs incus (fake runner)', () => {
  it.each([
    ['create name=web image=tiny config=security.devlxd=false', ['incus', 'init', 'tiny', 'web', '--config', 'security.guestapi=false']],
    ['snapshot name=web snapshot=s1', ['incus', 'snapshot', 'create', 'web', 's1']],
    ['restore name=web snapshot=s1', ['incus', 'snapshot', 'restore', 'web', 's1']],
    ['delete_snapshot name=web snapshot=s1', ['incus', 'snapshot', 'delete', 'web', 's1']],
    ['config_unset name=web key=security.devlxd', ['incus', 'config', 'set', 'web', 'security.guestapi=']],
    ['copy source=web destination=web2', ['incus', 'copy', 'web', 'web2']],
  ])('%s', async (cmd, argv) => {
    const { h, f } = handler(incusTable, {});
    const r = await h(cmd);
    expect(r.errorCode, r.errorMessage).toBe(0);
    expect(f.calls.every((c) => c[0] === 'incus'), JSON.stringify(f.calls)).toBe(true);
    // The call that starts with argv (copy adds its --config flags after it).
    expect(f.calls.some((c) => argv.every((a, i) => c[i] === a)), JSON.stringify(f.calls)).toBe(true);
  });

  it('config_get key=security.devlxd reads security.guestapi (fake runner)', async () => {
    const { h } = handler(incusTable, {}, (a) => (a[1] === 'query' ? { stdout: inst('Stopped', { 'security.guestapi': 'false' }) } : undefined));
    expect((await h('config_get name=web key=security.devlxd')).output).toBe('false');
  });

  it('dryrun lists incus command lines (fake runner)', async () => {
    const { h } = handler(incusTable, {});
    const r = await h('snapshot name=web snapshot=s1 dryrun=true');
    expect(r.output).toBe('incus snapshot create web s1');
    const v = await h('volume_snapshot pool=default volume=data snapshot=s1 dryrun=true');
    expect(v.output).toBe('incus storage volume snapshot create default data s1');
  });

  it('status: CLIENT incus, and the line says why (fake runner)', async () => {
    const { h } = handler(incusTable, { REXX_LXD_CLIENT: 'lxc' });
    const r = await h('status');
    expect(r.rexxVariables).toMatchObject({ CLIENT: 'incus', SERVER_VERSION: '6.0.4', REACHABLE: 1 });
    expect(r.output).toContain('client incus (ADDRESS INCUS)');
  });

  it('Incus\'s own words keep the RCs: a name that exists RC 4, exec of a missing instance -3, no daemon -6 / 6 (fake runner)', async () => {
    const exists = handler(incusTable, {}, (a) =>
      a[1] === 'init' ? { exitCode: 1, stderr: 'Error: Failed creating instance record: Add instance info to the database: Failed to create "instances" entry: UNIQUE constraint failed: instances.project_id, instances.name' } : undefined);
    expect((await exists.h('create name=web image=tiny')).errorCode).toBe(4);
    const gone = handler(incusTable, {}, (a) => (a[1] === 'exec' ? { exitCode: 1, stderr: 'Error: Failed to fetch instance "web" in project "default": Instance not found' } : undefined));
    expect((await gone.h('exec name=web command=true')).errorCode).toBe(-3);
    const DOWN: FakeReply = { exitCode: 1, stderr: "Error: The incus daemon doesn't appear to be started (socket path: /var/lib/incus/unix.socket)" };
    const down = handler(incusTable, {}, () => DOWN);
    expect((await down.h('exec name=web command=true')).errorCode).toBe(-6);
    const s = await down.h('status');
    expect(s.errorCode).toBe(6);
    expect(s.rexxVariables).toMatchObject({ REACHABLE: 0, CLIENT: 'incus' });
    expect(s.errorMessage).toMatch(/^Incus is not reachable/);
  });
});

describe('ADDRESS LXD picks its client (fake runner; PATH and sockets are temp files)', () => {
  /** A PATH dir with (empty) `bins` in it, and daemon dirs whose unix.socket exists for `up`. */
  function host(bins: string[], up: string[]) {
    const d = fs.mkdtempSync(path.join(tmp, 'h-'));
    fs.mkdirSync(path.join(d, 'bin'));
    for (const b of bins) fs.writeFileSync(path.join(d, 'bin', b), '', { mode: 0o755 });
    for (const n of ['lxd', 'incus']) {
      fs.mkdirSync(path.join(d, n));
      if (up.includes(n)) fs.writeFileSync(path.join(d, n, 'unix.socket'), '');
    }
    return { PATH: path.join(d, 'bin'), LXD_DIR: path.join(d, 'lxd'), INCUS_DIR: path.join(d, 'incus') };
  }
  const clientOf = async (env: Record<string, string>) => {
    const { h, f } = handler(lxdTable, env);
    const r = await h('status');
    expect(r.errorCode, r.errorMessage).toBe(0);
    return { client: r.rexxVariables.CLIENT, line: r.output.split('\n')[1], ran: f.calls[0]![0] };
  };

  it.each([
    [['lxc'], [], 'lxc', 'auto: only lxc is installed'],
    [['incus'], [], 'incus', 'auto: only incus is installed'],
    [['lxc', 'incus'], ['incus'], 'incus', "auto: both installed, only Incus's socket is there"],
    [['lxc', 'incus'], ['lxd'], 'lxc', "auto: both installed, only LXD's socket is there"],
    [['lxc', 'incus'], ['lxd', 'incus'], 'lxc', "auto: both installed, both daemons' sockets are there: lxc"],
    [['lxc', 'incus'], [], 'lxc', 'auto: both installed, no daemon socket: lxc'],
    [[], [], 'lxc', 'auto: neither lxc nor incus is on PATH'],
  ])('installed %j, sockets %j → %s', async (bins, up, want, why) => {
    const r = await clientOf(host(bins, up));
    expect(r).toEqual({ client: want, line: `client ${want} (${why})`, ran: want });
  });

  it('REXX_LXD_CLIENT=incus|lxc wins over what auto would pick; auto and empty are auto', async () => {
    expect((await clientOf({ ...host(['lxc', 'incus'], ['lxd']), REXX_LXD_CLIENT: 'incus' })).client).toBe('incus');
    expect((await clientOf({ ...host(['lxc', 'incus'], ['incus']), REXX_LXD_CLIENT: 'LXC' })).client).toBe('lxc');
    expect((await clientOf({ ...host(['incus'], []), REXX_LXD_CLIENT: 'auto' })).client).toBe('incus');
    expect((await clientOf({ ...host(['incus'], []), REXX_LXD_CLIENT: '' })).client).toBe('incus');
  });

  it('a daemon the env names is the one meant, answering or not: LXD_DIR alone → lxc, INCUS_DIR or INCUS_SOCKET alone → incus', async () => {
    const { PATH, LXD_DIR, INCUS_DIR } = host(['lxc', 'incus'], ['incus']);
    expect(await clientOf({ PATH, LXD_DIR, INCUS_DIR: '' })).toEqual({ client: 'lxc', line: 'client lxc (auto: both installed, LXD_DIR or LXD_SOCKET is set)', ran: 'lxc' });
    const up = host(['lxc', 'incus'], ['lxd']);
    expect((await clientOf({ PATH: up.PATH, INCUS_DIR: up.INCUS_DIR })).client).toBe('incus');
    expect((await clientOf({ PATH: up.PATH, INCUS_SOCKET: path.join(tmp, 'nowhere.socket') })).line).toBe('client incus (auto: both installed, INCUS_DIR or INCUS_SOCKET is set)');
    // Both named: the sockets decide.
    expect((await clientOf({ PATH, LXD_DIR, INCUS_DIR })).client).toBe('incus');
  });

  it('a hostile or unknown REXX_LXD_CLIENT is RC 2 and nothing runs (fake runner)', async () => {
    for (const v of [...HOSTILE.filter((x) => !['', 'lxc', 'incus', 'auto'].includes(x.trim().toLowerCase())), 'lxd', 'podman', '/usr/bin/incus']) {
      const { h, f } = handler(lxdTable, { REXX_LXD_CLIENT: v });
      const r = await h('list');
      expect(r.errorCode, JSON.stringify(v)).toBe(2);
      expect(r.errorMessage).toContain('REXX_LXD_CLIENT=');
      expect(f.calls).toEqual([]);
    }
  });
});
