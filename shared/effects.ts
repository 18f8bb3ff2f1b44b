/**
 * Every side effect a verb may have, other than running a command (`runner.ts`): host
 * files, the handler's JSON state files, the clock, signals to processes, and steps
 * whose outcome later steps use. The dispatcher builds them for each call and hands
 * them to the verb on its {@link Ctx}; dryrun lives here, once, not in the verbs:
 *
 * - reads (exists, readText, stat, list, realpath, state.read) always happen, so what a
 *   dryrun prints is what the real call would do on this host now;
 * - writes (writeText, mkdir, remove, rename, state.write/create/update/remove, kill)
 *   do nothing under dryrun and return what they would have returned on success;
 *   each one is written to the trace (`trace=true`) as `# would ...`;
 * - {@link Effects.effect} runs a step whose outcome later steps use, or under dryrun
 *   returns the outcome the caller says it would have.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { z } from 'zod';
import { createStateExclusive, linkNew, readState, updateState, withLock, writeFileAtomic, writeState } from './state-file';

/** Host files. Reads are always real; writes do nothing under dryrun. Paths are absolute. */
export interface Files {
  exists(p: string): boolean;
  /** The file's text (utf8), or undefined when it does not exist. */
  readText(p: string): string | undefined;
  /** Up to `bytes` bytes from the start of the file, or undefined when it does not exist. */
  readHead(p: string, bytes: number): Buffer | undefined;
  /** The last `bytes` bytes of the file (all of it when shorter), or undefined when it does not exist. */
  readTail(p: string, bytes: number): Buffer | undefined;
  /** stat(2), following symlinks; undefined when nothing is there. */
  stat(p: string): fs.Stats | undefined;
  /** lstat(2); undefined when nothing is there. */
  lstat(p: string): fs.Stats | undefined;
  /** Entry names of a folder, sorted; [] when it does not exist. */
  list(dir: string): string[];
  /** realpath(3); throws ENOENT like fs.realpathSync when the path does not exist. */
  realpath(p: string): string;
  /** readlink(2); undefined when `p` does not exist or is not a symlink. */
  readlink(p: string): string | undefined;
  /** Bounded asynchronous reads, for paths on a mount that may not answer (a wedged FUSE daemon). */
  promises: Pick<typeof fs.promises, 'stat' | 'realpath' | 'readdir'>;
  /**
   * Write `text` to `p`, creating its folder. `atomic` writes a temporary file and
   * renames it into place; `exclusive` fails (returns false) when `p` exists.
   * Returns true when written (under dryrun: true).
   */
  writeText(p: string, text: string | Buffer, o?: { atomic?: boolean; exclusive?: boolean; mode?: number }): boolean;
  /** mkdir -p; with `mode` (chmod(2), so the umask does not narrow it) and `uid`/`gid` (chown(2): EPERM when not root) on `p` itself. */
  mkdir(p: string, o?: { mode?: number; uid?: number; gid?: number }): void;
  /** rm -rf: no error when nothing is there. */
  remove(p: string): void;
  /** rename(2). */
  rename(from: string, to: string): void;
  /** link(2): a hard link `to` of `from`, never replacing `to` (false when `to` exists; under dryrun true). */
  link(from: string, to: string): boolean;
  /** Make `p` a symbolic link to `target`, replacing what is at `p` atomically (a temporary link renamed over it). */
  symlink(target: string, p: string): void;
  /**
   * mkdtemp(3): a new folder `<prefix>XXXXXX` only this user can enter (mode 0700), for
   * secrets a command reads from a file (a registry authfile). Returns its path; under
   * dryrun nothing is made and the path is `<prefix>XXXXXX`.
   */
  mkdtemp(prefix: string): string;
}

