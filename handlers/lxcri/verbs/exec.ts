/**
 * `exec` (also `execute`): run a command in a running container (`<runtime> exec ID
 * ARGV`). `command=` runs under the container's `/bin/sh -c` (as ADDRESS LXD does);
 * `arg=` or `shell=never` runs an exact argv. Without `user=` the command runs as the
 * container's process.user (runc does that itself; crun 1.8 would run it as root, so
 * it is given `--user UID:GID` from the bundle's config.json). RC is the command's exit status, RESULT
 * its stdout, LINES its lines, STDERR its stderr; when the command never ran, RC is
 * negative (-3 container, cwd or program not found, -1 container not running, -5 timed
 * out: the command and what it started are killed, exec-kill.ts; -6 no runtime).
 */
import { AddressError, isReason } from '../../../shared/errors';
import { commandNotFound, cwdNotFound, EXEC_VARS, execOutput, GUEST_COMMAND_PARAMS, guestArgv } from '../../../shared/guest-exec';
import { defineVerb, type Ctx } from '../../../shared/verb';
import { configFile, readJson } from '../bundle-config';
import { getState } from '../container';
import { execPidFile, killCancelledExec, killTimedOutExec } from '../exec-kill';
import { NAME, RUNTIME, timeout } from '../params';
import { execFailure, ociError } from '../errors';
import { pickRuntime, type Runtime } from '../runtime';
import { rtArgv } from '../tool';

/** `UID:GID` of the container's process.user (its bundle's config.json), undefined when it can't be read (the runtime then decides). */
async function configUser(ctx: Ctx, rt: Runtime, id: string): Promise<string | undefined> {
  const s = await getState(ctx, rt, id).catch(() => undefined);
  const user = s ? (readJson(ctx, configFile(s.bundle)) as { process?: { user?: { uid?: unknown; gid?: unknown } } } | undefined)?.process?.user : undefined;
  return Number.isInteger(user?.uid) && Number.isInteger(user?.gid) ? `${String(user!.uid)}:${String(user!.gid)}` : undefined;
}

export const exec = defineVerb({
  name: 'exec',
  aliases: ['execute'],
  summary: 'run a command line in a running container, as its /bin/sh -c runs it; RESULT = stdout, LINES stem, STDERR',
  params: {
    ...NAME,
    ...GUEST_COMMAND_PARAMS,
    ...RUNTIME,
    ...timeout(60_000, 'kill the command (and what it started) after this long (RC -5)'),
  },
  positional: ['name', 'command'],
  examples: ['exec name=web command="echo hi > /tmp/x && cat /tmp/x"', 'exec name=web arg=cat arg=/etc/hostname'],
  vars: {
    ...EXEC_VARS,
    KILLED: 'after RC -5: how many processes of the command were killed',
    LEFT_RUNNING: "after RC -5: host pids of the command still running ('' normally; unknown when the runtime died before saying)",
  },
  exitStatus: true,
  async run(p, ctx) {
    const g = guestArgv('exec', p);
    const rt = await pickRuntime(ctx, p.runtime);
    const args = ['exec'];
    for (const e of p.env) args.push('--env', e);
    if (p.cwd) args.push('--cwd', p.cwd);
    if (p.user !== undefined) args.push('--user', String(p.user));
    else if (rt.name === 'crun') {
      // crun 1.8 runs exec as root unless told; runc as the config's process.user. So a
      // container spec'd with user=1000:1000 is entered as that user on both.
      const u = await configUser(ctx, rt, p.name);
      if (u) args.push('--user', u);
    }
    // The command's host pid, so a timeout can kill it (exec-kill.ts).
    const pidFile = execPidFile(rt, p.name);
    args.push('--pid-file', pidFile);
    // No "--": runc takes the first word after the id as the command (Go flag parsing stops there).
    args.push(p.name, ...g.argv);
    // A cancel ends the command's whole process tree in the container, not only what the runtime forwards the signal to.
    const r = await ctx.run(rtArgv(rt, args), { timeoutMs: p.timeout, input: p.input, onCancel: () => killCancelledExec(ctx, pidFile) });
    if (r.timedOut) throw await killTimedOutExec(ctx, rt, p.name, pidFile, r);
    ctx.fs.remove(pidFile);
    const failed = execFailure(r, { cwdGiven: Boolean(p.cwd) });
    if (failed === 'cwd') throw cwdNotFound('exec', p.cwd!);
    if (failed === 'program') throw commandNotFound('exec', g, r.stderr.trim().split('\n').pop());
    if (failed === 'runtime') {
      const e = ociError(r);
      // A stopped container is "the command could not run" (-1), as in ADDRESS LXD, not a safety refusal.
      throw isReason(e, 'refused', 'already', 'busy') ? new AddressError('toolFailed', e.message, { cause: r }) : e;
    }
    return execOutput(r);
  },
});
