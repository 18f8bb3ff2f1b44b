/**
 * The CRIU path of checkpoint/restore with an injected fake runner: CRIU cannot work on
 * this machine kind (CRIU 3.17 on kernel 6.18), so the success path's argv is checked
 * here — the four CRIU flags, pre_dump's two steps, export's tar steps and import's
 * unpacking — and the RC 6 of a failing `criu check` (its own error lines in ERRORTEXT,
 * nothing dumped). The real runs are test/integration/lxcri/criu.test.ts.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createHandler } from '../../../shared/dispatch';
import { table } from '../../../handlers/lxcri';
import { criuFlagArgs } from '../../../handlers/lxcri/checkpoint';
import { fakeRunner, type FakeReply } from '../../helpers/fake-runner';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-lxcri-criu-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const env = (n: string) => ({ PATH: '/nonexistent', REXX_OCI_ROOT: `${tmp}/${n}/run`, REXX_OCI_DIR: `${tmp}/${n}/oci`, REXX_ZFS_POOL: 'rexxpool' });
const NOW = 1_795_240_000_123;
const clock = { now: () => NOW, sleep: async () => undefined };
const B = `${tmp}/b1`;
const state = (status: string) => ({ stdout: JSON.stringify({ id: 'c1', pid: 42, status, bundle: B }) });
/** What `runc spec` (1.1.5) writes, in short: a config the bundle check accepts. */
const CONFIG = JSON.stringify({
  ociVersion: '1.0.2-dev',
  process: { terminal: false, user: { uid: 0, gid: 0 }, args: ['sh'], cwd: '/', noNewPrivileges: true },
  root: { path: 'rootfs' },
  mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }],
  linux: {
    namespaces: ['pid', 'network', 'ipc', 'uts', 'mount'].map((type) => ({ type })),
    maskedPaths: ['/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/sys/firmware', '/proc/scsi'],
    readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
  },
});
const VDSO = 'Error (criu/vdso.c:381): vdso: Unexpected rt vDSO area bounds\nError (criu/vdso.c:613): vdso: Failed to fill self vdso symtable\nError (criu/kerndat.c:1615): kerndat_vdso_fill_symtable failed when initializing kerndat.\n';

interface HostOptions {
  criuOk?: boolean;
  exists?: () => boolean;
  manifest?: string;
}
/** runc with a running c1 (or as `exists` says) and no ZFS; `criu check` as given. */
const host = (o: HostOptions = {}) => fakeRunner(hostReply(o));
function hostReply(o: HostOptions) {
  return (argv: string[]): FakeReply | undefined => {
    const a = argv.join(' ');
    if (a === 'criu check') return o.criuOk === false ? { exitCode: 1, stderr: VDSO } : { stdout: 'Looks good.\n' };
    if (a.endsWith(' state c1')) return o.exists && !o.exists() ? { exitCode: 1, stderr: 'container does not exist' } : state('running');
    if (argv[0] === 'zfs') return { exitCode: 1, stderr: "cannot open 'rexxpool/containers/c1': dataset does not exist" };
    if (argv[0] === 'tar' && argv.includes('--to-stdout') && argv.at(-1) === 'rexx-export.json') return { stdout: o.manifest ?? '' };
    return undefined;
  };
}

