/**
 * Hostile values in every name-like parameter (every string/list param with a `rule`)
 * of every LXD verb → RC 2, with a fake `lxc` on PATH proving nothing ran and the
 * CANARY file proving no shell evaluated anything. The list of parameters is derived
 * from the verb table, so a new verb or parameter is covered automatically.
 */
import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler, type AddressHandler } from '../../../shared/dispatch';
import type { ParamSpec } from '../../../shared/params';
import { argvLine } from '../../../shared/runner';
import { table } from '../../../handlers/lxd';
import { fakeBin, type FakeBin } from '../../helpers/fakebin';
import { CANARY, HOSTILE } from '../../helpers/hostile';

/** Valid values for required keys, so a call fails only because of the hostile value. */
const VALID: Record<string, string> = {
  name: 'web', image: 'tiny', source: 'web', destination: 'web2', snapshot: 's1', path: '/etc/motd', base: 'web',
};
/** A verb that needs one of two keys gets one that is not the one under test. */
const EXTRA: Record<string, Record<string, string>> = { exec: { command: 'true' }, file_push: { content: 'x' } };

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
  // a host file path may hold any character but NUL/control characters, and must not start with "-"
  'host path': (v) => v !== '' && !v.startsWith('-') && !/[\0-\x1f\x7f]/.test(v),
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
  for (const [k, v] of Object.entries(EXTRA[c.verb] ?? {})) if (k !== c.key && !(c.verb === 'file_push' && c.key === 'source')) args[k] = v;
  args[c.key] = value;
  return args;
}

let fake: FakeBin;
let h: AddressHandler;
beforeAll(() => {
  fs.rmSync(CANARY, { force: true });
  fake = fakeBin({ lxc: {} });
  h = createHandler(table, { env: fake.env });
});
afterAll(() => {
  fake.cleanup();
  expect(fs.existsSync(CANARY), `canary ${CANARY} exists: something evaluated a hostile value`).toBe(false);
});

describe('the name-like parameters of the LXD table', () => {
  it('are derived from the table (every verb has some)', () => {
    expect(CASES.length).toBeGreaterThan(50);
    for (const v of table.verbs) expect(CASES.some((c) => c.verb === v.name), v.name).toBe(true);
  });

  it('every LXD verb has the remote param with a rule', () => {
    for (const v of table.verbs) {
      const r = (v.params as Record<string, ParamSpec>).remote;
      expect(r, `${v.name} has no remote=`).toBeDefined();
      expect(r!.type).toBe('string');
      expect(r!.rule, `${v.name}: remote= has no rule`).toBeDefined();
    }
  });

  it('HOSTILE has at least 50 values and the canary is not there yet', () => {
    expect(HOSTILE.length).toBeGreaterThanOrEqual(50);
    expect(fs.existsSync(CANARY)).toBe(false);
  });
});

describe.each(CASES)('$verb $key=', (c) => {
  it('control: valid values do reach lxc (fake binary)', async () => {
    const before = fake.calls().length;
    await h(c.verb, argsFor(c, c.spec.rule!.label === 'path inside the instance' ? '/etc/motd' : VALID[c.key] ?? validFor(c)));
    expect(fake.calls().length).toBeGreaterThan(before);
  });

  it.each(HOSTILE.map((v) => [JSON.stringify(v).slice(0, 60), v]))('%s → RC 2, nothing run (fake binary)', async (_l, value) => {
    const legit = LEGIT[c.spec.rule!.label]?.(value) ?? false;
    const before = fake.calls().length;
    // function-call shape: the value arrives exactly as given
    const r1 = await h(c.verb, argsFor(c, value));
    if (legit) {
      // accepted on purpose: it reaches lxc as data inside one argv element, never via a shell
      expect(r1.errorCode, r1.errorMessage).not.toBe(2);
      const calls = fake.calls().slice(before);
      expect(calls.length).toBeGreaterThan(0);
      expect(calls.some((argv) => argv.some((a) => a.includes(value)))).toBe(true);
    } else {
      expect(r1.errorCode, `${c.verb} ${c.key}=${JSON.stringify(value)}: ${r1.errorMessage}`).toBe(2);
      expect(r1.success).toBe(false);
      expect(fake.calls().length).toBe(before);
      // command-string shape, value quoted the project's way (argvLine) so the tokenizer gives it back
      const line = `${c.verb} ${Object.entries(argsFor(c, value)).map(([k, v]) => argvLine([`${k}=${v}`])).join(' ')}`;
      const r2 = await h(line);
      expect(r2.errorCode, `${line}: ${r2.errorMessage}`).toBe(2);
      expect(fake.calls().length).toBe(before);
    }
    expect(fs.existsSync(CANARY)).toBe(false);
  });
});

/** A valid value for a key not in VALID (optional params). */
function validFor(c: Case): string {
  const byRule: Record<string, string> = {
    name: 'default', 'LXD instance name': 'web', 'image alias or fingerprint': 'tiny', memory: '256MiB', cpus: '2',
    'KEY=VALUE pair': 'user.a=1', 'environment entry': 'A=1', 'host path': '/tmp/rexx-h', 'file mode': '0644', 'snapshot name': 's1',
    'path inside the instance': '/tmp',
  };
  const v = byRule[c.spec.rule!.label];
  if (v === undefined) throw new Error(`no valid example for ${c.verb} ${c.key} (${c.spec.rule!.label})`);
  return v;
}
