/**
 * spec's new settings (bind mounts, limits, user, network, capabilities) and their
 * check against the OCI runtime-spec JSON schema, with a fake runtime whose `spec`
 * writes a runc 1.1-like template; the argv of update, ps and events with fake
 * binaries; logs from a written file; and the pure helpers (capabilities, mounts,
 * resources, runc events, cgroup files). The real runtimes: test/integration/lxcri/control.test.ts.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler } from '../../../shared/dispatch';
import { table } from '../../../handlers/lxcri';
import { bindMount, patchCapabilities, patchProcess } from '../../../handlers/lxcri/bundle-config';
import { readLimits, updateFlags, withResources } from '../../../handlers/lxcri/limits';
import { fixRefs, ociConfigProblem } from '../../../handlers/lxcri/oci-schema';
import { cgroupStats, runcEvents, statsFromRunc } from '../../../handlers/lxcri/stats';
import { createEffects } from '../../../shared/effects';
import { fakeBin, type FakeBin } from '../../helpers/fakebin';

/** A runc 1.1.5 `spec` template, as it writes it (abridged: the parts the patches touch and the policy checks). */
const TEMPLATE = {
  ociVersion: '1.0.2-dev',
  process: {
    terminal: true,
    user: { uid: 0, gid: 0 },
    args: ['sh'],
    env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
    cwd: '/',
    capabilities: {
      bounding: ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'],
      effective: ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'],
      permitted: ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'],
      ambient: ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'],
    },
    noNewPrivileges: true,
  },
  root: { path: 'rootfs', readonly: true },
  hostname: 'runc',
  mounts: [
    { destination: '/proc', type: 'proc', source: 'proc' },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
  ],
  linux: {
    resources: { devices: [{ allow: false, access: 'rwm' }] },
    namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
    maskedPaths: ['/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/sys/firmware', '/proc/scsi'],
    readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
  },
};

/** Host reads, as ctx gives them. */
const host = createEffects({ dryrun: false, log: () => undefined });
const cache = () => ({ cache: new Map<string, unknown>() });

let tmp: string;
let fake: FakeBin;
/** A fake `runc` that writes `template.json` as DIR/config.json for `spec --bundle DIR` and records every call. */
function fakeRuntime(dir: string, template: unknown) {
  fs.writeFileSync(`${dir}/template.json`, JSON.stringify(template));
  const log = `${dir}/calls.jsonl`;
  fs.writeFileSync(
    `${dir}/runc`,
    `#!/usr/bin/env node
const fs = require('fs');
const a = process.argv.slice(2);
fs.appendFileSync(${JSON.stringify(log)}, JSON.stringify(a) + '\\n');
const i = a.indexOf('spec');
if (i >= 0) fs.copyFileSync(${JSON.stringify(`${dir}/template.json`)}, a[a.indexOf('--bundle') + 1] + '/config.json');
`,
    { mode: 0o755 },
  );
  return { calls: () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as string[]) : []) };
}

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-lxcri-control-'));
  fs.mkdirSync(`${tmp}/bin`);
  fs.mkdirSync(`${tmp}/src`);
  fake = fakeBin({});
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
  fake?.cleanup();
});

const env = (more: Record<string, string> = {}) => ({ PATH: `${tmp}/bin:${process.env.PATH}`, REXX_OCI_ROOT: `${tmp}/run`, REXX_OCI_DIR: `${tmp}/oci`, ...more });
/** A fresh, empty bundle folder. */
const bundle = (n: string) => {
  const b = `${tmp}/b-${n}`;
  fs.mkdirSync(b, { recursive: true });
  return b;
};
const leftovers = (b: string) => fs.readdirSync(b).filter((f) => f.startsWith('.rexx-spec-'));

