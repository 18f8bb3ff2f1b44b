/**
 * Hostile values in every name-like parameter (every string/list param with a `rule`)
 * of every LXCRI verb → RC 2, with fake runtime/zfs/skopeo/umoci binaries on PATH
 * proving nothing ran and CANARY proving no shell evaluated anything. The parameter
 * list comes from the verb table, so new verbs and params are covered automatically.
 */
import * as fs from 'node:fs';
import { quote } from 'shell-quote';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler, type AddressHandler } from '../../../shared/dispatch';
import type { ParamSpec } from '../../../shared/params';
import { table } from '../../../handlers/lxcri';
import { fakeBin, type FakeBin } from '../../helpers/fakebin';
import { CANARY, HOSTILE } from '../../helpers/hostile';

const VALID: Record<string, string> = { name: 'c1', bundle: '/tmp/rexx-lxcri-unit-bundle', base: 'b1', image: 'busybox', source: '/tmp/rexx-lxcri-src' };
const EXTRA: Record<string, Record<string, string>> = { exec: { command: 'true' }, prune: { keep: '1' } };

/** Values a rule accepts on purpose (an absolute host path; an env entry with commas): never a shell, one argv element. */
const LEGIT: Record<string, (v: string) => boolean> = {
  'absolute host path': (v) => v === '/etc/passwd',
  'image source path': (v) => v === '/etc/passwd',
  'path inside the instance': (v) => v === '/etc/passwd',
  'environment entry': (v) => v === 'file=/etc/passwd,if=none',
};

interface Case { verb: string; key: string; spec: ParamSpec }
const CASES: Case[] = table.verbs.flatMap((v) =>
  Object.entries(v.params as Record<string, ParamSpec>)
    .filter(([, s]) => (s.type === 'string' || s.type === 'list') && s.rule)
    .map(([key, spec]) => ({ verb: v.name, key, spec })),
);

function argsFor(c: Case, value: string): Record<string, string> {
  const verb = table.verbs.find((v) => v.name === c.verb)!;
  const args: Record<string, string> = {};
  for (const [k, s] of Object.entries(verb.params as Record<string, ParamSpec>)) if (s.required) args[k] = VALID[k]!;
  Object.assign(args, EXTRA[c.verb] ?? {});
  args[c.key] = value;
  return args;
}

const TOOLS = ['runc', 'crun', 'lxcri', 'proxmox-lxcri', 'zfs', 'zpool', 'skopeo', 'umoci', 'criu', 'unshare', 'cp', 'sh'];
let fake: FakeBin;
let h: AddressHandler;
beforeAll(() => {
  fs.rmSync(CANARY, { force: true });
  fake = fakeBin(Object.fromEntries(TOOLS.map((t) => [t, {}])));
  h = createHandler(table, { env: { ...fake.env, REXX_OCI_DIR: `${fake.dir}/oci`, REXX_OCI_ROOT: `${fake.dir}/run` } });
});
afterAll(() => {
  fake.cleanup();
  expect(fs.existsSync(CANARY), `canary ${CANARY} exists: something evaluated a hostile value`).toBe(false);
});

describe('the name-like parameters of the LXCRI table', () => {
  it('are derived from the table and cover ids and paths', () => {
    expect(CASES.length).toBeGreaterThan(40);
    for (const k of ['name', 'bundle', 'base', 'snapshot', 'image', 'source', 'pool']) expect(CASES.some((c) => c.key === k), k).toBe(true);
  });
});

describe.each(CASES)('$verb $key=', (c) => {
  it.each(HOSTILE.map((v) => [JSON.stringify(v).slice(0, 60), v]))('%s → RC 2, nothing run (fake binary)', async (_l, value) => {
    if (LEGIT[c.spec.rule!.label]?.(value)) return; // a real absolute path: accepted as data, passed as one argv element
    const before = fake.calls().length;
    const r1 = await h(c.verb, argsFor(c, value));
    expect(r1.errorCode, `${c.verb} ${c.key}=${JSON.stringify(value)}: ${r1.errorMessage}`).toBe(2);
    expect(fake.calls().length).toBe(before);
    const line = `${c.verb} ${Object.entries(argsFor(c, value)).map(([k, v]) => `${k}=${quote([v])}`).join(' ')}`;
    const r2 = await h(line);
    expect(r2.errorCode, `${line}: ${r2.errorMessage}`).toBe(2);
    expect(fake.calls().length).toBe(before);
    expect(fs.existsSync(CANARY)).toBe(false);
  });
});

describe('control (fake binary)', () => {
  it('a valid call does reach the fake runtime', async () => {
    const before = fake.calls().length;
    await h('kill name=c1 runtime=runc');
    expect(fake.calls().slice(before)).toContainEqual(['runc', '--root', `${fake.dir}/run/runc`, 'kill', 'c1', 'TERM']);
  });
});
