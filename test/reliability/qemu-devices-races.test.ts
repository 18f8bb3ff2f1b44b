/**
 * ADDRESS QEMU device records under parallel calls (real qemu-img, no guest boot: the
 * VM stays stopped, so only vm.json changes): 12 nic_add and 12 disk_attach at once on
 * one VM must leave 12 NICs and 12 disks with distinct ids, none lost to a
 * read-modify-write race; 12 parallel delete_disk of one attached disk are all RC 7;
 * disk_attach of one disk to 6 VMs at once lets exactly one have it (the others RC 7).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler, type AddressHandler } from '../../shared/dispatch';
import { table } from '../../handlers/qemu';
import { recordCounts } from '../helpers/reliability';
import { removeQemuState } from '../helpers/qemu';
import { RUN_ID } from '../helpers/run-id';

const G = '/var/lib/rexx-address/qemu-guest';
const KERNEL = `kernel=${G}/vmlinuz initrd=${G}/initrd.img accel=tcg memory=128`;
const N = 12;
let dir: string;
let h: AddressHandler;
async function ok(cmd: string) {
  const r = await h(cmd);
  expect(r.errorCode, `${cmd}: ${r.errorMessage}`).toBe(0);
  return r;
}
const vmJson = (vm: string) => JSON.parse(fs.readFileSync(path.join(dir, 'vms', vm, 'vm.json'), 'utf8'));

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), `rexx-qdevrace-${RUN_ID}-`));
  h = createHandler(table, { env: { ...process.env, REXX_QEMU_DIR: dir } });
  await ok(`create r1 ${KERNEL} network=user`);
  for (let i = 1; i <= N; i++) await ok(`create_disk name=d${i} size=1M`);
});
afterAll(() => removeQemuState(h, dir));

describe('parallel device changes on one VM', () => {
  it(`${N} nic_add and ${N} disk_attach at once: all recorded, ids distinct`, async () => {
    const rs = await Promise.all([
      ...Array.from({ length: N }, () => h('nic_add r1')),
      ...Array.from({ length: N }, (_, i) => h(`disk_attach r1 disk=d${i + 1}`)),
    ]);
    const d = vmJson('r1');
    const nicIds = new Set(d.nics.map((n: { id: string }) => n.id));
    const diskIds = new Set(d.disks.map((x: { id: string }) => x.id));
    const macs = new Set(d.nics.map((n: { mac: string }) => n.mac));
    const held = rs.filter((r) => r.errorCode === 0).length;
    recordCounts(`qemu: ${N} nic_add + ${N} disk_attach in parallel, all recorded`, 2 * N, Math.min(held, nicIds.size + diskIds.size));
    expect(rs.map((r) => r.errorMessage).filter(Boolean)).toEqual([]);
    expect(nicIds.size).toBe(N);
    expect(macs.size).toBe(N);
    expect(diskIds.size).toBe(N);
  });

  it(`${N} delete_disk of an attached disk at once: all RC 7, the file stays`, async () => {
    const rs = await Promise.all(Array.from({ length: N }, () => h('delete_disk d1')));
    recordCounts(`qemu: ${N} delete_disk of a disk a VM uses, all refused`, N, rs.filter((r) => r.errorCode === 7).length);
    expect(rs.map((r) => r.errorCode)).toEqual(Array(N).fill(7));
    expect(fs.existsSync(path.join(dir, 'images', 'd1.qcow2'))).toBe(true);
  });

  it('disk_attach of one disk to 6 VMs at once: exactly one has it', async () => {
    await ok('create_disk name=shared size=1M');
    for (let i = 1; i <= 6; i++) await ok(`create s${i} ${KERNEL}`);
    const rs = await Promise.all(Array.from({ length: 6 }, (_, i) => h(`disk_attach s${i + 1} disk=shared`)));
    const holders = Array.from({ length: 6 }, (_, i) => `s${i + 1}`).filter((vm) => (vmJson(vm).disks ?? []).length > 0);
    recordCounts('qemu: disk_attach of one disk to 6 VMs in parallel, one holder', 6, holders.length === 1 ? 6 : 0);
    // The VMs' locks differ; the disk's own lock (devices.ts withDiskLock) serialises the check and the record.
    expect(holders.length, `holders: ${holders.join(', ')}; RCs ${rs.map((r) => r.errorCode).join(',')}`).toBe(1);
    expect(rs.map((r) => r.errorCode).sort()).toEqual([0, 7, 7, 7, 7, 7]);
  });
});
