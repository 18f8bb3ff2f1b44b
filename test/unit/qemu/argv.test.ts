/**
 * The exact commands the QEMU verbs plan (dryrun=true, nothing runs) or run against
 * fake binaries; qemu-img's messages mapped to RCs; the KVM probe and its fallback;
 * the zvol base/clone path (argv only, with a fake runner answering the ZFS registry's
 * reads: zfs-fuse on this host has no zvols).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHandler, type AddressHandler } from '../../../shared/dispatch';
import { table } from '../../../handlers/qemu';
import { probeArgv } from '../../../handlers/qemu/accel';
import { qemuArgv } from '../../../handlers/qemu/vm';
import { vmPaths, type VmDef } from '../../../handlers/qemu/state';
import { fakeBin, type FakeBin, type FakeSpec } from '../../helpers/fakebin';
import { fakeRunner } from '../../helpers/fake-runner';
import { zvolBaseReply } from '../../helpers/qemu-zvol-fake';

let dir: string;
let fakes: FakeBin[] = [];
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-qemu-unit-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
  fakes.forEach((f) => f.cleanup());
  fakes = [];
});

/** A handler on a temp state dir whose tools are fakes printing `specs`; /bin/sh stands in for a kernel (REXX_QEMU_PATHS=/bin). */
function withFakes(specs: Record<string, FakeSpec> = {}) {
  const fake = fakeBin({ 'qemu-img': {}, 'qemu-system-x86_64': {}, zfs: {}, ...specs });
  fakes.push(fake);
  const h: AddressHandler = createHandler(table, { env: { ...fake.env, REXX_QEMU_DIR: dir, REXX_QEMU_PATHS: '/bin' } });
  return { h, calls: () => fake.calls() };
}
/**
 * A handler whose runner is a fake (test/helpers/fake-runner.ts) answering the ZFS
 * registry's reads: with `registered`, volume tank/vm/base is a registered base that
 * QEMU knows as zb. `changes` are the commands run that are not reads.
 */
function withZfs(registered: boolean) {
  const f = fakeRunner((argv) => {
    const a = argv.join(' ');
    if (argv[0] !== 'zfs' || !registered) return a.endsWith('volsize tank/vm/base') ? { stdout: '1073741824\n' } : undefined;
    return zvolBaseReply(a);
  });
  const h: AddressHandler = createHandler(table, { env: { PATH: '/nonexistent', REXX_QEMU_DIR: dir, REXX_QEMU_PATHS: '/bin', REXX_ZFS_LOCK_DIR: path.join(dir, 'zfs-locks') }, runner: f.runner });
  return { h, changes: () => f.calls.filter((_, i) => !f.options[i]!.readOnly) };
}
const img = (n: string, ext = 'qcow2') => path.join(dir, 'images', `${n}.${ext}`);
const touch = (f: string, body = '') => {
  fs.mkdirSync(path.dirname(f), { recursive: true });
  fs.writeFileSync(f, body);
};
const base = (name: string, rec: Record<string, unknown> = {}) =>
  touch(path.join(dir, 'images', `${name}.base.json`), JSON.stringify({ name, kind: 'qcow2', source: img(name), virtualSize: 1, checksum: '', created: '', description: '', ...rec }));

describe('image verbs plan exact qemu-img argv (dryrun)', () => {
  it('create_disk converts the size to bytes and picks the file in the images folder', async () => {
    const { h, calls } = withFakes();
    const r = await h('create_disk name=d1 size=512MiB dryrun=true');
    expect(r.output).toBe(`qemu-img create -q -f qcow2 ${img('d1')} 536870912`);
    const raw = await h('create_disk name=d2 size=1G format=raw dryrun=true');
    expect(raw.output).toBe(`qemu-img create -q -f raw ${img('d2', 'raw')} 1073741824`);
    expect(calls()).toEqual([]);
  });

  it('create_disk over an existing disk is RC 4 and runs nothing', async () => {
    const { h, calls } = withFakes();
    touch(img('d1'));
    expect((await h('create_disk name=d1 size=1M')).errorCode).toBe(4);
    expect(calls()).toEqual([]);
  });

  it('resize, convert, rebase', async () => {
    const { h } = withFakes();
    touch(img('d1'));
    touch(img('b2'));
    expect((await h('resize name=d1 size=2G shrink=true dryrun=true')).output).toBe(`qemu-img resize -q -f qcow2 --shrink ${img('d1')} 2147483648`);
    expect((await h('convert name=d1 target=flat format=raw dryrun=true')).output).toBe(`qemu-img convert -p -f qcow2 -O raw ${img('d1')} ${img('flat', 'raw')}`);
    expect((await h('rebase name=d1 backing=b2 dryrun=true')).output).toBe(`qemu-img rebase -q -f qcow2 -b ${img('b2')} -F qcow2 ${img('d1')}`);
    expect((await h('rebase name=d1 flatten=true unsafe=true dryrun=true')).output).toBe(`qemu-img rebase -q -f qcow2 -u -b '' ${img('d1')}`);
  });

  it('writes to a registered base are refused (RC 7)', async () => {
    const { h, calls } = withFakes();
    touch(img('b1'));
    base('b1');
    for (const c of ['resize name=b1 size=2G', 'rebase name=b1 flatten=true', 'commit name=b1']) expect((await h(c)).errorCode, c).toBe(7);
    expect(calls()).toEqual([]);
  });
});