describe('CRIU flags (fake runner)', () => {
  it('map to runc 1.1\'s option names in a fixed order', () => {
    expect(criuFlagArgs({ tcpEstablished: true, fileLocks: true, shellJob: true, extUnixSk: true })).toEqual(['--tcp-established', '--file-locks', '--shell-job', '--ext-unix-sk']);
    expect(criuFlagArgs({ shellJob: true })).toEqual(['--shell-job']);
    expect(criuFlagArgs({})).toEqual([]);
  });

  it('checkpoint (fake runner): criu check once, then runc checkpoint with every flag; the record keeps them and restore passes them again', async () => {
    const f = host();
    const h = createHandler(table, { env: env('flags'), runner: f.runner, clock });
    const r = await h('checkpoint c1 backend=criu tcp_established=true file_locks=true shell_job=true ext_unix_sk=true runtime=runc');
    expect(r.errorCode, r.errorMessage).toBe(0);
    const R = `${tmp}/flags/run/runc`;
    const dir = `${tmp}/flags/oci/checkpoints/c1/checkpoint-1795240000`;
    expect(f.calls.filter((c) => c.includes('checkpoint') || c[0] === 'criu')).toEqual([
      ['criu', 'check'],
      ['runc', '--root', R, 'checkpoint', '--image-path', dir, '--leave-running', '--tcp-established', '--file-locks', '--shell-job', '--ext-unix-sk', 'c1'],
    ]);
    expect(JSON.parse(fs.readFileSync(`${dir}/rexx-checkpoint.json`, 'utf8'))).toMatchObject({ kind: 'criu', flags: { tcpEstablished: true, fileLocks: true, shellJob: true, extUnixSk: true }, preDump: false });
    expect(r.rexxVariables).toMatchObject({ KIND: 'criu', STATUS: 'running', EXPORT: '' });
    // restore: the recorded flags, one turned off by hand; criu check is not run again (cached).
    const rs = await h('restore c1 file_locks=false runtime=runc');
    expect(rs.errorCode, rs.errorMessage).toBe(0);
    expect(f.calls.filter((c) => c[0] === 'criu')).toHaveLength(1);
    expect(f.calls).toContainEqual(['runc', '--root', R, '--log', `${R}/c1.log`, '--log-format', 'json', 'restore', '-d', '--image-path', dir, '--bundle', B, '--tcp-established', '--shell-job', '--ext-unix-sk', 'c1']);
  });

  it('CRIU flags on a ZFS rootfs (fake runner): RC 2, nothing paused', async () => {
    const f = fakeRunner((argv): FakeReply | undefined => {
      const a = argv.join(' ');
      if (a.endsWith(' state c1')) return state('running');
      if (a.startsWith('zfs list -H -o name,mountpoint,mounted')) return { stdout: `rexxpool/containers/c1\t${B}/rootfs\tyes\n` };
      if (a.startsWith('zfs get -H -p -o property,value mountpoint')) return { stdout: `mountpoint\t${B}/rootfs\n` };
      return undefined;
    });
    const r = await createHandler(table, { env: env('zf'), runner: f.runner, clock })('checkpoint c1 pre_dump=true runtime=runc');
    expect(r.errorCode).toBe(2);
    expect(r.errorMessage).toMatch(/apply to CRIU.*backend=criu/);
    expect(f.calls.filter((c) => c.includes('pause'))).toEqual([]);
  });
});

