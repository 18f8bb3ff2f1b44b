/**
 * start's readiness waits on the real daemon: wait=ipv6 on a bridge with IPv6 (SLAAC, a
 * network made here), wait=cloud-init (the tiny image has none: RC 6 and nothing started;
 * a stand-in `cloud-init` script pushed into the real container answers `status:` as
 * cloud-init does, running then done, or error), wait=agent on a container (RC 2), and
 * each wait on an instance that is already running.
 */
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { table } from '../../../handlers/lxd';
import { createHandler } from '../../../shared/dispatch';
import { RUN_ID } from '../../helpers/run-id';
import { cleanupInstances, requireLxd, uniq, okWith } from './lxd-test-env';

const h = createHandler(table);
const V6 = uniq('v6');
const CI = uniq('ci');
const NET = `rxv6${RUN_ID.slice(-6)}`; // ≤ 15 characters (an interface name)
/** This run's own /64 (another run's network, or one LXD is still taking down, may hold another). */
const SUBNET = `fd42:7e57:${(parseInt(RUN_ID.replace(/[^0-9a-f]/gi, '').slice(-4) || '9', 16) || 9).toString(16)}`;

const ok = okWith(h);
const status = async (name: string) => (await ok(`info name=${name}`)).rexxVariables.STATUS;

/** A stand-in for cloud-init's `status` command: `running` on the first call, then `final`. */
const standIn = (final: string) => `#!/bin/sh\nif [ -f /tmp/ci-seen ]; then echo "status: ${final}"; else touch /tmp/ci-seen; echo "status: running"; fi\n`;

beforeAll(async () => {
  await requireLxd();
  await execa('lxc', ['network', 'create', NET, 'ipv4.address=none', `ipv6.address=${SUBNET}::1/64`, 'ipv6.nat=false', 'ipv6.dhcp=false']);
});

afterAll(async () => {
  await cleanupInstances([V6, CI]);
  // LXD may still be removing the instance's nic firewall chain: try again for a moment
  for (let i = 0; i < 10; i++) {
    if ((await execa('lxc', ['network', 'delete', NET], { reject: false })).exitCode === 0) break;
    await new Promise((r) => setTimeout(r, 500));
  }
});

describe('start wait= readiness (real daemon)', () => {
  it('wait=ipv6 on a bridge with IPv6: IPV6 is its global address (SLAAC); again on the running instance', async () => {
    await ok(`create name=${V6} image=tiny`);
    await ok(`device_add name=${V6} device=eth0 type=nic network=${NET}`);
    const r = await ok(`start name=${V6} wait=ipv6 timeout=60s`);
    expect(String(r.rexxVariables.IPV6).startsWith(`${SUBNET}:0:`)).toBe(true);
    expect(r.rexxVariables.IPV4).toBe('');
    const again = await ok(`start name=${V6} wait=ipv6`);
    expect(again.rexxVariables.IPV6).toBe(r.rexxVariables.IPV6);
  });

  it('wait=agent on a container is RC 2 and starts nothing', async () => {
    await ok(`create name=${CI} image=tiny`);
    const r = await h(`start name=${CI} wait=agent`);
    expect(r.errorCode).toBe(2);
    expect(r.errorMessage).toMatch(/lxd-agent.*container/);
    expect(await status(CI)).toBe('Stopped');
  });

  it('wait=cloud-init: an image without cloud-init is RC 6 before anything starts; a stand-in cloud-init that says running, then done, is waited for; error is RC 1', async () => {
    const none = await h(`start name=${CI} wait=cloud-init`);
    expect(none.errorCode).toBe(6);
    expect(none.errorMessage).toMatch(/has no cloud-init/);
    expect(await status(CI)).toBe('Stopped');
    await ok(`file_push name=${CI} path=/usr/bin/cloud-init content="${standIn('done').replace(/"/g, '\\"')}" mode=0755`);
    const r = await ok(`start name=${CI} wait=cloud-init timeout=60s`);
    expect(r.rexxVariables.CLOUD_INIT).toBe('done');
    expect(r.rexxVariables.STATUS).toBe('Running');
    expect((await ok(`start name=${CI} wait=cloud-init`)).rexxVariables.CLOUD_INIT).toBe('done'); // already running
    await ok(`stop name=${CI} force=true`);
    await ok(`file_push name=${CI} path=/usr/bin/cloud-init content="${standIn('error').replace(/"/g, '\\"')}" mode=0755`);
    await ok(`file_delete name=${CI} path=/tmp/ci-seen`).catch(() => undefined);
    const bad = await h(`start name=${CI} wait=cloud-init timeout=60s`);
    expect(bad.errorCode).toBe(1);
    expect(bad.errorMessage).toMatch(/status: error/);
    expect(bad.rexxVariables.CLOUD_INIT).toBe('error');
  });
});
