/** The CLI re-joins separate shell words into one command; every word must come back exactly. */
import { describe, expect, it } from 'vitest';
import { parseCommand } from '../../shared/parse';
import { argvLine } from '../../shared/runner';

const words = [
  "command=echo it's $HOME \"q\" back\\slash #hash ${X} `id` $(id) a && b; c | d > e",
  'content=line1\nline2',
  'env=B=x y',
  "name=o'brien",
  'empty=',
  'unicode=héllo 😀',
];

describe('CLI word joining (argvLine) round-trips through the tokenizer', () => {
  it.each(words)('%s', (w) => {
    const parsed = parseCommand(argvLine(['exec', w]));
    const eq = w.indexOf('=');
    expect(parsed.params.get(w.slice(0, eq))).toEqual([w.slice(eq + 1)]);
  });
});

describe('backslash before $ and # follows the shell in every quoting context', () => {
  it.each([
    ['k="a\\$b"', 'a$b'],
    ['k=a\\$b', 'a$b'],
    ["k='a\\$b'", 'a\\$b'],
    ['k="a\\#b"', 'a\\#b'],
    ['k=a\\#b', 'a#b'],
    ['k="x \\" $y"', 'x " $y'],
  ])('%s → %s', (cmd, value) => {
    expect(parseCommand(`v ${cmd}`).params.get('k')).toEqual([value]);
  });
});