describe('pre_dump=true (fake runner)', () => {
  it('runs runc checkpoint --pre-dump into DIR/pre-dump, then the final dump with --parent-path pre-dump', async () => {
    const f = host();
    const h = createHandler(table, { env: env('pre'), runner: f.runner, clock });
    const r = await h('checkpoint c1 backend=criu pre_dump=true leave_running=false tcp_established=true runtime=runc');
    expect(r.errorCode, r.errorMessage).toBe(0);
    const R = `${tmp}/pre/run/runc`;
    const dir = `${tmp}/pre/oci/checkpoints/c1/checkpoint-1795240000`;
    expect(f.calls.filter((c) => c.includes('checkpoint'))).toEqual([
      ['runc', '--root', R, 'checkpoint', '--pre-dump', '--image-path', `${dir}/pre-dump`, '--tcp-established', 'c1'],
      ['runc', '--root', R, 'checkpoint', '--image-path', dir, '--parent-path', 'pre-dump', '--tcp-established', 'c1'],
    ]);
    expect(r.rexxVariables.STATUS).toBe('');
  });

  it('a CRIU checkpoint is an entry of the shared state catalog (fake runner): Ready with its size; list_states shows it as QEMU\'s list_states shows a saved state', async () => {
    const f = host();
    const h = createHandler(table, { env: env('cat'), runner: f.runner, clock });
    const r = await h('checkpoint c1 backend=criu runtime=runc');
    expect(r.errorCode, r.errorMessage).toBe(0);
    const dir = `${tmp}/cat/oci/checkpoints/c1/${r.output}`;
    expect(JSON.parse(fs.readFileSync(`${dir}/snapshot.json`, 'utf8'))).toMatchObject({ version: 1, id: r.output, kind: 'lxcri', target: 'c1', state: 'Ready', parent: '', data: { backend: 'criu', runtime: 'runc', bundle: B } });
    const l = await h('list_states c1 runtime=runc');
    expect(l.errorCode, l.errorMessage).toBe(0);
    expect(l.rexxVariables).toMatchObject({ IDS: { 0: 1, 1: r.output }, STATES: { 0: 1, 1: 'Ready' }, KINDS: { 0: 1, 1: 'criu' }, PARENTS: { 0: 1, 1: '' } });
  });

  it('a failed dump (fake runner) leaves its catalog entry Invalid with CRIU\'s error and its log, never Ready, and no image files', async () => {
    const f = fakeRunner((argv): FakeReply | undefined => {
      const a = argv.join(' ');
      if (a === 'criu check') return undefined;
      if (a.endsWith(' state c1')) return state('running');
      if (argv[0] === 'zfs') return { exitCode: 1, stderr: 'dataset does not exist' };
      if (argv.includes('checkpoint')) {
        const dir = argv[argv.indexOf('--image-path') + 1]!;
        fs.writeFileSync(`${dir}/pages-1.img`, 'x'.repeat(100));
        fs.writeFileSync(`${dir}/dump.log`, 'Error (criu/cr-dump.c:1): Dumping FAILED.\n');
        return { exitCode: 1, stderr: 'criu failed: type DUMP errno 0' };
      }
      return undefined;
    });
    const h = createHandler(table, { env: env('inv'), runner: f.runner, clock });
    const r = await h('checkpoint c1 backend=criu runtime=runc');
    expect(r.errorCode).toBe(1);
    const [id] = fs.readdirSync(`${tmp}/inv/oci/checkpoints/c1`);
    const dir = `${tmp}/inv/oci/checkpoints/c1/${id}`;
    expect(JSON.parse(fs.readFileSync(`${dir}/snapshot.json`, 'utf8'))).toMatchObject({ state: 'Invalid', reason: expect.stringMatching(/Dumping FAILED/) });
    expect(fs.readdirSync(dir).sort()).toEqual(['dump.log', 'snapshot.json']);
    const l = await h('list_states c1 runtime=runc');
    expect(l.rexxVariables).toMatchObject({ IDS: { 0: 1, 1: id }, STATES: { 0: 1, 1: 'Invalid' } });
    expect((await h('list_checkpoints c1 runtime=runc')).rexxVariables.CHECKPOINTS).toEqual({ 0: 0 }); // not a checkpoint to restore
  });

  it('a failed pre-dump (fake runner) is RC 1, leaves only an Invalid catalog entry and never runs the final dump', async () => {
    const f = fakeRunner((argv): FakeReply | undefined => {
      const a = argv.join(' ');
      if (a === 'criu check') return undefined;
      if (a.endsWith(' state c1')) return state('running');
      if (argv[0] === 'zfs') return { exitCode: 1, stderr: 'dataset does not exist' };
      if (argv.includes('--pre-dump')) return { exitCode: 1, stderr: 'criu failed: type PRE_DUMP errno 0' };
      return undefined;
    });
    const r = await createHandler(table, { env: env('pref'), runner: f.runner, clock })('checkpoint c1 backend=criu pre_dump=true runtime=runc');
    expect(r.errorCode).toBe(1);
    expect(r.errorMessage).toMatch(/CRIU pre-dump failed: criu failed: type PRE_DUMP/);
    expect(f.calls.filter((c) => c.includes('checkpoint') && !c.includes('--pre-dump'))).toEqual([]);
    // only the catalog entry, Invalid, saying why (no images)
    const [id] = fs.readdirSync(`${tmp}/pref/oci/checkpoints/c1`);
    expect(fs.readdirSync(`${tmp}/pref/oci/checkpoints/c1/${id}`)).toEqual(['snapshot.json']);
    expect(JSON.parse(fs.readFileSync(`${tmp}/pref/oci/checkpoints/c1/${id}/snapshot.json`, 'utf8'))).toMatchObject({ state: 'Invalid' });
  });
});

