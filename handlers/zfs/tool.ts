/**
 * The `zfs` and `zpool` CLIs as the ZFS verbs (and ADDRESS LXCRI and QEMU) use them: run
 * through ctx.run, failures classified by errors.ts (with the dead-mount hint), names,
 * sizes and which implementation this is. Dataset and snapshot operations over it are in
 * dataset.ts and snapshot.ts. Every command here is understood by both OpenZFS 2.x and
 * zfs-fuse 0.7 (no `-p` on `zfs list`, one property per `zfs set`, `-t snapshot` not
 * `-t snap`); see ../../../shared/host-notes.md.
 */
import * as path from 'node:path';
import { AddressError } from '../../shared/errors';
import { parseDuration } from '../../shared/params';
import type { RunOptions, RunResult } from '../../shared/runner';
import type { Ctx } from '../../shared/verb';
import { unmadeMountpoint, zfsError, ZFS_ERRORS } from './errors';

/** The classifier now lives in errors.ts; kept here for the handlers that import it from the tool client. */
export { ZFS_ERRORS };

/**
 * How long one zfs or zpool command may take unless the verb gives its own timeout= (ms):
 * env REXX_ZFS_TIMEOUT (a duration: 500ms, 30s, 2m) when set, else `defaultMs` (what
 * that kind of command normally needs: 60 s, 2 min for destroy and clone, 5 min for a
 * rollback). A zfs-fuse that stops answering is then reported (RC 6) that much sooner.
 */
export function zfsTimeout(ctx: Pick<Ctx, 'env'>, defaultMs = 60_000): number {
  return (ctx.env.REXX_ZFS_TIMEOUT && parseDuration(ctx.env.REXX_ZFS_TIMEOUT)) || defaultMs;
}

/**
 * A host lock file for ZFS work on `key` (a dataset, or `pool:NAME` for the pool-wide
 * ones): env REXX_ZFS_LOCK_DIR, default /run/lock/rexx-address/zfs. Taken with
 * ctx.state.lock (proper-lockfile), so it holds across processes on this host.
 */
export const zfsLockFile = (ctx: Pick<Ctx, 'env'>, key: string): string =>
  path.join(ctx.env.REXX_ZFS_LOCK_DIR || '/run/lock/rexx-address/zfs', `${encodeURIComponent(key)}.lock`);

/** Run `zfs ARGS`; throws the classified AddressError when it fails (RC 6 when zfs-fuse is wedged). */
export async function zfs(ctx: Ctx, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await ctx.run(['zfs', ...args], { timeoutMs: zfsTimeout(ctx), ...opts });
  if (!r.ok) throw await failure(ctx, r);
  return r;
}

/** How long a readdir of a zfs-fuse mount may take before the daemon counts as wedged (ms). */
const PROBE_MS = 3_000;

/**
 * The zfs-fuse mounts (type fuse.zfs in /proc/mounts) whose readdir does not return
 * within 3 s: a wedged daemon (one thread looping in sync(2)) hangs every read on its
 * mounts while `zpool list` still answers. Each probe is its own `ls` process, killed
 * at the deadline, so nothing of this process waits on FUSE.
 */
