/**
 * handlers/lxcri/bundle-policy.ts: which config.json settings and bundle placements are
 * refused (RC 7 unless REXX_LXCRI_ALLOW_UNSAFE=1). The defaults `runc spec` and
 * `umoci unpack` write (copied here from runc 1.1 and umoci 0.4 on this host) must pass;
 * each way out to the host must not. Placement checks use real temporary directories.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkBundle, unsafePlacement, unsafeSettings } from '../../../handlers/lxcri/bundle-policy';
import { table } from '../../../handlers/lxcri';
import { createEffects } from '../../../shared/effects';
import type { Ctx } from '../../../shared/verb';

/** The host read through ctx.fs, as the handler reads it. */
const files = createEffects({ dryrun: false, log: () => undefined }).fs;

const CAPS = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];
/** `runc spec` (runc 1.1.5), without process.args/env. */
const RUNC_SPEC = {
  ociVersion: '1.0.2-dev',
  process: { terminal: false, user: { uid: 0, gid: 0 }, cwd: '/', capabilities: { bounding: CAPS, effective: CAPS, permitted: CAPS, ambient: CAPS }, noNewPrivileges: true },
  root: { path: 'rootfs', readonly: true },
  hostname: 'runc',
  mounts: [
    { destination: '/proc', type: 'proc', source: 'proc' },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
  ],
  linux: {
    resources: { devices: [{ allow: false, access: 'rwm' }] },
    namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
    maskedPaths: ['/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/sys/firmware', '/proc/scsi'],
    readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
  },
};
/** What `umoci unpack` (0.4) differs in: annotations, masked/read-only lists, inheritable caps. */
const UMOCI = {
  ...RUNC_SPEC,
  annotations: { 'org.opencontainers.image.architecture': 'amd64', 'org.opencontainers.image.os': 'linux', 'org.opencontainers.image.created': '2026-11-29T20:22:40Z' },
  process: { ...RUNC_SPEC.process, capabilities: { ...RUNC_SPEC.process.capabilities, inheritable: CAPS } },
  linux: {
    ...RUNC_SPEC.linux,
    maskedPaths: ['/proc/kcore', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/sys/firmware', '/proc/scsi'],
    readonlyPaths: ['/proc/asound', '/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
  },
};
const edit = (f: (c: typeof RUNC_SPEC & Record<string, unknown>) => void) => {
  const c = structuredClone(RUNC_SPEC) as typeof RUNC_SPEC & Record<string, unknown>;
  f(c);
  return c;
};

describe('unsafeSettings: what config.json may ask for', () => {
  it('the runc spec and umoci defaults pass', () => {
    expect(unsafeSettings(RUNC_SPEC)).toEqual([]);
    expect(unsafeSettings(UMOCI)).toEqual([]);
  });

  it.each([
    ['a prestart hook', (c: Record<string, unknown>) => (c.hooks = { prestart: [{ path: '/bin/sh', args: ['sh', '-c', 'id > /tmp/x'] }] }), /hooks\.prestart\[0\] runs \/bin\/sh on the host/],
    ['a createRuntime hook', (c: Record<string, unknown>) => (c.hooks = { createRuntime: [{ path: '/x' }] }), /hooks\.createRuntime\[0\]/],
    ['a bind mount of /', (c: typeof RUNC_SPEC) => c.mounts.push({ destination: '/host', type: 'none', source: '/', options: ['rbind', 'rw'] }), /mounts\[7\] \(none \/ on \/host\) bind-mounts a host path/],
    ['a bind mount by type', (c: typeof RUNC_SPEC) => c.mounts.push({ destination: '/h', type: 'bind', source: '/etc', options: [] }), /bind-mounts a host path/],
    ['a host disk', (c: typeof RUNC_SPEC) => c.mounts.push({ destination: '/d', type: 'ext4', source: '/dev/vda1', options: [] }), /other than a kernel filesystem/],
    ['a writable /sys', (c: typeof RUNC_SPEC) => (c.mounts[5]!.options = ['nosuid']), /mounts\[5\] \(sysfs sysfs on \/sys\) is writable/],
    ['CAP_SYS_ADMIN', (c: typeof RUNC_SPEC) => (c.process.capabilities.bounding = [...CAPS, 'CAP_SYS_ADMIN']), /capabilities\.bounding adds CAP_SYS_ADMIN/],
    ['CAP_DAC_READ_SEARCH (open_by_handle_at)', (c: typeof RUNC_SPEC) => (c.process.capabilities.effective = ['CAP_DAC_READ_SEARCH']), /effective adds CAP_DAC_READ_SEARCH/],
    ['the host pid namespace', (c: typeof RUNC_SPEC) => (c.linux.namespaces = c.linux.namespaces.filter((n) => n.type !== 'pid')), /no pid namespace: it shares the host's/],
    ['the host network', (c: typeof RUNC_SPEC) => (c.linux.namespaces = c.linux.namespaces.filter((n) => n.type !== 'network')), /no network namespace/],
    ['joining PID 1\'s mount namespace', (c: typeof RUNC_SPEC) => ((c.linux.namespaces[4] as Record<string, unknown>).path = '/proc/1/ns/mnt'), /joins the mount namespace at \/proc\/1\/ns\/mnt/],
    ['a device node', (c: typeof RUNC_SPEC) => ((c.linux as Record<string, unknown>).devices = [{ path: '/dev/vda', type: 'b', major: 254, minor: 0 }]), /linux\.devices creates device nodes \(\/dev\/vda\)/],
    ['device access', (c: typeof RUNC_SPEC) => c.linux.resources.devices.push({ allow: true, access: 'rwm' }), /resources\.devices allows/],
    ['a writable /proc/sys', (c: typeof RUNC_SPEC) => (c.linux.readonlyPaths = c.linux.readonlyPaths.filter((p) => p !== '/proc/sys')), /leave \/proc\/sys open/],
    ['a cgroup of its choosing', (c: typeof RUNC_SPEC) => ((c.linux as Record<string, unknown>).cgroupsPath = '/'), /cgroupsPath places it in the host cgroup \//],
    ['a CRIU config annotation', (c: Record<string, unknown>) => (c.annotations = { 'org.criu.config': '/tmp/criu.conf' }), /annotations org\.criu\.config may be runtime settings/],
  ])('%s is reported', (_, change, phrase) => {
    const found = unsafeSettings(edit(change as never));
    expect(found.join('\n')).toMatch(phrase);
    expect(found).toHaveLength(1);
  });

  it('anything that is not an object reads as no settings, and reports the missing namespaces', () => {
    expect(unsafeSettings(null).join('\n')).toMatch(/no pid namespace/);
  });
});

describe('unsafePlacement: where the bundle is', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-lxcri-policy-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const bundle = (dir: string, config: object = RUNC_SPEC, rootfs: string | null = 'rootfs') => {
    fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
    fs.chmodSync(dir, 0o755);
    if (rootfs) fs.mkdirSync(path.join(dir, rootfs), { recursive: true });
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config), { mode: 0o644 });
    return dir;
  };
  const ctx = (env: Record<string, string> = {}) => ({ env, table, fs: files }) as unknown as Ctx;

  it('a plain bundle passes', () => {
    expect(unsafePlacement(files, bundle(`${tmp}/ok`), RUNC_SPEC)).toEqual([]);
  });

  it('a rootfs that is a symlink to / is outside the bundle', () => {
    const b = bundle(`${tmp}/link`, RUNC_SPEC, null);
    fs.symlinkSync('/', `${b}/rootfs`);
    expect(unsafePlacement(files, b, RUNC_SPEC).join('\n')).toMatch(/its rootfs rootfs is \/, outside the bundle directory/);
  });

  it('root.path absolute or "." is refused', () => {
    const b = bundle(`${tmp}/abs`);
    expect(unsafePlacement(files, b, { root: { path: '/etc' } }).join('\n')).toMatch(/is \/etc, outside/);
    expect(unsafePlacement(files, b, { root: { path: '.' } }).join('\n')).toMatch(/outside the bundle directory/);
  });

  it('a bundle inside another bundle\'s rootfs (written from that container) is refused', () => {
    const outer = bundle(`${tmp}/outer`);
    const inner = bundle(`${outer}/rootfs/tmp/evil`);
    expect(unsafePlacement(files, inner, RUNC_SPEC).join('\n')).toMatch(new RegExp(`inside the rootfs of bundle ${outer}`));
  });

  it('a config.json others can write, or a symlinked one, is refused', () => {
    const b = bundle(`${tmp}/mode`);
    fs.chmodSync(`${b}/config.json`, 0o666);
    expect(unsafePlacement(files, b, RUNC_SPEC).join('\n')).toMatch(/config\.json \(owner uid 0, mode 666\) can be changed by others than root/);
    const l = bundle(`${tmp}/cfglink`);
    fs.rmSync(`${l}/config.json`);
    fs.symlinkSync(`${b}/config.json`, `${l}/config.json`);
    expect(unsafePlacement(files, l, RUNC_SPEC).join('\n')).toMatch(/config\.json is a symlink/);
  });

  it('checkBundle: RC 7 naming every finding; allowed with REXX_LXCRI_ALLOW_UNSAFE=1; no config.json is left to the runtime', () => {
    const b = bundle(`${tmp}/hooked`, edit((c) => (c.hooks = { prestart: [{ path: '/bin/true' }] })));
    let err: { rc?: number; message?: string } = {};
    try {
      checkBundle(ctx(), b);
    } catch (e) {
      err = e as typeof err;
    }
    expect(err.rc).toBe(7);
    expect(err.message).toMatch(/bundle .*hooked is refused: hooks\.prestart\[0\] runs \/bin\/true on the host .*REXX_LXCRI_ALLOW_UNSAFE=1/);
    expect(() => checkBundle(ctx({ REXX_LXCRI_ALLOW_UNSAFE: '1' }), b)).not.toThrow();
    expect(() => checkBundle(ctx(), `${tmp}/none`)).not.toThrow();
  });
});