describe('CRIU cannot work here (fake runner with this host\'s criu check output)', () => {
  it('checkpoint and restore are RC 6 with CRIU\'s own error lines, and nothing is dumped or deleted', async () => {
    const f = host({ criuOk: false });
    const h = createHandler(table, { env: env('nocriu'), runner: f.runner, clock });
    const r = await h('checkpoint c1 backend=criu runtime=runc');
    expect(r.errorCode).toBe(6);
    expect(r.errorMessage).toContain('CRIU checkpoint cannot work on this host: criu check failed: Error (criu/vdso.c:381): vdso: Unexpected rt vDSO area bounds');
    expect(r.rexxVariables).toMatchObject({ KIND: 'criu', STATUS: 'running' });
    expect(f.calls.filter((c) => c.includes('checkpoint'))).toEqual([]);
    fs.mkdirSync(`${tmp}/nocriu/oci/checkpoints/c1/checkpoint-1`, { recursive: true });
    fs.writeFileSync(`${tmp}/nocriu/oci/checkpoints/c1/checkpoint-1/rexx-checkpoint.json`, JSON.stringify({ kind: 'criu', runtime: 'runc', bundle: B, createdMs: 1000, leaveRunning: true }));
    const rs = await h('restore c1 runtime=runc');
    expect(rs.errorCode).toBe(6);
    expect(rs.errorMessage).toMatch(/CRIU restore cannot work on this host: criu check failed: .*vdso/);
    expect(f.calls.filter((c) => c.includes('delete') || c.includes('restore'))).toEqual([]);
    expect(f.calls.filter((c) => c[0] === 'criu')).toHaveLength(1);
  });

  it('import= of a CRIU export (fake runner; real tar) is RC 6 before anything is unpacked', async () => {
    const d = `${tmp}/imp6`;
    fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(`${d}/rexx-export.json`, JSON.stringify({ format: 'rexx-lxcri-checkpoint/1', kind: 'criu', container: 'c1', checkpoint: 'checkpoint-1795240000', runtime: 'runc', createdMs: NOW, criu: { flags: { tcpEstablished: false, fileLocks: false, shellJob: false, extUnixSk: false }, preDump: false } }));
    spawnSync('tar', ['-cf', `${d}/x.tar`, '-C', d, 'rexx-export.json']);
    const f = realTar({ criuOk: false, exists: () => false });
    const r = await createHandler(table, { env: env('imp6'), runner: f.runner, clock })(`restore c1 import=${d}/x.tar bundle=${d}/bundle runtime=runc`);
    expect(r.errorCode).toBe(6);
    expect(r.errorMessage).toMatch(/CRIU restore cannot work on this host: criu check failed: Error \(criu\/vdso\.c:381\)/);
    expect(fs.existsSync(`${d}/bundle`)).toBe(false);
    expect(f.calls.filter((c) => c[0] === 'tar').map((c) => c[1])).toEqual(['--extract']);
    expect(f.calls.filter((c) => c.includes('--to-stdout'))).toHaveLength(1);
  });

  it('criu not installed (fake runner): RC 6 saying so', async () => {
    const f = fakeRunner((argv) => (argv[0] === 'criu' ? { missing: true } : argv.join(' ').endsWith(' state c1') ? state('running') : argv[0] === 'zfs' ? { exitCode: 1, stderr: 'dataset does not exist' } : undefined));
    const r = await createHandler(table, { env: env('nobin'), runner: f.runner, clock })('checkpoint c1 backend=criu runtime=runc');
    expect(r.errorCode).toBe(6);
    expect(r.errorMessage).toMatch(/criu is not installed/);
  });
});

