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
import * as fs from 'node:fs';
import { timedOut } from '../../shared/errors';
import type { RunResult } from '../../shared/runner';
import type { Ctx } from '../../shared/verb';
import { getState } from './container';
import type { Runtime } from './runtime';
import { rtRun } from './tool';

/** How long to wait for the killed processes to disappear (ms). */
const GONE_WAIT_MS = 2_000;

/** A pid file for one exec call: `ROOT/ID.exec-<random>.pid` (never shared by two calls). */
export const execPidFile = (rt: Runtime, id: string) => `${rt.root}/${id}.exec-${randomBytes(6).toString('hex')}.pid`;

const readPid = (file: string): number => {
  try {
    return Number(fs.readFileSync(file, 'utf8').trim()) || 0;
  } catch {
    return 0;
  }
};

/** The parent pid of every live process, from /proc/PID/stat (field 4, after the parenthesised name). */
function parentLinks(): Map<number, number> {
  const m = new Map<number, number>();
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      m.set(Number(e), ppid);
    } catch {
      /* exited meanwhile */
    }
  }
  return m;
}

/** `pid` and all its descendants that are alive now (host pids). */
export function processTree(pid: number): number[] {
  const links = parentLinks();
  if (!links.has(pid)) return [];
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) for (const [child, parent] of links) if (parent === tree[i]) tree.push(child);
  return tree;
}

/** The pid namespace of a process (`/proc/PID/ns/pid` link text), '' when it is gone. */
const pidNs = (pid: number): string => {
  try {
    return fs.readlinkSync(`/proc/${pid}/ns/pid`);
  } catch {
    return '';
  }
};

/**
 * The pids of `pids` still running. A killed process whose parent does not reap it (a
 * container whose init is not an init, e.g. `sleep`) stays a zombie: state Z in
 * /proc/PID/stat, nothing running, so it does not count.
 */
const alive = (pids: number[]) =>
  pids.filter((p) => {
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
    } catch {
      return false;
    }
  });

/**
 * After `<runtime> exec --pid-file FILE` timed out: kill the command and its descendants
 * in container `id` as the file comment says, remove the pid file, and return the RC 5
 * error to throw. Its message says what happened to the command; variables: KILLED (how
 * many processes were killed) and LEFT_RUNNING (host pids still running, '' when none,
 * 'unknown' when the runtime died before it wrote the pid).
 */
export async function killTimedOutExec(ctx: Ctx, rt: Runtime, id: string, pidFile: string, r: RunResult) {
  const pid = readPid(pidFile);
  fs.rmSync(pidFile, { force: true });
  const head = `exec in ${id} timed out after ${r.durationMs} ms`;
  if (!pid) {
    return timedOut(`${head}; ${rt.name} was killed before it reported the command's pid, so the command may still be running in the container (see: exec name=${id} command=ps)`, {
      cause: r,
      vars: { KILLED: 0, LEFT_RUNNING: 'unknown' },
    });
  }
  const init = (await getState(ctx, rt, id).catch(() => undefined))?.pid ?? 0;
  const ns = init ? pidNs(init) : '';
  const frozen = ns !== '' && (await rtRun(ctx, rt, ['pause', id], { timeoutMs: 10_000 }).then(() => true, () => false));
  let tree: number[] = [];
  try {
    tree = processTree(pid).filter((p) => ns !== '' && pidNs(p) === ns);
    for (const p of tree) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  } finally {
    if (frozen) await rtRun(ctx, rt, ['resume', id], { timeoutMs: 10_000 }).catch(() => undefined);
  }
  let left = alive(tree);
  for (const t0 = Date.now(); left.length && Date.now() - t0 < GONE_WAIT_MS; left = alive(tree)) await new Promise((res) => setTimeout(res, 20));
  // A process that died meanwhile may be replaced by a new one with its pid: only ours count.
  left = left.filter((p) => pidNs(p) === ns);
  const what = left.length
    ? `; its command still runs in the container as host pid ${left.join(', ')} (kill failed; delete force=true stops everything)`
    : tree.length
      ? `; its command was killed (${tree.length} process${tree.length === 1 ? '' : 'es'}, host pid ${pid})`
      : '; its command had already ended';
  return timedOut(`${head}${what}`, { cause: r, vars: { KILLED: tree.length - left.length, LEFT_RUNNING: left.join(' ') } });
}
