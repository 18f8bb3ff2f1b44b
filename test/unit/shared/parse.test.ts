/** Tokenizer and command parser (shared/parse.ts): quoting, escapes, literals, operators. */
import { describe, expect, it } from 'vitest';
import { AddressError } from '../../../shared/errors';
import { parseCommand, tokenize } from '../../../shared/parse';
import { argvLine } from '../../../shared/runner';
import { HOSTILE } from '../../helpers/hostile';

function usage(fn: () => unknown): AddressError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(AddressError);
    expect((e as AddressError).rc).toBe(2);
    return e as AddressError;
  }
  throw new Error('expected a usage error');
}

describe('tokenize', () => {
  it.each([
    ['plain words', 'a b  c', ['a', 'b', 'c']],
    ['single quotes', `k='x y'`, ['k=x y']],
    ['double quotes', `k="x y"`, ['k=x y']],
    ['single quotes keep backslashes', `'a\\b'`, ['a\\b']],
    ['escaped double quote inside double quotes', `"x\\"y"`, ['x"y']],
    ['single quote inside double quotes', `"it's"`, ["it's"]],
    ['double quote inside single quotes', `'say "hi"'`, ['say "hi"']],
    ['backslash-escaped space', 'a\\ b', ['a b']],
    ['backslash-escaped operator', 'a\\;b', ['a;b']],
    ['adjacent quoted parts join', 'x"y"z', ['xyz']],
    ['command with && stays one value', 'command="apt update && apt install -y nginx"', ['command=apt update && apt install -y nginx']],
    ['command with | in single quotes', "command='cat /etc/os-release | head -1'", ['command=cat /etc/os-release | head -1']],
    ['repeated env values', 'env=A=1 env=B="x y"', ['env=A=1', 'env=B=x y']],
    ['$HOME stays literal', '$HOME', ['$HOME']],
    ['${HOME} stays literal', '${HOME}', ['${HOME}']],
    ['$HOME in double quotes stays literal', 'cmd="echo $HOME"', ['cmd=echo $HOME']],
    ['$(...) quoted stays literal', `c='$(id)'`, ['c=$(id)']],
    ['*.txt is not globbed', '*.txt', ['*.txt']],
    ['? and [] are not globbed', 'a? [ab]', ['a?', '[ab]']],
    ['# inside a word is not a comment', 'a#b', ['a#b']],
    ['# alone is a word', 'x # y', ['x', '#', 'y']],
    ['unicode', 'name=héllo 日本 😀', ['name=héllo', '日本', '😀']],
    ['empty value', 'k=', ['k=']],
    ['empty double-quoted value', 'k=""', ['k=']],
    ['empty single-quoted value', "k=''", ['k=']],
    ['empty quoted word', '""', ['']],
    ['blank command', '   ', []],
    ['empty command', '', []],
  ])('%s', (_label, input, tokens) => {
    expect(tokenize(input)).toEqual(tokens);
  });

  it.each([';', '&&', '||', '|', '>', '<', '(', ')', '&', '>>', ';;', '|&'])(
    'unquoted operator %s is RC 2 and says to quote',
    (op) => {
      for (const cmd of [`a ${op} b`, `a${op}b`]) {
        const e = usage(() => tokenize(cmd));
        expect(e.message).toContain(`'${op}'`);
        expect(e.message).toMatch(/quote the value/);
      }
    },
  );

  it.each(['a ; b', 'a && b', 'a | b', 'a > b', 'a < b', 'a ( b )', 'a & b'])('quoted operators are fine: "%s"', (v) => {
    expect(tokenize(`c="${v}"`)).toEqual([`c=${v}`]);
    expect(tokenize(`c='${v}'`)).toEqual([`c=${v}`]);
  });

  it('refuses NUL and the private sentinel characters', () => {
    usage(() => tokenize('a\0b'));
    usage(() => tokenize('a\uE000b'));
    usage(() => tokenize('a\uE001b'));
  });
});

describe('parseCommand', () => {
  it('lowercases the verb and keys, keeps values as given', () => {
    const p = parseCommand('CREATE Name=Web IMAGE=Tiny');
    expect(p.verb).toBe('create');
    expect([...p.params]).toEqual([
      ['name', ['Web']],
      ['image', ['Tiny']],
    ]);
  });

  it('a repeated key collects every value in order', () => {
    const p = parseCommand('exec env=A=1 ENV=B="x y" env=C=');
    expect(p.params.get('env')).toEqual(['A=1', 'B=x y', 'C=']);
  });

  it('splits at the first "=" only', () => {
    expect(parseCommand('v config=limits.memory=1GB').params.get('config')).toEqual(['limits.memory=1GB']);
  });

  it('an empty value is kept as ""', () => {
    expect(parseCommand('v k=').params.get('k')).toEqual(['']);
  });

  it.each([
    ['bare words', 'start web-1 tiny', ['web-1', 'tiny']],
    ['word starting with =', 'v =x', ['=x']],
    ['key starting with a digit', 'v 2a=x', ['2a=x']],
    ['key with a space (quoted)', 'v "a b=c"', ['a b=c']],
    ['unicode key', 'v ä=1', ['ä=1']],
  ])('positional: %s', (_l, cmd, positional) => {
    const p = parseCommand(cmd);
    expect(p.positional).toEqual(positional);
    expect(p.params.size).toBe(0);
  });

  it('mixes positional words and key=value pairs, keeping order', () => {
    const p = parseCommand('delete web force timeout=5s');
    expect(p.positional).toEqual(['web', 'force']);
    expect(p.params.get('timeout')).toEqual(['5s']);
  });

  it('keys may contain dots, underscores and hyphens', () => {
    const p = parseCommand('v user.key=1 a_b=2 a-b=3');
    expect([...p.params.keys()]).toEqual(['user.key', 'a_b', 'a-b']);
  });

  it('an empty command has an empty verb', () => {
    expect(parseCommand('').verb).toBe('');
  });

  it('operators are refused by parseCommand too', () => {
    usage(() => parseCommand('exec name=web command=ls; rm -rf /'));
  });
});

describe('argvLine output reads back exactly', () => {
  it.each(HOSTILE.filter((v) => !v.includes('\0')).map((v) => [JSON.stringify(v).slice(0, 50), v]))('%s', (_l, v) => {
    expect(tokenize(argvLine(['verb', `k=${v}`, v]))).toEqual(['verb', `k=${v}`, v]);
  });
});