describe('export= and import= of a CRIU checkpoint (fake runner; tar is real)', () => {
  it('export writes one tar (manifest, config.json, rootfs, image directory) linked into place; import on a fresh state directory unpacks it and restores with the recorded flags', async () => {
    fs.mkdirSync(`${B}/rootfs/etc`, { recursive: true });
    fs.writeFileSync(`${B}/rootfs/etc/counter`, '41\n');
    fs.writeFileSync(`${B}/config.json`, CONFIG);
    fs.mkdirSync(`${tmp}/moves`, { recursive: true });
    let restored = false;
    const f = realTar({});
    const h = createHandler(table, { env: env('exp'), runner: f.runner, clock });
    const file = `${tmp}/moves/c1.tar`;
    const r = await h(`checkpoint c1 backend=criu shell_job=true export=${file} runtime=runc`);
    expect(r.errorCode, r.errorMessage).toBe(0);
    expect(r.rexxVariables.EXPORT).toBe(file);
    expect(Number(r.rexxVariables.EXPORT_BYTES)).toBe(fs.statSync(file).size);
    const tar = f.calls.find((c) => c[0] === 'tar')!;
    const tmpFile = tar[3]!;
    expect(path.basename(tmpFile)).toMatch(/^\.c1\.tar\.rexx-partial-\d+-[0-9a-f]{8}$/);
    expect(tar).toEqual(['tar', '--create', '--file', tmpFile, '--numeric-owner', '-C', `${tmpFile}.d`, 'rexx-export.json', '-C', B, 'config.json', 'rootfs', '-C', `${tmp}/exp/oci/checkpoints/c1`, 'checkpoint-1795240000']);
    // Nothing but the archive is left beside it (the temporary file and the staging folder are gone).
    expect(fs.readdirSync(`${tmp}/moves`)).toEqual(['c1.tar']);
    const members = spawnSync('tar', ['-tf', file], { encoding: 'utf8' }).stdout.split('\n');
    expect(members).toEqual(expect.arrayContaining(['rexx-export.json', 'config.json', 'rootfs/etc/counter', 'checkpoint-1795240000/', 'checkpoint-1795240000/rexx-checkpoint.json']));
    // Again without force=true: RC 4 and the file is as it was; with force=true it is replaced.
    const again = await h(`checkpoint c1 backend=criu export=${file} runtime=runc`);
    expect(again.errorCode).toBe(4);
    expect(again.errorMessage).toMatch(/exists; give force=true/);

    // Another "host": a fresh state directory, no container c1 there yet.
    const g = realTar({ exists: () => restored, onRestore: () => (restored = true) });
    const h2 = createHandler(table, { env: env('other'), runner: g.runner, clock });
    const nb = `${tmp}/other/bundle`;
    const rs = await h2(`restore c1 import=${file} bundle=${nb} runtime=runc`);
    expect(rs.errorCode, rs.errorMessage).toBe(0);
    expect(rs.rexxVariables).toMatchObject({ KIND: 'criu', SNAPSHOT: 'checkpoint-1795240000', STATUS: 'running' });
    expect(fs.readFileSync(`${nb}/rootfs/etc/counter`, 'utf8')).toBe('41\n');
    const ck = `${tmp}/other/oci/checkpoints/c1/checkpoint-1795240000`;
    expect(fs.existsSync(`${ck}/rexx-checkpoint.json`)).toBe(true);
    const R2 = `${tmp}/other/run/runc`;
    expect(g.calls.filter((c) => c[0] === 'tar' || c.includes('restore'))).toEqual([
      ['tar', '--extract', '--to-stdout', '--occurrence', '--file', file, 'rexx-export.json'],
      ['tar', '--extract', '--file', file, '--numeric-owner', '--same-permissions', '-C', nb, '--', 'config.json', 'rootfs'],
      ['tar', '--extract', '--file', file, '--numeric-owner', '--same-permissions', '-C', `${tmp}/other/oci/checkpoints/c1`, '--', 'checkpoint-1795240000'],
      ['runc', '--root', R2, '--log', `${R2}/c1.log`, '--log-format', 'json', 'restore', '-d', '--image-path', ck, '--bundle', nb, '--shell-job', 'c1'],
    ]);
    // A second import into the same place: the container exists now → RC 4.
    expect((await h2(`restore c1 import=${file} bundle=${nb} runtime=runc`)).errorCode).toBe(4);
  });

  it('import of a file that is not an export (fake runner; real tar) is RC 2; a missing file RC 3; a symlink or a folder RC 7', async () => {
    fs.mkdirSync(`${tmp}/moves`, { recursive: true });
    fs.writeFileSync(`${tmp}/moves/junk.tar`, 'junk');
    fs.rmSync(`${tmp}/moves/link.tar`, { force: true });
    fs.symlinkSync(`${tmp}/moves/junk.tar`, `${tmp}/moves/link.tar`);
    const h = createHandler(table, { env: env('bad'), runner: realTar({ exists: () => false }).runner, clock });
    const b = `bundle=${tmp}/bad/bundle runtime=runc`;
    expect((await h(`restore c1 import=${tmp}/moves/junk.tar ${b}`)).errorCode).toBe(2);
    expect((await h(`restore c1 import=${tmp}/moves/nope.tar ${b}`)).errorCode).toBe(3);
    expect((await h(`restore c1 import=${tmp}/moves/link.tar ${b}`)).errorCode).toBe(7);
    expect((await h(`restore c1 import=${tmp}/moves ${b}`)).errorCode).toBe(7);
    expect((await h(`restore c1 import=${tmp}/moves/junk.tar runtime=runc`)).errorMessage).toMatch(/give bundle=/);
  });
});

/** host(o), except that tar runs for real (so archives are real files); `onRestore` is called at runc restore. */
function realTar(o: HostOptions & { onRestore?: () => void }) {
  const reply = hostReply(o);
  return fakeRunner((argv) => {
    if (argv[0] === 'tar') {
      const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
      return { exitCode: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
    }
    const answer = reply(argv);
    if (argv.includes('restore')) o.onRestore?.();
    return answer;
  });
}
