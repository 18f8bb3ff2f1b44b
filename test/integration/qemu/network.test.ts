/**
 * ADDRESS QEMU networking on the real qemu-system-x86_64 and the project's LXD bridge
 * rexxbr0 (dnsmasq DHCP; scripts/setup-host.sh): a VM with network=bridge:rexxbr0 gets
 * its tap on the bridge, start wait=ip reads its DHCP lease (IPV4) and the host pings
 * it; nic_add / nic_remove hot-plug NICs (seen by QMP and by the guest's device
 * watcher); stop removes the taps; network=user forward= reaches busybox httpd in the
 * guest on 127.0.0.1. Two guest boots under TCG.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler, type AddressHandler } from '../../../shared/dispatch';
import { sleep } from '../../../shared/poll';
import { withQmp } from '../../../shared/qmp';
import { table } from '../../../handlers/qemu';
import { tapName } from '../../../handlers/qemu/network';
import { qemuProcesses, removeQemuState } from '../../helpers/qemu';
import { RUN_ID } from '../../helpers/run-id';

const G = '/var/lib/rexx-address/qemu-guest';
const GUEST = `kernel=${G}/vmlinuz initrd=${G}/initrd.img accel=tcg memory=192`;
let dir: string;
let h: AddressHandler;
const ok = async (cmd: string) => {
  const r = await h(cmd);
  expect(r.errorCode, `${cmd}: ${r.errorMessage}`).toBe(0);
  return r;
};
const vmDir = (vm: string) => path.join(dir, 'vms', vm);
const qmp = <T>(vm: string, fn: Parameters<typeof withQmp<T>>[1]) => withQmp(path.join(vmDir(vm), 'qmp.sock'), fn);
const peripherals = (vm: string) => qmp(vm, async (q) => (await q.execute<Array<{ name: string }>>('qom-list', { path: '/machine/peripheral' })).map((d) => d.name));
/** The last device line the guest's watcher printed (rexx.devwatch=1). */
async function devices(vm: string): Promise<string> {
  // A line may follow the shell's prompt on the console: take what comes after the tag.
  const lines = (await ok(`console ${vm} lines=200`)).output.split('\n').flatMap((l) => /REXX-DEVICES:(.*)$/.exec(l)?.[1] ?? []);
  return lines.at(-1) ?? '';
}
async function until(what: string, f: () => Promise<boolean> | boolean, ms = 30_000, vm = ''): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${vm ? `; console:\n${(await h(`console ${vm} lines=40`)).output}` : ''}`);
    await sleep(200);
  }
}
const freePort = () => new Promise<number>((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => {
    const p = (s.address() as net.AddressInfo).port;
    s.close(() => resolve(p));
  });
});

beforeAll(async () => {
  for (const f of ['vmlinuz', 'initrd.img']) if (!fs.existsSync(path.join(G, f))) throw new Error(`${G}/${f} missing: run scripts/build-qemu-guest.sh`);
  if (!fs.existsSync('/sys/class/net/rexxbr0/bridge')) throw new Error('bridge rexxbr0 missing: run scripts/setup-host.sh');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), `rexx-qnet-${RUN_ID}-`));
  h = createHandler(table, { env: { ...process.env, REXX_QEMU_DIR: dir } });
});
afterAll(async () => {
  const taps = fs.existsSync(path.join(dir, 'vms')) ? fs.readdirSync(path.join(dir, 'vms')).flatMap((vm) => ['net0', 'nic1', 'br2'].map((n) => tapName(vmDir(vm), n))) : [];
  await removeQemuState(h, dir);
  for (const t of taps) if (fs.existsSync(`/sys/class/net/${t}`)) await execa('ip', ['link', 'del', 'dev', t], { reject: false });
});

describe('network=bridge:rexxbr0', () => {
  it('a tap on the bridge, wait=ip sets IPV4 from the DHCP lease, the host pings it; nic_add/nic_remove hot-plug; stop removes the taps', async () => {
    await ok(`create nb1 ${GUEST} append="console=ttyS0 quiet rexx.net=dhcp rexx.devwatch=1" network=bridge:rexxbr0`);
    const def = JSON.parse(fs.readFileSync(path.join(vmDir('nb1'), 'vm.json'), 'utf8'));
    expect(def.mac).toMatch(/^52:54:00(:[0-9a-f]{2}){3}$/);
    const tap = tapName(vmDir('nb1'), 'net0');
    const s = await ok('start nb1 wait=ip timeout=120s');
    expect(s.rexxVariables.IPV4).toMatch(/^10\.231\.7\.\d+$/);
    // (the busybox guest has an agent channel but no qemu-ga: the lease answers)
    expect(s.rexxVariables.IP_SOURCE).toBe('lease');
    expect(s.rexxVariables.READY_MS).toBeGreaterThan(0);
    expect(path.basename(fs.readlinkSync(`/sys/class/net/${tap}/master`))).toBe('rexxbr0');
    const leases = fs.readFileSync('/var/lib/lxd/networks/rexxbr0/dnsmasq.leases', 'utf8');
    expect(leases).toContain(`${def.mac} ${s.rexxVariables.IPV4}`);
    expect((await ok('start nb1 wait=ip')).rexxVariables).toMatchObject({ ALREADY: 1, IPV4: s.rexxVariables.IPV4, IP_SOURCE: 'lease' });
    const ping = await execa('ping', ['-c', '1', '-W', '3', String(s.rexxVariables.IPV4)], { reject: false });
    expect(ping.exitCode, ping.stdout).toBe(0);

    // hot-plug: a user-mode NIC and a second bridged one, seen by QEMU and the guest
    await until('the device watcher', async () => (await devices('nb1')).includes('eth0'));
    const a1 = await ok('nic_add nb1');
    expect(a1.rexxVariables).toMatchObject({ NIC: 'nic1', HOTPLUGGED: 1, TAP: '' });
    const a2 = await ok('nic_add nb1 id=br2 network=bridge:rexxbr0');
    expect(a2.rexxVariables.TAP).toBe(tapName(vmDir('nb1'), 'br2'));
    expect(fs.existsSync(`/sys/class/net/${a2.rexxVariables.TAP}/master`)).toBe(true);
    expect(await peripherals('nb1')).toEqual(expect.arrayContaining(['rexx-nic-nic1', 'rexx-nic-br2']));
    await until('eth2 in the guest', async () => (await devices('nb1')).includes('eth2'), 30_000, 'nb1');
    expect((await h('nic_add nb1 id=nic1')).errorCode).toBe(4);
    await ok('nic_remove nb1 nic1');
    await ok('nic_remove nb1 br2');
    expect(await peripherals('nb1')).not.toEqual(expect.arrayContaining(['rexx-nic-nic1']));
    expect(fs.existsSync(`/sys/class/net/${a2.rexxVariables.TAP}`)).toBe(false);
    await until('eth1 gone in the guest', async () => !(await devices('nb1')).includes('eth1'));
    expect((await h('nic_remove nb1 nic1')).errorCode).toBe(3);

    await ok('stop nb1 force=true');
    expect(fs.existsSync(`/sys/class/net/${tap}`)).toBe(false);
  });

  it('a bridge that does not exist is RC 3; forward= without network=user and wait=ip with neither a bridge nor an agent channel are RC 2; no QEMU runs', async () => {
    expect((await h(`create nb2 ${GUEST} network=bridge:rexxnobr${RUN_ID.slice(-4)}`)).errorCode).toBe(3);
    expect((await h(`create nb2 ${GUEST} network=bridge:rexxbr0 forward=tcp:18080:80`)).errorCode).toBe(2);
    await ok(`create nb3 ${GUEST} network=user agent=false`);
    const r = await h('start nb3 wait=ip');
    expect(r.errorCode, r.errorMessage).toBe(2);
    expect(qemuProcesses(path.join(vmDir('nb3'), 'qmp.sock'))).toEqual([]);
  });
});

describe('network=user forward=', () => {
  it('forward=tcp:HOSTPORT:8080 reaches busybox httpd in the guest on 127.0.0.1', async () => {
    const port = await freePort();
    await ok(`create nf1 ${GUEST} append="console=ttyS0 quiet rexx.net=dhcp rexx.httpd=8080" network=user forward=tcp:${port}:8080`);
    await ok('start nf1 wait=serial:REXX-NET-UP timeout=120s');
    let body = '';
    await until('httpd through the forward', async () => {
      const r = await execa('curl', ['-s', '-m', '3', `http://127.0.0.1:${port}/`], { reject: false });
      body = r.stdout;
      return body.includes('REXX-HTTPD-OK');
    }, 30_000);
    expect(body).toContain('REXX-HTTPD-OK');
    const usernet = await qmp('nf1', (q) => q.execute<string>('human-monitor-command', { 'command-line': 'info usernet' }));
    expect(usernet).toMatch(new RegExp(`HOST_FORWARD.*127\\.0\\.0\\.1\\s+${port}`));
    await ok('stop nf1 force=true');
  });
});
