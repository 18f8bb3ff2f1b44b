/**
 * Running a command inside a guest (an LXD instance, an OCI container): the parameters
 * every exec verb takes, how `command=` becomes the guest's argv, and the mapping of the
 * result. `command=` is a shell command line and runs as one, under the guest's
 * `/bin/sh -c` (RexxJS's own LXD handler ran `bash -c`; a REXX user writes shell lines:
 * `exit 3`, `cd /tmp && make`, `A=1 env`). `arg=` words, or `shell=never`, run an exact
 * argv with no shell, for guests that have none. RC is the command's exit status; when
 * it never ran the verb fails, and the dispatcher turns the RC negative (Verb.exitStatus).
 */
import { parse as shellParse } from 'shell-quote';
import { notFound, usageError } from './errors';
import { envPair, guestPath } from './names';
import { stem } from './result';
import type { RunResult } from './runner';
import type { VerbOutput } from './verb';

/** The guest shell that runs command= (POSIX sh, which busybox and every distribution have; never bash). */
export const GUEST_SHELL = '/bin/sh';

/** Longest single argument Linux execs (MAX_ARG_STRLEN, 32 pages, less the NUL): a longer command= can never run. */
export const MAX_ARG_BYTES = 131_071;

/** Parameters of every exec verb (the handler adds name=, timeout= and its own extras). */
export const GUEST_COMMAND_PARAMS = {
  command: { type: 'string', free: true, maxBytes: MAX_ARG_BYTES, doc: "the command line, run as a shell runs it (the guest's /bin/sh -c); with shell=never split into plain words" },
  arg: { type: 'list', free: true, maxBytes: MAX_ARG_BYTES, doc: 'exact argv words instead of command=, no shell (repeat: arg=ls arg=-la)' },
  shell: { type: 'enum', values: ['always', 'never'], default: 'always', doc: "always: command= runs under the guest's /bin/sh -c; never: as plain words with no shell (for guests without one)" },
  env: { type: 'list', rule: envPair, doc: 'environment NAME=value (repeat for several)' },
  cwd: { type: 'string', rule: guestPath, doc: 'working directory in the guest; RC -3 (nothing runs) when it does not exist' },
  user: { type: 'int', min: 0, doc: 'numeric uid to run as' },
  input: { type: 'string', free: true, doc: 'text given to the command on stdin' },
} as const;

/** The variables every exec verb sets (RC is the command's exit status). */
export const EXEC_VARS = {
  LINES: { stem: "the command's stdout, one line each" },
  STDERR: "the command's stderr",
  EXIT_CODE: "the command's exit status (0–255); '' when it never ran",
} as const;

/**
 * Split a command into argv when it is plain words; undefined when it needs a shell
 * (operators, globs, variables, command substitution, comments).
 */
export function plainArgv(command: string): string[] | undefined {
  if (/[`$#]/.test(command)) return undefined;
  const tokens = shellParse(command);
  if (tokens.some((t) => typeof t !== 'string')) return undefined;
  return tokens as string[];
}

/** The argv to run in the guest, and whether it is the guest shell running command=. */
export interface GuestArgv {
  argv: string[];
  viaShell: boolean;
}

/**
 * `arg=` words as given; `command=` as `/bin/sh -c COMMAND` (shell=always, the default)
 * or as plain words (shell=never). RC 2 when neither or both are given, when the command
 * is empty, or when shell=never meets shell syntax.
 */
export function guestArgv(verb: string, p: { command?: string; arg: string[]; shell: 'always' | 'never' }): GuestArgv {
  if ((p.command === undefined) === (p.arg.length === 0)) throw usageError(`${verb}: give command= or arg= (one of them)`);
  if (p.arg.length) return { argv: p.arg, viaShell: false };
  const cmd = p.command!;
  if (cmd.trim() === '') throw usageError(`${verb}: command is empty`);
  if (p.shell === 'always') return { argv: [GUEST_SHELL, '-c', cmd], viaShell: true };
  const plain = plainArgv(cmd);
  if (!plain) throw usageError(`${verb}: command has shell syntax (operators, $, globs, comments) but shell=never: use arg= words, or leave shell= out to run it under ${GUEST_SHELL} -c`);
  return { argv: plain, viaShell: false };
}

/** RC 3 (an exec verb: -3) for a command that could not be found in the guest; names shell=never when it was the guest shell. */
export function commandNotFound(verb: string, g: GuestArgv, detail = ''): Error {
  const more = detail ? ` (${detail})` : '';
  if (g.viaShell) {
    return notFound(`${verb}: the guest has no ${GUEST_SHELL} to run command=${more}: use shell=never (plain words, no shell) or arg= words`);
  }
  return notFound(`${verb}: command not found in the guest: ${g.argv[0]}${more}`);
}

/** RC 3 (an exec verb: -3) for a working directory that does not exist; nothing was run. */
export const cwdNotFound = (verb: string, cwd: string) => notFound(`${verb}: cwd=${cwd} does not exist in the guest (or is not a directory); nothing was run`);

/** The command's result as the exec verb's output (from the runner, or a guest agent's guest-exec-status): RC = its exit code, its stderr as ERRORTEXT when non-zero. */
export function execOutput(r: Pick<RunResult, 'exitCode' | 'stdout' | 'stderr'>): VerbOutput {
  const code = r.exitCode ?? 1;
  const lines = r.stdout === '' ? [] : r.stdout.split('\n');
  const vars = { LINES: stem(lines), STDERR: r.stderr, EXIT_CODE: code };
  if (code !== 0) return { rc: code, result: r.stdout, vars, errorText: r.stderr.trim() || `command exited with code ${code}` };
  return { result: r.stdout, vars };
}
