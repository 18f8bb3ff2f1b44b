/**
 * What a command string may never switch on by itself: settings that hand the host to
 * whoever wrote the script or the value (LXD `raw.lxc` hooks, privileged containers,
 * host paths as disks or mounts, ZFS mountpoints over host directories, …). They are
 * refused with RC 7 unless the handler was created with the policy that allows them:
 * env `REXX_<TARGET>_ALLOW_UNSAFE=1` (e.g. `REXX_LXD_ALLOW_UNSAFE=1`) or
 * `REXX_ADDRESS_ALLOW_UNSAFE=1` for every handler, in the environment the handler is
 * created with (`createHandler(table, { env })`, or the process environment). Never a
 * parameter: the command string is exactly what may carry the attack.
 */
import { refused } from './errors';
import type { Ctx } from './verb';

/** The env variable that allows unsafe settings for one handler target ('lxd' → REXX_LXD_ALLOW_UNSAFE). */
export const unsafeEnvName = (target: string): string => `REXX_${target.toUpperCase()}_ALLOW_UNSAFE`;

/** True when the handler's environment allows unsafe settings (see the file comment). */
export function unsafeAllowed(ctx: Pick<Ctx, 'env' | 'table'>): boolean {
  return ctx.env[unsafeEnvName(ctx.table.target)] === '1' || ctx.env.REXX_ADDRESS_ALLOW_UNSAFE === '1';
}

/**
 * Throw RC 7 for `what` (e.g. "config raw.lxc") unless unsafe settings are allowed.
 * `why` says what the setting would give away, for the message.
 */
export function requireUnsafeAllowed(ctx: Pick<Ctx, 'env' | 'table'>, what: string, why: string): void {
  if (unsafeAllowed(ctx)) return;
  throw refused(
    `${what} is refused: ${why}. Only a trusted script may set it: create the handler with ` +
      `${unsafeEnvName(ctx.table.target)}=1 in its environment (README: Security)`,
  );
}
