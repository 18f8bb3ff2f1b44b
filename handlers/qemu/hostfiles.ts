/**
 * Which host files the QEMU verbs hand to qemu-img and qemu-system. QEMU runs as the
 * handler's user (root here), so a path in a command string is a way into the host: a
 * disk or backing file is read and written by the guest, a kernel or initrd is loaded
 * into guest memory (and readable from it), a converted image is written anywhere.
 * The rule (shared/policy.ts, RC 7 unless REXX_QEMU_ALLOW_UNSAFE=1 in the handler's
 * environment):
 *
 * - every host file a parameter names (disk=, kernel=, initrd=, source=, target=,
 *   backing=), and every file a qcow2 header names (backing file, external data file),
 *   must be, after following symlinks, inside the state folder or a folder listed in
 *   env REXX_QEMU_PATHS (colon-separated absolute folders; default
 *   {@link DEFAULT_PATHS}, where scripts/build-qemu-guest.sh and
 *   scripts/build-qemu-full-guest.sh cache the test guests);
 * - an existing one must be a regular file (not /dev/sda, a FIFO or a socket);
 * - a backing file must be named by path (not `json:{…}` or `nbd://…`) and its format
 *   recorded in the header (qcow2 or raw), so QEMU never guesses a format from content.
 *
 * Malformed values (commas, relative paths, `..`) are RC 2 before this (params.ts).
 */
import * as path from 'node:path';
import { refused, usageError } from '../../shared/errors';
import { requireUnsafeAllowed, unsafeAllowed } from '../../shared/policy';
import type { Ctx } from '../../shared/verb';
import { qcow2Refs } from './qcow2';
import { lookupBase, zvolClone, type BaseRecord } from './registry';
import { stateDir, type VmDef } from './state';

/** Where host files may be besides the state folder when REXX_QEMU_PATHS is not set. */
export const DEFAULT_PATHS = '/var/lib/rexx-address/qemu-guest:/var/lib/rexx-address/qemu-full-guest';
/** Longest backing chain followed (QEMU itself refuses loops). */
const MAX_CHAIN = 64;

type PolicyCtx = Pick<Ctx, 'env' | 'table' | 'fs' | 'state'>;

/** `file` with symlinks resolved; for a file not there yet, its nearest existing folder resolved. */
function realPath(ctx: Pick<Ctx, 'fs'>, file: string): string {
  const rest: string[] = [];
  let p = path.resolve(file);
  for (;;) {
    try {
      return path.join(ctx.fs.realpath(p), ...rest);
    } catch {
      const up = path.dirname(p);
      if (up === p) return path.join(p, ...rest);
      rest.unshift(path.basename(p));
      p = up;
    }
  }
}

/** The folders host files may be in (real paths): the state folder and REXX_QEMU_PATHS. RC 2 for a relative entry. */
export function allowedFolders(ctx: Pick<Ctx, 'env' | 'fs'>): string[] {
  const extra = (ctx.env.REXX_QEMU_PATHS ?? DEFAULT_PATHS).split(':').filter(Boolean);
  for (const d of extra) if (!path.isAbsolute(d)) throw usageError(`REXX_QEMU_PATHS: ${JSON.stringify(d)} is not an absolute folder`);
  return [stateDir(ctx), ...extra].map((d) => realPath(ctx, d));
}

/** stat(2) of `file`, undefined when it cannot be read (not there, a loop, no permission). */
function statOrNone(ctx: Pick<Ctx, 'fs'>, file: string) {
  try {
    return ctx.fs.stat(file);
  } catch {
    return undefined;
  }
}

const inside = (file: string, folder: string) => file === folder || file.startsWith(folder.endsWith('/') ? folder : `${folder}/`);

/**
 * Check one host file a verb is about to hand to QEMU; `what` names it for the message
 * (e.g. "disk=/srv/x.qcow2"). RC 7 when it is outside the allowed folders, or exists
 * and is not a regular file, unless unsafe settings are allowed.
 */
