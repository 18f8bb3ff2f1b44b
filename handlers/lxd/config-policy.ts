/**
 * Which LXD instance config keys a command string may set. Keys that hand the host to
 * whoever writes the script or the value are refused with RC 7 unless the handler's
 * environment allows unsafe settings (shared/policy.ts: REXX_LXD_ALLOW_UNSAFE=1):
 * `raw.*` (raw.lxc hooks run host commands: `lxc.hook.pre-start = /bin/sh …`),
 * `security.privileged` (container root is host root), `security.nesting`,
 * `security.syscalls.*` (mount/bpf interception), `security.idmap.*` (an idmap base of 0
 * maps container root to host root), `linux.kernel_modules` (loads host modules),
 * `volatile.*` (LXD's own bookkeeping, idmaps included). The handler's own registry keys
 * (`user.rexx.*`) are RC 2: a script must not forge a base. See LXD's "Container
 * security" and "Project restrictions" (`restricted=true`,
 * `restricted.containers.lowlevel=block`) for multi-tenant hosts.
 */
import { usageError } from '../../shared/errors';
import { requireUnsafeAllowed } from '../../shared/policy';
import type { Ctx } from '../../shared/verb';

/** [key pattern, what setting it gives away]. */
const UNSAFE: ReadonlyArray<readonly [RegExp, string]> = [
  [/^raw\./, 'raw.* settings go straight to LXC or QEMU, whose hooks run commands on the host'],
  [/^security\.privileged$/, 'a privileged container\'s root is root on the host'],
  [/^security\.nesting$/, 'nesting lets the container mount and run its own container manager with host kernel access'],
  [/^security\.syscalls\./, 'syscall interception and allow-lists widen what the container may do to the host kernel'],
  [/^security\.idmap\./, 'the id map decides which host uids the container\'s users are (a base of 0 is host root)'],
  [/^linux\.kernel_modules$/, 'it loads kernel modules on the host'],
  [/^volatile\./, 'volatile.* is LXD\'s own bookkeeping (id maps included)'],
];

/**
 * Check `config=` pairs (`KEY=VALUE`) before anything runs: RC 7 for an unsafe key
 * unless the handler allows it, RC 2 for the handler's own `user.rexx.*` keys.
 */
export function checkConfigPairs(ctx: Pick<Ctx, 'env' | 'table'>, verb: string, pairs: readonly string[]): void {
  for (const pair of pairs) {
    const key = pair.slice(0, pair.indexOf('=')).toLowerCase();
    if (key.startsWith('user.rexx.')) throw usageError(`${verb}: config ${key} is this handler's own registry key; use register_base / clone_from_base`);
    const hit = UNSAFE.find(([re]) => re.test(key));
    if (hit) requireUnsafeAllowed(ctx, `${verb}: config ${key}`, hit[1]);
  }
}

/**
 * The pairs of a verb that takes both `config=KEY=VALUE` (repeated) and one `key=` with
 * `value=` (config_set, profile_set), checked by {@link checkConfigPairs}: RC 2 when only
 * one of key= and value= is given.
 */
export function configPairsOf(ctx: Pick<Ctx, 'env' | 'table'>, verb: string, p: { config: readonly string[]; key?: string; value?: string }): string[] {
  if ((p.key === undefined) !== (p.value === undefined)) throw usageError(`${verb}: key= and value= go together`);
  const pairs = [...p.config, ...(p.key !== undefined ? [`${p.key}=${p.value}`] : [])];
  checkConfigPairs(ctx, verb, pairs);
  return pairs;
}
