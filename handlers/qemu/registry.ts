/**
 * The base registry: a base is a qcow2 image `<state>/images/NAME.qcow2` made
 * read-only (mode 0444) with a record `NAME.base.json` beside it (checksum, virtual
 * size, created), or a zvol snapshot recorded the same way. Any process reads the
 * same files. Clones are qcow2 overlays whose header names the base as backing file.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { notFound } from '../../shared/errors';
import type { Ctx } from '../../shared/verb';
import { imagesDir, readJson } from './state';

/** What `NAME.base.json` holds. */
export interface BaseRecord {
  name: string;
  kind: 'qcow2' | 'zvol';
  /** qcow2: the image file; zvol: the snapshot clones come from (pool/vol@rexx-base). */
  source: string;
  /** Virtual size in bytes. */
  virtualSize: number;
  /** `sha256:HEX` of the image file (qcow2 only). */
  checksum: string;
  /** ISO 8601. */
  created: string;
  description: string;
}

/** The fixed snapshot a zvol base's clones are made from. */
export const ZVOL_BASE_SNAPSHOT = 'rexx-base';

export const baseRecordPath = (ctx: Pick<Ctx, 'env'>, name: string) => path.join(imagesDir(ctx), `${name}.base.json`);

/** The base's record, or undefined. */
export const findBase = (ctx: Pick<Ctx, 'env'>, name: string) => readJson<BaseRecord>(baseRecordPath(ctx, name));

/** The base's record, or RC 3. */
export function loadBase(ctx: Pick<Ctx, 'env'>, name: string): BaseRecord {
  const b = findBase(ctx, name);
  if (!b) throw notFound(`base '${name}' is not registered (no ${baseRecordPath(ctx, name)})`);
  return b;
}

/** Every registered base. */
export function allBases(ctx: Pick<Ctx, 'env'>): BaseRecord[] {
  let files: string[] = [];
  try {
    files = fs.readdirSync(imagesDir(ctx)).filter((f) => f.endsWith('.base.json'));
  } catch {
    return [];
  }
  return files.flatMap((f) => {
    const r = readJson<BaseRecord>(path.join(imagesDir(ctx), f));
    return r ? [r] : [];
  });
}

/** The registered base whose image is `file`, if any (writes to it are refused). */
export function baseOfFile(ctx: Pick<Ctx, 'env'>, file: string): BaseRecord | undefined {
  const abs = path.resolve(file);
  if (path.dirname(abs) !== imagesDir(ctx)) return undefined;
  const m = /^(.+)\.qcow2$/.exec(path.basename(abs));
  return m ? findBase(ctx, m[1]!) : undefined;
}

/** `sha256:HEX` of a file, streamed. */
export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) h.update(chunk as Buffer);
  return `sha256:${h.digest('hex')}`;
}

/**
 * The backing file named in a qcow2 header (QEMU docs/interop/qcow2.txt: offset 8 is
 * the 64-bit backing_file_offset, offset 16 the 32-bit size), or undefined. Reading
 * 4 KiB is far cheaper than one `qemu-img info` per image.
 */
export function qcow2Backing(file: string): string | undefined {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const h = Buffer.alloc(20);
    if (fs.readSync(fd, h, 0, 20, 0) < 20 || h.readUInt32BE(0) !== 0x514649fb) return undefined;
    const off = Number(h.readBigUInt64BE(8));
    const len = h.readUInt32BE(16);
    if (!off || !len || len > 4096) return undefined;
    const b = Buffer.alloc(len);
    fs.readSync(fd, b, 0, len, off);
    const name = b.toString('utf8');
    return path.resolve(path.dirname(file), name);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Images in the images folder whose qcow2 header names `baseFile` as backing. */
export function overlaysOf(ctx: Pick<Ctx, 'env'>, baseFile: string): string[] {
  let files: string[] = [];
  try {
    files = fs.readdirSync(imagesDir(ctx)).filter((f) => f.endsWith('.qcow2'));
  } catch {
    return [];
  }
  return files
    .filter((f) => qcow2Backing(path.join(imagesDir(ctx), f)) === path.resolve(baseFile))
    .map((f) => f.replace(/\.qcow2$/, ''))
    .sort();
}
