/** Naming rules (shared/names.ts and each handler's names.ts): valid and invalid examples for each rule. */
import { describe, expect, it } from 'vitest';
import * as shared from '../../../shared/names';
import * as lxcri from '../../../handlers/lxcri/names';
import * as lxd from '../../../handlers/lxd/names';
import * as qemu from '../../../handlers/qemu/names';
import * as zfs from '../../../handlers/zfs/names';

// The rules live with their backend (handlers/<target>/names.ts) and in shared/names.ts.
const N = { ...shared, ...lxd, ...zfs, ...lxcri, ...qemu };
type NameRule = shared.NameRule;

type Case = [rule: NameRule, valid: string[], invalid: string[]];

const CASES: Record<string, Case> = {
  lxdInstanceName: [
    N.lxdInstanceName,
    ['a', 'web', 'web-1', 'Web2', 'a1-b2-c3', `a${'b'.repeat(62)}`, 'x-y'],
    ['', '1web', '-web', 'web-', 'we_b', 'we.b', 'we b', 'web/1', `a${'b'.repeat(63)}`, 'é', 'a\nb', 'web:1'],
  ],
  lxdSnapshotName: [
    N.lxdSnapshotName,
    ['snap', 'snap0', '0snap', 'before-upgrade', 'a.b_c-d', `s${'x'.repeat(62)}`],
    ['', '-s', '.s', '_s', 'a/b', 'a b', `s${'x'.repeat(63)}`, 'a@b'],
  ],
  lxdObjectName: [N.lxdObjectName, ['default', 'rexx-net', 'pool_1', 'local', '1pool'], ['', '-p', 'a/b', 'a:b', 'a b']],
  lxdImageRef: [
    N.lxdImageRef,
    ['tiny', 'images:debian/12', 'ubuntu/22.04/cloud', 'a1b2c3d4', 'local:tiny'],
    ['', '-tiny', 'images:../x', 'a/../b', 'a b', 'a;b', ':tiny', 'r:-x'],
  ],
  configKey: [N.configKey, ['limits.memory', 'user.rexx.base', 'security.nesting'], ['', '1a', '-a', 'a b', 'a=b']],
  configPair: [N.configPair, ['limits.memory=1GB', 'user.x=', 'user.x=a b=c'], ['', '=x', 'noequals', '1a=b', 'a b=c', 'x=a\nb']],
  envPair: [N.envPair, ['A=1', '_X=', 'PATH=/bin:/usr/bin', 'B=x y'], ['', '=1', '1A=x', 'A', 'A-B=1', '-A=1', 'A=\n']],
  guestPath: [N.guestPath, ['/', '/etc/motd', '/var/www/index.html', '/a b'], ['', 'etc', '-x', '/etc/../shadow', '/a/./b', '/..', '/a\nb']],
  hostPath: [N.hostPath, ['./index.html', '/tmp/x', 'file', 'a b'], ['', '-x', '--force', 'a\0b', 'a\nb']],
  sizeValue: [N.sizeValue, ['1024', '512M', '512MiB', '2GB', '10G', '1.5G', '10b'], ['', '-1', '1X', 'M', '1 G', '1GiBB']],
  memoryValue: [N.memoryValue, ['256MiB', '1GB', '50%', '100%'], ['', '50%%', '1000%', 'lots', '-1GB']],
  cpuValue: [N.cpuValue, ['2', '0-3', '0,2', '0-1,4'], ['', 'two', '-1', '0-', ',1', '1 2']],
  signalName: [N.signalName, ['TERM', 'SIGKILL', 'kill', '9', 'RTMIN+1'], ['', '-9', '123', 'SIG TERM', 'A;B']],
  sshHost: [N.sshHost, ['host', 'root@host', 'host.example.com', '10.0.0.1', 'fe80::1'], ['', '-oProxyCommand=x', 'a b', 'user@', 'a;b']],
  zfsPoolName: [N.zfsPoolName, ['tank', 'rexx_pool', 'pool-1', 'p.1'], ['', '1tank', 'mirror', 'raidz2', 'log', 'c0d0', 'a/b', '-p']],
  zfsDatasetName: [
    N.zfsDatasetName,
    ['tank', 'tank/ds', 'tank/a/b:c.d_e-f', 'rel'],
    ['', 'tank/', '/tank', 'tank//x', 'tank@snap', 'tank#b', 'tank%x', 'a b', 'tank/../x', `t/${'x'.repeat(260)}`, '-t'],
  ],
  zfsSnapshotName: [N.zfsSnapshotName, ['snap', '_s', '2024-01-01', 'a:b.c'], ['', '-s', 'a@b', 'a/b', 'a b', '.s']],
  zfsProperty: [N.zfsProperty, ['compression', 'org.example:base', 'user:x'], ['', 'Compression', '-x', 'a b', 'a=b']],
  ociContainerId: [N.ociContainerId, ['c1', 'web.1', 'a_b+c-d', `c${'x'.repeat(127)}`], ['', '-c', '_c', 'a/b', 'a b', `c${'x'.repeat(128)}`]],
  ociImageRef: [N.ociImageRef, ['busybox', 'busybox:latest', 'library/alpine:3.19'], ['', 'Busybox', '-b', 'a/../b', 'a:', 'a b', 'a:-x']],
  qemuName: [N.qemuName, ['vm1', 'disk.qcow2', 'a_b-c', '1vm'], ['', '-vm', 'a/b', 'a,b', 'a..b', '..', 'a b', `v${'x'.repeat(63)}`]],
};

