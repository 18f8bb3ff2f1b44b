/**
 * ADDRESS QEMU image verbs, bases and clones on the real qemu-img (no boots): create,
 * info and backing chains, resize, convert, commit, rebase, register_base (read-only,
 * checksum), clone_from_base (count=N, and from a second process), unregister_base
 * refused while clones exist, and snapshot/restore of a stopped VM's disk with the
 * data checked by qemu-io.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler, type AddressHandler } from '../../../shared/dispatch';
import { table } from '../../../handlers/qemu';

const ROOT = path.resolve(__dirname, '../../..');
let dir: string;
let h: AddressHandler;
const img = (n: string) => path.join(dir, 'images', `${n}.qcow2`);
const ok = async (cmd: string) => {
  const r = await h(cmd);
  expect(r.errorCode, `${cmd}: ${r.errorMessage}`).toBe(0);
  return r;
};
const qemuIo = (file: string, cmd: string) => execa('qemu-io', ['-f', 'qcow2', '-c', cmd, file], { reject: false });
/** The first 64 KiB of `file` hold byte `pattern` (qemu-io read -P exits 1 and says so otherwise). */
async function expectPattern(file: string, pattern: string) {
  const r = await qemuIo(file, `read -P ${pattern} 0 64k`);
  expect(r.stdout).not.toMatch(/Pattern verification failed/);
  expect(r.exitCode, r.stdout + r.stderr).toBe(0);
}

beforeAll(async () => {
  const v = await execa('qemu-img', ['--version'], { reject: false }).catch(() => undefined);
  if (!v || v.exitCode !== 0) throw new Error('qemu-img is not installed: run scripts/setup-host.sh');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-qemu-it-'));
  h = createHandler(table, { env: { ...process.env, REXX_QEMU_DIR: dir } });
});
afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('images', () => {
  it('create_disk, info, resize, convert', async () => {
    const c = await ok('create_disk name=d1 size=64M');
    expect(c.rexxVariables.DISK).toBe(img('d1'));
    expect((await h('create_disk name=d1 size=64M')).errorCode).toBe(4);
    let i = await ok('info name=d1');
    expect(i.rexxVariables).toMatchObject({ FORMAT: 'qcow2', VIRTUAL_SIZE: 64 * 2 ** 20, BACKING: '' });
    await ok('resize name=d1 size=128M');
    expect((await ok('info d1')).rexxVariables.VIRTUAL_SIZE).toBe(128 * 2 ** 20);
    expect((await h('resize name=d1 size=32M')).errorCode).not.toBe(0); // shrinking needs shrink=true
    await ok('resize name=d1 size=32M shrink=true');
    await ok('convert name=d1 target=d1flat format=raw');
    i = await ok('info name=d1flat');
    expect(i.rexxVariables).toMatchObject({ FORMAT: 'raw', VIRTUAL_SIZE: 32 * 2 ** 20 });
    await ok('create_disk name=r1 size=1M format=raw');
    expect((await ok('info r1')).rexxVariables.FORMAT).toBe('raw');
  });

  it('rebase onto a disk, commit the overlay into it (data checked with qemu-io), flatten', async () => {
    await ok('create_disk name=lower size=16M');
    await ok('create_disk name=upper size=16M');
    await ok('rebase name=upper backing=lower unsafe=true');
    const i = await ok('info upper');
    expect(i.rexxVariables.BACKING).toBe(img('lower'));
    expect(i.rexxVariables.CHAIN).toEqual({ 0: 2, 1: img('upper'), 2: img('lower') });
    expect((await qemuIo(img('upper'), 'write -P 0x5a 0 64k')).exitCode).toBe(0);
    await ok('commit upper');
    await expectPattern(img('lower'), '0x5a');
    await ok('rebase name=upper flatten=true');
    expect((await ok('info upper')).rexxVariables.BACKING).toBe('');
  });

  it('a file name with a comma is refused before qemu-img runs', async () => {
    const bad = path.join(dir, 'a,b.qcow2');
    expect((await h(`create_disk disk='${bad}' size=1M`)).errorCode).toBe(2);
    expect(fs.existsSync(bad)).toBe(false);
  });
});

