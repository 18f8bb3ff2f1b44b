/**
 * Profiles, networks and custom storage volumes on the real LXD daemon: each made,
 * changed, used by an instance, refused with RC 7 while in use (LXD's own refusal),
 * deleted, and RC 3 when gone; a profile's config and devices pass config_set's and
 * device_add's unsafe-settings checks. Networks here are bridges on a private /24 with
 * NAT off: their traffic stays on this host.
 */
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { table } from '../../../handlers/lxd';
import { createHandler } from '../../../shared/dispatch';
import { dropFirewallLeftovers } from '../../helpers/lxd-firewall';
import { cleanupInstances, okWith, requireLxd, uniq } from './lxd-test-env';

const h = createHandler(table);
const ok = okWith(h);
const trusted = createHandler(table, { env: { ...process.env, REXX_LXD_ALLOW_UNSAFE: '1' } });
const POOL = 'rexxbt';
const instances: string[] = [];
const profiles: string[] = [];
const networks: string[] = [];
const volumes: string[] = [];

/** A bridge name of at most 15 characters, unique to this run. */
const tag = randomBytes(3).toString('hex');
let nets = 0;
const netName = () => `rxo${tag}${++nets}`;
/** A private /24 for this run (10.249.X.0/24), away from the project bridge's 10.231.7.0/24. */
const subnet = `10.249.${randomBytes(1)[0]}`;

const lxcJson = async <T>(api: string): Promise<T> => JSON.parse((await execa('lxc', ['query', api])).stdout) as T;

beforeAll(async () => {
  await requireLxd();
});

afterAll(async () => {
  await cleanupInstances(instances);
  for (const v of volumes) await execa('lxc', ['storage', 'volume', 'delete', POOL, v], { reject: false });
  for (const p of profiles) await execa('lxc', ['profile', 'delete', p], { reject: false });
  for (const n of networks) {
    await execa('lxc', ['network', 'delete', n], { reject: false });
    await dropFirewallLeftovers(n);
  }
});

describe('profiles', () => {
  it('profile_create / profile_set / profile_list; profile_delete is RC 7 while an instance uses it, then 0, then RC 3', async () => {
    const P = uniq('prof');
    profiles.push(P);
    await ok(`profile_create name=${P} config=limits.memory=128MiB config=user.role=web description="web tier"`);
    expect((await h(`profile_create name=${P}`)).errorCode).toBe(4);
    await ok(`profile_set name=${P} config=limits.cpu=1 config=user.role=`);
    await ok(`profile_set ${P} user.tier front`);
    const prof = await lxcJson<{ config: Record<string, string>; description: string }>(`/1.0/profiles/${P}`);
    expect(prof.config).toEqual({ 'limits.memory': '128MiB', 'limits.cpu': '1', 'user.tier': 'front' });
    expect(prof.description).toBe('web tier');

    const I = uniq('prof-user');
    instances.push(I);
    await ok(`create name=${I} image=tiny profile=default profile=${P}`);
    const listed = await ok('profile_list');
    const names = Object.entries(listed.rexxVariables!.PROFILES as Record<string, unknown>).filter(([k]) => k !== '0').map(([, v]) => v);
    const i = names.indexOf(P) + 1;
    expect(i).toBeGreaterThan(0);
    expect((listed.rexxVariables!.USED_BY as Record<string, unknown>)[i]).toBe(1);

    const inUse = await h(`profile_delete name=${P}`);
    expect(inUse.errorCode, inUse.errorMessage).toBe(7);
    expect(inUse.errorMessage).toMatch(/in use/i);
    await ok(`delete name=${I}`);
    await ok(`profile_delete name=${P}`);
    expect((await h(`profile_delete name=${P}`)).errorCode).toBe(3);
    expect((await h('profile_delete name=default')).errorCode).toBe(7);
  });

  it('profile_set and profile_create refuse raw.lxc, security.privileged and a host-path disk (RC 7, nothing changed) unless unsafe settings are allowed', async () => {
    const P = uniq('prof-safe');
    profiles.push(P);
    await ok(`profile_create name=${P}`);
    for (const cmd of [
      `profile_set name=${P} config=raw.lxc=lxc.hook.pre-start=/bin/true`,
      `profile_set name=${P} config=security.privileged=true`,
      `profile_set name=${P} config=user.ok=1 device=hostetc type=disk source=/etc path=/mnt/etc`,
      `profile_set name=${P} device=rexx type=unix-char source=/dev/kmsg`,
      `profile_create name=${P}-x config=security.privileged=true`,
    ]) {
      const r = await h(cmd);
      expect(r.errorCode, `${cmd}: ${r.errorMessage}`).toBe(7);
    }
    expect((await h(`profile_set name=${P} config=user.rexx.base.snapshot=rexx-base`)).errorCode).toBe(2);
    const prof = await lxcJson<{ config: Record<string, string>; devices: Record<string, unknown> }>(`/1.0/profiles/${P}`);
    expect(prof.config).toEqual({});
    expect(prof.devices).toEqual({});
    expect((await execa('lxc', ['profile', 'show', `${P}-x`], { reject: false })).exitCode).not.toBe(0);

    // a trusted handler may
    const t = await trusted(`profile_set name=${P} config=security.privileged=true device=hostetc type=disk source=/etc path=/mnt/etc readonly=true`);
    expect(t.errorCode, t.errorMessage).toBe(0);
    const after = await lxcJson<{ config: Record<string, string>; devices: Record<string, Record<string, string>> }>(`/1.0/profiles/${P}`);
    expect(after.config['security.privileged']).toBe('true');
    expect(after.devices.hostetc).toMatchObject({ type: 'disk', source: '/etc', path: '/mnt/etc' });
    await ok(`profile_delete name=${P}`);
  });
});

