/**
 * Which ZFS property values a command string may set by itself, and which hand the host
 * to the script (shared/policy.ts: RC 7 unless the handler's environment has
 * REXX_ZFS_ALLOW_UNSAFE=1 or REXX_ADDRESS_ALLOW_UNSAFE=1). Applied to every value a
 * parameter gives: `set`, `create`/`create_volume`/`clone`/`clone_from_base`
 * `property=`, `pool_create mountpoint=` (and the default /POOL it implies). The ZFS
 * client calls ADDRESS LXCRI and QEMU make themselves (a bundle's rootfs mountpoint) are
 * not parameters and do not come here.
 *
 * **mountpoint.** `none` and `legacy` are fine. Any other value must be an absolute path
 * without "." or ".." segments (RC 2). It is resolved through the symlinks that exist
 * now (a link inside a dataset could point anywhere), and is fine when it lies in the
 * pool's own tree (the pool root dataset's mountpoint, e.g. /rexxpool, or below it; a
 * root mountpoint that is itself a system path, such as `/` on a root-on-ZFS host, gives
 * no tree). Outside that tree it is refused (RC 7) when it is
 * - a system path: `/` itself, or at or below /bin /boot /dev /etc /home /lib /lib32
 *   /lib64 /libx32 /opt /proc /root /run /sbin /snap /sys /usr /var — except below
 *   /var/tmp, which is scratch space like /tmp;
 * - an existing file, an existing non-empty directory (mounting over it would replace
 *   what the host keeps there; OpenZFS 2.x mounts over non-empty directories by
 *   default), or the mountpoint of another mount.
 * A new or empty directory elsewhere (/srv/web, /mnt/data, /tmp/x) is fine. The check and
 * the mount are separate steps: a symlink swapped in between by another process with
 * root rights is not caught.
 *
 * **Other properties.** `sharenfs`/`sharesmb` other than `off` export the dataset to the
 * network with options the value chooses (zfs passes them to exportfs/net share): RC 7.
 * `zoned` decides whether the host or a container namespace controls the mountpoint
 * (turning it off on a delegated dataset mounts it where the container said): RC 7.
 * `setuid`, `devices`, `exec` (on is their ZFS default), `canmount`, `readonly`, quotas
 * and the rest do not widen what a script can reach, given the mountpoint rule: allowed.
 */
import type { Stats } from 'node:fs';
import * as path from 'node:path';
import { isReason, toolFailed, usageError } from '../../shared/errors';
import { withDeadline } from '../../shared/poll';
import { dotSegments } from '../../shared/names';
import { requireUnsafeAllowed, unsafeAllowed } from '../../shared/policy';
import type { Ctx } from '../../shared/verb';
import { parseMountinfo } from './in-use';
import { deadMountAbove, zfs } from './tool';

/** Top-level host directories that are never a mountpoint outside the pool's tree (nor anything below them). */
export const SYSTEM_DIRS = ['/bin', '/boot', '/dev', '/etc', '/home', '/lib', '/lib32', '/lib64', '/libx32', '/opt', '/proc', '/root', '/run', '/sbin', '/snap', '/sys', '/usr', '/var'] as const;
/** Exceptions below SYSTEM_DIRS: scratch space anyone may write to. */
const SCRATCH = ['/var/tmp'];

const under = (p: string, dir: string) => p === dir || p.startsWith(dir === '/' ? '/' : `${dir}/`);

/** True when `p` (absolute, resolved) is `/`, or at or below a SYSTEM_DIRS entry and not below /var/tmp. */
export function isSystemPath(p: string): boolean {
  if (p === '/') return true;
  if (SCRATCH.some((s) => under(p, s) && p !== s)) return false;
  return SYSTEM_DIRS.some((d) => under(p, d));
}

/** `p` with the symlinks of its longest existing prefix resolved (realpath), the rest appended; 10 s at most (RC 5). */
async function resolveExisting(ctx: Ctx, p: string): Promise<string> {
  const rest: string[] = [];
  let cur = p;
  for (;;) {
    try {
      const real = await withDeadline(ctx.fs.promises.realpath(cur), 10_000, `resolving ${cur}`);
      return path.join(real, ...rest.reverse());
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOTCONN' || code === 'ECONNABORTED') {
        throw toolFailed(`cannot check mountpoint ${p}: ${code} (${(await deadMountAbove(ctx, path.join(cur, 'x'))) ?? `${cur} does not answer`})`);
      }
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw e;
      if (cur === '/') return p;
      rest.push(path.basename(cur));
      cur = path.dirname(cur);
    }
  }
}

