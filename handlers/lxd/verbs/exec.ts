/**
 * `exec` (also `execute`, the name RexxJS's own LXD handler used): run a command in an
 * instance (`lxc exec`, see ../guest.ts). `command=` runs under the guest's
 * `/bin/sh -c`, as a shell line; `arg=` or `shell=never` runs an exact argv. RC is the
 * command's exit status, RESULT its stdout, LINES its lines, STDERR its stderr; when
 * the command never ran, RC is negative (-3 instance, cwd or program not found, -1
 * instance not running, -5 timed out, -6 LXD not answering).
 */
import { EXEC_VARS, GUEST_COMMAND_PARAMS, guestArgv } from '../../../shared/guest-exec';
import { defineVerb } from '../../../shared/verb';
import { execInInstance } from '../guest';
import { NAME, REMOTE, timeout } from '../params';

export const exec = defineVerb({
  name: 'exec',
  aliases: ['execute'],
  summary: 'run a command line in a running instance, as its /bin/sh -c runs it; RESULT = stdout, LINES stem, STDERR',
  params: {
    ...NAME,
    ...GUEST_COMMAND_PARAMS,
    group: { type: 'int', min: 0, doc: 'numeric gid to run as' },
    ...timeout(60_000, 'stop after this long (RC -5): the lxc client is killed and LXD ends the command with its exec session'),
    ...REMOTE,
  },
  positional: ['name', 'command'],
  examples: ['exec name=web command="apt update && apt install -y nginx"', 'exec name=web command="exit 3"', 'exec name=web arg=cat arg=/etc/hostname'],
  vars: EXEC_VARS,
  exitStatus: true,
  async run(p, ctx) {
    const { cwd, user, group, input } = p;
    return execInInstance(ctx, p.remote, p.name, guestArgv('exec', p), { env: p.env, cwd, user, group, input, timeoutMs: p.timeout });
  },
});