describe('spec with the new settings (fake runtime)', () => {
  it('writes mounts, limits, user, network, capabilities; the result passes the runtime-spec schema', async () => {
    fakeRuntime(`${tmp}/bin`, TEMPLATE);
    const h = createHandler(table, { env: env({ REXX_LXCRI_ALLOW_UNSAFE: '1' }) });
    const b = bundle('good');
    const r = await h(
      `spec bundle=${b} arg=sleep arg=9 mount=${tmp}/src:/data:ro mount=${tmp}/src:/rw memory=64M cpus=0.5 pids_limit=50 user=1000:1000 network=host cap_add=CAP_CHOWN cap_drop=CAP_KILL runtime=runc`,
    );
    expect(r.errorCode, r.errorMessage).toBe(0);
    const c = JSON.parse(fs.readFileSync(`${b}/config.json`, 'utf8'));
    expect(c.mounts.slice(-2)).toEqual([
      { destination: '/data', type: 'bind', source: `${tmp}/src`, options: ['rbind', 'rprivate', 'ro'] },
      { destination: '/rw', type: 'bind', source: `${tmp}/src`, options: ['rbind', 'rprivate'] },
    ]);
    expect(c.linux.resources).toMatchObject({ memory: { limit: 64 * 2 ** 20 }, cpu: { quota: 50_000, period: 100_000 }, pids: { limit: 50 } });
    expect(c.process.user).toEqual({ uid: 1000, gid: 1000 });
    expect(c.linux.namespaces.map((n: { type: string }) => n.type)).toEqual(['pid', 'ipc', 'uts', 'mount']);
    expect(c.process.capabilities.bounding).toEqual(['CAP_AUDIT_WRITE', 'CAP_NET_BIND_SERVICE', 'CAP_CHOWN']);
    expect(c.process.capabilities.ambient).toEqual(['CAP_AUDIT_WRITE', 'CAP_NET_BIND_SERVICE', 'CAP_CHOWN']);
    expect(await ociConfigProblem(cache(), c)).toBeUndefined();
    expect(leftovers(b)).toEqual([]);
  });

  it('network=none keeps one network namespace; a safe spec needs no unsafe setting', async () => {
    fakeRuntime(`${tmp}/bin`, TEMPLATE);
    const h = createHandler(table, { env: env() });
    const b = bundle('none');
    const r = await h(`spec bundle=${b} network=none cap_add=CAP_CHOWN user=0:0 runtime=runc`);
    expect(r.errorCode, r.errorMessage).toBe(0);
    const c = JSON.parse(fs.readFileSync(`${b}/config.json`, 'utf8'));
    expect(c.linux.namespaces.filter((n: { type: string }) => n.type === 'network')).toEqual([{ type: 'network' }]);
  });

  it.each([
    ['a bind mount', (t: string) => `mount=${t}/src:/data:ro`, /bind-mounts a host path/],
    ["the host's network", () => 'network=host', /no network namespace/],
    ['a capability beyond Docker\'s defaults', () => 'cap_add=CAP_SYS_ADMIN', /adds CAP_SYS_ADMIN/],
  ])('%s is RC 7 without REXX_LXCRI_ALLOW_UNSAFE=1, and nothing is written (an existing config.json stays)', async (_what, arg, why) => {
    fakeRuntime(`${tmp}/bin`, TEMPLATE);
    const h = createHandler(table, { env: env() });
    const b = bundle(`unsafe-${Math.random().toString(36).slice(2, 8)}`);
    fs.writeFileSync(`${b}/config.json`, '{"ociVersion":"1.0.2","old":true}');
    const r = await h(`spec bundle=${b} ${arg(tmp)} force=true runtime=runc`);
    expect(r.errorCode, r.errorMessage).toBe(7);
    expect(r.errorMessage).toMatch(why);
    expect(JSON.parse(fs.readFileSync(`${b}/config.json`, 'utf8')).old).toBe(true);
    expect(leftovers(b)).toEqual([]);
  });

  it('a runtime template the schema refuses is RC 2 naming the path, and nothing is written', async () => {
    const { ociVersion: _v, ...noVersion } = TEMPLATE;
    fakeRuntime(`${tmp}/bin`, { ...noVersion, process: { ...TEMPLATE.process, user: { uid: -1, gid: 0 } } });
    const h = createHandler(table, { env: env() });
    const b = bundle('schema');
    const r = await h(`spec bundle=${b} runtime=runc`);
    expect(r.errorCode).toBe(2);
    expect(r.errorMessage).toMatch(/not a valid OCI runtime config \(runtime-spec v1\.3\.0 schema\): \/(?:process\/user\/uid)?: /);
    expect(fs.existsSync(`${b}/config.json`)).toBe(false);
    expect(leftovers(b)).toEqual([]);
  });

  it('a mount source that does not exist is RC 3 before the runtime runs', async () => {
    const rt = fakeRuntime(`${tmp}/bin`, TEMPLATE);
    const before = rt.calls().length;
    const h = createHandler(table, { env: env({ REXX_LXCRI_ALLOW_UNSAFE: '1' }) });
    const b = bundle('nosrc');
    const r = await h(`spec bundle=${b} mount=${tmp}/no-such:/data runtime=runc`);
    expect(r.errorCode).toBe(3);
    expect(r.errorMessage).toContain(`${tmp}/no-such does not exist`);
    expect(rt.calls().length).toBe(before);
  });

  // Values each rule refuses (RC 2) before anything runs or is written, beyond the shared hostile list (hostile.test.ts).
  it.each([
    'mount=relative:/data', 'mount=/srv:data', 'mount=/srv:/data:rw,exec', 'mount=/srv:/data:nosuid', 'mount=/srv:/', 'mount=/srv:/a:/b',
    'mount=/srv/../etc:/data', 'mount=/srv:/data/..', 'mount=-/srv:/data', 'mount=/srv', 'mount=/srv:/data:ro:x',
    'user=1000', 'user=root:root', 'user=-1:0', 'user=4294967295:0', 'user=1000:1000:1', 'user=1000 :0',
    'cap_add=CAP_BOGUS', 'cap_add=chown', 'cap_add=cap_chown', 'cap_add=CHOWN', 'cap_drop=CAP_CHOWN,CAP_KILL', 'cap_drop=all', 'cap_add=CAP_',
    'memory=lots', 'memory=-1', 'memory=0', 'memory=1X', 'memory=64M;reboot', 'cpus=0', 'cpus=-1', 'cpus=1e3', 'cpus=0.0001', 'cpus=2000', 'cpus=1/2',
    'pids_limit=0', 'pids_limit=-5', 'pids_limit=many', 'network=bridge', 'network=container:web',
  ])('spec %s → RC 2, nothing run, nothing written (fake runtime)', async (arg) => {
    const rt = fakeRuntime(`${tmp}/bin`, TEMPLATE);
    const before = rt.calls().length;
    const h = createHandler(table, { env: env({ REXX_LXCRI_ALLOW_UNSAFE: '1' }) });
    const b = bundle('bad');
    const r = await h(`spec bundle=${b} ${arg.replace(/ /g, '\\ ')} runtime=runc`);
    expect(r.errorCode, r.errorMessage).toBe(2);
    expect(rt.calls().length).toBe(before);
    expect(fs.existsSync(`${b}/config.json`)).toBe(false);
  });
});