describe('networks', () => {
  it('network_create makes a bridge on a private /24 with NAT off; network_list shows it; network_delete is RC 7 while an instance uses it, then 0, then RC 3', async () => {
    const N = netName();
    networks.push(N);
    const made = await ok(`network_create name=${N} ipv4=${subnet}.1/24 description="test net"`);
    expect(made.rexxVariables!.IPV4).toBe(`${subnet}.1/24`);
    expect(made.rexxVariables!.IPV6).toBe('none');
    expect((await h(`network_create name=${N} ipv4=${subnet}.1/24`)).errorCode).toBe(4);
    const net = await lxcJson<{ type: string; config: Record<string, string> }>(`/1.0/networks/${N}`);
    expect(net.type).toBe('bridge');
    expect(net.config['ipv4.nat']).toBe('false');
    expect((await execa('ip', ['-4', 'addr', 'show', N])).stdout).toContain(`${subnet}.1/24`);

    const list = await ok('network_list');
    const v = list.rexxVariables!;
    const names = Object.entries(v.NETWORKS as Record<string, unknown>).filter(([k]) => k !== '0').map(([, x]) => x);
    const i = names.indexOf(N) + 1;
    expect(i).toBeGreaterThan(0);
    expect([(v.TYPES as Record<number, unknown>)[i], (v.MANAGED as Record<number, unknown>)[i], (v.IPV4 as Record<number, unknown>)[i], (v.USED_BY as Record<number, unknown>)[i]]).toEqual(['bridge', 1, `${subnet}.1/24`, 0]);

    const I = uniq('net-user');
    instances.push(I);
    await ok(`create name=${I} image=tiny`);
    await ok(`device_add name=${I} device=eth1 type=nic network=${N} nic_name=eth1`);
    const inUse = await h(`network_delete name=${N}`);
    expect(inUse.errorCode, inUse.errorMessage).toBe(7);
    await ok(`delete name=${I}`);
    await ok(`network_delete name=${N}`);
    expect((await h(`network_delete name=${N}`)).errorCode).toBe(3);
    expect((await execa('ip', ['link', 'show', N], { reject: false })).exitCode).not.toBe(0);
  });

  // (No IPv6 bridge is made here: LXD 5.0.2 on this host's nf_tables ip6tables deletes such a
  // network but fails to drop its ip6tables chain, "CHAIN_DEL failed (Device or resource busy)",
  // leaving rules behind; the IPv6 rule is checked in the unit tests.)
  it('public ranges, non-ULA IPv6 and other network types are RC 2 with nothing made', async () => {
    const M = netName();
    networks.push(M);
    for (const bad of ['ipv4=8.8.8.1/24', 'ipv4=10.0.0.1/7', 'ipv4=172.32.0.1/24', 'ipv4=none ipv6=2001:4860::1/64', 'ipv4=none ipv6=fd00::1/200', `ipv4=${subnet}.1/24 type=macvlan`, '']) {
      const r = await h(`network_create name=${M} ${bad}`);
      expect(r.errorCode, `${bad}: ${r.errorMessage}`).toBe(2);
    }
    expect((await execa('lxc', ['network', 'show', M], { reject: false })).exitCode).not.toBe(0);
  });
});