describe('bases and clones', () => {
  it('clone_from_base is one qemu-img create -F with the absolute base path (dryrun)', async () => {
    const { h } = withFakes();
    base('b1');
    const r = await h('clone_from_base base=b1 name=web count=2 dryrun=true');
    expect(r.rexxVariables.COMMANDS).toEqual({
      0: 2,
      1: `qemu-img create -q -f qcow2 -F qcow2 -b ${img('b1')} ${img('web-1')}`,
      2: `qemu-img create -q -f qcow2 -F qcow2 -b ${img('b1')} ${img('web-2')}`,
    });
    expect(fs.existsSync(path.join(dir, 'vms', 'web-1'))).toBe(false);
  });

  it('clone_from_base writes the VM definition naming its base (fake binary)', async () => {
    const { h, calls } = withFakes();
    base('b1');
    const r = await h('clone_from_base base=b1 name=web memory=512M cpus=2 kernel=/bin/sh');
    expect(r.errorCode, r.errorMessage).toBe(0);
    expect(calls()[0]).toEqual(['qemu-img', 'create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', img('b1'), img('web')]);
    const def = JSON.parse(fs.readFileSync(path.join(dir, 'vms', 'web', 'vm.json'), 'utf8'));
    expect(def).toMatchObject({ name: 'web', base: 'b1', disk: img('web'), format: 'qcow2', memoryMiB: 512, cpus: 2 });
    expect((await h('clone_from_base base=b1 name=web')).errorCode).toBe(4);
  });

  it('an unknown base is RC 3; a failing qemu-img leaves no VM behind (fake binary)', async () => {
    expect((await withFakes().h('clone_from_base base=nope name=x')).errorCode).toBe(3);
    const { h } = withFakes({ 'qemu-img': { exit: 1, stderr: "qemu-img: Could not open '/x': No such file or directory" } });
    base('b1');
    const r = await h('clone_from_base base=b1 name=web');
    expect(r.errorCode).toBe(3);
    expect(fs.existsSync(path.join(dir, 'vms', 'web'))).toBe(false);
    expect(fs.existsSync(img('web'))).toBe(false);
  });

  it('zvol base: register snapshots the volume and marks it in the ZFS registry; clones are zfs clones booted as raw host devices (dryrun, fake runner)', async () => {
    const { h } = withZfs(false);
    const r = await h('register_base name=zb zvol=tank/vm/base dryrun=true');
    expect(r.errorCode, r.errorMessage).toBe(0);
    expect(r.output.split('\n')[0]).toBe('zfs snapshot tank/vm/base@rexx-base');
    expect(r.output.split('\n')).toEqual([
      'zfs snapshot tank/vm/base@rexx-base',
      'zfs set org.rexxjs:base=on tank/vm/base',
      'zfs set org.rexxjs:base-snapshot=rexx-base tank/vm/base',
      'zfs set org.rexxjs:qemu-base=zb tank/vm/base',
    ]);
    const c = await withZfs(true).h('clone_from_base base=zb name=z1 kernel=/bin/sh dryrun=true');
    expect(c.output).toBe('zfs clone -o org.rexxjs:cloned-from=tank/vm/base tank/vm/base@rexx-base tank/vm/z1');
  });

  it('a zvol base is listed from the ZFS registry, and nothing of it is written in the images folder (fake runner)', async () => {
    const { h } = withZfs(true);
    const r = await h('list_bases');
    expect(r.errorCode, r.errorMessage).toBe(0);
    expect(r.rexxVariables.BASES).toEqual({ 0: 1, 1: 'zb' });
    expect(r.rexxVariables.BASE_SNAPSHOTS).toEqual({ 0: 1, 1: 'tank/vm/base@rexx-base' });
    expect(fs.existsSync(path.join(dir, 'images'))).toBe(false);
  });

  it('unregister_base of a zvol base unregisters the volume in the ZFS registry and drops its QEMU name; refused while a clone uses it (fake runner)', async () => {
    const { h, changes } = withZfs(true);
    expect((await h('clone_from_base base=zb name=z1 kernel=/bin/sh')).errorCode).toBe(0);
    const refused = await h('unregister_base zb');
    expect(refused.errorCode).toBe(7);
    expect(refused.rexxVariables.DEPENDENTS).toEqual({ 0: 1, 1: 'z1' });
    expect((await h('delete z1')).errorCode).toBe(0);
    const r = await h('unregister_base zb');
    expect(r.errorCode, r.errorMessage).toBe(0);
    expect(changes().slice(1).map((c) => c.join(' '))).toEqual([
      'zfs inherit org.rexxjs:base tank/vm/base',
      'zfs inherit org.rexxjs:base-snapshot tank/vm/base',
      'zfs inherit org.rexxjs:base-description tank/vm/base',
      'zfs destroy -d tank/vm/base@rexx-base',
      'zfs inherit org.rexxjs:qemu-base tank/vm/base',
      'zfs inherit org.rexxjs:qemu-memory tank/vm/base',
      'zfs inherit org.rexxjs:qemu-cpus tank/vm/base',
    ]);
  });

  it('a zvol clone\'s /dev/zvol disk is the one device a VM may boot; any other device is RC 7 (fake runner)', async () => {
    const { h, changes } = withZfs(true);
    const r0 = await h('clone_from_base base=zb name=z1 kernel=/bin/sh accel=tcg');
    expect(r0.errorCode, r0.errorMessage).toBe(0);
    const s = await h('start z1 dryrun=true');
    expect(s.errorCode, s.errorMessage).toBe(0);
    expect(s.output).toContain('driver=host_device,filename=/dev/zvol/tank/vm/z1,');
    const r = await h('create name=other disk=/dev/null kernel=/bin/sh');
    expect(r.errorCode, r.errorMessage).toBe(7);
    expect(changes().map((c) => c.slice(0, 2).join(' '))).toEqual(['zfs clone']);
  });

  it('unregister_base is refused while a clone uses it, with stem DEPENDENTS (fake binary)', async () => {
    const { h } = withFakes();
    base('b1');
    await h('clone_from_base base=b1 name=c1 kernel=/bin/sh');
    const r = await h('unregister_base b1');
    expect(r.errorCode).toBe(7);
    expect(r.rexxVariables.DEPENDENTS).toEqual({ 0: 1, 1: 'c1' });
  });
});

