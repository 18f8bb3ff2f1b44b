/**
 * Writing a new output file a verb was asked for (`zfs send file=`, LXCRI `checkpoint
 * export=`): written aside under a hidden temporary name in the same folder, then moved
 * into place in one step, so a reader never sees half a file and a failure leaves
 * nothing behind. An existing file is replaced only with `force`.
 */
import * as crypto from 'node:crypto';
import * as path from 'node:path';
import { alreadyExists, notFound, refused, usageError } from './errors';
import type { Ctx } from './verb';

/** stat(2) of `p`, or undefined when it cannot be had (missing, or unreadable). */
function statOrUndefined(ctx: Pick<Ctx, 'fs'>, p: string) {
  try {
    return ctx.fs.stat(p);
  } catch {
    return undefined;
  }
}

/** What a new output file is for: `what` starts the messages (`send: …`), `key` names the parameter. */
export interface NewFileOptions {
  force: boolean;
  what: string;
  key: string;
}

/**
 * The checks of {@link writeNewFile} alone, for a verb that must refuse before its
 * other work (a checkpoint that would end the container): RC 3 when the folder does
 * not exist, RC 2 for a folder, RC 7 for a symlink, RC 4 for an existing file without
 * `force`. Reads only.
 */
export function checkNewFile(ctx: Pick<Ctx, 'fs'>, file: string, o: NewFileOptions): void {
  const dir = path.dirname(file);
  const st = statOrUndefined(ctx, dir);
  if (!st) throw notFound(`${o.what}: folder ${dir} does not exist (${o.key}=${file})`);
  if (!st.isDirectory()) throw notFound(`${o.what}: ${dir} is not a folder (${o.key}=${file})`);
  if (ctx.fs.lstat(file)?.isSymbolicLink()) throw refused(`${o.what}: ${o.key}=${file} is a symlink; give the real path`);
  const existing = ctx.fs.stat(file);
  if (existing?.isDirectory()) throw usageError(`${o.what}: ${o.key}=${file} is a folder`);
  if (existing && !o.force) throw alreadyExists(`${o.what}: ${file} exists; give force=true to replace it`);
}

/**
 * Check `file` as a new output file ({@link checkNewFile}), then have `write(tmp)` write a hidden temporary
 * file beside it (`.NAME.rexx-partial-PID-RANDOM`, same folder so the move is a
 * rename), and move that into place: hard-linked (link(2) never replaces a file, so one
 * that appeared meanwhile is RC 4) or, with `force`, renamed over it. The temporary
 * file is removed whatever happens, so on failure `file` is as it was.
 *
 * RC 3 when the folder does not exist (or is not a folder); RC 2 when `file` is a
 * folder; RC 7 when `file` is a symlink (never written through, nor replaced: give the
 * real path); RC 4 when it exists and `force` is not given. `what` starts the messages
 * (`send: …`, `export: …`). Returns the size written in bytes (0 under dryrun).
 */
export async function writeNewFile(ctx: Ctx, file: string, o: NewFileOptions, write: (tmp: string) => Promise<void>): Promise<number> {
  checkNewFile(ctx, file, o);
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.rexx-partial-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
  try {
    await write(tmp);
    const bytes = ctx.fs.stat(tmp)?.size ?? 0;
    if (o.force) ctx.fs.rename(tmp, file);
    else if (!ctx.fs.link(tmp, file)) throw alreadyExists(`${o.what}: ${file} appeared while it was written; give force=true to replace it`);
    return bytes;
  } finally {
    ctx.fs.remove(tmp);
  }
}

/**
 * An input file a verb was asked to read (`restore import=`): RC 3 when it does not
 * exist, RC 7 when it is a symlink or not a regular file (a symlink's target could be
 * changed between this check and the read; a device or FIFO is not an archive).
 */
export function requireInputFile(ctx: Pick<Ctx, 'fs'>, file: string, o: { what: string; key: string }): void {
  const l = ctx.fs.lstat(file);
  if (!l) throw notFound(`${o.what}: ${o.key}=${file} does not exist`);
  if (l.isSymbolicLink()) throw refused(`${o.what}: ${o.key}=${file} is a symlink; give the real path`);
  if (!l.isFile()) throw refused(`${o.what}: ${o.key}=${file} is not a regular file`);
}
