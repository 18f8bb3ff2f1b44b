/**
 * ADDRESS QEMU through the guest agent, on real qemu booting the full Debian guest
 * (scripts/build-qemu-full-guest.sh) once under TCG: start wait=agent, exec (RC = exit
 * status, stdout, stderr, stdin, env, cwd, user, not found → -3, timeout → -5),
 * file_push / file_pull round trip with mode, guest_info, start wait=ip answered by the
 * agent (guest-network-get-interfaces on the VM's MAC: on the running VM, and on a second
 * boot whose NIC takes slirp's DHCP), and shutdown through the agent.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler, type AddressHandler } from '../../../shared/dispatch';
import { table } from '../../../handlers/qemu';
import { removeQemuState } from '../../helpers/qemu';
import { FULL_GUEST_HW, fullGuestOverlay, requireFullGuest } from '../../helpers/qemu-full-guest';

let dir: string;
let h: AddressHandler;
const ok = async (cmd: string) => {
  const r = await h(cmd);
  expect(r.errorCode, `${cmd}: ${r.errorMessage}`).toBe(0);
  return r;
};

beforeAll(async () => {
  await requireFullGuest();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-qga-'));
  h = createHandler(table, { env: { ...process.env, REXX_QEMU_DIR: dir } });
  await fullGuestOverlay(dir, 'ga1');
  await ok(`create name=ga1 disk=ga1 ${FULL_GUEST_HW} network=user`);
  const s = await ok('start ga1 wait=agent timeout=240s');
  expect(s.rexxVariables.AGENT_MS).toBeGreaterThan(0);
}, 300_000);
afterAll(() => removeQemuState(h, dir));

describe('exec through the guest agent', () => {
  it('RC is the exit status; stdout in RESULT and LINES, stderr in STDERR', async () => {
    const r = await ok('exec ga1 command="echo one; echo two; echo oops >&2"');
    expect(r.output).toBe('one\ntwo\n');
    expect(r.rexxVariables).toMatchObject({ EXIT_CODE: 0, STDERR: 'oops\n' });
    const f = await h('exec ga1 command="echo bad >&2; exit 3"');
    expect(f.errorCode).toBe(3);
    expect(f.rexxVariables.EXIT_CODE).toBe(3);
    expect(f.errorMessage).toContain('bad');
  });

  it('input=, env=, cwd= and user= reach the command', async () => {
    expect((await ok('exec ga1 command="cat; echo $FOO; pwd; id -u" input="from stdin\n" env=FOO=bar cwd=/tmp user=65534')).output).toBe('from stdin\nbar\n/tmp\n65534\n');
    expect((await ok('exec ga1 arg=cat arg=/etc/hostname')).output).toBe('rexx-full-guest\n');
  });

  it('a missing program is RC -3, a missing cwd RC -3, a shell\'s unknown command 127, a timeout RC -5', async () => {
    const nf = await h('exec ga1 arg=/no/such/program');
    expect(nf.errorCode).toBe(-3);
    expect(nf.rexxVariables.EXIT_CODE).toBe('');
    expect((await h('exec ga1 command="echo x" cwd=/no/such/dir')).errorCode).toBe(-3);
    expect((await h('exec ga1 command="no-such-command-xyz"')).errorCode).toBe(127);
    const t = await h('exec ga1 command="sleep 30" timeout=2s');
    expect(t.errorCode).toBe(-5);
  });
});

describe('files through the guest agent', () => {
  it('file_push with mode, then file_pull, round-trips bytes (more than one chunk)', async () => {
    const src = path.join(dir, 'blob.bin');
    const data = Buffer.alloc(1024 * 1024 + 12345);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7919) & 0xff;
    fs.writeFileSync(src, data);
    expect((await ok(`file_push ga1 source=${src} path=/root/sub/blob.bin mode=0600 parents=true`)).rexxVariables.BYTES).toBe(data.length);
    expect((await ok('exec ga1 command="stat -c %a /root/sub/blob.bin"')).output).toBe('600\n');
    const dst = path.join(dir, 'back.bin');
    expect((await ok(`file_pull ga1 path=/root/sub/blob.bin destination=${dst}`)).rexxVariables.BYTES).toBe(data.length);
    expect(fs.readFileSync(dst).equals(data)).toBe(true);
    await ok('file_push ga1 path=/tmp/hello.txt content="hello\nworld\n"');
    const r = await ok('file_pull ga1 path=/tmp/hello.txt');
    expect(r.output).toBe('hello\nworld\n');
    expect(r.rexxVariables.LINES).toEqual({ 0: 2, 1: 'hello', 2: 'world' });
    expect((await h('file_pull ga1 path=/no/such/file')).errorCode).toBe(3);
    expect((await h('file_push ga1 path=/no/such/dir/f content=x')).errorCode).toBe(3);
  });
});

describe('guest_info and shutdown', () => {
  it('guest_info names the OS, kernel, hostname and interfaces', async () => {
    const r = await ok('guest_info ga1');
    expect(r.rexxVariables).toMatchObject({ OS_ID: 'debian', OS_VERSION: '12', HOSTNAME: 'rexx-full-guest', ARCH: 'x86_64' });
    expect(String(r.rexxVariables.KERNEL)).toMatch(/cloud-amd64$/);
    expect(Object.values(r.rexxVariables.INTERFACES as object)).toContain('lo');
  });

  it('start wait=ip on the running VM takes the address the agent reports on its MAC', async () => {
    // The full guest configures no NIC by itself: give the user-network NIC slirp's address by hand.
    const mac = JSON.parse(fs.readFileSync(path.join(dir, 'vms/ga1/vm.json'), 'utf8')).mac as string;
    const dev = (await ok(`exec ga1 command="ip -o link | grep -i ${mac} | cut -d: -f2 | tr -d ' '"`)).output.trim();
    expect(dev).toMatch(/^[a-z0-9]+$/);
    expect((await ok('start ga1 wait=ip')).rexxVariables).toMatchObject({ ALREADY: 1, IPV4: '', IP_SOURCE: '' });
    await ok(`exec ga1 command="ip addr add 10.0.2.15/24 dev ${dev} && ip link set ${dev} up"`);
    expect((await ok('start ga1 wait=ip')).rexxVariables).toMatchObject({ ALREADY: 1, IPV4: '10.0.2.15', IP_SOURCE: 'agent' });
    // For the next boot: DHCP on that NIC (ifupdown, isc-dhcp-client; slirp's DHCP gives 10.0.2.15).
    await ok(`exec ga1 command="printf 'auto ${dev}\\niface ${dev} inet dhcp\\n' > /etc/network/interfaces.d/rexx-nic"`);
  });

  it('shutdown powers the guest off through the agent; then it is stopped', async () => {
    const r = await ok('shutdown ga1 timeout=90s');
    expect(['agent', 'agent-exec']).toContain(r.rexxVariables.METHOD);
    expect((await ok('state ga1')).output).toBe('stopped');
    expect((await ok('shutdown ga1')).rexxVariables.METHOD).toBe('none');
    expect((await h('exec ga1 command=true')).errorCode).toBe(-7);
  });

  it('start wait=ip on a boot waits until the agent reports the DHCP address (network=user: no lease file to read)', async () => {
    const r = await ok('start ga1 wait=ip timeout=240s');
    expect(r.rexxVariables).toMatchObject({ ALREADY: 0, IPV4: '10.0.2.15', IP_SOURCE: 'agent' });
    expect(r.rexxVariables.READY_MS).toBeGreaterThan(0);
    await ok('stop ga1 force=true');
  }, 300_000);
});
