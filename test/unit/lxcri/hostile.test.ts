/**
 * Hostile values in every name-like parameter (every string/list param with a `rule`)
 * of every LXCRI verb → RC 2, with fake runtime/zfs/skopeo/umoci binaries on PATH
 * proving nothing ran and CANARY proving no shell evaluated anything
 * (test/helpers/hostile-suite.ts). Here: LXCRI's valid values, the values it accepts
 * on purpose, its coverage check and a control call.
 */
import { describe, expect, it } from 'vitest';
import { table } from '../../../handlers/lxcri';
import { hostileSuite } from '../../helpers/hostile-suite';

const VALID: Record<string, string> = { name: 'c1', bundle: '/tmp/rexx-lxcri-unit-bundle', base: 'b1', image: 'busybox', source: '/tmp/rexx-lxcri-src' };
const EXTRA: Record<string, Record<string, string>> = { exec: { command: 'true' }, prune: { keep: '1' } };

/** Values a rule accepts on purpose (an absolute host path; an env entry with commas): never a shell, one argv element. */
const LEGIT: Record<string, (v: string) => boolean> = {
  'absolute host path': (v) => v === '/etc/passwd',
  'image source path': (v) => v === '/etc/passwd',
  'path inside the instance': (v) => v === '/etc/passwd',
  'environment entry': (v) => v === 'file=/etc/passwd,if=none',
};

const TOOLS = ['runc', 'crun', 'lxcri', 'proxmox-lxcri', 'zfs', 'zpool', 'skopeo', 'umoci', 'criu', 'unshare', 'cp', 'sh'];
const suite = hostileSuite({
  table,
  tools: TOOLS,
  env: (fake) => ({ REXX_OCI_DIR: `${fake.dir}/oci`, REXX_OCI_ROOT: `${fake.dir}/run` }),
  valid: VALID,
  extra: (c) => EXTRA[c.verb],
  legit: LEGIT,
});

describe('the name-like parameters of the LXCRI table', () => {
  it('are derived from the table and cover ids and paths', () => {
    expect(suite.cases.length).toBeGreaterThan(40);
    for (const k of ['name', 'bundle', 'base', 'snapshot', 'image', 'source', 'pool']) expect(suite.cases.some((c) => c.key === k), k).toBe(true);
    // spec's and update's parameters (issue 10): bind mounts, the user, capabilities, limits
    for (const k of ['mount', 'user', 'cap_add', 'cap_drop', 'memory', 'cpus']) expect(suite.cases.some((c) => c.verb === 'spec' && c.key === k), `spec ${k}`).toBe(true);
    for (const k of ['memory', 'cpus']) expect(suite.cases.some((c) => c.verb === 'update' && c.key === k), `update ${k}`).toBe(true);
  });
});

describe('control (fake binary)', () => {
  it('a valid call does reach the fake runtime', async () => {
    const before = suite.fake.calls().length;
    await suite.h('kill name=c1 runtime=runc');
    expect(suite.fake.calls().slice(before)).toContainEqual(['runc', '--root', `${suite.fake.dir}/run/runc`, 'kill', 'c1', 'TERM']);
  });
});