export function checkHostFile(ctx: PolicyCtx, what: string, file: string): void {
  const real = realPath(ctx, file);
  const folders = allowedFolders(ctx);
  const shown = real === path.resolve(file) ? '' : ` (${real})`;
  if (!folders.some((f) => inside(real, f))) {
    requireUnsafeAllowed(ctx, `${what}${shown}`,
      `it is outside the state folder and REXX_QEMU_PATHS (${folders.join(', ')}), and QEMU would read it into a guest or write it on the host; ` +
      'add its folder to REXX_QEMU_PATHS in the handler\'s environment if it is meant for VM images');
  }
  const st = statOrNone(ctx, file);
  if (!st) return; // not there (yet): the verb creates it, or the tool says not found
  if (!st.isFile()) {
    const kind = st.isBlockDevice() ? 'block device' : st.isCharacterDevice() ? 'character device' : st.isDirectory() ? 'folder' : 'FIFO or socket';
    requireUnsafeAllowed(ctx, `${what}${shown}`, `it is a ${kind}, not an image file, and a guest would get the host's ${kind}`);
  }
}

/**
 * Check an image and everything its qcow2 headers name, down the backing chain,
 * reading only the headers (nothing named is opened): each backing file and external
 * data file as {@link checkHostFile}, each backing file named by path with its format
 * (qcow2 or raw) recorded. RC 7 otherwise, unless unsafe settings are allowed.
 * `backing: false` checks only the image and its data file, for a tool run that does
 * not open the backing file (`qemu-img rebase -u`).
 */
export function checkImage(ctx: PolicyCtx, what: string, file: string, opts: { backing?: boolean } = {}): void {
  checkHostFile(ctx, what, file);
  if (unsafeAllowed(ctx)) return;
  let cur = file;
  for (let depth = 0; depth < MAX_CHAIN; depth++) {
    const h = qcow2Refs(ctx, cur);
    if (!h) return; // raw (or unreadable: the tool will say): names nothing
    if (h.dataFile !== undefined) checkHostFile(ctx, `the external data file ${h.dataFile} of ${cur}`, path.resolve(path.dirname(cur), h.dataFile));
    if (h.backing === undefined || opts.backing === false) return;
    const of = `the backing file ${JSON.stringify(h.backing)} of ${cur}`;
    if (!h.backing.startsWith('/') && /^[A-Za-z][A-Za-z0-9+.-]*:/.test(h.backing)) {
      requireUnsafeAllowed(ctx, of, 'it names a protocol or a json: specification, not a file');
    }
    const next = path.resolve(path.dirname(cur), h.backing);
    checkHostFile(ctx, of, next);
    if (h.backingFormat !== 'qcow2' && h.backingFormat !== 'raw') {
      requireUnsafeAllowed(ctx, of, h.backingFormat === undefined
        ? 'its format is not recorded, so QEMU would guess it from the file\'s content (rebase with backing= records it)'
        : `its format ${h.backingFormat} is neither qcow2 nor raw`);
    }
    if (h.backingFormat !== 'qcow2') return;
    cur = next;
  }
  throw refused(`${what}: its backing chain is longer than ${MAX_CHAIN} images`);
}

/**
 * A new image file a verb creates (create_disk disk=, convert target=): allowed as
 * {@link checkHostFile}, and named for its format (`.qcow2` or `.raw`, RC 2 otherwise):
 * the handler reads an image's format from its name and never lets QEMU guess it from
 * content a guest may have written.
 */
export function checkNewImage(ctx: PolicyCtx, what: string, file: string, format: string): void {
  if (!file.endsWith(`.${format}`)) throw usageError(`${what}: a new ${format} image's name must end in .${format}`);
  checkHostFile(ctx, what, file);
}

/**
 * Check the host files a VM definition hands to qemu-system (at create and again at
 * every start, since files change): kernel, initrd, the cloud-init seed, and the disk with its chain. The
 * disk of a zvol clone (`/dev/zvol/…`, made by clone_from_base from a registered zvol
 * base) is the one device allowed: `base` is that base when the caller has it, else it
 * is looked up (registry.ts, a read of ZFS).
 */
export async function checkVmFiles(ctx: Ctx, def: Pick<VmDef, 'name' | 'disk' | 'format' | 'base' | 'kernel' | 'initrd' | 'seed'>, base?: BaseRecord): Promise<void> {
  if (def.kernel) checkHostFile(ctx, `kernel=${def.kernel}`, def.kernel);
  if (def.initrd) checkHostFile(ctx, `initrd=${def.initrd}`, def.initrd);
  if (def.seed) checkHostFile(ctx, `seed ${def.seed}`, def.seed);
  if (!def.disk) return;
  const zvol = def.base && def.format === 'raw' && def.disk.startsWith('/dev/zvol/') ? (base ?? (await lookupBase(ctx, def.base))) : undefined;
  if (zvol?.kind === 'zvol' && def.disk === zvolClone(zvol, def.name).disk) return;
  checkImage(ctx, `disk=${def.disk}`, def.disk);
}
