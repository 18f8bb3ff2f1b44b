/**
 * Running a command inside a guest (an LXD instance, an OCI container): the parameters
 * every `exec` verb takes, the choice between a plain argv and the guest's `sh -c`, and
 * the mapping of the result (RC = the command's exit code, RESULT = stdout, LINES stem,
 * STDERR, EXIT_CODE). The handler supplies only its tool's argv and how to tell the
 * tool's own failures from the command's.
 */
import { parse as shellParse } from 'shell-quote';
import { usageError } from './errors';
import { envPair, guestPath } from './names';
import { stem } from './result';
import type { RunResult } from './runner';
import type { VerbOutput } from './verb';

/** Parameters of every exec verb (the handler adds name=, timeout= and its own extras). */
export const GUEST_COMMAND_PARAMS = {
  command: { type: 'string', free: true, doc: 'the command line; with shell syntax it runs under sh -c in the guest' },
  arg: { type: 'list', free: true, doc: 'exact argv words instead of command= (repeat: arg=ls arg=-la)' },
  shell: { type: 'enum', values: ['auto', 'always', 'never'], default: 'auto', doc: 'run command= under sh -c: only when it has shell syntax (auto), always, or never' },
  env: { type: 'list', rule: envPair, doc: 'environment NAME=value (repeat for several)' },
  cwd: { type: 'string', rule: guestPath, doc: 'working directory in the guest' },
  user: { type: 'int', min: 0, doc: 'numeric uid to run as' },
  input: { type: 'string', free: true, doc: 'text given to the command on stdin' },
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

/**
 * The argv to run in the guest: `arg=` words as given, or `command=` as plain words, or
 * `sh -c COMMAND` (POSIX sh, which busybox and every distribution have; never bash).
 * RC 2 when neither or both are given, or shell=never meets shell syntax.
 */
export function guestArgv(verb: string, p: { command?: string; arg: string[]; shell: 'auto' | 'always' | 'never' }): string[] {
  if ((p.command === undefined) === (p.arg.length === 0)) throw usageError(`${verb}: give command= or arg= (one of them)`);
  if (p.arg.length) return p.arg;
  const cmd = p.command!;
  const plain = p.shell === 'always' ? undefined : plainArgv(cmd);
  if (!plain && p.shell === 'never') throw usageError(`${verb}: command has shell syntax but shell=never`);
  const argv = plain ?? ['sh', '-c', cmd];
  if (argv.length === 0) throw usageError(`${verb}: command is empty`);
  return argv;
}

/** The command's result as the exec verb's output: RC = its exit code, its stderr as ERRORTEXT when non-zero. */
export function execOutput(r: RunResult): VerbOutput {
  const code = r.exitCode ?? 1;
  const lines = r.stdout === '' ? [] : r.stdout.split('\n');
  const vars = { LINES: stem(lines), STDERR: r.stderr, EXIT_CODE: code };
  if (code !== 0) return { rc: code, result: r.stdout, vars, errorText: r.stderr.trim() || `command exited with code ${code}` };
  return { result: r.stdout, vars };
}
