/**
 * ADDRESS QEMU media and disks on the real qemu-system-x86_64 and qemu-img, one booted
 * tiny guest (TCG): disk_attach hot-plugs a qcow2 (QMP query-block, and the guest's
 * device watcher sees vda), attach_iso puts an ISO in a scsi-cd (query-block), both
 * recorded so a restart has them, detach_iso / disk_detach take them out again;
 * delete_disk is RC 7 while a VM or an overlay uses the disk, then deletes it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler, type AddressHandler } from '../../../shared/dispatch';
import { sleep } from '../../../shared/poll';
import { withQmp } from '../../../shared/qmp';
import { table } from '../../../handlers/qemu';
import { removeQemuState } from '../../helpers/qemu';
import { RUN_ID } from '../../helpers/run-id';

const G = '/var/lib/rexx-address/qemu-guest';
const GUEST = `kernel=${G}/vmlinuz initrd=${G}/initrd.img accel=tcg memory=192 append="console=ttyS0 quiet rexx.devwatch=1"`;
let dir: string;
let h: AddressHandler;
const ok = async (cmd: string) => {
  const r = await h(cmd);
  expect(r.errorCode, `${cmd}: ${r.errorMessage}`).toBe(0);
  return r;
};
const img = (n: string, ext = 'qcow2') => path.join(dir, 'images', `${n}.${ext}`);
interface Block { qdev?: string; inserted?: { file: string; 'node-name': string; ro: boolean } }
const queryBlock = (vm: string) => withQmp(path.join(dir, 'vms', vm, 'qmp.sock'), (q) => q.execute<Block[]>('query-block'));
const byQdev = async (vm: string, qdev: string) => (await queryBlock(vm)).find((b) => b.qdev === qdev || b.qdev?.endsWith(`/${qdev}/virtio-backend`));
async function devices(vm: string): Promise<string> {
  const lines = (await ok(`console ${vm} lines=200`)).output.split('\n').flatMap((l) => /REXX-DEVICES:(.*)$/.exec(l)?.[1] ?? []);
  return lines.at(-1) ?? '';
}
async function until(what: string, f: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

beforeAll(async () => {
  for (const f of ['vmlinuz', 'initrd.img']) if (!fs.existsSync(path.join(G, f))) throw new Error(`${G}/${f} missing: run scripts/build-qemu-guest.sh`);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), `rexx-qdev-${RUN_ID}-`));
  h = createHandler(table, { env: { ...process.env, REXX_QEMU_DIR: dir } });
  await ok('create_disk name=data size=16M');
  fs.writeFileSync(img('seed', 'iso'), Buffer.alloc(64 * 1024)); // any bytes: the drive reads it as raw
});
afterAll(() => removeQemuState(h, dir));

describe('disks and ISOs on a running VM', () => {
  it('disk_attach and attach_iso hot-plug (query-block, the guest sees vda), survive a restart, detach again; delete_disk RC 7 while used', async () => {
    await ok(`create d1 ${GUEST}`);
    await ok('start d1 wait=serial:REXX-DEVICES timeout=120s');
    const a = await ok('disk_attach d1 disk=data');
    expect(a.rexxVariables).toMatchObject({ DISK: img('data'), DEVICE: 'rexx-disk-disk1', ID: 'disk1', HOTPLUGGED: 1 });
    expect((await byQdev('d1', 'rexx-disk-disk1'))?.inserted?.file).toBe(img('data'));
    await until('vda in the guest', async () => (await devices('d1')).includes('vda'));
    expect((await h('disk_attach d1 disk=data')).errorCode).toBe(4);

    const i = await ok(`attach_iso d1 iso=${img('seed', 'iso')}`);
    expect(i.rexxVariables).toMatchObject({ DEVICE: 'rexx-cd0', HOTPLUGGED: 1 });
    const cd = await byQdev('d1', 'rexx-cd0');
    expect(cd?.inserted).toMatchObject({ file: img('seed', 'iso'), ro: true });

    const del = await h('delete_disk data');
    expect(del.errorCode, del.errorMessage).toBe(7);
    expect(del.rexxVariables.VMS).toEqual({ 0: 1, 1: 'd1' });
    expect(fs.existsSync(img('data'))).toBe(true);

    // recorded in vm.json: a restart has both again
    await ok('restart d1 force=true');
    expect((await byQdev('d1', 'rexx-disk-disk1'))?.inserted?.file).toBe(img('data'));
    expect((await byQdev('d1', 'rexx-cd0'))?.inserted?.file).toBe(img('seed', 'iso'));

    expect((await ok('detach_iso d1')).rexxVariables.ISO).toBe(img('seed', 'iso'));
    expect((await byQdev('d1', 'rexx-cd0'))?.inserted).toBeUndefined();
    await until('the guest watcher after restart', async () => (await devices('d1')).includes('vda'));
    expect((await ok('disk_detach d1 id=disk1')).rexxVariables).toMatchObject({ DISK: img('data'), HOTPLUGGED: 1 });
    expect(await byQdev('d1', 'rexx-disk-disk1')).toBeUndefined();
    await until('vda gone in the guest', async () => !(await devices('d1')).includes('vda'));
    expect((await h('disk_detach d1 id=disk1')).errorCode).toBe(3);
    const def = JSON.parse(fs.readFileSync(path.join(dir, 'vms', 'd1', 'vm.json'), 'utf8'));
    expect(def).toMatchObject({ disks: [], cdrom: '' });

    expect((await ok('delete_disk data')).rexxVariables.DISK).toBe(img('data'));
    expect(fs.existsSync(img('data'))).toBe(false);
    await ok('stop d1 force=true');
  });

  it('delete_disk: RC 7 for an overlay\'s backing file and for a base, RC 3 when missing; a stopped VM only changes its record', async () => {
    await ok('create_disk name=back size=16M');
    await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', img('back'), img('top')]);
    const r = await h('delete_disk back');
    expect(r.errorCode, r.errorMessage).toBe(7);
    expect(r.rexxVariables.OVERLAYS).toEqual({ 0: 1, 1: 'top' });
    await ok('delete_disk top');
    await ok('delete_disk back');
    expect((await h('delete_disk back')).errorCode).toBe(3);
    await ok('create_disk name=gold size=16M');
    await ok('register_base gold');
    expect((await h('delete_disk gold')).errorCode).toBe(7);

    await ok('create_disk name=spare size=16M');
    await ok(`create d2 ${GUEST}`);
    expect((await ok('disk_attach d2 disk=spare id=s1')).rexxVariables.HOTPLUGGED).toBe(0);
    expect((await h('disk_attach d1 disk=spare')).errorCode).toBe(7); // another VM's disk
    expect((await h('delete_disk spare')).errorCode).toBe(7);
    await ok('disk_detach d2 disk=spare');
    await ok('delete_disk spare');
  });
});
