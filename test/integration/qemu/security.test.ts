/**
 * ADDRESS QEMU host-file rules on the real qemu-img and qemu-system-x86_64: paths and
 * qcow2 headers that would hand a guest (or a copy) a host file or device are RC 7
 * before QEMU runs — outside the state folder and REXX_QEMU_PATHS, devices, symlinks
 * out, backing files and external data files out, json:/protocol backing, backing
 * without a recorded format, raw bytes that look like a qcow2 — and allowed with
 * REXX_QEMU_ALLOW_UNSAFE=1 or a folder in REXX_QEMU_PATHS. A new image must be named
 * for its format (RC 2).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler, type AddressHandler } from '../../../shared/dispatch';
import { table } from '../../../handlers/qemu';
import { qemuProcesses } from '../../helpers/qemu';
import { RUN_ID } from '../../helpers/run-id';
import { CANARY, HOSTILE } from '../../helpers/hostile';

const G = '/var/lib/rexx-address/qemu-guest';
const KERNEL = `kernel=${G}/vmlinuz initrd=${G}/initrd.img append="console=ttyS0 quiet" accel=tcg memory=128`;
let dir: string;
let outside: string;
let h: AddressHandler;
let unsafe: AddressHandler;
const img = (n: string, ext = 'qcow2') => path.join(dir, 'images', `${n}.${ext}`);
const qemuImg = (...args: string[]) => execa('qemu-img', args);
async function ok(handler: AddressHandler, cmd: string) {
  const r = await handler(cmd);
  expect(r.errorCode, `${cmd}: ${r.errorMessage}`).toBe(0);
  return r;
}
async function refused(cmd: string, mention?: string) {
  const r = await h(cmd);
  expect(r.errorCode, `${cmd}: ${r.errorMessage}`).toBe(7);
  if (mention) expect(r.errorMessage).toContain(mention);
  return r;
}


beforeAll(async () => {
  const v = await execa('qemu-img', ['--version'], { reject: false }).catch(() => undefined);
  if (!v || v.exitCode !== 0) throw new Error('qemu-img is not installed: run scripts/setup-host.sh');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), `rexx-qsec-${RUN_ID}-`));
  outside = fs.mkdtempSync(path.join(os.tmpdir(), `rexx-qsec-out-${RUN_ID}-`));
  h = createHandler(table, { env: { ...process.env, REXX_QEMU_DIR: dir } });
  unsafe = createHandler(table, { env: { ...process.env, REXX_QEMU_DIR: dir, REXX_QEMU_ALLOW_UNSAFE: '1' } });
  fs.mkdirSync(path.join(dir, 'images'));
});
afterAll(async () => {
  for (const vm of fs.existsSync(path.join(dir, 'vms')) ? fs.readdirSync(path.join(dir, 'vms')) : []) await h(`delete ${vm} force=true`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(outside, { recursive: true, force: true });
});

describe('host paths in parameters', () => {
  it('saved states and migration: export_state file=, import_state file= and migrate target=unix: outside are RC 7; nothing is written', async () => {
    await ok(h, `create name=st1 kernel=${G}/vmlinuz initrd=${G}/initrd.img accel=tcg memory=128`);
    fs.writeFileSync(path.join(outside, 'in.tar'), 'x');
    await refused(`export_state name=st1 snapshot=s1 file=${path.join(outside, 'out.tar')}`, 'outside the state folder');
    await refused(`import_state name=st1 file=${path.join(outside, 'in.tar')}`, 'outside the state folder');
    await refused('import_state name=st1 file=/etc/passwd');
    await refused(`migrate name=st1 target=unix:${path.join(outside, 'm.sock')}`, 'outside the state folder');
    expect(fs.readdirSync(outside).sort()).toEqual(['in.tar']);
    fs.rmSync(path.join(outside, 'in.tar'));
    await ok(h, 'delete st1');
  });

  it('a host file outside the state folder as disk, kernel, initrd, source or backing is RC 7; nothing is made', async () => {
    await refused('create name=v1 disk=/etc/passwd', 'outside the state folder');
    await refused(`create name=v1 kernel=/etc/passwd`);
    await refused(`create name=v1 kernel=${G}/vmlinuz initrd=/etc/shadow`);
    await refused('register_base name=b1 source=/etc/shadow');
    await ok(h, 'create_disk name=d1 size=1M');
    await refused('rebase name=d1 backing=/etc/passwd unsafe=true');
    await refused('info disk=/etc/passwd');
    await refused('convert disk=/etc/shadow target=copy format=raw');
    expect(fs.existsSync(path.join(dir, 'vms', 'v1'))).toBe(false);
    expect(fs.existsSync(img('b1'))).toBe(false);
    expect(fs.existsSync(img('copy', 'raw'))).toBe(false);
    expect((await ok(h, 'info name=d1')).rexxVariables.BACKING).toBe('');
  });

  it('writing a host file outside is RC 7: create_disk, convert target=, resize, commit; the file is untouched', async () => {
    const victim = path.join(outside, 'victim.raw');
    fs.writeFileSync(victim, 'precious');
    await refused(`create_disk disk=${path.join(outside, 'new.qcow2')} size=1M`);
    await refused(`convert name=d1 target=${path.join(outside, 'out.raw')} format=raw`);
    await refused(`resize disk=${victim} size=1M`);
    expect(fs.readdirSync(outside)).toEqual(['victim.raw']);
    expect(fs.readFileSync(victim, 'utf8')).toBe('precious');
    // an overlay in the state folder whose backing file is outside: commit would write into it
    await qemuImg('create', '-q', '-f', 'qcow2', '-u', '-b', victim, '-F', 'raw', img('ov'), '8');
    await refused('commit name=ov', victim);
    expect(fs.readFileSync(victim, 'utf8')).toBe('precious');
  });

  it('a device, and a symlink out of the state folder, are RC 7', async () => {
    const dev = img('null', 'raw');
    await execa('mknod', [dev, 'c', '1', '3']);
    await refused(`create name=v1 disk=${dev}`, 'character device');
    await refused('create name=v1 disk=/dev/zero');
    fs.symlinkSync('/etc/passwd', img('link', 'raw'));
    await refused('create name=v1 disk=link', '/etc/passwd');
    fs.symlinkSync('/etc', path.join(dir, 'images', 'etc'));
    await refused(`create_disk disk=${path.join(dir, 'images', 'etc', 'x.raw')} size=1M format=raw`, '/etc/x.raw');
    expect(fs.existsSync('/etc/x.raw')).toBe(false);
  });

  it('a new image must be named for its format (RC 2), so its format is never guessed from content', async () => {
    expect((await h(`create_disk disk=${path.join(dir, 'x.img')} size=1M format=raw`)).errorCode).toBe(2);
    expect((await h(`convert name=d1 target=${path.join(dir, 'y.qcow2')} format=raw`)).errorCode).toBe(2);
    expect(fs.existsSync(path.join(dir, 'x.img'))).toBe(false);
    await ok(h, `create_disk disk=${path.join(dir, 'x.raw')} size=1M format=raw`);
  });

  it('a folder in REXX_QEMU_PATHS is allowed; a relative one is RC 2; REXX_QEMU_ALLOW_UNSAFE=1 allows anything', async () => {
    const h2 = createHandler(table, { env: { ...process.env, REXX_QEMU_DIR: dir, REXX_QEMU_PATHS: `${outside}:${G}` } });
    await ok(h2, `create_disk disk=${path.join(outside, 'ok.qcow2')} size=1M`);
    await ok(h2, `create name=inpaths disk=${path.join(outside, 'ok.qcow2')} ${KERNEL}`);
    const h3 = createHandler(table, { env: { ...process.env, REXX_QEMU_DIR: dir, REXX_QEMU_PATHS: 'relative/dir' } });
    expect((await h3('info name=d1')).errorCode).toBe(2);
    await ok(unsafe, 'create name=risky disk=/etc/passwd');
    await ok(h, 'delete risky');
    await ok(h, 'delete inpaths');
  });
});

describe('what a qcow2 header names', () => {
  it('a backing file or external data file outside, a json: backing, a backing without format: RC 7 before qemu-img opens it', async () => {
    await qemuImg('create', '-q', '-f', 'qcow2', '-u', '-b', '/etc/shadow', '-F', 'raw', img('bshadow'), '1M');
    await refused('info name=bshadow', '/etc/shadow');
    await refused('convert name=bshadow target=flat');
    await refused('create name=v2 disk=bshadow');
    await refused('register_base name=bshadow');
    expect(fs.existsSync(img('bshadow.base', 'json'))).toBe(false);

    const df = path.join(outside, 'data.raw');
    await qemuImg('create', '-q', '-f', 'qcow2', '-o', `data_file=${df}`, img('dfile'), '1M');
    await refused('info name=dfile', df);
    await refused('create name=v2 disk=dfile');

    await qemuImg('create', '-q', '-f', 'qcow2', '-u', '-b', 'json:{"driver":"file","filename":"/etc/shadow"}', '-F', 'raw', img('bjson'), '1M');
    await refused('info name=bjson', 'json');

    // a header whose backing-format extension is gone: QEMU would probe the backing file's content
    await ok(h, 'create_disk name=lower size=1M');
    await qemuImg('create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', img('lower'), img('nofmt'));
    const b = fs.readFileSync(img('nofmt'));
    const at = b.indexOf(Buffer.from([0xe2, 0x79, 0x2a, 0xca]), 72);
    expect(at).toBeGreaterThan(0);
    b.writeUInt32BE(0x0badf00d, at); // an unknown extension type, which QEMU skips
    fs.writeFileSync(img('nofmt'), b);
    await refused('info name=nofmt', 'format is not recorded');
    await ok(h, 'rebase name=nofmt backing=lower unsafe=true'); // records it again
    expect((await ok(h, 'info name=nofmt')).rexxVariables.BACKING).toBe(img('lower'));
  });

  it('raw bytes that a guest could write, shaped like a qcow2 pointing at /etc/shadow, never reach /etc/shadow', async () => {
    await qemuImg('create', '-q', '-f', 'qcow2', '-u', '-b', '/etc/shadow', '-F', 'raw', path.join(outside, 'evil.qcow2'), '1M');
    fs.copyFileSync(path.join(outside, 'evil.qcow2'), img('guest', 'raw'));
    const r = await h(`register_base name=imported source=${img('guest', 'raw')}`);
    expect(r.errorCode, r.errorMessage).toBe(7);
    expect(fs.existsSync(img('imported'))).toBe(false);
  });

  it('start checks the disk chain again: a disk swapped for one backed by /etc/shadow after create is RC 7, no QEMU', async () => {
    await ok(h, 'create_disk name=swap size=1M');
    await ok(h, `create name=vswap disk=swap ${KERNEL}`);
    fs.rmSync(img('swap'));
    await qemuImg('create', '-q', '-f', 'qcow2', '-u', '-b', '/etc/shadow', '-F', 'raw', img('swap'), '1M');
    await refused('start vswap', '/etc/shadow');
    expect(qemuProcesses(dir)).toEqual([]);
    await ok(h, 'delete vswap');
  });

  it('attach_iso, disk_attach, delete_disk of a host file outside are RC 7 (the file untouched); an attached disk swapped for one backed by /etc/shadow stops the start (RC 7, no QEMU)', async () => {
    await ok(h, `create name=vdev ${KERNEL}`);
    fs.writeFileSync(path.join(outside, 'x.iso'), 'not yours');
    await refused(`attach_iso name=vdev iso=${path.join(outside, 'x.iso')}`, 'outside the state folder');
    await refused('disk_attach name=vdev disk=/etc/passwd', 'outside the state folder');
    await refused(`delete_disk disk=${path.join(outside, 'x.iso')}`, 'outside the state folder');
    expect(fs.readFileSync(path.join(outside, 'x.iso'), 'utf8')).toBe('not yours');
    fs.symlinkSync('/etc/passwd', img('passlink', 'raw'));
    await refused('delete_disk passlink');
    expect(fs.existsSync('/etc/passwd')).toBe(true);
    await ok(h, 'create_disk name=att size=1M');
    await ok(h, 'disk_attach name=vdev disk=att');
    fs.rmSync(img('att'));
    await qemuImg('create', '-q', '-f', 'qcow2', '-u', '-b', '/etc/shadow', '-F', 'raw', img('att'), '1M');
    await refused('start vdev', '/etc/shadow');
    expect(qemuProcesses(path.join(dir, 'vms', 'vdev'))).toEqual([]);
    await ok(h, 'delete vdev');
  });
});

describe('guest agent and cloud-init parameters (hostile values)', () => {
  it('cloud_init takes hostile user_data/meta_data/network_config text verbatim into the seed, never through a shell; a seed outside the state folder is RC 7 at start', async () => {
    await ok(h, `create name=vci ${KERNEL}`);
    // Each hostile value on its own line of one seed (one cloud-localds run), and the first few alone.
    const values = HOSTILE.filter((x) => !x.includes('\0') && !x.startsWith('/'));
    for (const v of [values.join('\n'), ...values.slice(0, 4)]) {
      const r = await h('cloud_init', { name: 'vci', user_data: v, meta_data: `instance-id: x\n${v}`, network_config: v });
      expect(r.errorCode, `${JSON.stringify(v)}: ${r.errorMessage}`).toBe(0);
      expect(fs.readFileSync(path.join(dir, 'vms', 'vci', 'cloud-init', 'user-data'), 'utf8')).toBe(v);
    }
    expect(fs.existsSync(CANARY)).toBe(false);
    // A file path with ".." segments is RC 2; a directory RC 2; a missing file RC 3.
    expect((await h('cloud_init vci user_data=/tmp/../etc/shadow')).errorCode).toBe(2);
    expect((await h('cloud_init vci user_data=/tmp')).errorCode).toBe(2);
    expect((await h('cloud_init vci user_data=/no/such/file')).errorCode).toBe(3);
    // vm.json edited by hand to attach a host file as the seed: refused at start, no QEMU.
    const def = path.join(dir, 'vms', 'vci', 'vm.json');
    fs.writeFileSync(def, JSON.stringify({ ...JSON.parse(fs.readFileSync(def, 'utf8')), seed: '/etc/shadow' }));
    await refused('start vci', '/etc/shadow');
    expect(qemuProcesses(dir)).toEqual([]);
    await ok(h, 'delete vci');
  });

  it('exec, file_push and file_pull with hostile values run nothing on the host (a stopped VM: RC -7 / 7)', async () => {
    await ok(h, `create name=vga ${KERNEL}`);
    for (const v of HOSTILE.filter((x) => !x.includes('\0') && x.trim() !== '')) {
      expect((await h('exec', { name: 'vga', command: v })).errorCode, JSON.stringify(v)).toBe(-7);
      expect((await h('exec', { name: 'vga', arg: v, input: v })).errorCode).toBe(-7);
      expect((await h('file_push', { name: 'vga', path: '/tmp/x', content: v })).errorCode).toBe(7);
    }
    expect(fs.existsSync(CANARY)).toBe(false);
    expect((await h('file_pull vga path=/tmp/../etc/shadow')).errorCode).toBe(2);
    expect((await h('exec vga command=true cwd=relative')).errorCode).toBe(-2);
    expect((await h('exec vga command=true env=1BAD=x')).errorCode).toBe(-2);
    expect((await h('file_push vga path=/tmp/x content=x mode=0999')).errorCode).toBe(2);
    await ok(h, 'delete vga');
  });
});
