/**
 * Hostile values in every name-like parameter (every string/list param with a `rule`)
 * of every LXD verb → RC 2, with a fake `lxc` on PATH proving nothing ran and the
 * CANARY file proving no shell evaluated anything (test/helpers/hostile-suite.ts).
 * Here: LXD's valid values, the values it accepts on purpose (checked to reach lxc as
 * one argv element), a control call per parameter, and the remote= check.
 */
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ParamSpec } from '../../../shared/params';
import { table } from '../../../handlers/lxd';
import { hostileSuite, isHostPath, type HostileCase } from '../../helpers/hostile-suite';

/** Valid values for required keys, so a call fails only because of the hostile value. */
const VALID: Record<string, string> = {
  name: 'web', image: 'tiny', source: 'web', destination: 'web2', snapshot: 's1', path: '/etc/motd', base: 'web',
  device: 'http', new_name: 'web3', type: 'proxy', key: 'user.a',
  // image_import reads the file before anything runs (RC 3 when it is not one): a file that exists
  file: '/etc/hostname', rootfs: '/etc/hostname', alias: 'web-img', new_alias: 'web-img2', until: 'instance-started',
  pool: 'default', volume: 'vol1', ipv4: '10.250.7.1/24',
};
/** A verb that needs one of two keys gets one that is not the one under test. */
const EXTRA: Record<string, Record<string, string>> = {
  exec: { command: 'true' }, file_push: { content: 'x' },
  // publish needs name= or base=; image_alias's image= and new_alias= go with their action
  publish: { name: 'web' },
  // move needs somewhere to go: another remote (or target=, when that is the key under test)
  move: { to_remote: 'other' },
};

/** device_add: the device type whose key is under test, with that type's required keys. */
const DEVICE_EXTRA: Record<string, Record<string, string>> = {
  proxy: { type: 'proxy', listen: 'tcp:127.0.0.1:8080', connect: 'tcp:127.0.0.1:80' },
  disk: { type: 'disk', path: '/srv', source: 'vol1', pool: 'default' },
  nic: { type: 'nic', network: 'rexxbr0' },
  'unix-char': { type: 'unix-char', source: '/dev/null' },
};
const DEVICE_KEY_TYPE: Record<string, string> = {
  listen: 'proxy', connect: 'proxy', path: 'disk', pool: 'disk', network: 'nic', parent: 'nic', nic_name: 'nic', hwaddr: 'nic', mode: 'unix-char',
};

/**
 * Hostile values a rule legitimately accepts: they are real values, passed to lxc as one
 * argv element (never through a shell). Everything else must be refused.
 */
const LEGIT: Record<string, (v: string) => boolean> = {
  // a KEY=VALUE pair / NAME=value env entry whose value has commas is legitimate
  'KEY=VALUE pair': (v) => v === 'file=/etc/passwd,if=none',
  'environment entry': (v) => v === 'file=/etc/passwd,if=none',
  // an absolute path inside the instance
  'path inside the instance': (v) => v === '/etc/passwd',
  // a disk source that is a host path: the rule takes it, the unsafe policy refuses it (RC 7)
  'disk source': (v) => v === '/etc/passwd',
  // a config value is free text (it reaches lxc inside one KEY=VALUE argv element)
  'config value': (v) => !/[\0-\x1f\x7f]/.test(v),
  // a host file path may hold any character but NUL/control characters, and must not start with "-"
  'host path': isHostPath,
  // image_import file=/rootfs=: an absolute host file, read by lxc (like file_push source=); a missing one is RC 3
  'absolute host path': (v) => isHostPath(v) && v.startsWith('/'),
};

