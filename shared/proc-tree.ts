/**
 * Host processes read from /proc through ctx.fs: parent links, a process and its
 * descendants, which are still running, a process's argv. What the exec verbs need to
 * end a guest command that killing their client did not reach (LXCRI's exec-kill.ts
 * after a timeout, LXD's exec after a cancel).
 */
import type { Ctx } from './verb';

type Fs = Pick<Ctx, 'fs'>;

/** `/proc/PID/stat` from the field after the parenthesised command name (state, ppid, …); undefined when the process is gone. */
export function procStat(ctx: Fs, pid: number | string): string | undefined {
  try {
    const stat = ctx.fs.readText(`/proc/${pid}/stat`);
    return stat?.slice(stat.lastIndexOf(')') + 2);
  } catch {
    return undefined; // exited meanwhile (ESRCH)
  }
}

/** The pids of every live process (the numeric entries of /proc). */
export const allPids = (ctx: Fs): number[] => ctx.fs.list('/proc').filter((e) => /^\d+$/.test(e)).map(Number);

/** The parent pid of every live process, from /proc/PID/stat (field 4, after the parenthesised name). */
function parentLinks(ctx: Fs): Map<number, number> {
  const m = new Map<number, number>();
  for (const p of allPids(ctx)) {
    const rest = procStat(ctx, p);
    if (rest !== undefined) m.set(p, Number(rest.split(' ')[1]));
  }
  return m;
}

/** `pid` and all its descendants that are alive now (host pids). */
export function processTree(ctx: Fs, pid: number): number[] {
  const links = parentLinks(ctx);
  if (!links.has(pid)) return [];
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) for (const [child, parent] of links) if (parent === tree[i]) tree.push(child);
  return tree;
}

/**
 * The pids of `pids` still running. A killed process whose parent does not reap it (a
 * container whose init is not an init, e.g. `sleep`) stays a zombie: state Z in
 * /proc/PID/stat, nothing running, so it does not count.
 */
export const running = (ctx: Fs, pids: number[]): number[] =>
  pids.filter((p) => {
    const rest = procStat(ctx, p);
    return rest !== undefined && !/^[ZX]/.test(rest);
  });

/** A process's argv from /proc/PID/cmdline ([] when it is gone or a kernel thread). */
export function procArgv(ctx: Fs, pid: number): string[] {
  try {
    const raw = ctx.fs.readText(`/proc/${pid}/cmdline`) ?? '';
    return raw === '' ? [] : raw.replace(/\0$/, '').split('\0');
  } catch {
    return [];
  }
}

/**
 * The regular files process `pid` holds open (their paths, from /proc/PID/fd; sockets,
 * pipes and devices left out); [] when it is gone.
 */
export function openFiles(ctx: Fs, pid: number): string[] {
  const dir = `/proc/${pid}/fd`;
  return ctx.fs.list(dir).flatMap((fd) => {
    const target = ctx.fs.readlink(`${dir}/${fd}`);
    return target?.startsWith('/') && ctx.fs.stat(`${dir}/${fd}`)?.isFile() ? [target] : [];
  });
}
