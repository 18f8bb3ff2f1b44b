/**
 * The REXX session without RexxJS or a terminal: the block scanner (when an input is
 * complete), the RC/variables summary, and the message when RexxJS cannot be found.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { blockState, readyToRun } from '../../../cli/rexx-blocks';
import { findRexxJs, missingMessage } from '../../../cli/rexxjs';
import { EXIT_NO_REXXJS, runSession, summarize } from '../../../cli/session';
import { loadFromTree } from '../../../cli/tree';
import { main } from '../../../cli/main';

describe('block scanner: complete inputs', () => {
  it.each([
    'SAY "hi"',
    'x = 5',
    'DO i = 1 TO 3\n  SAY i\nEND',
    'DO WHILE x < 3\nx = x + 1\nEND',
    'SELECT\nWHEN x = 1 THEN SAY "one"\nOTHERWISE SAY "other"\nEND',
    // RexxJS: WHEN … THEN DO opens nothing; the first END closes the SELECT.
    'SELECT\nWHEN x = 1 THEN DO\n  SAY "one"\nEND',
    'DO i = 1 TO 2\n  DO j = 1 TO 2\n    SAY i j\n  END\nEND',
    'IF x THEN\n  SAY 1\nENDIF',
    'ADDRESS ZFS <<EOT\nstatus\nEOT',
    '<<EOT\nDO i = 1 TO 3\nEOT',
    'x = "DO i = 1 TO 3"',
    "x = 'SELECT'",
    'SAY "END" -- DO i = 1 TO 3',
    'SAY 1 /* DO i = 1 TO 3 */',
    '/* a comment left open ends with its line in RexxJS',
    'DO',
    'END',
    'IF 1 THEN DO\n  SAY 1\nEND\nELSE DO\n  SAY 2\nEND',
    'IF 1 THEN DO\n  SAY 1\nEND\nSAY "next"',
    'RETRY_ON_STALE timeout=100\n SAY 1\nEND_RETRY',
  ])('%j', (text) => {
    expect(blockState(text).complete).toBe(true);
  });
});

describe('block scanner: inputs that continue', () => {
  it.each([
    ['DO i = 1 TO 3', ['DO']],
    ['DO i = 1 TO 3\n  SAY i', ['DO']],
    ['SELECT', ['SELECT']],
    ['SELECT\nWHEN 1 THEN DO', ['SELECT']],
    ['DO i = 1 TO 2\n  DO j = 1 TO 2\n  END', ['DO']],
    ['IF x > 1 THEN DO', ['DO']],
    ['IF x > 1 THEN', ['IF']],
    ['ADDRESS ZFS <<EOT', ['<<EOT']],
    ['ADDRESS ZFS <<EOT\nstatus\n EOT x', ['<<EOT']],
    ['DO i = 1 TO 3\n  SAY "END"', ['DO']],
    ['DO i = 1 TO 3\n  SAY 1 -- END', ['DO']],
    ['RETRY_ON_STALE timeout=100', ['RETRY_ON_STALE']],
    ['do i = 1 to 3', ['DO']],
  ])('%j → open %j', (text, open) => {
    const s = blockState(text);
    expect(s.complete).toBe(false);
    expect(s.open).toEqual(open);
  });

  it('an outermost IF … THEN DO … END waits for an optional ELSE; an empty line runs it', () => {
    const lines = ['IF x > 1 THEN DO', '  SAY "big"', 'END'];
    expect(blockState(lines.join('\n'))).toEqual({ complete: false, open: [], awaitingElse: true });
    expect(readyToRun(lines)).toBe(false);
    expect(readyToRun([...lines, ''])).toBe(true);
    expect(readyToRun([...lines, 'ELSE DO'])).toBe(false);
    expect(readyToRun([...lines, 'ELSE DO', '  SAY "small"', 'END'])).toBe(true);
    // Nested inside a DO, the ELSE question is the parser's, not the prompt's.
    expect(readyToRun(['DO i = 1 TO 2', 'IF i > 1 THEN DO', 'SAY i', 'END', 'END'])).toBe(true);
  });
});