describe('update, ps, events, logs (fake runtime / files)', () => {
  const R = () => `${tmp}/run/runc`;
  it('update passes --memory, --cpu-quota/--cpu-period, --pids-limit in the form runc and crun both parse (dryrun)', async () => {
    const h = createHandler(table, { env: env() });
    const r = await h('update c1 memory=128M cpus=1.5 pids_limit=64 runtime=runc dryrun=true');
    expect(r.errorCode, r.errorMessage).toBe(0);
    expect(r.output).toBe(`runc --root ${R()} update --memory=134217728 --cpu-quota=150000 --cpu-period=100000 --pids-limit=64 c1`);
    expect((await h('update c1 runtime=runc')).errorCode).toBe(2);
  });

  it('ps lists the pids runtime ps gives, with their command lines from /proc (fake runc)', async () => {
    const f = fakeBin({ runc: { when: [{ match: 'state', stdout: JSON.stringify({ id: 'c1', pid: process.pid, status: 'running', bundle: '/x' }) }], stdout: `[${process.pid}]` } });
    try {
      const h = createHandler(table, { env: { ...env(), PATH: f.env.PATH } });
      const r = await h('ps c1 runtime=runc');
      expect(r.errorCode, r.errorMessage).toBe(0);
      expect(r.rexxVariables.PIDS).toEqual({ 0: 1, 1: process.pid });
      expect(String((r.rexxVariables.COMMANDS as Record<number, string>)[1])).toContain('node');
      expect(f.calls()).toContainEqual(['runc', '--root', R(), 'ps', '--format=json', 'c1']);
    } finally {
      f.cleanup();
    }
  });

  it('events reads runc events lines: the last stats, and oom events counted (fake runc)', async () => {
    const stats = { type: 'stats', id: 'c1', data: { memory: { usage: { usage: 1000, limit: 9223372036854771712, max: 2000, failcnt: 3 } }, cpu: { usage: { total: 55 } }, pids: { current: 2, limit: 50 } } };
    const f = fakeBin({ runc: { stdout: `${JSON.stringify(stats)}\n{"type":"oom","id":"c1"}\n` } });
    try {
      const h = createHandler(table, { env: { ...env(), PATH: f.env.PATH } });
      const r = await h('events c1 duration=1s runtime=runc');
      expect(r.errorCode, r.errorMessage).toBe(0);
      expect(r.rexxVariables).toMatchObject({ MEMORY_USAGE: 1000, MEMORY_LIMIT: 'max', MEMORY_MAX: 2000, MEMORY_FAILCNT: 3, CPU_NS: 55, PIDS: 2, PIDS_LIMIT: 50, OOM: 1, SAMPLES: 1, SOURCE: 'runc events' });
      expect(r.rexxVariables.EVENTS).toEqual({ 0: 2, 1: 'stats', 2: 'oom' });
      expect(f.calls()[f.calls().length - 1]).toEqual(['runc', '--root', R(), 'events', '--interval=500ms', 'c1']);
    } finally {
      f.cleanup();
    }
  });

  it('logs gives the output log, tail=N its last N lines; no log of a missing container is RC 3', async () => {
    fs.mkdirSync(R(), { recursive: true });
    fs.writeFileSync(`${R()}/c9.out.log`, 'one\ntwo\nthree\n');
    const h = createHandler(table, { env: { ...env(), PATH: fake.env.PATH } });
    const all = await h('logs c9 runtime=runc');
    expect(all.output).toBe('one\ntwo\nthree');
    const t = await h('logs c9 tail=2 runtime=runc');
    expect(t.rexxVariables.LINES).toEqual({ 0: 2, 1: 'two', 2: 'three' });
    expect((await h('logs c-none runtime=runc')).errorCode).toBe(3);
  });
});

