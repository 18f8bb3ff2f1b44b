/**
 * Profiles, networks, storage volumes and file_mkdir: the `lxc` argv each builds, the
 * checks that refuse before anything runs, and LXD's "in use" messages mapped to RC 7
 * (errors.ts LXC_IN_USE_ERRORS) — against a fake `lxc` on PATH that records its argv.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { table } from '../../../handlers/lxd';
import { privateIpv4Cidr, privateIpv6Cidr } from '../../../handlers/lxd/names';
import { createHandler } from '../../../shared/dispatch';
import { fakeBin, type FakeBin, type FakeSpec } from '../../helpers/fakebin';

const fakes: FakeBin[] = [];
afterEach(() => {
  while (fakes.length) fakes.pop()!.cleanup();
});

function withLxc(spec: FakeSpec = {}, env: Record<string, string> = {}) {
  const fake = fakeBin({ lxc: spec });
  fakes.push(fake);
  return { h: createHandler(table, { env: { ...fake.env, ...env } }), calls: () => fake.calls().map((c) => c.slice(1)) };
}

describe('argv (fake binary)', () => {
  it.each([
    ['profile_create name=small config=limits.memory=256MiB description="small ones"', [['query', '-X', 'POST', '/1.0/profiles', '-d', '{"name":"small","description":"small ones","config":{"limits.memory":"256MiB"},"devices":{}}']]],
    ['profile_set small limits.cpu 2', [['profile', 'set', 'small', 'limits.cpu=2']]],
    ['profile_set name=small config=user.a=1 device=http type=proxy listen=tcp:127.0.0.1:8080 connect=tcp:127.0.0.1:80 remote=r', [['profile', 'set', 'r:small', 'user.a=1'], ['profile', 'device', 'add', 'r:small', 'http', 'proxy', 'listen=tcp:127.0.0.1:8080', 'connect=tcp:127.0.0.1:80']]],
    ['profile_delete small', [['profile', 'delete', 'small']]],
    ['network_create name=rexxtest0 ipv4=10.250.7.1/24', [['query', '-X', 'POST', '/1.0/networks', '-d', '{"name":"rexxtest0","type":"bridge","description":"","config":{"ipv4.address":"10.250.7.1/24","ipv6.address":"none","ipv4.nat":"false","ipv4.dhcp":"true"}}'], ['query', '/1.0/networks/rexxtest0']]],
    ['network_delete rexxtest0', [['network', 'delete', 'rexxtest0']]],
    ['volume_create default v1 size=1GiB content=block', [['storage', 'volume', 'create', 'default', 'v1', 'size=1GiB', '--type=block']]],
    ['volume_attach pool=default volume=v1 name=web path=/srv/data', [['storage', 'volume', 'attach', 'default', 'v1', 'web', 'v1', '/srv/data']]],
    ['volume_attach pool=default volume=v1 name=web path=/srv/data device=data', [['storage', 'volume', 'attach', 'default', 'v1', 'web', 'data', '/srv/data']]],
    ['volume_attach pool=default volume=v1 name=vm', [['storage', 'volume', 'attach', 'default', 'v1', 'vm']]],
    ['volume_detach pool=default volume=v1 name=web device=data', [['storage', 'volume', 'detach', 'default', 'v1', 'web', 'data']]],
    ['volume_delete default v1', [['storage', 'volume', 'delete', 'default', 'v1']]],
    ['volume_snapshot default v1 s1', [['storage', 'volume', 'snapshot', 'default', 'v1', 's1']]],
  ])('%s', async (cmd, want) => {
    const { h, calls } = withLxc({ stdout: '{"config":{}}' });
    const r = await h(cmd);
    expect(r.errorMessage).toBe('');
    expect(calls()).toEqual(want);
  });

  it('file_mkdir: asks what is at the path, then pushes a directory it made with that mode and owner (dryrun shows the push)', async () => {
    const { h } = withLxc({ exit: 1, stderr: 'Error: Not Found' });
    const r = await h('file_mkdir name=web path=/srv/www mode=0750 uid=33 gid=34 parents=true dryrun=true');
    expect(r.errorMessage).toBe('');
    expect(r.output).toMatch(/^lxc file push -r -p \S+\/rexx-mkdir-XXXXXX\/www web\/srv\/$/);
  });
});

describe('refused before anything runs (fake binary)', () => {
  it.each([
    ['profile_set name=p config=raw.lxc=lxc.hook.pre-start=/bin/sh', 7],
    ['profile_set name=p config=security.privileged=true', 7],
    ['profile_set name=p device=etc type=disk source=/etc path=/mnt', 7],
    ['profile_set name=p device=k type=unix-char source=/dev/kmsg', 7],
    ['profile_set name=p config=user.ok=1 device=n type=nic nictype=physical parent=eth0', 7],
    ['profile_create name=p config=security.nesting=true', 7],
    ['profile_set name=p config=user.rexx.base.snapshot=x', 2],
    ['profile_set name=p', 2],
    ['profile_set name=p device=d', 2],
    ['profile_set name=p listen=tcp:127.0.0.1:1', 2],
    ['network_create name=n ipv4=8.8.8.1/24', 2],
    ['network_create name=averylongname016 ipv4=10.1.1.1/24', 2],
    ['network_create name=n', 2],
    ['volume_attach pool=default volume=v name=web device=d', 2],
    ['file_mkdir name=web path=/', 7],
    ['file_mkdir name=web path=/x mode=4755', 2],
  ])('%s → RC %i', async (cmd, rc) => {
    const { h, calls } = withLxc();
    const r = await h(cmd);
    expect(r.errorCode, r.errorMessage).toBe(rc);
    expect(calls()).toEqual([]);
  });

  it('with REXX_LXD_ALLOW_UNSAFE=1 a profile may have a host-path disk', async () => {
    const { h, calls } = withLxc({}, { REXX_LXD_ALLOW_UNSAFE: '1' });
    const r = await h('profile_set name=p device=etc type=disk source=/etc path=/mnt');
    expect(r.errorCode, r.errorMessage).toBe(0);
    expect(calls()).toEqual([['profile', 'device', 'add', 'p', 'etc', 'disk', 'path=/mnt', 'source=/etc']]);
  });
});

describe('LXD\'s "in use" answers are RC 7, a missing attachment RC 3 (fake binary)', () => {
  it.each([
    ['profile_delete name=p', 'Error: Profile is currently in use', 7],
    ['profile_delete name=default', 'Error: The "default" profile cannot be deleted', 7],
    ['network_delete name=n', 'Error: The network is currently in use', 7],
    ['volume_delete pool=default volume=v', 'Error: The storage volume is still in use', 7],
    ['volume_detach pool=default volume=v name=web', 'Error: No device found for this storage volume', 3],
    ['volume_delete pool=default volume=v', 'Error: Storage pool volume not found', 3],
    ['network_delete name=n', 'Error: Failed loading network: Network not found', 3],
    ['volume_snapshot pool=default volume=v snapshot=s1', 'Error: Snapshot "s1" already in use', 4],
  ])('%s: %s → RC %i', async (cmd, stderr, rc) => {
    const { h } = withLxc({ exit: 1, stderr });
    expect((await h(cmd)).errorCode).toBe(rc);
  });
});

describe('address ranges of network_create', () => {
  it.each(['auto', 'none', '10.0.0.1/8', '10.250.7.1/24', '172.31.255.1/16', '192.168.1.1/24', '100.64.0.1/10', '198.18.0.1/15', '192.0.2.1/24', '203.0.113.1/24'])('IPv4 %s is allowed', (v) => {
    expect(privateIpv4Cidr.check(v)).toBeUndefined();
  });
  it.each(['8.8.8.1/24', '10.0.0.1/7', '172.32.0.1/24', '192.169.0.1/24', '10.0.0.1', '10.0.0.256/24', '10.0.0.1/31', '1.2.3.4/0'])('IPv4 %s is refused', (v) => {
    expect(privateIpv4Cidr.check(v)).toBeDefined();
  });
  it.each(['auto', 'none', 'fd42:1::1/64', 'fc00::1/64', 'fd00:0:0:0:0:0:0:1/64', '2001:db8::1/64'])('IPv6 %s is allowed', (v) => {
    expect(privateIpv6Cidr.check(v)).toBeUndefined();
  });
  it.each(['2001:4860::1/64', '2001:db8::1/16', 'fe80::1/64', '::1/128', 'fd42::1', 'fd42:::1/64', 'fd42::1::2/64', 'fd42:1:2:3:4:5:6:7:8/64', 'fd00::1/200'])('IPv6 %s is refused', (v) => {
    expect(privateIpv6Cidr.check(v)).toBeDefined();
  });
});