export async function unansweringMounts(ctx: Ctx): Promise<string[]> {
  let mounts: string[];
  try {
    mounts = (ctx.fs.readText('/proc/mounts') ?? '')
      .split('\n')
      .map((l) => l.split(' '))
      .filter((f) => f[2] === 'fuse.zfs' && f[1])
      .map((f) => f[1]!.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
  } catch {
    return [];
  }
  const probes = await Promise.all(mounts.slice(0, 16).map((m) => ctx.run(['ls', '-A', '--', m], { readOnly: true, timeoutMs: PROBE_MS })));
  return mounts.filter((_, i) => probes[i]?.timedOut);
}

/**
 * The classified error for a failed zfs/zpool run, with the dead-mount hint when it
 * applies; a command that timed out while zfs-fuse's mounts do not answer is RC 6.
 */
async function failure(ctx: Ctx, r: RunResult): Promise<AddressError> {
  if (r.timedOut) {
    const stuck = await unansweringMounts(ctx);
    if (stuck.length) {
      return new AddressError(
        'unavailable',
        `zfs-fuse is not answering: ${r.argv.slice(0, 3).join(' ')} timed out after ${Math.round(r.durationMs)} ms and a read of ${stuck[0]} did not return within ${PROBE_MS} ms (a wedged daemon): run scripts/setup-host.sh, which restarts it without losing data`,
        { cause: r },
      );
    }
  }
  const e = zfsError(r);
  const hint = await deadMountHint(ctx, r.stderr);
  return hint ? new AddressError(e.kind, `${e.message} (${hint})`, { cause: e, vars: e.vars, output: e.output, reason: e.reason }) : e;
}

/**
 * "cannot mount '/P/x': failed to create mountpoint" says nothing about why. When the
 * reason is a FUSE mount left by a zfs-fuse that died (access fails with ENOTCONN,
 * "Transport endpoint is not connected"), name it and the fix. Undefined otherwise.
 */
export async function deadMountHint(ctx: Pick<Ctx, 'fs'>, stderr: string): Promise<string | undefined> {
  const mp = unmadeMountpoint(stderr);
  return mp ? deadMountAbove(ctx, mp) : undefined;
}

/**
 * When the nearest ancestor of `p` that is not simply missing is a FUSE mount whose
 * zfs-fuse is gone (opendir fails with ENOTCONN or ECONNABORTED), the hint naming it and
 * the fix; else undefined.
 */
export async function deadMountAbove(ctx: Pick<Ctx, 'fs'>, p: string): Promise<string | undefined> {
  // Every directory from the mount down fails alike: the topmost failing one is the mount.
  let dead: string | undefined;
  for (let dir = path.dirname(p); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    try {
      await ctx.fs.promises.readdir(dir); // stat may answer from the attribute cache; opening the folder asks the daemon
      break;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOTCONN' || code === 'ECONNABORTED') dead = dir;
      else if (code !== 'ENOENT') break;
    }
  }
  return dead ? `${dead} is a dead mount left by a zfs-fuse that stopped: umount -l ${dead} && zfs mount -a, or run scripts/setup-host.sh` : undefined;
}

/** Run `zpool ARGS`; throws the classified AddressError when it fails. */
export async function zpool(ctx: Ctx, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await ctx.run(['zpool', ...args], { timeoutMs: zfsTimeout(ctx), ...opts });
  if (!r.ok) throw await failure(ctx, r);
  return r;
}

/** Rows of tab-separated `-H` output. */
export const rows = (stdout: string): string[][] =>
  stdout.split('\n').filter((l) => l.trim() !== '').map((l) => l.split('\t'));

/** The default pool: env REXX_ZFS_POOL, else `rexxpool` (what scripts/setup-host.sh creates). */
export function defaultPool(ctx: Pick<Ctx, 'env'>): string {
  return ctx.env.REXX_ZFS_POOL || 'rexxpool';
}

/**
 * The full dataset name for `name=` given `pool=`: a name whose first component is the
 * pool is already full (`rexxpool/web`), anything else is relative to it (`web` →
 * `rexxpool/web`); the pool's own name is its root dataset.
 */
export function fullName(ctx: Pick<Ctx, 'env'>, pool: string | undefined, name: string): string {
  const p = pool ?? defaultPool(ctx);
  return name === p || name.startsWith(`${p}/`) ? name : `${p}/${name}`;
}

/** Which ZFS this is: OpenZFS answers `zfs version`; zfs-fuse (and old ZoL) do not. */
export type Implementation = 'openzfs' | 'zfs-fuse' | 'unknown';

/**
 * Detect the implementation: env REXX_ZFS_IMPL (openzfs|zfs-fuse) wins; else `zfs
 * version` succeeding means OpenZFS; else a `zfs-fuse` binary on PATH means zfs-fuse
 * (the daemon is not run to ask). Cached per PATH in the handler instance (ctx.cache).
 */
export async function implementation(ctx: Ctx): Promise<{ impl: Implementation; version: string }> {
  const forced = ctx.env.REXX_ZFS_IMPL;
  if (forced === 'openzfs' || forced === 'zfs-fuse') return { impl: forced, version: '' };
  const key = ctx.env.PATH ?? '';
  const cacheKey = `zfs.implementation:${key}`;
  const hit = ctx.cache.get(cacheKey) as { impl: Implementation; version: string } | undefined;
  if (hit) return hit;
  const v = await ctx.run(['zfs', 'version'], { readOnly: true, timeoutMs: 10_000 });
  let out: { impl: Implementation; version: string };
  if (v.ok) out = { impl: 'openzfs', version: v.stdout.split('\n')[0]?.trim() ?? '' };
  else if (v.missing) return { impl: 'unknown', version: '' };
  else {
    const fuse = (key || '/usr/bin:/bin').split(':').some((d) => d && ctx.fs.exists(path.join(d, 'zfs-fuse')));
    out = fuse ? { impl: 'zfs-fuse', version: 'zfs-fuse (pool version 23)' } : { impl: 'unknown', version: '' };
  }
  ctx.cache.set(cacheKey, out);
  return out;
}

/** Throw RC 6 with a clear ERRORTEXT when a verb needs OpenZFS and this is zfs-fuse. */
export async function requireOpenZfs(ctx: Ctx, what: string): Promise<void> {
  const { impl } = await implementation(ctx);
  if (impl === 'zfs-fuse') {
    throw new AddressError(
      'unavailable',
      `${what} needs OpenZFS 2.x; this host runs zfs-fuse 0.7 (pool version 23), which lacks it (zfs-fuse's own answer: "internal error: Function not implemented" and abort)`,
    );
  }
}