describe('pure helpers', () => {
  it('patchCapabilities adds to bounding/effective/permitted and the sets the config has, drops from all; ALL', () => {
    const caps = { bounding: ['CAP_KILL'], effective: ['CAP_KILL'], permitted: ['CAP_KILL'], ambient: ['CAP_KILL'] };
    expect(patchCapabilities(caps, ['CAP_CHOWN'], ['CAP_KILL'])).toEqual({ bounding: ['CAP_CHOWN'], effective: ['CAP_CHOWN'], permitted: ['CAP_CHOWN'], ambient: ['CAP_CHOWN'] });
    expect(patchCapabilities(caps, [], ['ALL'])).toEqual({ bounding: [], effective: [], permitted: [], ambient: [] });
    expect(patchCapabilities(undefined, ['CAP_CHOWN'], []).inheritable).toBeUndefined();
    expect(patchCapabilities(undefined, ['ALL'], []).bounding).toHaveLength(41);
  });
  it('bindMount, withResources, updateFlags, readLimits', () => {
    expect(bindMount('/a:/b')).toEqual({ destination: '/b', type: 'bind', source: '/a', options: ['rbind', 'rprivate'] });
    expect(readLimits({ memory: '1G', cpus: '0.25', pids_limit: 10 })).toEqual({ memory: 2 ** 30, cpuQuota: 25_000, pidsLimit: 10 });
    expect(withResources({ devices: [] }, { memory: 5 })).toEqual({ devices: [], memory: { limit: 5 } });
    expect(updateFlags({ pidsLimit: 3 })).toEqual(['--pids-limit=3']);
  });
  it('patchProcess leaves the config alone when nothing new is asked', () => {
    expect(patchProcess(TEMPLATE, {})).toEqual(TEMPLATE);
  });
  it('the schema: the template passes; wrong types, values and missing members are named by path', async () => {
    const c = cache();
    expect(await ociConfigProblem(c, TEMPLATE)).toBeUndefined();
    expect(await ociConfigProblem(c, { ...TEMPLATE, linux: { ...TEMPLATE.linux, resources: { memory: { limit: '1G' } } } })).toMatch(/^\/linux\/resources\/memory\/limit: .*integer/);
    expect(await ociConfigProblem(c, { ...TEMPLATE, linux: { ...TEMPLATE.linux, namespaces: [{ type: 'bogus' }] } })).toMatch(/^\/linux\/namespaces\/0\/type: /);
    expect(await ociConfigProblem(c, { ...TEMPLATE, mounts: [{ source: '/x' }] })).toMatch(/^\/mounts\/0: .*destination/);
    expect(await ociConfigProblem(c, { ...TEMPLATE, ociVersion: undefined })).toMatch(/^\/: .*ociVersion/);
    // The one malformed ref of v1.3.0's defs.json, read as a JSON pointer.
    expect(fixRefs({ a: { $ref: '#definitions/uint32' }, b: { $ref: 'defs.json#/definitions/x' } })).toEqual({ a: { $ref: '#/definitions/uint32' }, b: { $ref: 'defs.json#/definitions/x' } });
  });
  it('runcEvents skips a cut last line; statsFromRunc reads no limit as max', () => {
    expect(runcEvents('{"type":"oom"}\n{"type":"sta').map((e) => e.type)).toEqual(['oom']);
    expect(statsFromRunc({ pids: { current: 1, limit: 0 } })).toMatchObject({ pids: 1, pidsLimit: 'max', memoryUsage: '' });
    expect(statsFromRunc({ pids: { current: 1 } }).pidsLimit).toBe('max');
    expect(statsFromRunc({}).pidsLimit).toBe('');
  });
  it('cgroupStats reads this process\'s cgroup files (v1 or v2, whichever the host has)', () => {
    const s = cgroupStats(host, process.pid);
    expect(typeof s.stats.memoryUsage).toBe('number');
    expect(s.stats.pids === '' || typeof s.stats.pids === 'number').toBe(true);
  });
});