describe('VM definition and start argv', () => {
  const def: VmDef = {
    name: 'vm1', disk: '/srv/vm1.qcow2', format: 'qcow2', base: '', memoryMiB: 256, cpus: 2, kernel: '/k', initrd: '/i',
    append: 'console=ttyS0 quiet', accel: 'auto', network: 'user', created: '',
  };
  it('qemu-system runs as a daemon with pidfile, QMP socket and serial log; the disk is a named blockdev', () => {
    const p = vmPaths({ env: { REXX_QEMU_DIR: '/s' } }, 'vm1');
    expect(qemuArgv(def, p, 'tcg')).toEqual([
      'qemu-system-x86_64', '-name', 'vm1', '-machine', 'pc', '-accel', 'tcg', '-m', '256', '-smp', '2',
      '-display', 'none', '-nodefaults', '-no-reboot', '-daemonize', '-pidfile', '/s/vms/vm1/qemu.pid',
      '-qmp', 'unix:/s/vms/vm1/qmp.sock,server=on,wait=off', '-serial', 'file:/s/vms/vm1/serial.log',
      '-blockdev', 'driver=file,filename=/srv/vm1.qcow2,node-name=disk0-file',
      '-blockdev', 'driver=qcow2,file=disk0-file,node-name=disk0', '-device', 'virtio-blk-pci,drive=disk0',
      '-kernel', '/k', '-initrd', '/i', '-append', 'console=ttyS0 quiet', '-nic', 'user,model=virtio-net-pci',
      '-chardev', 'socket,path=/s/vms/vm1/qga.sock,server=on,wait=off,id=qga0',
      '-device', 'virtio-serial-pci,id=qga-serial0', '-device', 'virtserialport,bus=qga-serial0.0,chardev=qga0,name=org.qemu.guest_agent.0',
    ]);
    expect(qemuArgv({ ...def, disk: '/dev/zvol/tank/z1', format: 'raw' }, p, 'kvm')).toContain('driver=host_device,filename=/dev/zvol/tank/z1,node-name=disk0-file');
  });

  it('create refuses what cannot boot (RC 2) and missing files (RC 3); start with accel=tcg plans the argv (dryrun)', async () => {
    const { h, calls } = withFakes();
    expect((await h('create name=vm1')).errorCode).toBe(2);
    expect((await h('create name=vm1 initrd=/bin/sh')).errorCode).toBe(2);
    expect((await h('create name=vm1 kernel=/nonexistent/k')).errorCode).toBe(3);
    expect((await h('create name=vm1 disk=nodisk')).errorCode).toBe(3);
    expect((await h('create name=vm1 kernel=/bin/sh append="console=ttyS0" accel=tcg memory=128')).errorCode).toBe(0);
    const r = await h('start vm1 dryrun=true');
    expect(r.output).toMatch(/^qemu-system-x86_64 -name vm1 -machine pc -accel tcg -m 128 -smp 1 .* -kernel \/bin\/sh -append console=ttyS0 -chardev socket,path=\S+\/vms\/vm1\/qga\.sock,server=on,wait=off,id=qga0 .*$/);
    expect(calls()).toEqual([]);
  });

  it('the KVM probe is a tiny multiboot guest with isa-debug-exit', () => {
    expect(probeArgv('/s/kvm-probe.bin')).toEqual([
      'qemu-system-x86_64', '-accel', 'kvm', '-machine', 'pc', '-m', '16', '-display', 'none', '-nodefaults', '-no-reboot',
      '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04', '-kernel', '/s/kvm-probe.bin',
    ]);
  });

  it('accel=kvm where the probe fails → RC 6 naming the reason; accel=auto falls back to TCG (fake binary)', async () => {
    const { h, calls } = withFakes({ 'qemu-system-x86_64': { exit: 1, stderr: 'KVM internal error. Suberror: 1' } });
    await h('create name=k1 kernel=/bin/sh accel=kvm');
    await h('create name=a1 kernel=/bin/sh accel=auto');
    const k = await h('start k1 wait=none');
    expect(k.errorCode).toBe(6);
    expect(k.errorMessage).toMatch(/KVM does not work on this host.*accel=tcg/);
    const a = await h('start a1 dryrun=true');
    expect(a.output).toContain('-accel tcg');
    // the verdict is cached in the state dir: no second probe
    const probes = calls().filter((c) => c.includes('isa-debug-exit,iobase=0xf4,iosize=0x04'));
    expect(probes.length).toBeLessThanOrEqual(1);
  });

  it('a qemu-system that fails to launch is classified and the serial log kept (fake binary)', async () => {
    const { h } = withFakes({ 'qemu-system-x86_64': { exit: 1, stderr: "qemu-system-x86_64: -blockdev driver=file,filename=/x: Could not open '/x': No such file or directory" } });
    await h('create name=v1 kernel=/bin/sh accel=tcg');
    const r = await h('start v1');
    expect(r.errorCode).toBe(3);
    expect(r.errorMessage).toMatch(/start v1: .*Could not open/);
  });

  it('verbs on a VM that does not exist are RC 3; pause of a stopped VM is RC 7', async () => {
    const { h } = withFakes();
    for (const c of ['start nope', 'state nope', 'stop nope', 'pause nope', 'delete nope', 'console nope', 'snapshot nope s1']) expect((await h(c)).errorCode, c).toBe(3);
    await h('create name=v1 kernel=/bin/sh');
    expect((await h('pause v1')).errorCode).toBe(7);
    expect((await h('snapshot v1 s1')).errorCode).toBe(7); // no qcow2 disk
  });

  it('a pidfile whose process is gone is a crashed VM: state is RC 1 with the serial tail', async () => {
    const { h } = withFakes();
    await h('create name=v1 kernel=/bin/sh');
    const p = vmPaths({ env: { REXX_QEMU_DIR: dir } }, 'v1');
    fs.writeFileSync(p.pid, '999999\n');
    fs.writeFileSync(p.serial, '\x1b[2Jboot\r\nlast words\r\n');
    const r = await h('state v1');
    expect(r.errorCode).toBe(1);
    expect(r.errorMessage).toMatch(/crashed or was killed — last serial lines: boot \| last words/);
    expect(r.rexxVariables.STATUS).toBe('crashed');
    const s = await h('stop v1');
    expect(s.rexxVariables).toMatchObject({ STATUS: 'stopped', WAS: 'crashed' });
    expect(fs.existsSync(p.pid)).toBe(false);
  });
});

describe('status', () => {
  it('a missing qemu-img is RC 6 with REACHABLE=0 (no binaries on PATH)', async () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-qemu-nopath-'));
    try {
      const h = createHandler(table, { env: { PATH: empty, REXX_QEMU_DIR: dir, REXX_QEMU_PATHS: '/bin' } });
      const r = await h('status');
      expect(r.errorCode).toBe(6);
      expect(r.errorMessage).toMatch(/qemu-img is not installed/);
      expect(r.rexxVariables.REACHABLE).toBe(0);
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });
});
