/**
 * The prompt's pieces without a terminal: the variable lines, the exit code of an RC,
 * the pipe (script) mode that prints RESULT and RC=n per line (fake runner), and the
 * history file (parallel appends lose nothing; the newest HISTORY_SIZE lines are kept).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { TABLES } from '../../handlers';
import { appendHistory, HISTORY_SIZE, historyPath, readHistory } from '../../cli/line-editor';
import { exitCode } from '../../cli/output';
import { scriptPrompt, showVars } from '../../cli/prompt';
import { createHandler } from '../../shared/dispatch';
import { fromError, stem } from '../../shared/result';
import { AddressError } from '../../shared/errors';
import { fakeRunner } from '../helpers/fake-runner';

describe('showVars', () => {
  it('one line per variable, stems summarised, empty ones and ERRORTEXT left out', () => {
    expect(
      showVars({ INSTANCES: stem(['web-1', 'web-2', 'web-3']), STATUS: 'Running', EMPTY: '', NONE: stem([]), ERRORTEXT: 'x', MS: 12, MULTI: 'a\nb' }),
    ).toEqual(['INSTANCES.0=3: web-1 web-2 web-3', 'STATUS=Running', 'MS=12', 'MULTI=a\\nb']);
  });
  it('a long line is cut', () => {
    const [l] = showVars({ LINES: stem(Array.from({ length: 100 }, (_, i) => `line-${i}`)) });
    expect(l!.length).toBeLessThanOrEqual(160);
    expect(l!.endsWith('…')).toBe(true);
  });
});

describe('exit codes', () => {
  const rc = (n: number) => (n === 0 ? { success: true, errorCode: 0, errorMessage: '', output: '', rexxVariables: {} } : { ...fromError(new AddressError('toolFailed', 'x')), errorCode: n });
  it.each([
    [0, 0],
    [1, 1],
    [7, 7],
    [130, 130],
    [255, 255],
    [-1, 255],
    [-3, 253],
    [-5, 251],
  ])('RC %d exits %d', (r, code) => {
    expect(exitCode(rc(r))).toBe(code);
  });
});

describe('script mode (stdin a pipe; fake runner)', () => {
  it('each line runs, RESULT and RC=n after each, comments and blank lines skipped, exit code of the last', async () => {
    const fake = fakeRunner((argv) => (argv.includes('missing') ? { exitCode: 1, stderr: 'Error: Instance not found' } : { stdout: '[]' }));
    const h = createHandler(TABLES.lxd!, { runner: fake.runner });
    let out = '';
    let err = '';
    const io = { out: { write: (s: string) => (out += s) }, err: { write: (s: string) => (err += s) } } as never;
    const code = await scriptPrompt(h, false, io, Readable.from(['# a comment\n', '\n', 'list\n', 'nosuchverb\n']));
    expect(out).toBe('RC=0\nRC=2\n');
    expect(err).toMatch(/unknown verb 'nosuchverb'/);
    expect(code).toBe(2);
  });
});

describe('history file', () => {
  it('REXX_ADDRESS_HISTORY overrides ~/.rexx_address_history', () => {
    expect(historyPath({ REXX_ADDRESS_HISTORY: '/tmp/h' })).toBe('/tmp/h');
    expect(historyPath({})).toBe(path.join(os.homedir(), '.rexx_address_history'));
  });

  it('parallel appends (as from several prompts) lose no line; only the newest lines are kept', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-hist-'));
    const file = path.join(dir, 'history');
    await Promise.all(Array.from({ length: 20 }, (_, i) => appendHistory(file, `status n=${i}`)));
    expect(sorted(readHistory(file))).toEqual(sorted(Array.from({ length: 20 }, (_, i) => `status n=${i}`)));
    fs.writeFileSync(file, `${Array.from({ length: HISTORY_SIZE + 50 }, (_, i) => `old ${i}`).join('\n')}\n`);
    await appendHistory(file, 'newest');
    const lines = readHistory(file);
    expect(lines).toHaveLength(HISTORY_SIZE);
    expect(lines.at(-1)).toBe('newest');
    expect((fs.statSync(file).mode & 0o777).toString(8)).toBe('600');
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

const sorted = (xs: string[]) => [...xs].sort();
