/**
 * The hostile-value suite every handler runs: each name-like parameter (every string or
 * list parameter with a `rule`) of every verb in the table, fed each HOSTILE value,
 * must give RC 2 (an exec verb: -2) — both as a function call and as a command string quoted the
 * project's way (argvLine) — while fake binaries on PATH prove nothing ran and the
 * CANARY file proves no shell evaluated anything. The parameters come from the verb
 * table, so a new verb or parameter is covered automatically.
 *
 * Call `hostileSuite({...})` at the top level of a test file: it registers the hooks
 * (fake binaries, handler, canary check) and the tests, and returns the cases, the
 * handler and the fakes for the file's own, handler-specific tests.
 */
import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler, type AddressHandler } from '../../shared/dispatch';
import type { ParamSpec } from '../../shared/params';
import type { RexxResult } from '../../shared/result';
import { argvLine } from '../../shared/runner';
import type { HandlerTable } from '../../shared/verb';
import { fakeBin, type FakeBin } from './fakebin';
import { CANARY, HOSTILE } from './hostile';

/** One name-like parameter of one verb. */
export interface HostileCase {
  verb: string;
  key: string;
  spec: ParamSpec;
}

export interface HostileSuiteOptions {
  table: HandlerTable;
  /** Commands to fake on PATH (each records its argv; none may be called for a hostile value). */
  tools: string[];
  /** More environment for the handler, given the fakes (e.g. a state folder inside fake.dir). */
  env?: (fake: FakeBin) => Record<string, string>;
  /** Valid values, by key, for the verb's required keys, so a call fails only because of the value under test. */
  valid: Record<string, string>;
  /** Further valid arguments for a case (e.g. one of two keys a verb needs); the key under test always wins. */
  extra?: (c: HostileCase) => Record<string, string> | undefined;
  /** Hostile values a rule (by its label) accepts on purpose: real values passed as one argv element, never through a shell. */
  legit?: Record<string, (value: string) => boolean>;
  /**
   * What to check for an accepted (legit) value, given the result and the commands it ran.
   * Without it a legit value is skipped (not sent at all).
   */
  onLegit?: (c: HostileCase, value: string, r: RexxResult, calls: string[][]) => void;
  /** More tests for each case, registered inside its describe block (e.g. a control call). */
  perCase?: (c: HostileCase, suite: HostileSuite) => void;
}

export interface HostileSuite {
  /** Every (verb, name-like key) of the table. */
  cases: HostileCase[];
  /** The handler, with the fakes first on PATH (set in beforeAll). */
  readonly h: AddressHandler;
  /** The fake binaries (set in beforeAll). */
  readonly fake: FakeBin;
  /** The arguments a case is called with when its key holds `value`. */
  argsFor(c: HostileCase, value: string): Record<string, string>;
}

/**
 * The hostile values the shared `host path` rule (shared/names.ts) accepts on purpose: a
 * host file path may hold any character but NUL/control characters, and must not start with "-".
 */
export const isHostPath = (v: string): boolean => v !== '' && !v.startsWith('-') && !/[\0-\x1f\x7f]/.test(v);

/** Every string/list parameter with a `rule`, of every verb of `table`. */
export function nameLikeParams(table: HandlerTable): HostileCase[] {
  return table.verbs.flatMap((v) =>
    Object.entries(v.params as Record<string, ParamSpec>)
      .filter(([, s]) => (s.type === 'string' || s.type === 'list') && s.rule)
      .map(([key, spec]) => ({ verb: v.name, key, spec })),
  );
}

/** Register the hostile-value suite for `o.table` (see the file comment). */
export function hostileSuite(o: HostileSuiteOptions): HostileSuite {
  let fake: FakeBin | undefined;
  let h: AddressHandler | undefined;
  const suite: HostileSuite = {
    cases: nameLikeParams(o.table),
    get h() {
      if (!h) throw new Error('hostileSuite: the handler exists only inside tests');
      return h;
    },
    get fake() {
      if (!fake) throw new Error('hostileSuite: the fakes exist only inside tests');
      return fake;
    },
    argsFor(c, value) {
      const verb = o.table.verbs.find((v) => v.name === c.verb)!;
      const args: Record<string, string> = {};
      for (const [k, s] of Object.entries(verb.params as Record<string, ParamSpec>)) {
        if (s.required && o.valid[k] !== undefined) args[k] = o.valid[k]!;
      }
      for (const [k, v] of Object.entries(o.extra?.(c) ?? {})) if (k !== c.key) args[k] = v;
      args[c.key] = value;
      return args;
    },
  };

  beforeAll(() => {
    fs.rmSync(CANARY, { force: true });
    fake = fakeBin(Object.fromEntries(o.tools.map((t) => [t, {}])));
    h = createHandler(o.table, { env: { ...fake.env, ...o.env?.(fake) } });
  });
  afterAll(() => {
    fake?.cleanup();
    expect(fs.existsSync(CANARY), `canary ${CANARY} exists: something evaluated a hostile value`).toBe(false);
  });

  describe(`hostile values for ADDRESS ${o.table.target}`, () => {
    it('HOSTILE has at least 50 values and the canary is not there yet', () => {
      expect(HOSTILE.length).toBeGreaterThanOrEqual(50);
      expect(fs.existsSync(CANARY)).toBe(false);
    });
  });

  describe.each(suite.cases)('$verb $key=', (c) => {
    o.perCase?.(c, suite);

    it.each(HOSTILE.map((v) => [JSON.stringify(v).slice(0, 60), v]))('%s → RC 2, nothing run (fake binary)', async (_l, value) => {
      const legit = o.legit?.[c.spec.rule!.label]?.(value) ?? false;
      // An exec verb reports a command that never ran with the negative code (-2 for usage).
      const usage = o.table.verbs.find((v) => v.name === c.verb)!.exitStatus ? -2 : 2;
      if (legit && !o.onLegit) return; // accepted on purpose, as data in one argv element
      const before = suite.fake.calls().length;
      // function-call shape: the value arrives exactly as given
      const r1 = await suite.h(c.verb, suite.argsFor(c, value));
      if (legit) {
        o.onLegit!(c, value, r1, suite.fake.calls().slice(before));
      } else {
        expect(r1.errorCode, `${c.verb} ${c.key}=${JSON.stringify(value)}: ${r1.errorMessage}`).toBe(usage);
        expect(r1.success).toBe(false);
        expect(suite.fake.calls().length).toBe(before);
        // command-string shape, value quoted the project's way (argvLine) so the tokenizer gives it back
        const line = `${c.verb} ${Object.entries(suite.argsFor(c, value)).map(([k, v]) => argvLine([`${k}=${v}`])).join(' ')}`;
        const r2 = await suite.h(line);
        expect(r2.errorCode, `${line}: ${r2.errorMessage}`).toBe(usage);
        expect(suite.fake.calls().length).toBe(before);
      }
      expect(fs.existsSync(CANARY)).toBe(false);
    });
  });

  return suite;
}