describe('bases and clones', () => {
  it('register_base makes the disk read-only and records its checksum and size', async () => {
    await ok('create_disk name=gold size=32M');
    expect((await qemuIo(img('gold'), 'write -P 0xaa 0 64k')).exitCode).toBe(0);
    const r = await ok('register_base name=gold description="golden image"');
    const sha = createHash('sha256').update(fs.readFileSync(img('gold'))).digest('hex');
    expect(r.rexxVariables).toMatchObject({ CHECKSUM: `sha256:${sha}`, VIRTUAL_SIZE: 32 * 2 ** 20 });
    expect(fs.statSync(img('gold')).mode & 0o777).toBe(0o444);
    expect((await h('register_base name=gold')).errorCode).toBe(4);
    expect((await ok('list_bases')).rexxVariables.BASES).toEqual({ 0: 1, 1: 'gold' });
    expect((await h('resize name=gold size=64M')).errorCode).toBe(7);
  });

  it('clone_from_base count=3 makes qcow2 overlays whose VM definitions record the base', async () => {
    const r = await ok('clone_from_base base=gold name=web count=3 kernel=/var/lib/rexx-address/qemu-guest/vmlinuz');
    expect(r.rexxVariables.CLONES).toEqual({ 0: 3, 1: 'web-1', 2: 'web-2', 3: 'web-3' });
    for (const n of ['web-1', 'web-2', 'web-3']) {
      const i = await ok(`info name=${n}`);
      expect(i.rexxVariables).toMatchObject({ BACKING: img('gold'), BASE: 'gold', VIRTUAL_SIZE: 32 * 2 ** 20 });
      await expectPattern(img(n), '0xaa');
    }
    expect((await ok('list base=gold')).rexxVariables.VMS).toEqual({ 0: 3, 1: 'web-1', 2: 'web-2', 3: 'web-3' });
    expect((await h('commit web-1')).errorCode).toBe(7); // would write into the base
  });

  it('a second process clones the same base and this one sees it', async () => {
    const script = `
      const { createHandler } = require(${JSON.stringify(path.join(ROOT, 'dist/shared/dispatch'))});
      const { table } = require(${JSON.stringify(path.join(ROOT, 'dist/handlers/qemu'))});
      createHandler(table)('clone_from_base base=gold name=other kernel=/var/lib/rexx-address/qemu-guest/vmlinuz')
        .then((r) => { process.stdout.write(JSON.stringify(r)); });`;
    const p = await execa('node', ['-e', script], { env: { ...process.env, REXX_QEMU_DIR: dir }, reject: false });
    expect(p.exitCode, p.stderr).toBe(0);
    expect(JSON.parse(p.stdout).errorCode).toBe(0);
    expect((await ok('info other')).rexxVariables.BASE).toBe('gold');
    expect((await ok('state other')).rexxVariables).toMatchObject({ STATUS: 'stopped', BASE: 'gold' });
  });

  it('snapshot / restore of a stopped VM\'s disk (qemu-img), data checked with qemu-io', async () => {
    const f = img('web-1');
    expect((await qemuIo(f, 'write -P 0x11 0 64k')).exitCode).toBe(0);
    expect((await ok('snapshot name=web-1 snapshot=s1')).rexxVariables.METHOD).toBe('offline');
    expect((await qemuIo(f, 'write -P 0x22 0 64k')).exitCode).toBe(0);
    expect((await ok('list_snapshots web-1')).rexxVariables.SNAPSHOTS).toEqual({ 0: 1, 1: 's1' });
    await ok('restore name=web-1 snapshot=s1');
    await expectPattern(f, '0x11');
    expect((await h('restore name=web-1 snapshot=nope')).errorCode).not.toBe(0);
    await ok('delete_snapshot name=web-1 snapshot=s1');
    expect((await ok('list_snapshots web-1')).rexxVariables.SNAPSHOTS).toEqual({ 0: 0 });
  });

  it('unregister_base is refused while clones use it, then works; delete keeps the base', async () => {
    const r = await h('unregister_base gold');
    expect(r.errorCode).toBe(7);
    expect(r.rexxVariables.DEPENDENTS).toEqual({ 0: 4, 1: 'other', 2: 'web-1', 3: 'web-2', 4: 'web-3' });
    for (const n of ['other', 'web-1', 'web-2', 'web-3']) await ok(`delete ${n}`);
    expect(fs.existsSync(img('web-1'))).toBe(false);
    expect(fs.existsSync(img('gold'))).toBe(true);
    await ok('unregister_base gold');
    expect(fs.statSync(img('gold')).mode & 0o777).toBe(0o644);
    expect((await ok('list_bases')).rexxVariables.BASES).toEqual({ 0: 0 });
  });
});
