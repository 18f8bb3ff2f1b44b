/**
 * `exec`: run a command in a running container (`<runtime> exec ID -- ARGV`). RC is
 * the command's own exit code, RESULT its stdout, LINES its lines, STDERR its stderr.
 * A command with shell syntax runs under the container's `sh -c` (as ADDRESS LXD does).
 */
import { classify, usageError } from '../../../shared/errors';
import { envPair, guestPath } from '../../../shared/names';
import { stem } from '../../../shared/result';
import { defineVerb } from '../../../shared/verb';
import { plainArgv } from '../../lxd/verbs/exec';
import { NAME, RUNTIME, timeout } from '../params';
import { OCI_ERRORS, pickRuntime, rtArgv } from '../runtime';

// The runtime's own failures (not the command's): runc logs with level=error, crun names the container.
const RT_OWN = /level=error msg="(?:container does not exist|cannot exec in a stopped|container .* is not running|exec failed|runc exec failed)|^crun: |container .* does not exist/m;

export const exec = defineVerb({
  name: 'exec',
  summary: 'run a command in a running container; RC = its exit code, RESULT = stdout, LINES stem, STDERR',
  params: {
    ...NAME,
    command: { type: 'string', free: true, doc: 'the command line; with shell syntax it runs under sh -c in the container' },
    arg: { type: 'list', free: true, doc: 'exact argv words instead of command= (repeat)' },
    env: { type: 'list', rule: envPair, doc: 'environment NAME=value (repeat)' },
    cwd: { type: 'string', rule: guestPath, doc: 'working directory in the container' },
    user: { type: 'int', min: 0, doc: 'numeric uid to run as' },
    input: { type: 'string', free: true, doc: 'text given to the command on stdin' },
    ...RUNTIME,
    ...timeout(60_000, 'kill the runtime after this long (RC 5)'),
  },
  positional: ['name', 'command'],
  examples: ['exec name=web command="echo hi > /tmp/x && cat /tmp/x"', 'exec name=web arg=cat arg=/etc/hostname'],
  async run(p, ctx) {
    if ((p.command === undefined) === (p.arg.length === 0)) throw usageError('exec: give command= or arg= (one of them)');
    const argv = p.arg.length ? p.arg : (plainArgv(p.command!) ?? ['sh', '-c', p.command!]);
    if (argv.length === 0) throw usageError('exec: command is empty');
    const rt = await pickRuntime(ctx, p.runtime);
    const args = ['exec'];
    for (const e of p.env) args.push('--env', e);
    if (p.cwd) args.push('--cwd', p.cwd);
    if (p.user !== undefined) args.push('--user', String(p.user));
    // No "--": runc takes the first word after the id as the command (Go flag parsing stops there).
    args.push(p.name, ...argv);
    const r = await ctx.run(rtArgv(rt, args), { timeoutMs: p.timeout, input: p.input });
    if (r.missing || r.timedOut || r.exitCode === null || (r.exitCode !== 0 && RT_OWN.test(r.stderr))) throw classify(r, OCI_ERRORS);
    const lines = r.stdout === '' ? [] : r.stdout.split('\n');
    const vars = { LINES: stem(lines), STDERR: r.stderr, EXIT_CODE: r.exitCode };
    if (r.exitCode !== 0) return { rc: r.exitCode, result: r.stdout, vars, errorText: r.stderr.trim() || `command exited with code ${r.exitCode}` };
    return { result: r.stdout, vars };
  },
});
