/**
 * The verb prompt, `rexx-address TARGET` with no command: one command per line.
 *
 * On a terminal (cli/line-editor.ts): Tab completes (cli/completion.ts); after each verb
 * its RESULT, ERRORTEXT, the variables it set (one line each, stems summarised; `:vars
 * off` hides them) and `RC=n`; `:json` toggles the raw result instead. Ctrl-C while a
 * command runs cancels it (HandlerOptions.cancel: its whole process group ends) and
 * shows RC=130; Ctrl-C at the prompt clears the line; Ctrl-D (or `exit`, `quit`) ends,
 * exiting with the last command's exit code. History: ~/.rexx_address_history.
 *
 * On a pipe: the commands are a script, read line by line, each followed by `RC=n`
 * (the whole result with --json), with no prompt; the exit code is the last command's.
 */
import * as readline from 'node:readline';
import type { AddressHandler, HandlerOptions } from '../shared/dispatch';
import type { RexxResult } from '../shared/result';
import { CANCEL_GRACE_MS } from '../shared/runner';
import type { HandlerTable } from '../shared/verb';
import { completeLine, type ListNames } from './completion';
import { LineEditor } from './line-editor';
import { exitCode, printResult, shownVars, type Io } from './output';

/** Longest variable line shown at the prompt (characters); longer is cut with "…". */
const VAR_LINE_MAX = 160;

const isStem = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && Object.hasOwn(v, '0');

/**
 * The variables a call set, one line each, for the interactive modes: `NAME=value`, a
 * stem as `NAME.0=3: a b c`. Empty values, empty stems and ERRORTEXT (printed already)
 * are left out ({@link shownVars}).
 */
export function showVars(vars: Record<string, unknown>): string[] {
  return shownVars(vars, ['ERRORTEXT']).map((v) => {
    const line = 'items' in v
      ? `${v.name}.0=${v.items.length}: ${v.items.map((i) => i.replace(/\s+/g, ' ')).join(' ')}`
      : `${v.name}=${v.value.replace(/\n/g, '\\n')}`;
    return line.length > VAR_LINE_MAX ? `${line.slice(0, VAR_LINE_MAX - 1)}…` : line;
  });
}

/** How long a value listing for Tab may take before Tab offers nothing (ms). */
export const COMPLETE_TIMEOUT_MS = 1_500;
/** How long a value listing is reused (ms). */
const COMPLETE_CACHE_MS = 5_000;

/**
 * The names of a completion kind, by the table's completer verb run through a handler of
 * its own whose every call is cancelled after COMPLETE_TIMEOUT_MS (a dead backend never
 * blocks the prompt); answers are kept COMPLETE_CACHE_MS.
 */
export function nameLister(table: HandlerTable, make: (opts: HandlerOptions) => AddressHandler, now = () => performance.now()): ListNames {
  const handler = make({ cancel: () => AbortSignal.timeout(COMPLETE_TIMEOUT_MS) });
  const cache = new Map<string, { at: number; names: Promise<string[]> }>();
  return (kind) => {
    const c = table.completers?.[kind];
    if (!c) return Promise.resolve([]);
    const hit = cache.get(kind);
    if (hit && now() - hit.at < COMPLETE_CACHE_MS) return hit.names;
    const names = handler(c.verb).then((r) => {
      const s = r.success ? r.rexxVariables[c.stem] : undefined;
      // A failed or cancelled listing is not kept: the next Tab asks again.
      if (!isStem(s)) {
        cache.delete(kind);
        return [];
      }
      return Array.from({ length: Number(s['0']) }, (_, i) => String(s[String(i + 1)]));
    });
    cache.set(kind, { at: now(), names });
    return names;
  };
}

const BANNER = (t: string) =>
  `ADDRESS ${t.toUpperCase()}: one command per line. Tab completes; "help" lists verbs; Ctrl-C cancels a command or clears the line; Ctrl-D or "exit" quits; ":json" and ":vars on|off" change what is shown.\n`;

