/**
 * The session's block scanner (cli/rexx-blocks.ts) against RexxJS's own parser: for every
 * prefix of the example scripts and of a few block shapes, the scanner keeps reading
 * exactly when the parser reports a block or heredoc left open. Runs when REXXJS_HOME
 * points at a copy of the RexxJS repository.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { blockState } from '../../../cli/rexx-blocks';
import { loadRexxJs } from '../../../cli/rexxjs';

const home = process.env.REXXJS_HOME;
const root = path.join(__dirname, '..', '..', '..');

/** The parser's messages for input that stops inside a block (core/src/parser.js). */
const OPEN = /^(Missing END\b|Missing ENDIF\b|Missing END_RETRY\b|Unterminated heredoc\b)/;

const shapes = [
  'x = 0\nDO i = 1 TO 3\n  IF i > 1 THEN DO\n    x = x + i\n  END\n  ELSE DO\n    x = x - 1\n  END\nEND\nSAY x',
  'SELECT\n  WHEN x = 1 THEN DO\n    SAY "one"\n  OTHERWISE\n    SAY "other"\nEND',
  'ADDRESS ZFS <<EOT\nstatus\nEOT\nSAY RC',
  'IF x THEN\n  DO i = 1 TO 2\n    SAY i\n  END\nENDIF',
  'DO WHILE x < 3\n  x = x + 1 -- END\n  SAY "END"\nEND',
];

describe.skipIf(!home)('block scanner agrees with the RexxJS parser (REXXJS_HOME)', () => {
  // Loaded only when the suite runs: skipIf still collects this body without REXXJS_HOME.
  const parse = (src: string) => loadRexxJs(home!).parse(src);
  const scripts = fs
    .readdirSync(path.join(root, 'examples'))
    .filter((f) => f.endsWith('.rexx'))
    .map((f) => [f, fs.readFileSync(path.join(root, 'examples', f), 'utf8')] as const);
  const corpus = [...scripts, ...shapes.map((s, i) => [`shape ${i + 1}`, s] as const)];

  it.each(corpus)('%s: every prefix', (_name, text) => {
    const lines = text.split('\n');
    let prefixes = 0;
    let openSeen = 0;
    for (let n = 1; n <= lines.length; n++) {
      const prefix = lines.slice(0, n).join('\n');
      let parserOpen = false;
      try {
        parse(prefix);
      } catch (e) {
        parserOpen = OPEN.test((e as Error).message);
      }
      const state = blockState(prefix);
      expect({ prefix, open: state.open.length > 0 }).toEqual({ prefix, open: parserOpen });
      prefixes++;
      if (parserOpen) openSeen++;
    }
    expect(prefixes).toBe(lines.length);
    // Every script of the corpus has a block, so some prefixes are open: the check is not vacuous.
    expect(openSeen).toBeGreaterThan(0);
  });
});
