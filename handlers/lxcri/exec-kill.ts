/**
 * What `exec` does when its command times out. Killing `<runtime> exec` (the runner's
 * SIGKILL at the timeout) does not reach the command: it runs on in the container,
 * re-parented, so RC 5 would leave the work going. So `exec` asks the runtime for the
 * command's host pid (`exec --pid-file FILE`, runtime-spec CLI) and, after a timeout,
 * this module freezes the container (`<runtime> pause`, the cgroup freezer, so nothing
 * in it can fork meanwhile), SIGKILLs the command and every process descended from it
 * (parent links from /proc/PID/stat), thaws it (`<runtime> resume`) and checks they are
 * gone. Only processes in the container's pid namespace are touched, so a recycled pid
 * can never hit a host process.
 */
import { randomBytes } from 'node:crypto';
import { timedOut } from '../../shared/errors';
import type { RunResult } from '../../shared/runner';
import { processTree, running } from '../../shared/proc-tree';
import type { Ctx } from '../../shared/verb';
import { getState, readPid } from './container';
import type { Runtime } from './runtime';
import { rtRun } from './tool';

/** How long to wait for the killed processes to disappear (ms). */
const GONE_WAIT_MS = 2_000;

/** A pid file for one exec call: `ROOT/ID.exec-<random>.pid` (never shared by two calls). */
export const execPidFile = (rt: Runtime, id: string) => `${rt.root}/${id}.exec-${randomBytes(6).toString('hex')}.pid`;

/** The pid namespace of a process (device and inode of `/proc/PID/ns/pid`, what `ls -L -i` shows), '' when it is gone. */
const pidNs = (ctx: Pick<Ctx, 'fs'>, pid: number): string => {
  try {
    const st = ctx.fs.stat(`/proc/${pid}/ns/pid`);
    return st ? `${st.dev}:${st.ino}` : '';
  } catch {
    return '';
  }
};

/**
 * After `<runtime> exec --pid-file FILE` timed out: kill the command and its descendants
 * in container `id` as the file comment says, remove the pid file, and return the RC 5
 * error to throw. Its message says what happened to the command; variables: KILLED (how
 * many processes were killed) and LEFT_RUNNING (host pids still running, '' when none,
 * 'unknown' when the runtime died before it wrote the pid).
 */
export async function killTimedOutExec(ctx: Ctx, rt: Runtime, id: string, pidFile: string, r: RunResult) {
  const pid = readPid(ctx, pidFile);
  ctx.fs.remove(pidFile);
  const head = `exec in ${id} timed out after ${r.durationMs} ms`;
  if (!pid) {
    return timedOut(`${head}; ${rt.name} was killed before it reported the command's pid, so the command may still be running in the container (see: exec name=${id} command=ps)`, {
      cause: r,
      vars: { KILLED: 0, LEFT_RUNNING: 'unknown' },
    });
  }
  const init = (await getState(ctx, rt, id).catch(() => undefined))?.pid ?? 0;
  const ns = init ? pidNs(ctx, init) : '';
  const frozen = ns !== '' && (await rtRun(ctx, rt, ['pause', id], { timeoutMs: 10_000 }).then(() => true, () => false));
  let tree: number[] = [];
  try {
    tree = processTree(ctx, pid).filter((p) => ns !== '' && pidNs(ctx, p) === ns);
    for (const p of tree) {
      try {
        ctx.signal.kill(p, 'SIGKILL');
      } catch {
        /* not ours to kill after all (EPERM): counted as left running below */
      }
    }
  } finally {
    if (frozen) await rtRun(ctx, rt, ['resume', id], { timeoutMs: 10_000 }).catch(() => undefined);
  }
  let left = running(ctx, tree);
  for (const t0 = ctx.clock.now(); left.length && ctx.clock.now() - t0 < GONE_WAIT_MS; left = running(ctx, tree)) await ctx.clock.sleep(20);
  // A process that died meanwhile may be replaced by a new one with its pid: only ours count.
  left = left.filter((p) => pidNs(ctx, p) === ns);
  const what = left.length
    ? `; its command still runs in the container as host pid ${left.join(', ')} (kill failed; delete force=true stops everything)`
    : tree.length
      ? `; its command was killed (${tree.length} process${tree.length === 1 ? '' : 'es'}, host pid ${pid})`
      : '; its command had already ended';
  return timedOut(`${head}${what}`, { cause: r, vars: { KILLED: tree.length - left.length, LEFT_RUNNING: left.join(' ') } });
}

/**
 * When an exec is cancelled (Ctrl-C at the prompt), while `<runtime> exec` still runs:
 * the runtime forwards the signal only to the command's first process, so this SIGKILLs
 * the command and every process descended from it (the pid from `--pid-file`, parent
 * links from /proc), deepest first, only those in the command's own pid namespace and
 * never in this process's (so a recycled pid can never hit a host process). The pid file
 * is left to the verb.
 */
export function killCancelledExec(ctx: Pick<Ctx, 'fs' | 'signal'>, pidFile: string): void {
  const pid = readPid(ctx, pidFile);
  const ns = pid ? pidNs(ctx, pid) : '';
  if (!ns || ns === pidNs(ctx, process.pid)) return;
  for (const p of processTree(ctx, pid).filter((q) => pidNs(ctx, q) === ns).reverse()) {
    try {
      ctx.signal.kill(p, 'SIGKILL');
    } catch {
      /* gone meanwhile */
    }
  }
}
