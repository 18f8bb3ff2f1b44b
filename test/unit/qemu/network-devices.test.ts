/**
 * The argv of QEMU networking and devices (pure qemuArgv, and start's plan with
 * dryrun=true against fake binaries): bridged NICs as -netdev tap with a stable MAC,
 * user-mode forwards bound to 127.0.0.1, NICs / disks / ISO recorded by nic_add,
 * disk_attach and attach_iso on a stopped VM; the dnsmasq lease parser; tap names.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHandler } from '../../../shared/dispatch';
import { table } from '../../../handlers/qemu';
import { leaseOf, makeMac, networkArgv, tapName } from '../../../handlers/qemu/network';
import { deviceArgv } from '../../../handlers/qemu/devices';
import type { VmDef } from '../../../handlers/qemu/state';
import { fakeBin, type FakeBin } from '../../helpers/fakebin';
import { fakeRunner } from '../../helpers/fake-runner';
import { zvolBaseReply } from '../../helpers/qemu-zvol-fake';

let dir: string;
let fake: FakeBin;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-qnet-unit-'));
  fake = fakeBin({ 'qemu-img': {}, 'qemu-system-x86_64': {}, zfs: {}, ip: {} });
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
  fake.cleanup();
});
const handler = () => createHandler(table, { env: { ...fake.env, REXX_QEMU_DIR: dir, REXX_QEMU_PATHS: '/bin' } });
const def: VmDef = {
  name: 'vm1', disk: '', format: '', base: '', memoryMiB: 128, cpus: 1, kernel: '/k', initrd: '', append: '', accel: 'tcg',
  network: 'bridge:rexxbr0', created: '', mac: '52:54:00:01:02:03',
};
const hasBridge = fs.existsSync('/sys/class/net/rexxbr0/bridge');

describe('network argv', () => {
  it('a bridged NIC is -netdev tap (no scripts) on the VM\'s tap with its MAC; nic_add NICs follow with their ids', () => {
    const d: VmDef = { ...def, nics: [{ id: 'nic1', network: 'user', mac: '52:54:00:0a:0b:0c', forward: ['tcp:2222:22'] }, { id: 'b2', network: 'bridge:br1', mac: '52:54:00:0d:0e:0f' }] };
    expect(networkArgv(d, '/s/vms/vm1')).toEqual([
      '-netdev', `tap,id=net0,ifname=${tapName('/s/vms/vm1', 'net0')},script=no,downscript=no`,
      '-device', 'virtio-net-pci,netdev=net0,id=net0-dev,mac=52:54:00:01:02:03',
      '-netdev', 'user,id=rexx-net-nic1,hostfwd=tcp:127.0.0.1:2222-:22',
      '-device', 'virtio-net-pci,netdev=rexx-net-nic1,id=rexx-nic-nic1,mac=52:54:00:0a:0b:0c',
      '-netdev', `tap,id=rexx-net-b2,ifname=${tapName('/s/vms/vm1', 'b2')},script=no,downscript=no`,
      '-device', 'virtio-net-pci,netdev=rexx-net-b2,id=rexx-nic-b2,mac=52:54:00:0d:0e:0f',
    ]);
  });

  it('network=user keeps its -nic, with mac= and hostfwd= on 127.0.0.1 when recorded; none has no NIC', () => {
    expect(networkArgv({ ...def, network: 'user', mac: undefined }, '/s')).toEqual(['-nic', 'user,model=virtio-net-pci']);
    expect(networkArgv({ ...def, network: 'user', forward: ['tcp:8080:80', 'udp:5353:53'] }, '/s')).toEqual([
      '-nic', 'user,model=virtio-net-pci,mac=52:54:00:01:02:03,hostfwd=tcp:127.0.0.1:8080-:80,hostfwd=udp:127.0.0.1:5353-:53',
    ]);
    expect(networkArgv({ ...def, network: 'none', mac: undefined }, '/s')).toEqual([]);
  });

  it('tap names fit IFNAMSIZ and differ per state folder; MACs carry QEMU\'s prefix and are stable for one seed', () => {
    const t = tapName('/s/vms/vm1', 'net0');
    expect(t).toMatch(/^rxq[0-9a-f]{10}$/);
    expect(t.length).toBeLessThanOrEqual(15);
    expect(tapName('/t/vms/vm1', 'net0')).not.toBe(t);
    expect(makeMac('/s/vms/vm1', 'net0', 'x')).toMatch(/^52:54:00(:[0-9a-f]{2}){3}$/);
    expect(makeMac('/s/vms/vm1', 'net0', 'x')).toBe(makeMac('/s/vms/vm1', 'net0', 'x'));
    expect(makeMac('/s/vms/vm1', 'net0', 'y')).not.toBe(makeMac('/s/vms/vm1', 'net0', 'x'));
  });

  it('the dnsmasq lease of a MAC: the last line for it wins, case does not matter, other MACs are ignored', () => {
    const text = '1796030979 52:54:00:aa:bb:01 10.231.7.55 * 01:52:54:00:aa:bb:01\n1796030999 52:54:00:aa:bb:02 10.231.7.56 * *\n1796031000 52:54:00:AA:BB:01 10.231.7.57 guest *\n';
    expect(leaseOf(text, '52:54:00:aa:bb:01')).toEqual({ line: '1796031000 52:54:00:AA:BB:01 10.231.7.57 guest *', ipv4: '10.231.7.57' });
    expect(leaseOf(text, '52:54:00:aa:bb:09')).toBeUndefined();
    expect(leaseOf('garbage\n\n', '52:54:00:aa:bb:01')).toBeUndefined();
  });
});

describe('device argv', () => {
  it('attached disks are named blockdevs on virtio-blk-pci; the ISO a read-only raw medium in a scsi-cd', () => {
    expect(deviceArgv({ ...def, disks: [{ id: 'disk1', disk: '/s/images/data.qcow2', format: 'qcow2' }], cdrom: '/s/images/seed.iso' })).toEqual([
      '-blockdev', 'driver=file,filename=/s/images/data.qcow2,node-name=rexx-disk-disk1-file',
      '-blockdev', 'driver=qcow2,file=rexx-disk-disk1-file,node-name=rexx-disk-disk1',
      '-device', 'virtio-blk-pci,drive=rexx-disk-disk1,id=rexx-disk-disk1',
      '-device', 'virtio-scsi-pci,id=rexx-scsi0',
      '-blockdev', 'driver=raw,node-name=rexx-cd0-medium,read-only=on,file.driver=file,file.filename=/s/images/seed.iso,file.read-only=on',
      '-device', 'scsi-cd,bus=rexx-scsi0.0,drive=rexx-cd0-medium,id=rexx-cd0',
    ]);
    expect(deviceArgv({ ...def, cdrom: '' })).toEqual([]);
  });

  it('on a stopped VM nic_add, disk_attach and attach_iso only record (HOTPLUGGED=0), and the next start has them (dryrun, fake binaries)', async () => {
    const h = handler();
    expect((await h('create vm1 kernel=/bin/sh accel=tcg network=user forward=tcp:18080:80')).errorCode).toBe(0);
    const imgs = path.join(dir, 'images');
    fs.mkdirSync(imgs, { recursive: true });
    fs.writeFileSync(path.join(imgs, 'data.raw'), '');
    fs.writeFileSync(path.join(imgs, 'seed.iso'), '');
    expect((await h('nic_add vm1 forward=tcp:2222:22')).rexxVariables).toMatchObject({ NIC: 'nic1', HOTPLUGGED: 0 });
    expect((await h('disk_attach vm1 disk=data')).rexxVariables).toMatchObject({ ID: 'disk1', HOTPLUGGED: 0 });
    expect((await h(`attach_iso vm1 iso=${imgs}/seed.iso`)).rexxVariables).toMatchObject({ HOTPLUGGED: 0 });
    const plan = (await h('start vm1 dryrun=true')).output;
    expect(plan).toContain('hostfwd=tcp:127.0.0.1:18080-:80');
    expect(plan).toContain('user,id=rexx-net-nic1,hostfwd=tcp:127.0.0.1:2222-:22');
    expect(plan).toContain(`driver=file,filename=${imgs}/data.raw,node-name=rexx-disk-disk1-file`);
    expect(plan).toContain('scsi-cd,bus=rexx-scsi0.0,drive=rexx-cd0-medium,id=rexx-cd0');
    expect((await h('nic_remove vm1 nic1')).rexxVariables.HOTPLUGGED).toBe(0);
    expect((await h('disk_detach vm1 id=disk1')).errorCode).toBe(0);
    expect((await h('detach_iso vm1')).rexxVariables.ISO).toBe(`${imgs}/seed.iso`);
    const again = (await h('start vm1 dryrun=true')).output;
    expect(again).not.toContain('rexx-net-nic1');
    expect(again).not.toContain('rexx-disk-disk1');
    expect(again).not.toContain('rexx-cd0');
    expect(fake.calls()).toEqual([]);
  });

  it.skipIf(!hasBridge)('start of a bridged VM plans the tap (ip tuntap add, ip link set master) before qemu-system (dryrun)', async () => {
    const h = handler();
    expect((await h('create vm1 kernel=/bin/sh accel=tcg network=bridge:rexxbr0')).errorCode).toBe(0);
    const mac = JSON.parse(fs.readFileSync(path.join(dir, 'vms', 'vm1', 'vm.json'), 'utf8')).mac;
    const tap = tapName(path.join(dir, 'vms', 'vm1'), 'net0');
    const lines = (await h('start vm1 dryrun=true')).output.split('\n');
    expect(lines[0]).toBe(`ip tuntap add dev ${tap} mode tap`);
    expect(lines[1]).toBe(`ip link set dev ${tap} master rexxbr0 up`);
    expect(lines[2]).toContain(`-netdev tap,id=net0,ifname=${tap},script=no,downscript=no -device virtio-net-pci,netdev=net0,id=net0-dev,mac=${mac}`);
    expect(fake.calls()).toEqual([]);
  });
});

describe('disk_attach zvol= (fake runner: zfs-fuse here has no zvols)', () => {
  /** A handler whose zfs answers: tank/vm/data is a volume, tank/fs a filesystem, tank/vm/base the registered zvol base zb. */
  function withZfs() {
    const f = fakeRunner((argv) => {
      const a = argv.join(' ');
      if (a === 'zfs get -H -p -o property,value type tank/vm/data') return { stdout: 'type\tvolume\n' };
      if (a === 'zfs get -H -p -o property,value type tank/vm/base') return { stdout: 'type\tvolume\n' };
      if (a === 'zfs get -H -p -o property,value type tank/fs') return { stdout: 'type\tfilesystem\n' };
      if (a.startsWith('zfs get -H -p -o property,value type')) return { exitCode: 1, stderr: "cannot open 'tank/none': dataset does not exist" };
      return zvolBaseReply(a);
    });
    const h = createHandler(table, { env: { PATH: '/nonexistent', REXX_QEMU_DIR: dir, REXX_QEMU_PATHS: '/bin', REXX_ZFS_LOCK_DIR: path.join(dir, 'zfs-locks') }, runner: f.runner });
    return { h, changes: () => f.calls.filter((_, i) => !f.options[i]!.readOnly) };
  }

  it('a ZFS volume is attached raw from /dev/zvol and started as a host_device; a filesystem is RC 2, a missing one RC 3, the zvol base RC 7', async () => {
    const { h, changes } = withZfs();
    expect((await h('create vm1 kernel=/bin/sh accel=tcg')).errorCode).toBe(0);
    expect((await h('disk_attach vm1 zvol=tank/fs')).errorCode).toBe(2);
    expect((await h('disk_attach vm1 zvol=tank/none')).errorCode).toBe(3);
    expect((await h('disk_attach vm1 zvol=tank/vm/base')).errorCode).toBe(7);
    expect((await h('disk_attach vm1 disk=x zvol=tank/vm/data')).errorCode).toBe(2);
    const a = await h('disk_attach vm1 zvol=tank/vm/data');
    expect(a.errorCode, a.errorMessage).toBe(0);
    expect(a.rexxVariables).toMatchObject({ DISK: '/dev/zvol/tank/vm/data', HOTPLUGGED: 0 });
    const plan = (await h('start vm1 dryrun=true')).output;
    expect(plan).toContain('-blockdev driver=host_device,filename=/dev/zvol/tank/vm/data,node-name=rexx-disk-disk1-file -blockdev driver=raw,file=rexx-disk-disk1-file,node-name=rexx-disk-disk1');
    expect(changes()).toEqual([]);
  });
});

