/** Mapping verb output and errors to the RexxJS result (shared/result.ts, shared/errors.ts). */
import { describe, expect, it } from 'vitest';
import * as E from '../../../shared/errors';
import { fromError, fromOutput, stem } from '../../../shared/result';
import type { RunResult } from '../../../shared/runner';

describe('fromOutput', () => {
  it('success always has ERRORTEXT "" in rexxVariables', () => {
    expect(fromOutput({})).toEqual({ success: true, errorCode: 0, errorMessage: '', output: '', rexxVariables: { ERRORTEXT: '' } });
    const r = fromOutput({ result: 'web', vars: { A: 1, ERRORTEXT: 'stale' } });
    expect(r.rexxVariables).toEqual({ A: 1, ERRORTEXT: '' });
    expect(r.output).toBe('web');
  });

  it('a non-zero rc (exec style) is a failure with that RC, RESULT kept', () => {
    const r = fromOutput({ rc: 3, result: 'partial', errorText: 'boom', vars: { STDERR: 'boom' } });
    expect(r).toEqual({
      success: false,
      errorCode: 3,
      errorMessage: 'boom',
      output: 'partial',
      rexxVariables: { STDERR: 'boom', ERRORTEXT: 'boom' },
    });
  });

  it('a non-zero rc without errorText says the exit code', () => {
    expect(fromOutput({ rc: 42 }).errorMessage).toBe('exit code 42');
    expect(fromOutput({ rc: 42 }).rexxVariables.ERRORTEXT).toBe('exit code 42');
  });

  it('rc 0 is success', () => {
    expect(fromOutput({ rc: 0, result: 'x' }).success).toBe(true);
  });
});

describe('fromError', () => {
  it.each([
    [E.toolFailed, 'toolFailed', 1],
    [E.usageError, 'usage', 2],
    [E.notFound, 'notFound', 3],
    [E.alreadyExists, 'exists', 4],
    [E.timedOut, 'timedOut', 5],
    [E.unavailable, 'unavailable', 6],
    [E.refused, 'refused', 7],
  ] as const)('%o → kind %s, RC %d', (make, kind, rc) => {
    const e = make('it went wrong');
    expect(e.kind).toBe(kind);
    expect(e.rc).toBe(rc);
    expect(E.RC[kind]).toBe(rc);
    const r = fromError(e);
    expect(r).toEqual({ success: false, errorCode: rc, errorMessage: 'it went wrong', output: '', rexxVariables: { ERRORTEXT: 'it went wrong' } });
  });

  it('keeps the vars and output an AddressError carries', () => {
    const r = fromError(E.unavailable('down', { vars: { REACHABLE: 0 }, output: 'reachable no' }));
    expect(r.output).toBe('reachable no');
    expect(r.rexxVariables).toEqual({ REACHABLE: 0, ERRORTEXT: 'down' });
  });

  it('a plain Error → RC 1 "internal error" without a stack trace', () => {
    const err = new Error('kaboom');
    const r = fromError(err);
    expect(r.success).toBe(false);
    expect(r.errorCode).toBe(1);
    expect(r.errorMessage).toBe('internal error: kaboom');
    expect(r.errorMessage).not.toMatch(/\n|    at /);
    expect(JSON.stringify(r)).not.toContain(err.stack!.split('\n')[1]!.trim());
    expect(r.rexxVariables).toEqual({ ERRORTEXT: 'internal error: kaboom' });
  });

  it.each([['a string'], [42], [null], [undefined], [{ x: 1 }]])('a thrown non-Error %j → RC 1', (v) => {
    const r = fromError(v);
    expect(r.errorCode).toBe(1);
    expect(r.errorMessage).toMatch(/^internal error: /);
  });

  it('RC_DOCS lists RC 0..7 and 130 (cancelled) once each', () => {
    expect(E.RC_DOCS.map(([rc]) => rc)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 130]);
  });
});

describe('stem', () => {
  it.each([
    [[], { 0: 0 }],
    [['a'], { 0: 1, 1: 'a' }],
    [['web-1', 'web-2'], { 0: 2, 1: 'web-1', 2: 'web-2' }],
    [[1, 2, 3], { 0: 3, 1: 1, 2: 2, 3: 3 }],
  ])('%j → %j', (values, s) => expect(stem(values)).toEqual(s));
});

describe('classify and toolMessage', () => {
  const base: RunResult = { argv: ['tool', 'x'], ok: false, exitCode: 1, signal: null, timedOut: false, missing: false, stdout: '', stderr: '', durationMs: 5 };
  const c: E.Classifier = { patterns: [['notFound', /not found/i], ['exists', /exists/]] };

  it('missing binary → RC 6 naming the binary', () => {
    const e = E.classify({ ...base, missing: true, stderr: 'not found' }, c);
    expect(e.rc).toBe(6);
    expect(e.message).toMatch(/tool is not installed/);
  });
  it('timeout → RC 5 even if the text matches a pattern', () => {
    const e = E.classify({ ...base, timedOut: true, stderr: 'not found' }, c);
    expect(e.rc).toBe(5);
  });
  it('first matching pattern wins, message is the tool text', () => {
    const e = E.classify({ ...base, stderr: 'Error: thing not found, exists' }, c);
    expect(e.rc).toBe(3);
    expect(e.message).toBe('Error: thing not found, exists');
  });
  it('stdout is matched too', () => {
    expect(E.classify({ ...base, stdout: 'it exists' }, c).rc).toBe(4);
  });
  it('no match → RC 1 with the tool message', () => {
    const e = E.classify({ ...base, stderr: 'weird\n' }, c);
    expect(e.rc).toBe(1);
    expect(e.message).toBe('weird');
  });
  it('toolMessage falls back to the exit code, signal or timeout', () => {
    expect(E.toolMessage(base)).toBe('tool exited with code 1');
    expect(E.toolMessage({ ...base, exitCode: null, signal: 'SIGKILL' })).toBe('tool was killed by SIGKILL');
    expect(E.toolMessage({ ...base, timedOut: true })).toBe('tool timed out after 5 ms');
    expect(E.toolMessage({ ...base, stderr: Array.from({ length: 30 }, (_, i) => `l${i}`).join('\n') }).split('\n')).toHaveLength(20);
  });
});