/** The handler's JSON state files (see `state-file.ts`): validated reads, atomic locked writes. */
export interface StateFiles {
  /** Validated content, or undefined when the file does not exist (a corrupt file is RC 1). */
  read<S extends z.ZodType>(file: string, schema: S, repair?: string): z.output<S> | undefined;
  /** Write atomically. */
  write(file: string, value: unknown): void;
  /** Create only if absent (O_EXCL): true for the one caller that created it (under dryrun: true). */
  create(file: string, value: unknown): boolean;
  /** Read-modify-write under the file's lock; `fn` returns the new value (undefined: unchanged). Under dryrun `fn` runs on the current value and nothing is written or locked. */
  update<S extends z.ZodType, R extends z.output<S> | undefined>(file: string, schema: S, fn: (cur: z.output<S> | undefined) => R | Promise<R>, repair?: string): Promise<R>;
  /** Run `fn` holding the exclusive lock of `file` (RC 5 after `waitMs`); under dryrun nothing is locked. */
  lock<R>(file: string, fn: () => Promise<R> | R, waitMs?: number): Promise<R>;
  /** Remove the file (or folder), no error when it is gone. */
  remove(file: string): void;
}

/** Time. */
export interface Clock {
  /** Wall-clock time, ms since the epoch (Date.now). */
  now(): number;
  /** Resolve after `ms` milliseconds. */
  sleep(ms: number): Promise<void>;
  /** A monotonic reading in ms from an arbitrary origin (performance.now): for durations and deadlines. */
  monotonic(): number;
}

/** Signals to host processes. */
export interface Signals {
  /** True when a process with this pid exists (kill(pid, 0)). */
  alive(pid: number): boolean;
  /** Send `signal`; false when there is no such process. Under dryrun nothing is sent (true). */
  kill(pid: number, signal: NodeJS.Signals): boolean;
}

/** The effects of one verb call. */
export interface Effects {
  fs: Files;
  state: StateFiles;
  clock: Clock;
  signal: Signals;
  /**
   * A step with a side effect whose outcome later steps use (a QMP job, a rename that
   * is undone on failure, an answer read back from a resource the call just made):
   * runs `step`, or under dryrun returns `planned` (what it would give on success).
   */
  effect<T>(step: () => Promise<T> | T, planned: T): Promise<T>;
}

const missing = (e: unknown) => ['ENOENT', 'ENOTDIR'].includes((e as NodeJS.ErrnoException).code ?? '');

function readPart(p: string, bytes: number, fromEnd: boolean): Buffer | undefined {
  let fd: number;
  try {
    fd = fs.openSync(p, 'r');
  } catch (e) {
    if (missing(e)) return undefined;
    throw e;
  }
  try {
    const size = fs.fstatSync(fd).size;
    const n = Math.min(bytes, size);
    const buf = Buffer.alloc(n);
    const got = fs.readSync(fd, buf, 0, n, fromEnd ? size - n : 0);
    return buf.subarray(0, got);
  } finally {
    fs.closeSync(fd);
  }
}

const orUndefined = <T>(f: () => T): T | undefined => {
  try {
    return f();
  } catch (e) {
    if (missing(e)) return undefined;
    throw e;
  }
};

/** Host reads, shared by the real and the dryrun {@link Files}. */
const reads: Omit<Files, 'writeText' | 'mkdir' | 'remove' | 'rename' | 'link' | 'symlink' | 'mkdtemp'> = {
  exists: (p) => fs.existsSync(p),
  readText: (p) => orUndefined(() => fs.readFileSync(p, 'utf8')),
  readHead: (p, bytes) => readPart(p, bytes, false),
  readTail: (p, bytes) => readPart(p, bytes, true),
  stat: (p) => orUndefined(() => fs.statSync(p)),
  lstat: (p) => orUndefined(() => fs.lstatSync(p)),
  list: (dir) => orUndefined(() => fs.readdirSync(dir).sort()) ?? [],
  realpath: (p) => fs.realpathSync(p),
  readlink: (p) => {
    try {
      return fs.readlinkSync(p);
    } catch (e) {
      if (missing(e) || (e as NodeJS.ErrnoException).code === 'EINVAL') return undefined;
      throw e;
    }
  },
  promises: { stat: fs.promises.stat, realpath: fs.promises.realpath, readdir: fs.promises.readdir },
};

