/**
 * The one way a handler keeps JSON state on disk (QEMU VM and base records, the LXCRI
 * image index): every read is checked against a schema (zod), every write is atomic
 * (a uniquely named temporary file in the same folder, then rename(2)), and every
 * read-modify-write holds an exclusive lock (proper-lockfile: a `FILE.lock` directory,
 * refreshed while held, taken over when stale), so parallel scripts on one host never
 * lose each other's changes. A file that does not parse is reported, never replaced.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as Lockfile from 'proper-lockfile';

/** proper-lockfile, loaded on the first lock (and graceful-fs with it), not at start-up. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const lockfile = { lock: (...a: Parameters<typeof Lockfile.lock>) => (require('proper-lockfile') as typeof Lockfile).lock(...a) };
import type { z } from 'zod';
import { AddressError, timedOut } from './errors';

/** How long a caller waits for another call's lock before RC 5 (ms). */
export const LOCK_WAIT_MS = 30_000;
/** A lock not refreshed for this long belongs to a process that died, and is taken over (ms). */
const LOCK_STALE_MS = 10_000;

/**
 * A state file that exists but is not what its schema says (truncated, hand-edited,
 * from another version). RC 1; `file` names it, and the message says how to repair it.
 */
export class CorruptStateError extends AddressError {
  readonly file: string;
  constructor(file: string, why: string, repair: string) {
    super('toolFailed', `state file ${file} is corrupt (${why}): ${repair}`);
    this.file = file;
  }
}

/** What to tell the user when `file` is corrupt, unless the caller knows better. */
const defaultRepair = (file: string) => `fix it by hand, or move it away (mv ${file} ${file}.bad) and redo what it recorded`;

/** The first problem zod found, as one short phrase. */
function firstIssue(e: z.ZodError): string {
  const i = e.issues[0];
  if (!i) return 'does not match its schema';
  const where = i.path.length ? `${i.path.join('.')}: ` : '';
  return `${where}${i.message}`;
}

/**
 * Read and validate a JSON state file. Undefined when it does not exist; throws
 * {@link CorruptStateError} (RC 1) when it is not JSON or does not match `schema`.
 */
export function readState<S extends z.ZodType>(file: string, schema: S, repair = defaultRepair(file)): z.output<S> | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new CorruptStateError(file, text.trim() === '' ? 'empty' : `not JSON: ${(e as Error).message}`, repair);
  }
  const r = schema.safeParse(data);
  if (!r.success) throw new CorruptStateError(file, firstIssue(r.error), repair);
  return r.data;
}

/**
 * Write `value` as JSON atomically: a temporary file named for this process and a random
 * suffix in the same folder, flushed, then renamed over `file`. A reader sees the old
 * file or the new one, never half of one; two writers never share a temporary file.
 */
export function writeState(file: string, value: unknown): void {
  writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`, 0o644);
}

/**
 * Write `data` to `file` atomically (creating its folder): a temporary file named for this
 * process and a random suffix in the same folder, flushed, then renamed over `file`; on
 * failure the temporary file goes. `mode` as for open(2) (default 0o666, less the umask).
 */
export function writeFileAtomic(file: string, data: string | Buffer, mode = 0o666): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`;
  try {
    const fd = fs.openSync(tmp, 'wx', mode);
    try {
      fs.writeFileSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/** link(2) `to` as a new name of `from`: false when `to` exists (never replaced), other errors thrown. */
export function linkNew(from: string, to: string): boolean {
  try {
    fs.linkSync(from, to);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
}

/**
 * Create `file` with `value` only if it does not exist yet (O_EXCL), atomically: of N
 * parallel callers exactly one gets true. The content is written to a temporary file
 * first and hard-linked into place, so nobody ever reads a half-written file.
 */
export function createStateExclusive(file: string, value: unknown): boolean {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`;
  writeState(tmp, value);
  try {
    return linkNew(tmp, file);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/**
 * Run `fn` while holding the exclusive lock of `file` (which need not exist). Other
 * processes and other calls in this process wait, retrying with back-off, up to
 * `waitMs`; then RC 5 naming the file. A lock left by a process that died is taken
 * over after 10 s.
 */
export async function withLock<R>(file: string, fn: () => Promise<R> | R, waitMs = LOCK_WAIT_MS): Promise<R> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const retries = Math.max(1, Math.ceil(waitMs / 200));
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(file, {
      realpath: false,
      stale: LOCK_STALE_MS,
      retries: { retries, factor: 1.3, minTimeout: 5, maxTimeout: 200, randomize: true },
      // proper-lockfile's default throws from a timer, which would kill the caller's
      // whole interpreter; a compromised lock (its folder removed, or the event loop
      // blocked past `stale`) is only lost protection for the rest of this call.
      onCompromised: () => undefined,
    });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ELOCKED') {
      throw timedOut(`another call held the lock on ${file} for over ${Math.round(waitMs)} ms (a stale lock clears itself after ${LOCK_STALE_MS} ms)`);
    }
    throw e;
  }
  try {
    return await fn();
  } finally {
    await release().catch(() => undefined);
  }
}

/**
 * Read-modify-write a state file under its lock: `fn` gets the validated current
 * value (undefined when missing) and returns the new value, or undefined to leave the
 * file as it is. A corrupt file throws {@link CorruptStateError} before `fn` runs, so
 * it is never overwritten. Resolves to what `fn` returned.
 */
export async function updateState<S extends z.ZodType, R extends z.output<S> | undefined>(
  file: string,
  schema: S,
  fn: (current: z.output<S> | undefined) => R | Promise<R>,
  repair?: string,
): Promise<R> {
  return withLock(file, async () => {
    const next = await fn(readState(file, schema, repair));
    if (next !== undefined) writeState(file, next);
    return next;
  });
}
