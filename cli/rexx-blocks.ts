/**
 * Is a piece of REXX typed at the session complete, or does it continue on the next line?
 *
 * A small scanner that follows the block rules of the RexxJS parser (core/src/parser.js,
 * November 2025), not classic REXX, because the text goes to that parser:
 *
 * - Openers: `DO <spec>` (a bare `DO` is not a block in RexxJS), `IF … THEN DO`,
 *   `ELSE DO`, `ELSE IF … THEN DO`, `SELECT`, `IF … THEN` with nothing after THEN
 *   (closed by `ENDIF`), `RETRY_ON_STALE timeout=…` (closed by `END_RETRY`).
 * - `END` (alone on its line, as RexxJS requires) closes a DO or a SELECT. A `WHEN … THEN DO`
 *   inside a SELECT opens nothing: RexxJS reads a WHEN's statements up to the next
 *   WHEN/OTHERWISE/END, so the first END closes the SELECT.
 * - A heredoc: a line containing `<<NAME` continues up to a line that is exactly `NAME`
 *   (RexxJS looks for `<<NAME` after removing comments, even inside quotes; so does this).
 * - Strings (`'…'`, `"…"`, `` `…` ``) and comments (`/* … *\/`, `--`, `//` to the end of the
 *   line) are skipped. RexxJS reads comments one line at a time: a `/*` left open ends
 *   with its line, so it never continues the input.
 * - After an `IF … THEN DO … END` at the outermost level an `ELSE` may follow, and RexxJS
 *   reads it only in the same parse: the input stays open until the next line, and an
 *   empty line runs it (as Python's prompt does for a compound statement).
 *
 * The scanner only decides when to stop reading; RexxJS's parser still judges the text,
 * and a mistake the scanner cannot see (a stray END) is the parser's error message.
 */

/** What the scanner found in the text typed so far. */
export interface BlockState {
  /** True when the text can be run: every block closed and no heredoc open. */
  complete: boolean;
  /** The blocks still open, outermost first: `DO`, `SELECT`, `IF` (ENDIF form), `RETRY_ON_STALE`, `<<NAME`. */
  open: string[];
  /** The text ends with an outermost `IF … THEN DO … END`: an ELSE may follow; an empty line ends it. */
  awaitingElse: boolean;
}

/**
 * The line with its comments removed, as RexxJS's tokenizer removes them, and a copy with
 * string contents blanked too (for keyword matching).
 */
function stripLine(line: string): { noComments: string; code: string } {
  let noComments = '';
  let code = '';
  let quote = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    const next = line[i + 1];
    if (quote) {
      noComments += c;
      if (c === quote) {
        quote = '';
        code += c;
      }
      continue;
    }
    if (c === '"' || c === "'" || c === '`') {
      quote = c;
      noComments += c;
      code += c;
      continue;
    }
    if (c === '/' && next === '*') {
      const end = line.indexOf('*/', i + 2);
      if (end < 0) break;
      i = end + 1;
      continue;
    }
    if ((c === '/' && next === '/') || (c === '-' && next === '-')) break;
    noComments += c;
    code += c;
  }
  return { noComments, code: code.trim() };
}

/** Scan the lines typed so far (joined with newlines) and say whether they form complete input. */
export function blockState(text: string): BlockState {
  const open: string[] = [];
  let heredoc = '';
  let awaitingElse = false;
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  for (const raw of lines) {
    if (heredoc) {
      if (raw.trim() === heredoc) {
        open.pop();
        heredoc = '';
      }
      continue;
    }
    const { noComments, code } = stripLine(raw);
    if (!code) continue;
    awaitingElse = false;
    const here = /<<([A-Za-z_][A-Za-z0-9_]*)/.exec(noComments);
    if (/^(IF\s.*\sTHEN|ELSE(\s+IF\s.*\sTHEN)?)\s+DO$/i.test(code) || /^DO\s+\S/i.test(code)) {
      open.push(/^(IF|ELSE\s+IF)\s/i.test(code) ? 'IF-DO' : 'DO');
    } else if (/^SELECT$/i.test(code)) open.push('SELECT');
    else if (/^IF\s.*\sTHEN$/i.test(code)) open.push('IF');
    else if (/^RETRY_ON_STALE\s/i.test(code)) open.push('RETRY_ON_STALE');
    else if (/^END$/i.test(code)) {
      const closed = open.pop();
      if (closed === 'IF-DO' && open.length === 0) awaitingElse = true;
    } else if (/^ENDIF$/i.test(code) || /^END_RETRY$/i.test(code)) open.pop();
    if (here) {
      heredoc = here[1]!;
      open.push(`<<${heredoc}`);
    }
  }
  const shown = open.map((o) => (o === 'IF-DO' ? 'DO' : o));
  return { complete: open.length === 0 && !awaitingElse, open: shown, awaitingElse };
}

/**
 * Should the session run what was typed, given the lines so far?
 * An empty last line runs text that waits only for an optional ELSE.
 */
export function readyToRun(lines: readonly string[]): boolean {
  const state = blockState(lines.join('\n'));
  if (state.complete) return true;
  return state.awaitingElse && lines.length > 0 && lines[lines.length - 1]!.trim() === '';
}