function writeText(p: string, text: string | Buffer, o: { atomic?: boolean; exclusive?: boolean; mode?: number } = {}): boolean {
  fs.mkdirSync(path.dirname(p), { recursive: true });
  if (o.exclusive) {
    try {
      fs.writeFileSync(p, text, { flag: 'wx', mode: o.mode });
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw e;
    }
  }
  if (o.atomic) writeFileAtomic(p, text, o.mode);
  else fs.writeFileSync(p, text, { mode: o.mode });
  return true;
}

/**
 * The effects for one call: real ones, or under `dryrun` ones whose writes do nothing
 * (each logged through `log` as `# would ...`, shown with trace=true).
 */
export function createEffects(o: { dryrun: boolean; log: (line: string) => void; clock?: Partial<Clock>; signal?: Signals }): Effects {
  // A test's clock may give only some of the readings; the rest are the real ones.
  const clock: Clock = { now: () => Date.now(), sleep: (ms) => new Promise((r) => setTimeout(r, ms)), monotonic: () => performance.now(), ...o.clock };
  const realSignal: Signals = o.signal ?? {
    alive: (pid) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch (e) {
        return (e as NodeJS.ErrnoException).code === 'EPERM';
      }
    },
    kill: (pid, signal) => {
      try {
        process.kill(pid, signal);
        return true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
        throw e;
      }
    },
  };
  if (!o.dryrun) {
    return {
      fs: {
        ...reads,
        writeText,
        mkdir: (p, m) => {
          fs.mkdirSync(p, { recursive: true });
          if (m?.mode !== undefined) fs.chmodSync(p, m.mode);
          if (m?.uid !== undefined || m?.gid !== undefined) fs.chownSync(p, m.uid ?? -1, m.gid ?? -1);
        },
        remove: (p) => fs.rmSync(p, { recursive: true, force: true }),
        rename: (a, b) => fs.renameSync(a, b),
        link: linkNew,
        symlink: (target, p) => {
          const tmp = `${p}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`;
          fs.symlinkSync(target, tmp);
          try {
            fs.renameSync(tmp, p);
          } catch (e) {
            fs.rmSync(tmp, { force: true });
            throw e;
          }
        },
        mkdtemp: (prefix) => {
          fs.mkdirSync(path.dirname(prefix), { recursive: true });
          return fs.mkdtempSync(prefix);
        },
      },
      state: {
        read: (file, schema, repair) => readState(file, schema, repair),
        write: (file, value) => writeState(file, value),
        create: (file, value) => createStateExclusive(file, value),
        update: (file, schema, fn, repair) => updateState(file, schema, fn, repair),
        lock: (file, fn, waitMs) => withLock(file, fn, waitMs),
        remove: (file) => fs.rmSync(file, { recursive: true, force: true }),
      },
      clock,
      signal: realSignal,
      effect: async (step) => step(),
    };
  }
  const would = (what: string) => o.log(`# would ${what}`);
  return {
    fs: {
      ...reads,
      writeText: (p) => (would(`write ${p}`), true),
      mkdir: (p) => would(`mkdir -p ${p}`),
      remove: (p) => would(`rm -rf ${p}`),
      rename: (a, b) => would(`mv ${a} ${b}`),
      link: (a, b) => (would(`ln ${a} ${b}`), true),
      symlink: (t, p) => would(`ln -sfn ${t} ${p}`),
      mkdtemp: (prefix) => (would(`mkdir -m 0700 ${prefix}XXXXXX`), `${prefix}XXXXXX`),
    },
    state: {
      read: (file, schema, repair) => readState(file, schema, repair),
      write: (file) => would(`write ${file}`),
      create: (file) => (would(`create ${file}`), true),
      update: async (file, schema, fn, repair) => {
        const next = await fn(readState(file, schema, repair));
        if (next !== undefined) would(`write ${file}`);
        return next;
      },
      lock: async (_file, fn) => fn(),
      remove: (file) => would(`rm -rf ${file}`),
    },
    clock,
    signal: { alive: realSignal.alive, kill: (pid, signal) => (would(`kill -${signal} ${pid}`), true) },
    effect: async (_step, planned) => planned,
  };
}
