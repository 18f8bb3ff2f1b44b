/**
 * ADDRESS QEMU cloud_init on real qemu: a NoCloud seed (cloud-localds) attached to the
 * full Debian guest (scripts/build-qemu-full-guest.sh), booted once under TCG with
 * start wait=cloud-init; the file its write_files wrote, its runcmd and its hostname are
 * there, read through the guest agent.
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

const USER_DATA = `#cloud-config
hostname: ci-test-host
write_files:
  - path: /etc/rexx-ci.txt
    content: |
      written by cloud-init
    permissions: '0640'
runcmd:
  - [ sh, -c, 'echo ran > /root/runcmd.txt' ]
`;

beforeAll(async () => {
  await requireFullGuest();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-qci-'));
  h = createHandler(table, { env: { ...process.env, REXX_QEMU_DIR: dir } });
  await fullGuestOverlay(dir, 'ci1');
  await ok(`create name=ci1 disk=ci1 ${FULL_GUEST_HW}`);
});
afterAll(() => removeQemuState(h, dir));

describe('cloud_init', () => {
  it('a seed from a user-data file is applied: start wait=cloud-init, then write_files, runcmd and hostname are in the guest', async () => {
    const ud = path.join(dir, 'user-data.yaml');
    fs.writeFileSync(ud, USER_DATA);
    const c = await ok(`cloud_init ci1 user_data=${ud}`);
    expect(c.rexxVariables.SEED).toBe(path.join(dir, 'vms', 'ci1', 'seed.iso'));
    expect(String(c.rexxVariables.INSTANCE_ID)).toMatch(/^ci1-\d+$/);
    expect(fs.statSync(String(c.rexxVariables.SEED)).size).toBeGreaterThan(0);
    const s = await ok('start ci1 wait=cloud-init timeout=300s');
    expect(s.rexxVariables.CLOUD_INIT).toBe('status: done');
    expect(s.rexxVariables.CLOUD_INIT_MS).toBeGreaterThanOrEqual(Number(s.rexxVariables.AGENT_MS));
    expect((await ok('file_pull ci1 path=/etc/rexx-ci.txt')).output).toBe('written by cloud-init\n');
    expect((await ok('exec ci1 command="stat -c %a /etc/rexx-ci.txt; cat /root/runcmd.txt; hostname"')).output).toBe('640\nran\nci-test-host\n');
    expect((await h('cloud_init ci1 user_data="#cloud-config"')).errorCode).toBe(7); // running
    await ok('stop ci1 force=true');
  }, 400_000);

  it('a missing user-data file is RC 3 and nothing is attached; text values are taken as they are', async () => {
    expect((await h('cloud_init ci1 user_data=/no/such/user-data')).errorCode).toBe(3);
    const r = await ok('cloud_init ci1 user_data="#cloud-config\nhostname: x\n" meta_data="instance-id: fixed-1\n" network_config="version: 2\nethernets: {}\n"');
    expect(r.rexxVariables.INSTANCE_ID).toBe('');
    expect(fs.readFileSync(path.join(dir, 'vms', 'ci1', 'cloud-init', 'meta-data'), 'utf8')).toBe('instance-id: fixed-1\n');
    expect(fs.readFileSync(path.join(dir, 'vms', 'ci1', 'cloud-init', 'network-config'), 'utf8')).toContain('version: 2');
  });
});
