/**
 * A container's state through the runtime: `<runtime> state ID` read once, required,
 * or waited for through the shared poller; the one way every verb starts a container
 * detached (`run -d` / `create` with `--pid-file`, then wait for its status); and the
 * per-id lock that makes creating, deleting and restoring one id take turns.
 */
import * as path from 'node:path';
import { alreadyExists, isReason, notFound } from '../../shared/errors';
import type { Ctx } from '../../shared/verb';
import { checkBundle } from './bundle-policy';
import { rootParent, type Runtime } from './runtime';
import { logFile, outputLog, rtDetached, rtRun } from './tool';

/** `state` JSON (runtime-spec): status is creating | created | running | stopped (runc adds paused). */
export interface OciState {
  id: string;
  pid: number;
  status: string;
  bundle: string;
  rootfs?: string;
  created?: string;
  annotations?: Record<string, string>;
}

/** `<runtime> state ID`, or undefined when the container does not exist (a read: runs under dryrun). */
export async function getState(ctx: Ctx, rt: Runtime, id: string): Promise<OciState | undefined> {
  try {
    const r = await rtRun(ctx, rt, ['state', id], { readOnly: true, timeoutMs: 10_000 });
    return JSON.parse(r.stdout) as OciState;
  } catch (e) {
    if (isReason(e, 'notFound')) return undefined;
    throw e;
  }
}

/**
 * runc only: the bundle of container `id` from runc's own record, `ROOT/ID/state.json`
 * (its `config.labels` entry `bundle=…`, which `runc state` reads too), without spawning
 * `runc state` (~8 ms); undefined for other runtimes, a missing or unreadable file, or no
 * such label — then ask {@link getState}. The status is not in that file (runc works it
 * out from the cgroup), so a caller learns it from what it does next.
 */
export function runcBundle(ctx: Pick<Ctx, 'fs'>, rt: Runtime, id: string): string | undefined {
  if (rt.name !== 'runc') return undefined;
  try {
    const st = JSON.parse(ctx.fs.readText(path.join(rt.root, id, 'state.json')) ?? 'null') as { config?: { labels?: unknown } } | null;
    const labels = Array.isArray(st?.config?.labels) ? (st.config.labels as unknown[]) : [];
    const b = labels.find((l): l is string => typeof l === 'string' && l.startsWith('bundle='));
    return b && b.length > 8 && b[7] === '/' ? b.slice(7) : undefined;
  } catch {
    return undefined;
  }
}

/** Like getState, RC 3 when missing. */
export async function mustState(ctx: Ctx, rt: Runtime, id: string): Promise<OciState> {
  const s = await getState(ctx, rt, id);
  if (!s) throw notFound(`container ${id} not found (${rt.name} --root ${rt.root})`);
  return s;
}

/** Wait through the shared poller until the container's status is one of `statuses`. */
export async function waitState(ctx: Ctx, rt: Runtime, id: string, statuses: string[], timeoutMs: number) {
  return ctx.poll(
    async () => {
      const s = await mustState(ctx, rt, id);
      return statuses.includes(s.status) ? s : undefined;
    },
    { timeoutMs, what: `container ${id} to be ${statuses.join(' or ')}` },
  );
}

/** The pid a runtime wrote to `file` (`--pid-file`), 0 when there is none (yet). */
export const readPid = (ctx: Pick<Ctx, 'fs'>, file: string): number => Number(ctx.fs.readText(file)?.trim() ?? '') || 0;

/**
 * After `run -d` / `create` with `--pid-file FILE`: wait (shared poller) until the pid
 * file names a live process — then the status is `expect` (running after run, created
 * after create) without spawning `<runtime> state` (~8 ms); if that process is gone,
 * `<runtime> state` says what it is (e.g. stopped).
 */
export async function waitPidOrState(ctx: Ctx, rt: Runtime, id: string, pidFile: string, expect: string, timeoutMs: number) {
  return ctx.poll(
    async () => {
      const pid = readPid(ctx, pidFile);
      if (!pid) return undefined;
      if (ctx.signal.alive(pid)) return { status: expect, pid };
      return { status: (await mustState(ctx, rt, id)).status, pid };
    },
    { timeoutMs, what: `container ${id} to be ${expect}` },
  );
}