describe.each(Object.entries(CASES))('%s', (_name, [rule, valid, invalid]) => {
  it.each(valid)('accepts %j', (v) => expect(rule.check(v)).toBeUndefined());
  it.each(invalid)('refuses %j', (v) => expect(rule.check(v)).toEqual(expect.any(String)));
  it('has a label and an allowed description', () => {
    expect(rule.label).toBeTruthy();
    expect(rule.allowed).toBeTruthy();
  });
});

describe('LXD instance name rules', () => {
  it('at most 63 characters', () => {
    expect(N.lxdInstanceName.check('a'.repeat(63))).toBeUndefined();
    expect(N.lxdInstanceName.check('a'.repeat(64))).toMatch(/allowed/);
  });
  it('not starting with a digit or hyphen, not ending with a hyphen', () => {
    expect(N.lxdInstanceName.check('9lives')).toMatch(/starting with a letter/);
    expect(N.lxdInstanceName.check('-web')).toBe('must not start with "-"');
    expect(N.lxdInstanceName.check('web-')).toMatch(/not ending with a hyphen/);
  });
});

describe('regexRule generic checks', () => {
  const r = N.regexRule('thing', /^.*$/s, 'anything');
  it.each([
    ['', 'must not be empty'],
    ['a\0b', /control characters/],
    ['a\nb', /control characters/],
    ['a\tb', /control characters/],
    ['a\x7fb', /control characters/],
    ['-a', 'must not start with "-"'],
  ])('refuses %j even when the regex would allow it', (v, why) => {
    expect(r.check(v)).toMatch(why);
  });
  it('runs the extra check last', () => {
    const r2 = N.regexRule('t', /^[a-z]+$/, 'a-z', (v) => (v === 'no' ? 'reserved' : undefined));
    expect(r2.check('no')).toBe('reserved');
    expect(r2.check('NO')).toBe('allowed: a-z');
  });
});

describe('checkName', () => {
  it('names the key, the value and the rule', () => {
    expect(N.checkName(N.lxdInstanceName, 'name', '1x')).toMatch(/^name="1x" is not a valid LXD instance name: allowed: /);
  });
  it('returns undefined for a valid value', () => {
    expect(N.checkName(N.lxdInstanceName, 'name', 'web')).toBeUndefined();
  });
  it('shortens a very long value', () => {
    const m = N.checkName(N.lxdInstanceName, 'name', 'x'.repeat(1000))!;
    expect(m).toContain('…');
    expect(m.length).toBeLessThan(300);
  });
});
