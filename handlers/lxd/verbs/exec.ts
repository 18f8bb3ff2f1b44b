/**
 * `exec`: run a command in an instance (`lxc exec NAME --mode=non-interactive --
 * ARGV`). RC is the command's own exit code, RESULT its stdout, LINES its stdout
 * lines, STDERR its stderr. A command with shell syntax (`&&`, `|`, `$VAR`, globs,
 * redirections) runs under the guest's POSIX `sh -c`; a plain one runs as argv
 * directly, so no shell at all (let alone bash) is needed in the guest.
 */
import { classify } from '../../../shared/errors';
import { execOutput, GUEST_COMMAND_PARAMS, guestArgv } from '../../../shared/guest-exec';
import { defineVerb } from '../../../shared/verb';
import { LXC_ERRORS, ref } from '../lxc';
import { NAME, REMOTE, timeout } from '../params';

// lxc's own failures (not the command's) exit 1 with one of these as the last stderr line;
// anything else with exit 1 is the command's own exit code and stderr.
const LXC_OWN = /^Error: (?:Instance not found|Instance is not running|Failed checking instance|Failed to retrieve PID|Get "http[^"]*"|LXD unix socket|The remote "[^"]*" doesn't exist|Remote [^ ]+ doesn't exist)/;
const lastLine = (s: string) => s.trimEnd().split('\n').pop() ?? '';

export const exec = defineVerb({
  name: 'exec',
  summary: 'run a command in a running instance; RC = its exit code, RESULT = stdout, LINES stem, STDERR',
  params: {
    ...NAME,
    ...GUEST_COMMAND_PARAMS,
    group: { type: 'int', min: 0, doc: 'numeric gid to run as' },
    ...timeout(60_000, 'stop after this long (RC 5): the lxc client is killed and LXD ends the command with its exec session'),
    ...REMOTE,
  },
  positional: ['name', 'command'],
  examples: ['exec name=web command="apt update && apt install -y nginx"', 'exec name=web arg=cat arg=/etc/hostname'],
  async run(p, ctx) {
    const argv = guestArgv('exec', p);
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
    return execOutput(r);
  },
});