/** Why `resolved` (outside the pool tree) may not be a mountpoint, or undefined when it may. */
async function hazard(ctx: Ctx, resolved: string, dataset: string): Promise<string | undefined> {
  if (isSystemPath(resolved)) return `${resolved} is a system path`;
  const mountinfo = ctx.fs.readText('/proc/self/mountinfo');
  if (mountinfo === undefined) throw toolFailed('cannot read /proc/self/mountinfo (is /proc mounted?)');
  const mounted = parseMountinfo(mountinfo).find((m) => m.mountpoint === resolved);
  if (mounted && mounted.source !== dataset) return `${resolved} is the mountpoint of ${mounted.source} (${mounted.fstype})`;
  let st: Stats;
  try {
    st = await withDeadline(ctx.fs.promises.stat(resolved), 10_000, `stat ${resolved}`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  if (!st.isDirectory()) return `${resolved} is an existing file`;
  if (mounted) return undefined; // this dataset's own mount: its files are its own
  const entries = await withDeadline(ctx.fs.promises.readdir(resolved), 10_000, `reading ${resolved}`);
  return entries.length ? `${resolved} is a directory that is not empty (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', …' : ''})` : undefined;
}

/** The pool root dataset's mountpoint, resolved; undefined when the pool does not exist or has none. */
async function poolTree(ctx: Ctx, pool: string): Promise<string | undefined> {
  const mp = await zfs(ctx, ['get', '-H', '-o', 'value', 'mountpoint', pool], { readOnly: true }).then(
    (r) => r.stdout.trim(),
    (e) => (isReason(e, 'notFound') ? '' : Promise.reject(e)),
  );
  if (!mp.startsWith('/')) return undefined;
  const tree = await resolveExisting(ctx, path.normalize(mp));
  return isSystemPath(tree) ? undefined : tree;
}

/**
 * RC 2 unless `value` is `none`, `legacy` or an absolute path without "."/".." segments;
 * RC 7 (unless unsafe settings are allowed) when it is outside the pool's tree and a
 * system path, an existing file, a non-empty directory or another mount's mountpoint
 * (see the file comment). `dataset` is the dataset it is for (full name; for
 * pool_create the new pool's name), `pool` the pool whose tree is allowed.
 */
export async function checkMountpoint(ctx: Ctx, dataset: string, pool: string | undefined, value: string, what: string): Promise<void> {
  if (value === 'none' || value === 'legacy') return;
  if (!value.startsWith('/')) throw usageError(`${what}: mountpoint=${JSON.stringify(value)} must be an absolute path, none or legacy`);
  const dots = dotSegments(value);
  if (dots) throw usageError(`${what}: mountpoint=${JSON.stringify(value)} ${dots}`);
  if (unsafeAllowed(ctx)) return;
  const resolved = await resolveExisting(ctx, path.normalize(value));
  const tree = pool ? await poolTree(ctx, pool) : undefined;
  if (tree && under(resolved, tree)) return;
  const why = await hazard(ctx, resolved, dataset);
  if (why) {
    requireUnsafeAllowed(
      ctx,
      `${what}: mountpoint=${value}${resolved !== path.normalize(value) ? ` (${resolved})` : ''}`,
      `it is outside the pool's own tree${tree ? ` (${tree})` : ''} and ${why}, so the dataset would cover host files`,
    );
  }
}

/**
 * Check each `PROPERTY=VALUE` a parameter gives for `dataset` (full name) against the
 * rules in the file comment: mountpoint (checkMountpoint), sharenfs/sharesmb other than
 * off, zoned (RC 7 unless unsafe settings are allowed).
 */
export async function checkProperties(ctx: Ctx, dataset: string, pairs: string[], what: string): Promise<void> {
  const pool = dataset.split('/')[0]!;
  for (const kv of pairs) {
    const eq = kv.indexOf('=');
    const key = kv.slice(0, eq).toLowerCase();
    const value = kv.slice(eq + 1);
    if (key === 'mountpoint') await checkMountpoint(ctx, dataset, pool, value, what);
    else if ((key === 'sharenfs' || key === 'sharesmb') && value !== 'off') {
      requireUnsafeAllowed(ctx, `${what}: ${key}=${value}`, 'it exports the dataset to the network with options the value chooses');
    } else if (key === 'zoned') {
      requireUnsafeAllowed(ctx, `${what}: zoned=${value}`, 'it moves control of the dataset\'s mountpoint between the host and a container namespace');
    }
  }
}

/** True when a property change remounts or unmounts a mounted filesystem (mountpoint, canmount, zoned). */
export const remounts = (pairs: string[]): boolean => pairs.some((kv) => /^(?:mountpoint|canmount|zoned)=/i.test(kv));
