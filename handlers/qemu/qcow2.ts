/**
 * What a qcow2 header names besides the image itself, read from the file without
 * opening anything it names (QEMU docs/interop/qcow2.txt): the backing file (offset 8:
 * 64-bit backing_file_offset, offset 16: 32-bit size), and the header extensions after
 * the header (72 bytes in version 2, `header_length` at offset 100 in version 3):
 * 0xe2792aca the backing file's format, 0x44415441 an external data file.
 */
import * as fs from 'node:fs';

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

/** The header of `file` when it is a qcow2 image (by its magic), else undefined (raw, or not readable). */
export function qcow2Refs(file: string): Qcow2Refs | undefined {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const h = Buffer.alloc(104);
    const n = fs.readSync(fd, h, 0, h.length, 0);
    if (n < 72 || h.readUInt32BE(0) !== MAGIC) return undefined;
    const refs: Qcow2Refs = { version: h.readUInt32BE(4) };
    const read = (pos: number, len: number) => {
      const b = Buffer.alloc(len);
      return b.subarray(0, fs.readSync(fd!, b, 0, len, pos)).toString('utf8');
    };
    const off = Number(h.readBigUInt64BE(8));
    const len = h.readUInt32BE(16);
    if (off && len && len <= 4096) refs.backing = read(off, len);
    const clusterSize = 2 ** Math.min(h.readUInt32BE(20), 21);
    let pos = refs.version >= 3 && n >= 104 ? h.readUInt32BE(100) : 72;
    const end = Math.min(clusterSize, MAX_HEADER, off || MAX_HEADER);
    const ext = Buffer.alloc(8);
    while (pos + 8 <= end) {
      if (fs.readSync(fd, ext, 0, 8, pos) < 8) break;
      const type = ext.readUInt32BE(0);
      const size = ext.readUInt32BE(4);
      if (type === EXT_END || pos + 8 + size > end) break;
      if (type === EXT_BACKING_FORMAT) refs.backingFormat = read(pos + 8, size);
      if (type === EXT_DATA_FILE) refs.dataFile = read(pos + 8, size);
      pos += 8 + Math.ceil(size / 8) * 8;
    }
    return refs;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
