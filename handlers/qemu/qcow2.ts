/**
 * What a qcow2 header names besides the image itself, read from the file without
 * opening anything it names (QEMU docs/interop/qcow2.txt): the backing file (offset 8:
 * 64-bit backing_file_offset, offset 16: 32-bit size), and the header extensions after
 * the header (72 bytes in version 2, `header_length` at offset 100 in version 3):
 * 0xe2792aca the backing file's format, 0x44415441 an external data file.
 */
import type { Ctx } from '../../shared/verb';

const MAGIC = 0x514649fb; // "QFI\xfb"
const EXT_END = 0x00000000;
const EXT_BACKING_FORMAT = 0xe2792aca;
const EXT_DATA_FILE = 0x44415441;
/** How far past the start the header and its extensions are read (bytes): QEMU stops at the first cluster, at most 2 MiB. */
const MAX_HEADER = 2 * 2 ** 20;

/** The files a qcow2 header names, as written there (relative names are relative to the image's folder). */
export interface Qcow2Refs {
  /** qcow2 version (2 or 3). */
  version: number;
  backing?: string;
  /** The backing file's format (`-F` when it was made); undefined when the header does not say. */
  backingFormat?: string;
  dataFile?: string;
}

/**
 * The header of `file` when it is a qcow2 image (by its magic), else undefined (raw, or
 * not readable). Reads the first cluster (at most {@link MAX_HEADER} bytes) plus the
 * longest backing name: QEMU refuses a backing name outside the first cluster.
 */
export function qcow2Refs(ctx: Pick<Ctx, 'fs'>, file: string): Qcow2Refs | undefined {
  try {
    const h = ctx.fs.readHead(file, 104);
    if (!h || h.length < 72 || h.readUInt32BE(0) !== MAGIC) return undefined;
    const clusterSize = 2 ** Math.min(h.readUInt32BE(20), 21);
    const all = ctx.fs.readHead(file, Math.min(clusterSize, MAX_HEADER) + MAX_BACKING_NAME) ?? h;
    return parseQcow2(all);
  } catch {
    return undefined;
  }
}

/** The longest backing file name read (bytes). */
const MAX_BACKING_NAME = 4096;

/** {@link Qcow2Refs} from the first bytes of a qcow2 image (its magic already checked). */
function parseQcow2(buf: Buffer): Qcow2Refs {
  const refs: Qcow2Refs = { version: buf.readUInt32BE(4) };
  const read = (pos: number, len: number) => buf.subarray(pos, pos + len).toString('utf8');
  const off = Number(buf.readBigUInt64BE(8));
  const len = buf.readUInt32BE(16);
  if (off && len && len <= MAX_BACKING_NAME) refs.backing = read(off, len);
  const clusterSize = 2 ** Math.min(buf.readUInt32BE(20), 21);
  let pos = refs.version >= 3 && buf.length >= 104 ? buf.readUInt32BE(100) : 72;
  const end = Math.min(clusterSize, MAX_HEADER, off || MAX_HEADER, buf.length);
  while (pos + 8 <= end) {
    const type = buf.readUInt32BE(pos);
    const size = buf.readUInt32BE(pos + 4);
    if (type === EXT_END || pos + 8 + size > end) break;
    if (type === EXT_BACKING_FORMAT) refs.backingFormat = read(pos + 8, size);
    if (type === EXT_DATA_FILE) refs.dataFile = read(pos + 8, size);
    pos += 8 + Math.ceil(size / 8) * 8;
  }
  return refs;
}