describe('storage volumes', () => {
  it('volume_create / volume_attach / volume_snapshot / volume_detach / volume_delete: data written in the instance lands on the volume; RC 7 while attached; RC 3 when gone', async () => {
    const V = uniq('vol');
    volumes.push(V);
    const I = uniq('vol-user');
    instances.push(I);
    await ok(`volume_create pool=${POOL} volume=${V} size=64MiB`);
    expect((await h(`volume_create pool=${POOL} volume=${V}`)).errorCode).toBe(4);
    await ok(`create name=${I} image=tiny`);
    await ok(`volume_attach pool=${POOL} volume=${V} name=${I} path=/srv/data`);
    expect((await h(`volume_attach pool=${POOL} volume=${V} name=${I} path=/srv/other`)).errorCode).toBe(4);
    await ok(`start name=${I}`);
    const w = await ok(`exec name=${I} command='echo kept > /srv/data/f && cat /srv/data/f'`);
    expect(w.output).toContain('kept');

    const s = await ok(`volume_snapshot pool=${POOL} volume=${V}`);
    expect(s.rexxVariables!.SNAPSHOT).toMatch(/^snap-\d+$/);
    await ok(`volume_snapshot pool=${POOL} volume=${V} snapshot=s1`);
    expect((await h(`volume_snapshot pool=${POOL} volume=${V} snapshot=s1`)).errorCode).toBe(4);
    const snaps = await lxcJson<string[]>(`/1.0/storage-pools/${POOL}/volumes/custom/${V}/snapshots`);
    expect(snaps.map((x) => x.split('/').pop()).sort()).toEqual([s.rexxVariables!.SNAPSHOT, 's1'].sort());

    const inUse = await h(`volume_delete pool=${POOL} volume=${V}`);
    expect(inUse.errorCode, inUse.errorMessage).toBe(7);
    await ok(`volume_detach pool=${POOL} volume=${V} name=${I}`);
    expect((await h(`volume_detach pool=${POOL} volume=${V} name=${I}`)).errorCode).toBe(3);
    expect((await h(`exec name=${I} command='test -e /srv/data/f'`)).errorCode).not.toBe(0);

    // the data is on the volume: attached again, it is there
    await ok(`volume_attach pool=${POOL} volume=${V} name=${I} path=/mnt/again device=again`);
    expect((await ok(`exec name=${I} command='cat /mnt/again/f'`)).output).toContain('kept');
    await ok(`volume_detach pool=${POOL} volume=${V} name=${I} device=again`);

    await ok(`volume_delete pool=${POOL} volume=${V}`);
    expect((await h(`volume_delete pool=${POOL} volume=${V}`)).errorCode).toBe(3);
    expect((await h(`volume_snapshot pool=${POOL} volume=${V} snapshot=s2`)).errorCode).toBe(3);
  });
});