const suite = hostileSuite({
  table,
  tools: ['lxc'],
  valid: VALID,
  extra: (c) => {
    if (c.verb === 'file_push' && c.key === 'source') return undefined;
    if (c.verb === 'device_add') return c.key === 'source' ? { type: 'disk', path: '/srv' } : DEVICE_EXTRA[DEVICE_KEY_TYPE[c.key] ?? 'proxy'];
    if (c.verb === 'publish' && c.key === 'base') return {};
    if (c.verb === 'image_alias') return c.key === 'new_alias' ? { action: 'rename' } : { image: 'abc123' };
    if (c.verb === 'profile_set') {
      // device keys go with device= and type= (the device type of the key under test); config keys alone
      if (c.key === 'device') return { type: 'proxy', listen: 'tcp:127.0.0.1:8080', connect: 'tcp:127.0.0.1:80' };
      if (c.key === 'source') return { device: 'd', type: 'disk', path: '/srv' };
      if (Object.hasOwn(DEVICE_KEY_TYPE, c.key)) return { device: 'd', ...DEVICE_EXTRA[DEVICE_KEY_TYPE[c.key]!] };
      return c.key === 'key' ? { value: '1' } : c.key === 'value' ? { key: 'user.a' } : c.key === 'config' ? undefined : { config: 'user.a=1' };
    }
    // volume_attach: device= goes with path=
    if (c.verb === 'volume_attach' && c.key === 'device') return { path: '/srv' };
    if (c.verb === 'config_set') return c.key === 'key' ? { value: '1' } : c.key === 'value' ? { key: 'user.a' } : { config: 'user.a=1' };
    // register_base's memory=, cpus=, storage=, profile= and config= apply to the instance image= creates
    if (c.verb === 'register_base' && ['memory', 'cpus', 'storage', 'profile', 'config'].includes(c.key)) return { image: 'tiny' };
    return EXTRA[c.verb];
  },
  legit: LEGIT,
  onLegit: (c, value, r, calls) => {
    if (c.spec.rule!.label === 'absolute host path' && !fs.statSync(value, { throwIfNoEntry: false })?.isFile()) {
      // not a file on this host: RC 3 before anything runs
      expect(r.errorCode, r.errorMessage).toBe(3);
      expect(calls.length).toBe(0);
      return;
    }
    if (c.spec.rule!.label === 'disk source') {
      // a host path as a disk: refused by the unsafe policy before anything runs
      expect(r.errorCode, r.errorMessage).toBe(7);
      expect(calls.length).toBe(0);
      return;
    }
    // accepted on purpose: it reaches lxc as data inside one argv element, never via a shell
    expect(r.errorCode, r.errorMessage).not.toBe(2);
    expect(r.errorCode, r.errorMessage).not.toBe(-2);
    expect(calls.length).toBeGreaterThan(0);
    // as it is, or JSON-encoded inside a request body (profile_create's POST /1.0/profiles)
    // (a KEY=VALUE pair there as the member "KEY":"VALUE")
    const eq = value.indexOf('=');
    const forms = [value, JSON.stringify(value).slice(1, -1), ...(eq > 0 ? [JSON.stringify({ [value.slice(0, eq)]: value.slice(eq + 1) }).slice(1, -1)] : [])];
    expect(calls.some((argv) => argv.some((a) => forms.some((f) => a.includes(f))))).toBe(true);
  },
  perCase: (c, s) => {
    it('control: valid values do reach lxc (fake binary)', async () => {
      const before = s.fake.calls().length;
      if ((c.verb === 'device_add' || c.verb === 'profile_set') && c.key === 'mode') {
        // a unix-char device passes a host device node: the unsafe policy refuses it (RC 7) whatever its mode
        const r = await s.h(c.verb, s.argsFor(c, '0660'));
        expect(r.errorCode, r.errorMessage).toBe(7);
        expect(s.fake.calls().length).toBe(before);
        return;
      }
      await s.h(c.verb, s.argsFor(c, c.spec.rule!.label === 'path inside the instance' ? '/etc/motd' : VALID[c.key] ?? validFor(c)));
      expect(s.fake.calls().length).toBeGreaterThan(before);
    });
  },
});

describe('the name-like parameters of the LXD table', () => {
  it('are derived from the table (every verb has some)', () => {
    expect(suite.cases.length).toBeGreaterThan(50);
    for (const v of table.verbs) expect(suite.cases.some((c) => c.verb === v.name), v.name).toBe(true);
  });

  it('every LXD verb has the remote param with a rule', () => {
    for (const v of table.verbs) {
      const r = (v.params as Record<string, ParamSpec>).remote;
      expect(r, `${v.name} has no remote=`).toBeDefined();
      expect(r!.type).toBe('string');
      expect(r!.rule, `${v.name}: remote= has no rule`).toBeDefined();
    }
  });
});

/** A valid value for a key not in VALID (optional params). */
function validFor(c: HostileCase): string {
  const byRule: Record<string, string> = {
    name: 'default', 'LXD instance name': 'web', 'image alias or fingerprint': 'tiny', memory: '256MiB', cpus: '2',
    'KEY=VALUE pair': 'user.a=1', 'environment entry': 'A=1', 'host path': '/tmp/rexx-h', 'file mode': '0644', 'snapshot name': 's1',
    'path inside the instance': '/tmp',
    'REXX variable name': 'pct',
    'config key': 'user.a', 'config value': '1', 'device name': 'http', 'proxy address': 'tcp:127.0.0.1:8080',
    'interface name': 'eth1', 'MAC address': '00:16:3e:00:00:01', 'disk source': 'vol1', mode: '0660',
    'directory mode': '0750', 'network name': 'rexxtest0', 'IPv4 address/prefix': '10.250.7.1/24', 'IPv6 address/prefix': 'fd42:1::1/64', size: '1GiB',
  };
  const v = byRule[c.spec.rule!.label];
  if (v === undefined) throw new Error(`no valid example for ${c.verb} ${c.key} (${c.spec.rule!.label})`);
  return v;
}