/** `ROOT/ID.pid`: where `run -d` / `create` have the runtime write the container's host pid. */
export const pidFile = (rt: Runtime, id: string) => `${rt.root}/${id}.pid`;

/**
 * Run `fn` holding the lock of container `id` (ctx.state.lock: proper-lockfile,
 * a directory `<REXX_OCI_ROOT>/locks/<runtime>/<id>.lock`, kept out of the runtime's
 * `--root` because `runc list` reads every directory there as a container). Calls that
 * create, delete, restore or checkpoint one id take turns: without it parallel
 * `run`s of one id deleted each other's pid file and truncated each other's log, and
 * runc's own check-then-create let two of them in, the loser removing the winner's
 * state while its process ran on with PPID 1. Waits up to `waitMs`, then RC 5.
 */
export async function withContainerLock<R>(ctx: Ctx, rt: Runtime, id: string, waitMs: number, fn: () => Promise<R>): Promise<R> {
  return ctx.state.lock(path.join(rootParent(ctx.env), 'locks', rt.name, id), fn, waitMs);
}

/** RC 4 when container `id` exists (in any state). Call it under {@link withContainerLock} before creating one. */
export async function mustNotExist(ctx: Ctx, rt: Runtime, id: string): Promise<void> {
  // runc and crun keep every container's state in ROOT/ID: no such folder, no container,
  // and no `state` process to start (it cost ~30 % of a run).
  if ((rt.name === 'runc' || rt.name === 'crun') && !ctx.fs.exists(path.join(rt.root, id))) return;
  const s = await getState(ctx, rt, id);
  if (s) throw alreadyExists(`container ${id} already exists (${s.status}; ${rt.name} --root ${rt.root}); delete it first`);
}

/** Remove a container's `ID.pid`, `ID.log` and `ID.out.log` from the runtime root (after delete, or a run that made nothing). */
export function removeRunFiles(ctx: Pick<Ctx, 'fs'>, rt: Runtime, id: string): void {
  ctx.fs.remove(pidFile(rt, id));
  ctx.fs.remove(logFile(rt, id));
  ctx.fs.remove(outputLog(rt, id));
}

/**
 * RC 3 when `bundle` has no config.json (a missing bundle, or one spec has not written
 * yet). Under dryrun it is taken to be there: an earlier step of the script may make it.
 */
export async function requireBundleConfig(ctx: Ctx, bundle: string): Promise<void> {
  await ctx.effect(async () => {
    if (ctx.fs.exists(path.join(bundle, 'config.json'))) return;
    throw notFound(ctx.fs.exists(bundle) ? `bundle ${bundle} has no config.json (spec bundle=${bundle} writes one)` : `bundle directory ${bundle} does not exist`);
  }, undefined);
}

/**
 * `run -d --pid-file ROOT/ID.pid --bundle B ID`, then waitPidOrState for running: the one
 * way every verb starts a container, so every start is checked first (bundle-policy.ts:
 * RC 7 for a config.json that could hand over the host). RC 3 when the bundle has no
 * config.json. Call it under {@link withContainerLock}: it removes the id's pid file and
 * truncates its logs first. The container's stdout and stderr go to `ROOT/ID.out.log`
 * (tool.ts outputLog), which the `logs` verb reads and `delete` removes.
 */
export async function runDetached(ctx: Ctx, rt: Runtime, id: string, bundle: string, timeoutMs: number, verb: 'run' | 'create' = 'run') {
  await requireBundleConfig(ctx, bundle);
  checkBundle(ctx, bundle);
  const pid = pidFile(rt, id);
  ctx.fs.remove(pid);
  const args = verb === 'run' ? ['run', '-d', '--pid-file', pid, '--bundle', bundle, id] : ['create', '--pid-file', pid, '--bundle', bundle, id];
  const out = outputLog(rt, id);
  ctx.fs.writeText(out, '');
  try {
    await rtDetached(ctx, rt, id, args, timeoutMs, out);
  } catch (e) {
    // The log was read for ERRORTEXT; when nothing was created it has no other use.
    if (!(await getState(ctx, rt, id).catch(() => true))) removeRunFiles(ctx, rt, id);
    throw e;
  }
  return (await waitPidOrState(ctx, rt, id, pid, verb === 'run' ? 'running' : 'created', timeoutMs)).value;
}
