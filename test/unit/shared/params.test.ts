/** Parameter coercion and validation (shared/params.ts). */
import { describe, expect, it } from 'vitest';
import { AddressError } from '../../../shared/errors';
import { lxdInstanceName } from '../../../handlers/lxd/names';
import { coerceParams, parseDuration, typeLabel, type ParamsSpec } from '../../../shared/params';

const SPEC: ParamsSpec = {
  name: { type: 'string', required: true, rule: lxdInstanceName, doc: 'instance name' },
  label: { type: 'string', doc: 'free text, no leading -' },
  command: { type: 'string', free: true, doc: 'free text' },
  count: { type: 'int', default: 1, min: 1, max: 10, doc: 'how many' },
  offset: { type: 'int', doc: 'any whole number' },
  force: { type: 'bool', default: false, doc: 'force' },
  mode: { type: 'enum', values: ['running', 'ip', 'none'], default: 'running', doc: 'wait' },
  timeout: { type: 'duration', default: 30_000, doc: 'timeout' },
  env: { type: 'list', doc: 'env' },
  arg: { type: 'list', free: true, doc: 'argv' },
};

const raw = (o: Record<string, string | string[]>) =>
  new Map(Object.entries(o).map(([k, v]) => [k, Array.isArray(v) ? v : [v]]));

const ok = (o: Record<string, string | string[]>) => coerceParams('verb', SPEC, raw({ name: 'web', ...o }));

function bad(o: Record<string, string | string[]>, spec: ParamsSpec = SPEC): string {
  try {
    coerceParams('verb', spec, raw(o));
  } catch (e) {
    expect(e).toBeInstanceOf(AddressError);
    expect((e as AddressError).rc).toBe(2);
    return (e as AddressError).message;
  }
  throw new Error(`expected RC 2 for ${JSON.stringify(o)}`);
}

describe('coerceParams', () => {
  it('fills defaults and empty lists', () => {
    expect(ok({})).toEqual({ name: 'web', count: 1, force: false, mode: 'running', timeout: 30_000, env: [], arg: [] });
  });

  it.each([
    ['1', 1],
    ['10', 10],
    ['007', 7],
  ])('int %s → %d', (v, n) => expect(ok({ count: v }).count).toBe(n));

  it('int without bounds takes negatives', () => expect(ok({ offset: '-5' }).offset).toBe(-5));

  it.each([
    ['0', /at least 1/],
    ['11', /at most 10/],
    ['1.5', /whole number/],
    ['x', /whole number/],
    ['', /whole number/],
    ['1e3', /whole number/],
    [' 1', /whole number/],
  ])('int %j is refused (%s)', (v, why) => {
    const m = bad({ name: 'web', count: v });
    expect(m).toMatch(why);
    expect(m).toContain('verb');
    expect(m).toContain('count=');
  });

  it.each([
    ['true', true], ['TRUE', true], ['yes', true], ['on', true], ['1', true], ['Yes', true],
    ['false', false], ['no', false], ['off', false], ['0', false], ['OFF', false],
  ])('bool %s → %s', (v, b) => expect(ok({ force: v }).force).toBe(b));

  it.each(['', 'y', 'n', '2', 'truth', 'enabled'])('bool %j is refused', (v) => {
    expect(bad({ name: 'web', force: v })).toMatch(/force=.* is not true or false/);
  });

  it.each([
    ['ip', 'ip'],
    ['IP', 'ip'],
    ['Running', 'running'],
    ['NONE', 'none'],
  ])('enum %s → %s (case-insensitive, canonical spelling)', (v, e) => expect(ok({ mode: v }).mode).toBe(e));

  it('enum outside its values lists them', () => {
    expect(bad({ name: 'web', mode: 'later' })).toMatch(/must be one of running, ip, none/);
  });

  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['5m', 300_000],
    ['2h', 7_200_000],
    ['7d', 604_800_000],
    ['1w', 604_800_000],
    ['45', 45_000],
    ['0', 0],
    ['1.5s', 1500],
    ['0.5', 500],
  ])('duration %s → %d ms', (v, ms) => {
    expect(ok({ timeout: v }).timeout).toBe(ms);
    expect(parseDuration(v)).toBe(ms);
  });

  it.each(['', 'x', '-1', '5 minutes', '5min', '1h30m', 's', '1.s', '1,5s'])('duration %j is refused', (v) => {
    expect(bad({ name: 'web', timeout: v })).toMatch(/is not a duration/);
  });

  it('list collects every value; a single value is a one-item list', () => {
    expect(ok({ env: ['A=1', 'B=x y'] }).env).toEqual(['A=1', 'B=x y']);
    expect(ok({ env: 'A=1' }).env).toEqual(['A=1']);
  });

  it('a list without free refuses a leading "-"; with free allows it', () => {
    expect(bad({ name: 'web', env: ['A=1', '-x'] })).toMatch(/must not start with "-"/);
    expect(ok({ arg: ['ls', '-la'] }).arg).toEqual(['ls', '-la']);
  });

  it('unknown key → RC 2 naming the verb and key and listing valid keys', () => {
    const m = bad({ name: 'web', colour: 'red' });
    expect(m).toContain('verb');
    expect(m).toContain("'colour'");
    expect(m).toMatch(/valid keys for verb: name, label, command, count, offset, force, mode, timeout, env, arg/);
  });

  it('unknown key on a verb with no params says (none)', () => {
    expect(bad({ x: '1' }, {})).toMatch(/valid keys for verb: \(none\)/);
  });

  it('missing required key → RC 2 naming it, its doc and the valid keys', () => {
    const m = bad({ count: '2' });
    expect(m).toMatch(/verb: missing required key 'name' \(instance name\)/);
    expect(m).toMatch(/valid keys for verb/);
  });

  it.each(['label', 'count', 'force', 'mode', 'timeout', 'name'])('repeated non-list key %s → RC 2', (k) => {
    expect(bad({ name: 'web', [k]: ['1', '2'] })).toMatch(new RegExp(`key '${k}' given 2 times; it takes one value`));
  });

  it('leading "-" is refused for a plain string, allowed when free', () => {
    expect(bad({ name: 'web', label: '--force' })).toMatch(/label=.* must not start with "-"/);
    expect(ok({ command: '--version' }).command).toBe('--version');
    expect(ok({ label: 'a-b' }).label).toBe('a-b');
  });

  it('a string with a rule is checked by the rule and the message names the rule', () => {
    expect(bad({ name: '1web' })).toMatch(/verb: name="1web" is not a valid LXD instance name/);
    expect(bad({ name: '-web' })).toMatch(/must not start with "-"/);
  });

  it('NUL bytes are refused even in free text', () => {
    expect(bad({ name: 'web', command: 'a\0b' })).toMatch(/NUL/);
  });

  it('a long bad value is shortened in the message', () => {
    const m = bad({ name: 'web', label: `-${'x'.repeat(500)}` });
    expect(m.length).toBeLessThan(200);
    expect(m).toContain('…');
  });

  it('typeLabel describes each type', () => {
    expect(SPEC.mode && typeLabel(SPEC.mode)).toBe('running|ip|none');
    expect(typeLabel(SPEC.timeout!)).toBe('duration');
    expect(typeLabel(SPEC.env!)).toBe('list');
    expect(typeLabel(SPEC.count!)).toBe('int');
    expect(typeLabel(SPEC.force!)).toBe('bool');
    expect(typeLabel(SPEC.label!)).toBe('string');
  });
});