describe('RC and variables after a command', () => {
  it('shows RC, the first line of RESULT, scalars and stems; leaves out blanks and empty stems', () => {
    const text = summarize(
      {
        count: 1,
        last: {
          success: true,
          errorCode: 0,
          output: 'handler 0.1.0\nzfs-fuse\n',
          rexxVariables: { REACHABLE: 1, EMPTY: '', NONE: { 0: 0 }, POOLS: { 0: 4, 1: 'a', 2: 'b', 3: 'c', 4: 'd' }, VERSION: 'zfs-fuse (pool 23)', ERRORTEXT: '' },
        },
      },
      0,
    );
    expect(text).toBe("RC=0 RESULT='handler 0.1.0' (+1 lines)\n  REACHABLE=1 POOLS.0=4 [a, b, c, …] VERSION='zfs-fuse (pool 23)'\n");
  });

  it('a failure shows RC and ERRORTEXT (quotes doubled), and how many commands ran', () => {
    const text = summarize({ count: 3, last: { success: false, errorCode: 3, errorMessage: "dataset 'x' not found", output: '', rexxVariables: {} } }, 3);
    expect(text).toBe("RC=3 (last of 3 commands) ERRORTEXT='dataset ''x'' not found'\n");
  });

  it('wraps the variables to the width and cuts long values', () => {
    const vars = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`VAR_${i}`, 'v'.repeat(20)]));
    const text = summarize({ count: 1, last: { success: true, errorCode: 0, rexxVariables: { ...vars, LONG: 'x'.repeat(100) } } }, 0, 60);
    for (const line of text.split('\n')) expect(line.length).toBeLessThanOrEqual(70);
    expect(text).toContain(`LONG=${'x'.repeat(59)}…`);
  });
});

describe('when RexxJS cannot be found', () => {
  const capture = () => {
    const out = new PassThrough();
    const err = new PassThrough();
    let o = '';
    let e = '';
    out.on('data', (d) => (o += d));
    err.on('data', (d) => (e += d));
    return { io: { out, err }, text: () => ({ out: o, err: e }) };
  };

  it('with neither REXXJS_HOME nor --rexxjs: says how to get it, exits 6, runs nothing', async () => {
    const c = capture();
    expect(await runSession([], c.io, loadFromTree, {})).toBe(EXIT_NO_REXXJS);
    expect(EXIT_NO_REXXJS).toBe(6);
    const { out, err } = c.text();
    expect(out).toBe('');
    expect(err).toContain('REXXJS_HOME is not set');
    expect(err).toContain('git clone https://github.com/paul-hammant/RexxJS.git');
    expect(err).toContain('export REXXJS_HOME=');
    expect(err).toContain('rexx-address rexx --rexxjs');
    expect(err).toContain('rexx-address lxd');
  });

  it('a folder that is not RexxJS is named in the message (--rexxjs first, then REXXJS_HOME)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'no-rexxjs-'));
    try {
      expect(findRexxJs(dir, { REXXJS_HOME: '/elsewhere' })).toEqual({ reason: `--rexxjs=${dir} has no ${path.join('core', 'src', 'interpreter.js')}` });
      expect(findRexxJs(undefined, { REXXJS_HOME: dir })).toMatchObject({ reason: expect.stringContaining(`REXXJS_HOME=${dir}`) });
      fs.mkdirSync(path.join(dir, 'core', 'src'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'core', 'src', 'interpreter.js'), '');
      expect(findRexxJs(undefined, { REXXJS_HOME: dir })).toEqual({ home: dir });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    expect(missingMessage('why').split('\n')[0]).toBe('rexx-address rexx: RexxJS not found (why).');
  });

  it('a RexxJS folder whose interpreter does not load: the same message with the cause, exit 6', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'broken-rexxjs-'));
    try {
      fs.mkdirSync(path.join(dir, 'core', 'src'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'core', 'src', 'parser.js'), 'throw new Error("half a checkout");');
      fs.writeFileSync(path.join(dir, 'core', 'src', 'interpreter.js'), '');
      const c = capture();
      expect(await runSession(['--rexxjs', dir], c.io, loadFromTree, {})).toBe(6);
      expect(c.text().err).toContain(`loading it from ${dir} failed: half a checkout`);
      expect(c.text().err).toContain('git clone https://github.com/paul-hammant/RexxJS.git');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rexx-address repl --rexxjs DIR goes through the CLI; a stray argument is a usage error (2)', async () => {
    const c = capture();
    expect(await main(['repl', '--rexxjs', '/nonexistent-rexxjs'], c.io, loadFromTree)).toBe(6);
    expect(c.text().err).toContain('--rexxjs=/nonexistent-rexxjs has no');
    const d = capture();
    expect(await main(['rexx', 'lxd'], d.io, loadFromTree)).toBe(2);
    expect(d.text().err).toContain("unexpected argument 'lxd'");
  });
});
