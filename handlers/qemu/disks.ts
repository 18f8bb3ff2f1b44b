/**
 * Small disk-file helpers the image, base and VM verbs share: exclusive creation (so
 * two callers never both write one file), existence (RC 3), the write guard for
 * registered bases (RC 7), and an image's format.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { alreadyExists, notFound, refused } from '../../shared/errors';
import type { Ctx } from '../../shared/verb';
import { imageChain } from './img';
import { baseOfFile } from './registry';
import { imagesDir } from './state';

/** Create `file` exclusively (RC 4 when it exists) so two callers never both write it. */
export function reserve(ctx: Ctx, file: string): void {
  if (ctx.dryrun) {
    if (fs.existsSync(file)) throw alreadyExists(`${file} already exists`);
    return;
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  try {
    fs.closeSync(fs.openSync(file, 'wx'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw alreadyExists(`${file} already exists`);
    throw e;
  }
}

/** Undo a reservation after a failed create. */
export const unreserve = (ctx: Ctx, file: string) => {
  if (!ctx.dryrun) fs.rmSync(file, { force: true });
};

export function existing(file: string): string {
  if (!fs.existsSync(file)) throw notFound(`image ${file} not found`);
  return file;
}

export function writable(ctx: Ctx, file: string, verb: string): string {
  const b = baseOfFile(ctx, existing(file));
  if (b) throw refused(`${verb}: ${file} is the registered base '${b.name}' (read-only; unregister_base first)`);
  return file;
}

/** The format of an image: from its extension in the images folder, else from qemu-img info. */
export async function formatOf(ctx: Ctx, file: string): Promise<string> {
  if (path.dirname(file) === imagesDir(ctx)) {
    if (file.endsWith('.qcow2')) return 'qcow2';
    if (file.endsWith('.raw')) return 'raw';
  }
  return (await imageChain(ctx, file, { forceShare: true }))[0]!.format;
}

/** The image format key create_disk and convert take. */
export const FORMAT = { format: { type: 'enum', values: ['qcow2', 'raw'], default: 'qcow2', doc: 'image format' } } as const;
