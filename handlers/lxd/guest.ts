/**
 * Inside an instance: what LXD's file API says of a path, and running a command with
 * `lxc exec` mapped to the exec verbs' RC convention. Used by `exec` and by
 * `register_base prepare=`.
 */
import { commandNotFound, cwdNotFound, execOutput, GUEST_SHELL, type GuestArgv } from '../../shared/guest-exec';
import { allPids, procArgv, processTree } from '../../shared/proc-tree';
import type { Ctx, VerbOutput } from '../../shared/verb';
import { clientCommand } from './client';
import { execNeverRan, execProgramMissing, guestFileContentNotJson, guestPathMissing, lxcError } from './errors';
import { envelope, envelopeError, ref, socketGet } from './tool';

/**
 * What LXD's file API says of `path` in the instance (`GET /1.0/instances/NAME/files?path=`,
 * which answers a directory with a JSON list of its entries): the entries of a directory,
 * 'file' for anything else, or undefined when it does not exist. Needs no program in the
 * guest and works on a stopped instance; RC 3 when the instance itself does not exist.
 */
export async function guestEntries(ctx: Ctx, remote: string | undefined, name: string, path: string): Promise<string[] | 'file' | undefined> {
  const api = `/1.0/instances/${encodeURIComponent(name)}/files?path=${path.split('/').map(encodeURIComponent).join('/')}`;
  // On the local socket the answer says what the path is (header X-LXD-type); a file's content is not read as JSON.
  const answer = await socketGet(ctx, remote, api, 30_000);
  if (answer) {
    // LXD's "Not Found" for the path ("Instance not found" for the instance: RC 3 below).
    if (answer.status === 404 && envelopeError(answer) === 'Not Found') return undefined;
    if (answer.status === 200 && answer.headers['x-lxd-type'] !== undefined) {
      return answer.headers['x-lxd-type'] === 'directory' ? envelope<string[]>(answer, api) : 'file';
    }
    envelope(answer, api); // (throws the error LXD answered: a missing instance is RC 3)
    return 'file';
  }
  const r = await ctx.run(clientCommand(ctx, ['query', ref(remote, api)]), { readOnly: true, timeoutMs: 30_000 });
  if (!r.ok) {
    if (guestPathMissing(r)) return undefined;
    if (guestFileContentNotJson(r)) return 'file';
    throw lxcError(r);
  }
  try {
    const v = JSON.parse(r.stdout) as unknown;
    return Array.isArray(v) && v.every((x) => typeof x === 'string') ? v : 'file';
  } catch {
    return 'file';
  }
}

/** {@link guestEntries} as a kind: 'dir', 'file', or undefined when `path` does not exist. */
export async function guestPathKind(ctx: Ctx, remote: string | undefined, name: string, path: string): Promise<'dir' | 'file' | undefined> {
  const e = await guestEntries(ctx, remote, name, path);
  return Array.isArray(e) ? 'dir' : e;
}

/** How to run the command: environment, working directory, uid/gid, stdin text, timeout (ms). */
export interface ExecOptions {
  env: string[];
  cwd?: string;
  user?: number;
  group?: number;
  input?: string;
  timeoutMs: number;
}

/**
 * `lxc exec NAME --mode=non-interactive [--env …] [--cwd …] -- ARGV`: the command's exit
 * status, stdout and stderr as the exec verbs report them. Throws (RC 3, 1, 5, 6: an exec
 * verb negates them) when the command never ran: instance, cwd, program or guest shell
 * not found; instance not running; timed out (the command and every process it started
 * in the instance are killed, then the lxc client); LXD not answering.
 */
export async function execInInstance(ctx: Ctx, remote: string | undefined, name: string, g: GuestArgv, o: ExecOptions): Promise<VerbOutput> {
  // LXD runs the command in / when --cwd does not exist; a shell would refuse to start there.
  // Under dryrun the check is skipped, as the exec itself is (the answer is planned to be 'dir').
  if (o.cwd && (await ctx.effect(() => guestPathKind(ctx, remote, name, o.cwd!), 'dir')) !== 'dir') throw cwdNotFound('exec', o.cwd);
  const args = ['exec', ref(remote, name), '--mode=non-interactive'];
  for (const e of o.env) args.push('--env', e);
  if (o.cwd) args.push('--cwd', o.cwd);
  if (o.user !== undefined) args.push('--user', String(o.user));
  if (o.group !== undefined) args.push('--group', String(o.group));
  args.push('--', ...g.argv);
  // A cancel (Ctrl-C at the prompt) or timeout= ends the command's whole process tree in
  // the instance, not only the first process, which is all LXD ends with the exec session.
  const end = remote ? undefined : () => endGuestCommand(ctx, name, g.argv);
  const r = await ctx.run(clientCommand(ctx, args), { timeoutMs: o.timeoutMs, input: o.input, onCancel: end, onTimeout: end });
  if (execNeverRan(r)) throw lxcError(r);
  if (execProgramMissing(r)) {
    // LXD's own answer, not a shell's "sh: x: not found": the program itself is missing.
    // A command can print that line too, so for the shell make sure it really is gone.
    if (!g.viaShell || (await guestPathKind(ctx, remote, name, GUEST_SHELL)) === undefined) throw commandNotFound('exec', g);
  }
  return execOutput(r);
}

/**
 * When a local `lxc exec` is cancelled or times out: killing the client, or the SIGINT it forwards,
 * reaches only the command's first process, so what that started runs on in the instance
 * (measured on LXD 5.0: `sleep 9 & sleep 9; wait` left both sleeps running). So this finds
 * the exec's `lxd forkexec NAME … cmd ARGV` helper in /proc (PROJECT_NAME for an instance
 * of another project than default, as LXD names it on the host) and stops (SIGSTOP), then
 * SIGKILLs, every process under it (host pids); the helper then ends by itself. When two execs of the same argv run in the instance at
 * once they cannot be told apart, and neither is touched.
 */
export function endGuestCommand(ctx: Pick<Ctx, 'fs' | 'signal' | 'log'>, name: string, argv: string[]): void {
  const tail = ['cmd', ...argv];
  const helpers = allPids(ctx).filter((p) => {
    const a = procArgv(ctx, p);
    return a[1] === 'forkexec' && (a[2] === name || a[2]?.endsWith(`_${name}`)) && a.length > tail.length && a.slice(-tail.length).every((w, i) => w === tail[i]);
  });
  if (helpers.length !== 1) {
    if (helpers.length > 1) ctx.log(`exec in ${name}: ${helpers.length} identical commands run; none is killed`);
    return;
  }
  // The command and what it started (LXD's helper itself then ends on its own). First
  // each is stopped, again for what a stopped one forked just before (a busy host may be
  // in the middle of `sleep 9 &` now), until the tree holds no new process; then all are
  // killed, deepest first.
  const send = (p: number, sig: NodeJS.Signals) => {
    try {
      ctx.signal.kill(p, sig);
    } catch {
      /* gone meanwhile */
    }
  };
  const stopped: number[] = [];
  for (let round = 0; round < 20; round++) {
    const fresh = processTree(ctx, helpers[0]!).slice(1).filter((p) => !stopped.includes(p));
    if (!fresh.length) break;
    for (const p of fresh) send(p, 'SIGSTOP');
    stopped.push(...fresh);
  }
  for (const p of [...stopped].reverse()) send(p, 'SIGKILL');
}
