/**
 * `migrate target=ssh:[user@]HOST[:PORT]`: the incoming QEMU runs on HOST, reached with
 * OpenSSH (ssh(1), ssh_config(5)). One ssh connection is opened as a control master
 * (`-o ControlMaster=yes -o ControlPath=vms/NAME/ssh.ctl -f -N`: ssh goes to the
 * background once it is logged in and its forwards listen) with two unix-socket forwards
 * (`-L LOCAL:REMOTE`, OpenSSH ≥ 6.7): the incoming QEMU's QMP socket and its migration
 * socket. Everything else goes over that one connection: the launch (`ssh -S CTL HOST
 * COMMAND`), QMP to the incoming QEMU (through the forwarded socket), the migration
 * stream (the running QEMU's `migrate unix:LOCAL` reaches `migrate-incoming
 * unix:REMOTE` on HOST), and at the end `ssh -O exit`.
 *
 * HOST must see the VM the way this host does (the same REXX_QEMU_DIR, disk, kernel and
 * initrd paths: shared storage, or copies made beforehand); the incoming QEMU gets the
 * same argv a move within this host would give it. The remote command is the one place
 * a shell reads our words (sshd runs it with the user's shell): every word is quoted
 * with shell-quote, HOST and the user are checked by {@link sshTarget}, and the ssh
 * options come before HOST, which never starts with "-". Env REXX_QEMU_SSH_CONFIG names
 * an ssh_config file (port, key, known_hosts for HOST), given as `-F FILE`; never a
 * parameter.
 */
import { quote } from 'shell-quote';
import { AddressError, classify, type Classifier } from '../../shared/errors';
import { regexRule, sshHost } from '../../shared/names';
import type { RunResult } from '../../shared/runner';
import type { Ctx } from '../../shared/verb';

/** ssh's own messages when it cannot log in or connect (OpenSSH 9.2): RC 6, the host is not reachable. */
const SSH_ERRORS: Classifier = {
  patterns: [['unavailable', /ssh: connect to host|Could not resolve hostname|Permission denied \(|Host key verification failed|Connection refused|Connection timed out|Connection closed by|No route to host|forwarding failed|Could not request local forwarding/i]],
};

/** `ssh:[user@]HOST[:PORT]`: the user and host as the shared ssh host rule (no ":" in the host here), PORT 1-65535. */
export const sshTarget = regexRule(
  'ssh migration target',
  /^ssh:(?:[A-Za-z0-9_][A-Za-z0-9._-]{0,31}@)?[A-Za-z0-9][A-Za-z0-9.-]{0,252}(?::\d{1,5})?$/,
  'ssh:[user@]HOST[:PORT] (HOST: letters, digits, ".", "-"; an ssh_config alias works; PORT 1-65535)',
  (v) => {
    const { dest, port } = parseSshTarget(v);
    return sshHost.check(dest) ?? (port !== undefined && (port < 1 || port > 65535) ? 'the port must be 1-65535' : undefined);
  },
);

/** The ssh destination ([user@]host) and port of a target `ssh:…` that passed {@link sshTarget}. */
export function parseSshTarget(v: string): { dest: string; port?: number } {
  const m = /^ssh:([^:]+)(?::(\d+))?$/.exec(v);
  return { dest: m?.[1] ?? '', port: m?.[2] ? Number(m[2]) : undefined };
}

/** An ssh connection to the host of a migration, shared through its control socket. */
export interface SshPeer {
  dest: string;
  port?: number;
  /** env REXX_QEMU_SSH_CONFIG, given to ssh as `-F FILE`. */
  config?: string;
  /** The control socket (ControlPath) of the master connection. */
  control: string;
}

/** `ssh -o BatchMode=yes [-F CONFIG] [-p PORT] -o ControlPath=CTL`: the options every ssh of a peer starts with (HOST not yet). */
function sshBase(peer: SshPeer): string[] {
  return ['ssh', '-o', 'BatchMode=yes', ...(peer.config ? ['-F', peer.config] : []), ...(peer.port ? ['-p', String(peer.port)] : []), '-o', `ControlPath=${peer.control}`];
}

/** The error for a failed ssh step: RC 6 when ssh could not reach or log in to HOST, else the step's own failure (RC 1). */
function sshFailed(peer: SshPeer, what: string, r: RunResult): AddressError {
  const e = classify(r, SSH_ERRORS);
  return new AddressError(e.kind, `migrate over ssh to ${peer.dest}: ${what}: ${e.message}`, { cause: r, reason: e.reason });
}

/**
 * Open the master connection to `peer` with the forwards `[local, remote]` (unix socket
 * paths; a stale local socket is replaced: StreamLocalBindUnlink). Resolves once ssh has
 * logged in and listens (it then runs in the background until {@link closeSsh}); RC 6
 * when HOST cannot be reached or refuses the login, RC 5 past `timeoutMs`.
 */
export async function openSsh(ctx: Ctx, peer: SshPeer, forwards: ReadonlyArray<readonly [string, string]>, timeoutMs: number): Promise<void> {
  const r = await ctx.run(
    [
      ...sshBase(peer),
      '-o', 'ControlMaster=yes', '-o', 'ExitOnForwardFailure=yes', '-o', 'StreamLocalBindUnlink=yes', '-o', `ConnectTimeout=${Math.max(1, Math.ceil(timeoutMs / 1000))}`,
      ...forwards.flatMap(([local, remote]) => ['-L', `${local}:${remote}`]),
      '-f', '-N', peer.dest,
    ],
    // ssh -f keeps stderr open in its background process: not captured, or the runner would wait for it.
    { timeoutMs, stdio: 'ignore' },
  );
  if (!r.ok) {
    // (stderr is not captured: ask the same question again, in the foreground, for ssh's reason)
    const why = await ctx.run([...sshBase(peer), '-o', 'ControlMaster=no', '-o', `ConnectTimeout=${Math.max(1, Math.ceil(timeoutMs / 1000))}`, peer.dest, 'true'], { timeoutMs, readOnly: true });
    throw sshFailed(peer, 'ssh could not connect', why.ok ? r : why);
  }
}

/**
 * Run `argv` on the peer's host over the master connection (one word string, each word
 * quoted for the remote shell; `then` argvs are run after it with `&&`). Returns stdout;
 * the command's failure is RC 1 with its stderr (RC 6 when the connection is gone).
 */
export async function runOnPeer(ctx: Ctx, peer: SshPeer, argvs: ReadonlyArray<readonly string[]>, timeoutMs: number, what: string): Promise<string> {
  const r = await ctx.run([...sshBase(peer), peer.dest, argvs.map((a) => quote([...a])).join(' && ')], { timeoutMs });
  if (!r.ok) throw sshFailed(peer, what, r);
  return r.stdout;
}

/** End the master connection (its forwards go with it); never fails. */
export async function closeSsh(ctx: Ctx, peer: SshPeer): Promise<void> {
  await ctx.run([...sshBase(peer), '-O', 'exit', peer.dest], { timeoutMs: 10_000 }).catch(() => undefined);
}
