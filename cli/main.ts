/**
 * `rexx-address TARGET "verb key=value ..."`: runs one command, prints RESULT on
 * stdout and ERRORTEXT on stderr, exits with the RC (`--json` prints the whole
 * result, variables included). With no command it reads commands line by line:
 * an interactive prompt on a terminal, a script on a pipe (cli/prompt.ts).
 * `rexx-address completion bash|zsh|fish` prints a shell completion script (cli/completion.ts).
 */
import * as path from 'node:path';
import type { AddressHandler, HandlerOptions } from '../shared/dispatch';
import { argvLine } from '../shared/parse';
import type { HandlerTable } from '../shared/verb';
import { terminalProgress } from './progress';
import type { Shell } from './completion';
import { exitCode, printResult } from './output';

// The prompt (readline, the line editor, completion) and the completion scripts are
// loaded only when asked for, so a one-command call does not pay for them.
const prompt = () => import('./prompt.js');

/** The ADDRESS targets, known without loading any of them (handlers/index.ts has their tables). */
export const TARGETS = ['lxd', 'zfs', 'qemu', 'lxcri', 'incus'] as const;

/**
 * What the CLI needs of one target, loaded only when that target is asked for: its
 * table, the dispatcher and the help renderer (one bundle per target: dist/handler-T.js).
 */
export interface TargetModule {
  table: HandlerTable;
  createHandler(table: HandlerTable, opts?: HandlerOptions): AddressHandler;
  renderHelp(table: HandlerTable, verb?: string): string;
  /** The verb list RexxJS reads (ADDRESS_<T>_METHODS): the REXX session registers targets with it. */
  methodsOf(table: HandlerTable): Record<string, unknown>;
}

/** Load a target's bundle (dist/handler-T.js, beside the CLI bundle dist/cli.js): only that handler's code is read. */
export function loadBundle(target: string): TargetModule {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(path.join(__dirname, `handler-${target}.js`)) as TargetModule;
}

const USAGE = `usage: rexx-address TARGET [--json] "verb key=value ..."
       rexx-address TARGET [--json] verb key=value ...
       rexx-address TARGET            (interactive prompt; one command per line)
       rexx-address TARGET --help
       rexx-address rexx [--rexxjs DIR]  (interactive REXX session on RexxJS; alias: repl)
       rexx-address completion bash|zsh|fish   (prints a shell completion script)

targets: ${TARGETS.join(', ')}
Prints RESULT, writes ERRORTEXT to stderr, exits with the RC: 0–255 as is; a negative
RC (an exec verb whose command never ran) exits 256 + RC (-3 → 253, -5 → 251);
RC 130 is a cancelled command (Ctrl-C at the prompt).`;

/**
 * Run the CLI; resolves to the process exit code (0, the RC, or 256 + a negative RC).
 * `load` brings in the one target asked for (default: its bundle; tests pass loadFromTree from cli/tree.ts).
 */
export async function main(
  args: string[],
  io = { out: process.stdout, err: process.stderr },
  load: (target: string) => TargetModule = loadBundle,
): Promise<number> {
  const json = args.includes('--json');
  const rest = args.filter((a) => a !== '--json');
  const target = rest.shift();
  if (!target || target === '--help' || target === '-h' || target === 'help') {
    io.out.write(`${USAGE}\n`);
    return target ? 0 : 2;
  }
  const t = target.toLowerCase();
  // The REXX session (cli/session.ts) is loaded only when asked for.
  if (t === 'rexx' || t === 'repl') return (await import('./session.js')).runSession(rest, io, load);
  if (t === 'completion') return completion(rest[0], io, load);
  if (!(TARGETS as readonly string[]).includes(t)) {
    io.err.write(`rexx-address: unknown target '${target}' (targets: ${TARGETS.join(', ')})\n`);
    return 2;
  }
  const { table, createHandler, renderHelp } = load(t);
  if (rest[0] === '--help' || rest[0] === '-h') {
    io.out.write(`${renderHelp(table, rest[1])}\n`);
    return 0;
  }
  // Progress of long work on stderr, only when it is a terminal (cli/progress.ts).
  const progress = terminalProgress(io.err);
  if (rest.length === 0) {
    const p = await prompt();
    if (process.stdin.isTTY) return p.interactivePrompt(t, table, (o) => createHandler(table, { progress, ...o }), { json, io });
    return p.scriptPrompt(createHandler(table, { progress }), json, io);
  }
  const handler = createHandler(table, { progress });
  // Separate words are re-joined with POSIX single quotes, which the tokenizer reads back exactly.
  const command = rest.length === 1 ? rest[0]! : argvLine(rest);
  const r = await handler(command);
  printResult(r, json, io);
  return exitCode(r);
}

/** `rexx-address completion SHELL`: the script, from every target's table (each bundle loaded). */
async function completion(shell: string | undefined, io: { out: NodeJS.WritableStream; err: NodeJS.WritableStream }, load: (target: string) => TargetModule): Promise<number> {
  const { completionScript, SHELLS } = await import('./completion.js');
  if (!shell || !(SHELLS as readonly string[]).includes(shell)) {
    io.err.write(`usage: rexx-address completion ${SHELLS.join('|')}\n`);
    return 2;
  }
  const tables = Object.fromEntries(TARGETS.map((t) => [t, load(t).table]));
  io.out.write(completionScript(shell as Shell, tables));
  return 0;
}
