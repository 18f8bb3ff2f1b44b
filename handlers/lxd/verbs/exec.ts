/**
 * `exec`: run a command in an instance (`lxc exec NAME --mode=non-interactive --
 * ARGV`). RC is the command's own exit code, RESULT its stdout, LINES its stdout
 * lines, STDERR its stderr. A command with shell syntax (`&&`, `|`, `$VAR`, globs,
 * redirections) runs under the guest's POSIX `sh -c`; a plain one runs as argv
 * directly, so no shell at all (let alone bash) is needed in the guest.
 */
import { parse as shellParse } from 'shell-quote';
import { classify, usageError } from '../../../shared/errors';
import { envPair, guestPath } from '../../../shared/names';
import { stem } from '../../../shared/result';
import { defineVerb } from '../../../shared/verb';
import { LXC_ERRORS, ref } from '../lxc';
import { NAME, REMOTE, timeout } from '../params';

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

// lxc's own failures (not the command's) exit 1 with one of these as the last stderr line;
// anything else with exit 1 is the command's own exit code and stderr.
const LXC_OWN = /^Error: (?:Instance not found|Instance is not running|Failed checking instance|Failed to retrieve PID|Get "http[^"]*"|LXD unix socket|The remote "[^"]*" doesn't exist|Remote [^ ]+ doesn't exist)/;
const lastLine = (s: string) => s.trimEnd().split('\n').pop() ?? '';

export const exec = defineVerb({
  name: 'exec',
  summary: 'run a command in a running instance; RC = its exit code, RESULT = stdout, LINES stem, STDERR',
  params: {
    ...NAME,
    command: { type: 'string', free: true, doc: 'the command line; with shell syntax it runs under sh -c in the guest' },
    arg: { type: 'list', free: true, doc: 'exact argv words instead of command= (repeat: arg=ls arg=-la)' },
    shell: { type: 'enum', values: ['auto', 'always', 'never'], default: 'auto', doc: 'run command= under sh -c: only when it has shell syntax (auto), always, or never' },
    env: { type: 'list', rule: envPair, doc: 'environment NAME=value (repeat for several)' },
    cwd: { type: 'string', rule: guestPath, doc: 'working directory in the instance' },
    user: { type: 'int', min: 0, doc: 'numeric uid to run as' },
    group: { type: 'int', min: 0, doc: 'numeric gid to run as' },
    input: { type: 'string', free: true, doc: 'text given to the command on stdin' },
    ...timeout(60_000, 'kill the lxc client after this long (RC 5)'),
    ...REMOTE,
  },
  positional: ['name', 'command'],
  examples: ['exec name=web command="apt update && apt install -y nginx"', 'exec name=web arg=cat arg=/etc/hostname'],
  async run(p, ctx) {
    if ((p.command === undefined) === (p.arg.length === 0)) throw usageError('exec: give command= or arg= (one of them)');
    let argv: string[];
    if (p.arg.length) argv = p.arg;
    else {
      const cmd = p.command!;
      const plain = p.shell === 'always' ? undefined : plainArgv(cmd);
      if (!plain && p.shell === 'never') throw usageError('exec: command has shell syntax but shell=never');
      argv = plain ?? ['sh', '-c', cmd];
      if (argv.length === 0) throw usageError('exec: command is empty');
    }
    const args = ['exec', ref(p.remote, p.name), '--mode=non-interactive'];
    for (const e of p.env) args.push('--env', e);
    if (p.cwd) args.push('--cwd', p.cwd);
    if (p.user !== undefined) args.push('--user', String(p.user));
    if (p.group !== undefined) args.push('--group', String(p.group));
    args.push('--', ...argv);
    const r = await ctx.run(['lxc', ...args], { timeoutMs: p.timeout, input: p.input });
    if (r.missing || r.timedOut || (r.exitCode === 1 && LXC_OWN.test(lastLine(r.stderr))) || r.exitCode === null) {
      throw classify(r, LXC_ERRORS);
    }
    const lines = r.stdout === '' ? [] : r.stdout.split('\n');
    const vars = { LINES: stem(lines), STDERR: r.stderr, EXIT_CODE: r.exitCode };
    if (r.exitCode !== 0) {
      return { rc: r.exitCode, result: r.stdout, vars, errorText: r.stderr.trim() || `command exited with code ${r.exitCode}` };
    }
    return { result: r.stdout, vars };
  },
});