/**
 * The prompt on a terminal; resolves to the exit code of the last command (0 when none).
 * `make` builds a handler of the table with the options given (createHandler).
 */
export async function interactivePrompt(
  target: string,
  table: HandlerTable,
  make: (opts: HandlerOptions) => AddressHandler,
  o: { json: boolean; io: Io; input?: NodeJS.ReadStream; output?: NodeJS.WriteStream },
): Promise<number> {
  let running: AbortController | undefined;
  const handler = make({ cancel: () => running?.signal });
  const listNames = nameLister(table, make);
  const editor = new LineEditor({
    prompt: `${target}> `,
    completer: (left) => completeLine(table, left, listNames),
    input: o.input,
    output: o.output,
  });
  // In cooked mode (while a command runs) Ctrl-C is a SIGINT: cancel the command. SIGTERM
  // and SIGHUP end the prompt, after ending what runs (its process groups are not ours to leave).
  const onInt = () => running?.abort();
  let endedBy: number | undefined;
  const onEnd = (sig: NodeJS.Signals) => {
    const busy = running !== undefined;
    endedBy = 128 + (sig === 'SIGHUP' ? 1 : 15);
    running?.abort();
    editor.close();
    // A running command's groups get SIGKILL after the grace, if SIGINT did not end them: wait for that.
    setTimeout(() => process.exit(endedBy), busy ? CANCEL_GRACE_MS + 200 : 0);
  };
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onEnd);
  process.on('SIGHUP', onEnd);
  let json = o.json;
  let vars = true;
  let last = 0;
  o.io.out.write(BANNER(target));
  try {
    for (;;) {
      const got = await editor.read();
      if (got.type === 'eof' || endedBy !== undefined) break;
      if (got.type === 'interrupt') {
        if (!got.typed.trim()) o.io.out.write('(Ctrl-D or "exit" to quit)\n');
        continue;
      }
      const cmd = got.line.trim();
      if (!cmd || cmd.startsWith('#')) continue;
      await editor.remember(got.line);
      if (cmd === 'exit' || cmd === 'quit') break;
      if (cmd === ':json') {
        json = !json;
        o.io.out.write(`raw JSON results ${json ? 'on' : 'off'}\n`);
        continue;
      }
      const v = /^:vars(?:\s+(on|off))?$/.exec(cmd);
      if (v) {
        vars = v[1] ? v[1] === 'on' : !vars;
        o.io.out.write(`variables ${vars ? 'shown' : 'hidden'}\n`);
        continue;
      }
      if (cmd.startsWith(':')) {
        o.io.err.write(`unknown prompt command ${cmd.split(/\s/, 1)[0]} (:json, :vars on|off)\n`);
        continue;
      }
      editor.suspend();
      running = new AbortController();
      let r: RexxResult;
      try {
        r = await handler(cmd);
      } finally {
        running = undefined;
      }
      if (endedBy !== undefined) break;
      printResult(r, json, o.io);
      if (!json) {
        if (vars) for (const l of showVars(r.rexxVariables)) o.io.out.write(`  ${l}\n`);
        o.io.out.write(`RC=${r.errorCode}\n`);
      }
      last = exitCode(r);
    }
  } finally {
    editor.close();
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onEnd);
    process.off('SIGHUP', onEnd);
  }
  return endedBy ?? last;
}

/** Commands from a pipe: each line run in turn, `RC=n` after each (not with --json); resolves to the last exit code. */
export async function scriptPrompt(handler: AddressHandler, json: boolean, io: Io, input: NodeJS.ReadableStream = process.stdin): Promise<number> {
  const rl = readline.createInterface({ input, terminal: false });
  let last = 0;
  for await (const line of rl) {
    const cmd = line.trim();
    if (cmd === 'exit' || cmd === 'quit') break;
    if (cmd && !cmd.startsWith('#')) {
      const r = await handler(cmd);
      printResult(r, json, io);
      if (!json) io.out.write(`RC=${r.errorCode}\n`);
      last = exitCode(r);
    }
  }
  rl.close();
  return last;
}
