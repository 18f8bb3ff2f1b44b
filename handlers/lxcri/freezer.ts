/**
 * Freezing a runc container through its cgroup freezer, as `runc pause` / `runc resume`
 * do themselves (runc 1.1 libcontainer: cgroups/fs/freezer.go for cgroup v1,
 * cgroups/fs2/freezer.go for v2), without starting a runc process for each: the
 * checkpoint's snapshot then waits for no Go binary's start-up (~20 ms each here) while
 * the container is frozen. runc derives a container's "paused" status from the freezer
 * itself, so `runc state` says paused while it is frozen, exactly as after `runc pause`.
 *
 * The freezer is the one runc recorded in `ROOT/ID/state.json` (`cgroup_paths.freezer`
 * on v1, the unified path `cgroup_paths[""]` on v2), accepted only under
 * /sys/fs/cgroup/. Other runtimes (crun, lxcri) keep `<runtime> pause`.
 */
import * as path from 'node:path';
import type { Ctx } from '../../shared/verb';
import type { Runtime } from './runtime';

/** A container's freezer: the file to write and the one to read back, and the words each state is. */
export interface Freezer {
  /** v1: `<cgroup>/freezer.state` (FROZEN / THAWED); v2: `<cgroup>/cgroup.freeze` (1 / 0). */
  control: string;
  /** v1: freezer.state itself (reads FREEZING until every task is frozen); v2: `cgroup.events` (`frozen 1`). */
  status: string;
  /** `cgroup.procs` of that cgroup: empty once the container's processes have all exited. */
  procs: string;
  v2: boolean;
}

/** The freezer runc recorded for container `id`, or undefined (not runc, no state, none recorded, or not under /sys/fs/cgroup). */
export function freezerOf(ctx: Pick<Ctx, 'fs'>, rt: Runtime, id: string): Freezer | undefined {
  if (rt.name !== 'runc') return undefined;
  let paths: Record<string, unknown> | undefined;
  try {
    paths = (JSON.parse(ctx.fs.readText(path.join(rt.root, id, 'state.json')) ?? 'null') as { cgroup_paths?: Record<string, unknown> } | null)?.cgroup_paths;
  } catch {
    return undefined;
  }
  const ok = (p: unknown): p is string => typeof p === 'string' && p.startsWith('/sys/fs/cgroup/') && path.normalize(p) === p && !p.split('/').includes('..');
  if (ok(paths?.freezer) && ctx.fs.exists(path.join(paths.freezer, 'freezer.state'))) {
    const f = path.join(paths.freezer, 'freezer.state');
    return { control: f, status: f, procs: path.join(paths.freezer, 'cgroup.procs'), v2: false };
  }
  const unified = paths?.[''];
  if (ok(unified) && ctx.fs.exists(path.join(unified, 'cgroup.freeze'))) {
    return { control: path.join(unified, 'cgroup.freeze'), status: path.join(unified, 'cgroup.events'), procs: path.join(unified, 'cgroup.procs'), v2: true };
  }
  return undefined;
}

/** True while the cgroup has a process in it (the container has not exited). */
export const hasProcesses = (ctx: Pick<Ctx, 'fs'>, f: Freezer): boolean => (ctx.fs.readText(f.procs) ?? '').trim() !== '';

/** True when the freezer says every task is frozen. */
export function isFrozen(ctx: Pick<Ctx, 'fs'>, f: Freezer): boolean {
  const s = ctx.fs.readText(f.status) ?? '';
  return f.v2 ? /^frozen 1$/m.test(s) : s.trim() === 'FROZEN';
}

/**
 * Freeze: write FROZEN (v1) or 1 (v2), then wait until the freezer reports every task
 * frozen (v1 reads FREEZING meanwhile; runc writes FROZEN again while it does, and so
 * does each probe here). RC 5 after `timeoutMs`, with the container thawed again.
 */
export async function freeze(ctx: Pick<Ctx, 'fs' | 'poll'>, f: Freezer, timeoutMs: number, what: string): Promise<void> {
  const write = () => ctx.fs.writeText(f.control, f.v2 ? '1' : 'FROZEN');
  write();
  try {
    await ctx.poll(
      async () => {
        if (isFrozen(ctx, f)) return true;
        if (!f.v2) write();
        return undefined;
      },
      { timeoutMs, initialMs: 1, maxMs: 10, what: `${what} to freeze (${f.status})` },
    );
  } catch (e) {
    thaw(ctx, f); // (RC 5 from the poller, naming the freezer)
    throw e;
  }
}

/** Thaw: THAWED (v1) or 0 (v2). */
export function thaw(ctx: Pick<Ctx, 'fs'>, f: Freezer): void {
  ctx.fs.writeText(f.control, f.v2 ? '0' : 'THAWED');
}
