/**
 * A container's state through the runtime: `<runtime> state ID` read once, required,
 * or waited for through the shared poller, and the one way every verb starts a
 * container detached (`run -d` / `create` with `--pid-file`, then wait for its status).
 */
import * as fs from 'node:fs';
import { notFound } from '../../shared/errors';
import type { Ctx } from '../../shared/verb';
import type { Runtime } from './runtime';
import { rtDetached, rtRun } from './runtime-cli';

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
    if ((e as { kind?: string }).kind === 'notFound') return undefined;
    throw e;
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

/**
 * After `run -d` / `create` with `--pid-file FILE`: wait (shared poller) until the pid
 * file names a live process — then the status is `expect` (running after run, created
 * after create) without spawning `<runtime> state` (~8 ms); if that process is gone,
 * `<runtime> state` says what it is (e.g. stopped).
 */
export async function waitPidOrState(ctx: Ctx, rt: Runtime, id: string, pidFile: string, expect: string, timeoutMs: number) {
  return ctx.poll(
    async () => {
      let pid = 0;
      try {
        pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
      } catch {
        return undefined;
      }
      if (!pid) return undefined;
      try {
        process.kill(pid, 0);
        return { status: expect, pid };
      } catch {
        return { status: (await mustState(ctx, rt, id)).status, pid };
      }
    },
    { timeoutMs, what: `container ${id} to be ${expect}` },
  );
}

/** `run -d --pid-file ROOT/ID.pid --bundle B ID`, then waitPidOrState for running: the one way every verb starts a container. */
export async function runDetached(ctx: Ctx, rt: Runtime, id: string, bundle: string, timeoutMs: number, verb: 'run' | 'create' = 'run') {
  const pidFile = `${rt.root}/${id}.pid`;
  if (!ctx.dryrun) fs.rmSync(pidFile, { force: true });
  const args = verb === 'run' ? ['run', '-d', '--pid-file', pidFile, '--bundle', bundle, id] : ['create', '--pid-file', pidFile, '--bundle', bundle, id];
  await rtDetached(ctx, rt, id, args, timeoutMs);
  return (await waitPidOrState(ctx, rt, id, pidFile, verb === 'run' ? 'running' : 'created', timeoutMs)).value;
}
