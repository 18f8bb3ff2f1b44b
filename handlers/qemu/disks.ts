/**
 * Small disk-file helpers the image, base and VM verbs share: exclusive creation (so
 * two callers never both write one file), existence (RC 3), the write guard for
 * registered bases (RC 7), and an image's format.
 */
import { alreadyExists, notFound, refused } from '../../shared/errors';
import type { Ctx } from '../../shared/verb';
import { checkImage } from './hostfiles';
import { formatByName, imageChain } from './tool';
import { baseOfFile } from './registry';

/**
 * Create `file` empty and exclusively (O_EXCL), RC 4 when it exists, so two callers
 * never both write it. Under dryrun it only checks.
 */
export function reserve(ctx: Pick<Ctx, 'fs'>, file: string): void {
  if (ctx.fs.exists(file) || !ctx.fs.writeText(file, '', { exclusive: true })) throw alreadyExists(`${file} already exists`);
}

/** Undo a reservation after a failed create. */
export const unreserve = (ctx: Pick<Ctx, 'fs'>, file: string) => ctx.fs.remove(file);

/**
 * `file` if it exists (RC 3) and it and its chain may be handed to QEMU (hostfiles.ts
 * checkImage, RC 7; `backing: false` when the tool will not open the backing file).
 */
export function existing(ctx: Ctx, file: string, what = file, opts: { backing?: boolean } = {}): string {
  if (!ctx.fs.exists(file)) throw notFound(`image ${file} not found`);
  checkImage(ctx, what, file, opts);
  return file;
}

/** {@link existing}, and not a registered base (RC 7). */
export function writable(ctx: Ctx, file: string, verb: string, opts: { backing?: boolean } = {}): string {
  const b = baseOfFile(ctx, existing(ctx, file, file, opts));
  if (b) throw refused(`${verb}: ${file} is the registered base '${b.name}' (read-only; unregister_base first)`);
  return file;
}

/**
 * The format of an image: from its name (`.qcow2`, `.raw`: the handler names every
 * image it makes so), else what qemu-img info finds (a file someone else put in an
 * allowed folder).
 */
export async function formatOf(ctx: Ctx, file: string): Promise<string> {
  return formatByName(file) ?? (await imageChain(ctx, file, { forceShare: true }))[0]!.format;
}

/** The image format key create_disk and convert take. */
export const FORMAT = { format: { type: 'enum', values: ['qcow2', 'raw'], default: 'qcow2', doc: 'image format' } } as const;
