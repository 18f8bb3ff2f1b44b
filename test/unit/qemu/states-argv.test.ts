/**
 * The qemu argv of restore_state and migrate (pure, no QEMU runs): a saved state's
 * overlay (vm.json top) in place of the disk, -incoming, and the serial log appended to.
 */
import { describe, expect, it } from 'vitest';
import { qemuArgv } from '../../../handlers/qemu/vm';
import { vmPaths, type VmDef } from '../../../handlers/qemu/state';

const def: VmDef = {
  name: 'vm1', disk: '/s/images/d.raw', format: 'raw', base: '', memoryMiB: 128, cpus: 1, kernel: '/k', initrd: '', append: '',
  accel: 'tcg', network: 'none', created: '2026-01-01T00:00:00.000Z',
};
const p = vmPaths({ env: { REXX_QEMU_DIR: '/s' } }, 'vm1');

describe('qemuArgv for saved states and migration', () => {
  it('runs on vm.json top (a qcow2 overlay) instead of the disk it builds on', () => {
    const a = qemuArgv({ ...def, top: '/s/vms/vm1/states/x/next.qcow2', head: 'x' }, p, 'tcg');
    expect(a).toContain('driver=file,filename=/s/vms/vm1/states/x/next.qcow2,node-name=disk0-file');
    expect(a).toContain('driver=qcow2,file=disk0-file,node-name=disk0');
    expect(a.join(' ')).not.toContain('d.raw');
  });

  it('-incoming defer and the serial log appended to (migrate), with its own pidfile and socket', () => {
    const a = qemuArgv(def, { ...p, pid: `${p.pid}.1`, qmp: `${p.qmp}.1` }, 'tcg', undefined, { incoming: 'defer', appendSerial: true });
    expect(a.slice(-2)).toEqual(['-incoming', 'defer']);
    expect(a).toContain('file,id=serial0,path=/s/vms/vm1/serial.log,append=on');
    expect(a).toContain('chardev:serial0');
    expect(a).toContain('/s/vms/vm1/qemu.pid.1');
    expect(a).toContain('unix:/s/vms/vm1/qmp.sock.1,server=on,wait=off');
    expect(a).not.toContain('file:/s/vms/vm1/serial.log');
  });
});
