/**
 * Fakes of replicate's ssh session (handlers/zfs/verbs/replication.ts, sessionScript):
 * `ssh … HOST sh -c SCRIPT`, where SCRIPT reads the target, prints it up to a
 * `rexx-lookup STATUS` line, then reads one line (`full` or `incremental`) and runs that
 * receive. For unit tests with a fake runner or a fake ssh binary.
 */
import { parse as shellParse } from 'shell-quote';

/** True for the argv of a replicate ssh session. */
export const isSession = (argv: string[]) => argv[0] === 'ssh' && argv.at(-3) === 'sh' && argv.at(-2) === '-c';

/** The session's script, unquoted (as the remote login shell hands it to sh). */
const script = (argv: string[]) => String(shellParse(argv.at(-1)!)[0]);

/** The receiving dataset the session reads (its `zfs get … -d 1 DATASET`). */
export const sessionTarget = (argv: string[]) => String(shellParse(/ -d 1 (\S+) 2>&1/.exec(script(argv))![1]!)[0]);

/** What the session's script prints for a target whose `zfs get` says `get` (undefined: it does not exist). */
export const sessionAnswer = (target: string, get: string | undefined) =>
  get === undefined ? `cannot open '${target}': dataset does not exist\nrexx-written\nrexx-lookup 1\n` : `${get}\nrexx-written\nrexx-lookup 0\n`;

/** The session as the receive it ran for `lead` (`full\n` / `incremental\n`): the ssh prefix, then that `zfs receive …` argv. */
export function sessionReceive(argv: string[], lead: string | undefined): string[] {
  const m = /full\) exec (.+?) ;; incremental\) exec (.+?) ;;/.exec(script(argv))!;
  const recv = (lead === 'incremental\n' ? m[2] : m[1])!;
  return [...argv.slice(0, -3), ...(shellParse(recv) as string[])];
}
