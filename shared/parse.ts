/**
 * Tokenize `verb key=value ...` with shell-quote: single and double quotes and
 * backslash escapes work; there is no environment expansion (`$HOME` stays
 * literal) and no globbing (`*.txt` stays literal); an unquoted shell operator
 * (`;`, `&&`, `|`, `>`, `(` ...) is a usage error that says to quote the value.
 */
import { parse as shellParse } from 'shell-quote';
import { usageError } from './errors';

/** A parsed command: the verb, its key=value pairs (keys lowercased, in order) and bare words. */
export interface ParsedCommand {
  verb: string;
  /** key → every value given for it, in order (a repeated key collects a list). */
  params: Map<string, string[]>;
  /** Words without `=` after the verb, in order (mapped to a verb's positional params). */
  positional: string[];
}

// shell-quote expands `$X` and starts a comment at `#` even inside a word; neither is
// wanted here, so both characters are swapped for private-use sentinels before
// tokenizing and swapped back in every token afterwards.
const DOLLAR = '\uE000';
const HASH = '\uE001';
const SENTINELS = /[\uE000\uE001]/;

const KEY = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/**
 * Swap `$` and `#` for the sentinels, keeping shell meaning: inside double quotes the
 * shell reads `\$` as `$`, so that backslash is dropped here (shell-quote would keep it
 * before a sentinel); unquoted and single-quoted text needs no special case.
 */
function guard(command: string): string {
  let out = '';
  let quote: '' | "'" | '"' = '';
  for (let i = 0; i < command.length; i++) {
    const c = command[i]!;
    const next = command[i + 1];
    if (c === '$') out += DOLLAR;
    else if (c === '#') out += HASH;
    else if (c === '\\' && quote !== "'" && next !== undefined) {
      if (quote === '"' && next === '$') out += DOLLAR;
      else out += c + (next === '$' ? DOLLAR : next === '#' ? HASH : next);
      i++;
    } else {
      if (quote === '' && (c === "'" || c === '"')) quote = c;
      else if (c === quote) quote = '';
      out += c;
    }
  }
  return out;
}

/** Split a command string into tokens. Throws AddressError(usage) on operators. */
export function tokenize(command: string): string[] {
  if (SENTINELS.test(command)) throw usageError('command contains reserved characters U+E000/U+E001');
  if (command.includes('\0')) throw usageError('command contains a NUL byte');
  const guarded = guard(command);
  const restore = (s: string) => s.replace(/\uE000/g, '$').replace(/\uE001/g, '#');
  const out: string[] = [];
  for (const t of shellParse(guarded)) {
    if (typeof t === 'string') out.push(restore(t));
    else if ('op' in t && t.op === 'glob') out.push(restore((t as { pattern: string }).pattern));
    else if ('op' in t) {
      throw usageError(
        `unquoted shell operator '${t.op}' in: ${command.trim()} — quote the value, e.g. command="a ${t.op} b"`,
      );
    } else throw usageError(`unexpected token in: ${command.trim()}`);
  }
  return out;
}

/** Parse a whole command line: first word is the verb (lowercased), then key=value pairs. */
export function parseCommand(command: string): ParsedCommand {
  const tokens = tokenize(command);
  const params = new Map<string, string[]>();
  const positional: string[] = [];
  const verb = (tokens.shift() ?? '').toLowerCase();
  for (const tok of tokens) {
    const eq = tok.indexOf('=');
    const key = eq > 0 ? tok.slice(0, eq) : '';
    if (eq > 0 && KEY.test(key)) {
      const k = key.toLowerCase();
      const list = params.get(k) ?? [];
      list.push(tok.slice(eq + 1));
      params.set(k, list);
    } else {
      positional.push(tok);
    }
  }
  return { verb, params, positional };
}

const PLAIN_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** Render an argv as one line a POSIX shell would split back into the same words (trace, dryrun, messages). */
export function argvLine(argv: readonly string[]): string {
  // POSIX single quotes keep everything literal; an embedded ' becomes '\''.
  return argv.map((a) => (PLAIN_WORD.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`)).join(' ');
}
