/**
 * `rexx-address TARGET "verb key=value ..."`: runs one command, prints RESULT on
 * stdout and ERRORTEXT on stderr, exits with the RC (`--json` prints the whole
 * result, variables included). With no command it reads commands line by line:
 * an interactive prompt on a terminal, a script on a pipe.
 */
import * as path from 'node:path';
import * as readline from 'node:readline';
import type { AddressHandler, HandlerOptions } from '../shared/dispatch';
import { argvLine } from '../shared/parse';
import type { RexxResult } from '../shared/result';
import type { HandlerTable } from '../shared/verb';
import { terminalProgress } from './progress';

/** The ADDRESS targets, known without loading any of them (handlers/index.ts has their tables). */
export const TARGETS = ['lxd', 'zfs', 'qemu', 'lxcri'] as const;

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

targets: ${TARGETS.join(', ')}
Prints RESULT, writes ERRORTEXT to stderr, exits with the RC.`;

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
  const handler = createHandler(table, { progress: terminalProgress(io.err) });
  if (rest.length === 0) return repl(target.toLowerCase(), handler, json, io);
  // Separate words are re-joined with POSIX single quotes, which the tokenizer reads back exactly.
  const command = rest.length === 1 ? rest[0]! : argvLine(rest);
  const r = await handler(command);
  print(r, json, io);
  return exitCode(r);
}

function print(r: RexxResult, json: boolean, io: { out: NodeJS.WritableStream; err: NodeJS.WritableStream }) {
  if (json) {
    io.out.write(`${JSON.stringify(r, null, 2)}\n`);
    return;
  }
  if (r.output) io.out.write(r.output.endsWith('\n') ? r.output : `${r.output}\n`);
  if (!r.success && r.errorMessage) io.err.write(`${r.errorMessage}\n`);
}

/** The process exit status for an RC: 0–255 as is, a negative RC (an exec whose command never ran) as 256 + RC, as a shell shows `exit -3`. */
const exitCode = (r: RexxResult) => {
  if (r.success) return 0;
  if (r.errorCode < 0) return Math.max(1, 256 + r.errorCode);
  return Math.min(255, Math.max(1, r.errorCode));
};

async function repl(target: string, handler: AddressHandler, json: boolean, io: { out: NodeJS.WritableStream; err: NodeJS.WritableStream }) {
  const tty = Boolean(process.stdin.isTTY);
  const rl = readline.createInterface({ input: process.stdin, output: tty ? process.stdout : undefined, terminal: tty });
  const prompt = () => tty && rl.prompt();
  rl.setPrompt(`${target}> `);
  if (tty) io.out.write(`ADDRESS ${target.toUpperCase()} — one command per line; "help" lists verbs, "exit" quits.\n`);
  let last = 0;
  prompt();
  for await (const line of rl) {
    const cmd = line.trim();
    if (cmd === 'exit' || cmd === 'quit') break;
    if (cmd && !cmd.startsWith('#')) {
      const r = await handler(cmd);
      print(r, json, io);
      if (!json) io.out.write(`RC=${r.errorCode}\n`);
      last = exitCode(r);
    }
    prompt();
  }
  rl.close();
  return last;
}
