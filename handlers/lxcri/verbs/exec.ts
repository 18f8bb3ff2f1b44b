/**
 * `exec`: run a command in a running container (`<runtime> exec ID -- ARGV`). RC is
 * the command's own exit code, RESULT its stdout, LINES its lines, STDERR its stderr.
 * A command with shell syntax runs under the container's `sh -c` (as ADDRESS LXD does).
 * On timeout (RC 5) the command and what it started are killed (exec-kill.ts).
 */
import * as fs from 'node:fs';
import { classify } from '../../../shared/errors';
import { execOutput, GUEST_COMMAND_PARAMS, guestArgv } from '../../../shared/guest-exec';
import { defineVerb } from '../../../shared/verb';
import { execPidFile, killTimedOutExec } from '../exec-kill';
import { NAME, RUNTIME, timeout } from '../params';
import { pickRuntime } from '../runtime';
import { OCI_ERRORS, rtArgv } from '../runtime-cli';

// The runtime's own failures (not the command's): runc logs with level=error, crun names the container.
const RT_OWN = /level=error msg="(?:container does not exist|cannot exec in a stopped|container .* is not running|exec failed|runc exec failed)|^crun: |container .* does not exist/m;

export const exec = defineVerb({
  name: 'exec',
  summary: 'run a command in a running container; RC = its exit code, RESULT = stdout, LINES stem, STDERR',
  params: {
    ...NAME,
    ...GUEST_COMMAND_PARAMS,
    ...RUNTIME,
    ...timeout(60_000, 'kill the command (and what it started) after this long (RC 5)'),
  },
  positional: ['name', 'command'],
  examples: ['exec name=web command="echo hi > /tmp/x && cat /tmp/x"', 'exec name=web arg=cat arg=/etc/hostname'],
  async run(p, ctx) {
    const argv = guestArgv('exec', p);
    const rt = await pickRuntime(ctx, p.runtime);
    const args = ['exec'];
    for (const e of p.env) args.push('--env', e);
    if (p.cwd) args.push('--cwd', p.cwd);
    if (p.user !== undefined) args.push('--user', String(p.user));
    // The command's host pid, so a timeout can kill it (exec-kill.ts).
    const pidFile = execPidFile(rt, p.name);
    args.push('--pid-file', pidFile);
    // No "--": runc takes the first word after the id as the command (Go flag parsing stops there).
    args.push(p.name, ...argv);
    const r = await ctx.run(rtArgv(rt, args), { timeoutMs: p.timeout, input: p.input });
    if (r.timedOut) throw await killTimedOutExec(ctx, rt, p.name, pidFile, r);
    if (!ctx.dryrun) fs.rmSync(pidFile, { force: true });
    if (r.missing || r.exitCode === null || (r.exitCode !== 0 && RT_OWN.test(r.stderr))) throw classify(r, OCI_ERRORS);
    return execOutput(r);
  },
});
