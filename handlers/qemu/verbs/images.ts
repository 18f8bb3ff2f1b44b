/**
 * Image verbs on qemu-img: create_disk, info, resize, convert, commit, rebase. A disk
 * is `name=` (the file <state>/images/NAME.qcow2 or NAME.raw) or `disk=` (an explicit
 * absolute path). Writes to a registered base are refused (RC 7).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { alreadyExists, notFound, refused, usageError } from '../../../shared/errors';
import { sizeValue } from '../../../shared/names';
import { stem } from '../../../shared/result';
import { defineVerb, type Ctx } from '../../../shared/verb';
import { imageChain, qemuImg, toBytes } from '../img';
import { diskRef, DISK } from '../params';
import { baseOfFile } from '../registry';
import { diskPath, imagesDir, resolveDisk } from '../state';

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

function existing(file: string): string {
  if (!fs.existsSync(file)) throw notFound(`image ${file} not found`);
  return file;
}

function writable(ctx: Ctx, file: string, verb: string): string {
  const b = baseOfFile(ctx, existing(file));
  if (b) throw refused(`${verb}: ${file} is the registered base '${b.name}' (read-only; unregister_base first)`);
  return file;
}

/** The format of an image: from its extension in the images folder, else from qemu-img info. */
async function formatOf(ctx: Ctx, file: string): Promise<string> {
  if (path.dirname(file) === imagesDir(ctx)) {
    if (file.endsWith('.qcow2')) return 'qcow2';
    if (file.endsWith('.raw')) return 'raw';
  }
  return (await imageChain(ctx, file, { forceShare: true }))[0]!.format;
}

const FORMAT = { format: { type: 'enum', values: ['qcow2', 'raw'], default: 'qcow2', doc: 'image format' } } as const;

export const createDisk = defineVerb({
  name: 'create_disk',
  summary: 'create an empty disk image (qemu-img create): name= in the images folder or disk= path; RC 4 if it exists',
  params: { ...DISK, size: { type: 'string', required: true, rule: sizeValue, doc: 'virtual size: 1G, 512M, 512MiB, bytes' }, ...FORMAT },
  positional: ['name', 'size'],
  examples: ['create_disk name=data size=1G', 'create_disk disk=/srv/vm/scratch.raw size=512M format=raw'],
  async run(p, ctx) {
    resolveDisk(ctx, p, 'create_disk');
    const file = p.disk ?? diskPath(ctx, p.name!, p.format);
    if (p.name && fs.existsSync(diskPath(ctx, p.name, p.format === 'raw' ? 'qcow2' : 'raw'))) {
      throw alreadyExists(`disk ${p.name} already exists in another format`);
    }
    const bytes = toBytes(p.size);
    reserve(ctx, file);
    try {
      await qemuImg(ctx, ['create', '-q', '-f', p.format, file, String(bytes)]);
    } catch (e) {
      unreserve(ctx, file);
      throw e;
    }
    return { result: file, vars: { DISK: file, FORMAT: p.format, VIRTUAL_SIZE: bytes } };
  },
});

export const info = defineVerb({
  name: 'info',
  summary: 'image format, virtual and actual size (bytes), backing chain (qemu-img info --output=json --backing-chain -U)',
  params: { ...DISK },
  positional: ['name'],
  examples: ['info name=web-1'],
  async run(p, ctx) {
    const file = existing(resolveDisk(ctx, p, 'info'));
    const chain = await imageChain(ctx, file, { forceShare: true });
    const top = chain[0]!;
    const base = baseOfFile(ctx, chain[1]?.filename ?? '');
    return {
      result: chain.map((i) => `${i.filename} ${i.format} ${i['virtual-size']}`).join('\n'),
      vars: {
        DISK: file,
        FORMAT: top.format,
        VIRTUAL_SIZE: top['virtual-size'],
        ACTUAL_SIZE: top['actual-size'] ?? 0,
        BACKING: chain[1]?.filename ?? '',
        BASE: base?.name ?? '',
        CHAIN: stem(chain.map((i) => i.filename)),
        CHAIN_FORMATS: stem(chain.map((i) => i.format)),
        SNAPSHOTS: stem((top.snapshots ?? []).map((s) => s.name)),
      },
    };
  },
});

export const resize = defineVerb({
  name: 'resize',
  summary: 'set a disk\'s virtual size (qemu-img resize); shrinking needs shrink=true; a base is refused (RC 7)',
  params: { ...DISK, size: { type: 'string', required: true, rule: sizeValue, doc: 'new virtual size' }, shrink: { type: 'bool', default: false, doc: 'allow making it smaller (data past the end is lost)' } },
  positional: ['name', 'size'],
  async run(p, ctx) {
    const file = writable(ctx, resolveDisk(ctx, p, 'resize'), 'resize');
    const args = ['resize', '-q', '-f', await formatOf(ctx, file)];
    if (p.shrink) args.push('--shrink');
    await qemuImg(ctx, [...args, file, String(toBytes(p.size))]);
    return { result: file, vars: { DISK: file, VIRTUAL_SIZE: toBytes(p.size) } };
  },
});

export const convert = defineVerb({
  name: 'convert',
  summary: 'copy a disk to a new standalone image (qemu-img convert), e.g. qcow2 ↔ raw or flattening a clone',
  params: {
    ...DISK,
    target: { type: 'string', rule: diskRef, required: true, doc: 'new disk: a name in the images folder or an absolute path; RC 4 if it exists' },
    ...FORMAT,
    compress: { type: 'bool', default: false, doc: 'compress (qcow2 only, -c)' },
  },
  positional: ['name', 'target'],
  examples: ['convert name=web-1 target=web-1-flat', 'convert name=data target=/srv/export/data.raw format=raw'],
  async run(p, ctx) {
    const src = existing(resolveDisk(ctx, p, 'convert'));
    const dst = p.target.startsWith('/') ? p.target : diskPath(ctx, p.target, p.format);
    if (p.compress && p.format !== 'qcow2') throw usageError('convert: compress=true needs format=qcow2');
    const srcFmt = await formatOf(ctx, src);
    reserve(ctx, dst);
    const args = ['convert', '-f', srcFmt, '-O', p.format];
    if (p.compress) args.push('-c');
    try {
      await qemuImg(ctx, [...args, src, dst]);
    } catch (e) {
      unreserve(ctx, dst);
      throw e;
    }
    return { result: dst, vars: { DISK: dst, FORMAT: p.format } };
  },
});

export const commit = defineVerb({
  name: 'commit',
  summary: 'write an overlay\'s changes into its backing image (qemu-img commit); refused (RC 7) when that is a registered base',
  params: { ...DISK },
  positional: ['name'],
  async run(p, ctx) {
    const file = writable(ctx, resolveDisk(ctx, p, 'commit'), 'commit');
    const chain = await imageChain(ctx, file);
    const backing = chain[1]?.filename;
    if (!backing) throw usageError(`commit: ${file} has no backing image`);
    const b = baseOfFile(ctx, backing);
    if (b) throw refused(`commit: the backing image of ${file} is the registered base '${b.name}', which stays read-only`);
    await qemuImg(ctx, ['commit', '-q', '-f', chain[0]!.format, file]);
    return { result: backing, vars: { DISK: file, BACKING: backing } };
  },
});

export const rebase = defineVerb({
  name: 'rebase',
  summary: 'point an overlay at another backing image (qemu-img rebase -b NEW -F FMT; unsafe=true only rewrites the header, -u); flatten=true makes it standalone',
  params: {
    ...DISK,
    backing: { type: 'string', rule: diskRef, doc: 'new backing image: a disk name or an absolute path' },
    flatten: { type: 'bool', default: false, doc: 'copy in all backing data and drop the backing file (-b "")' },
    unsafe: { type: 'bool', default: false, doc: 'only change the header; the data must already match (-u)' },
  },
  positional: ['name', 'backing'],
  examples: ['rebase name=web-1 backing=web-v2', 'rebase name=web-1 flatten=true'],
  async run(p, ctx) {
    const file = writable(ctx, resolveDisk(ctx, p, 'rebase'), 'rebase');
    if (Boolean(p.backing) === p.flatten) throw usageError('rebase: give backing= or flatten=true (one of them)');
    const args = ['rebase', '-q', '-f', 'qcow2'];
    if (p.unsafe) args.push('-u');
    let newBacking = '';
    if (p.backing) {
      newBacking = existing(p.backing.startsWith('/') ? p.backing : diskPath(ctx, p.backing));
      args.push('-b', newBacking, '-F', await formatOf(ctx, newBacking));
    } else args.push('-b', '');
    await qemuImg(ctx, [...args, file]);
    return { result: newBacking, vars: { DISK: file, BACKING: newBacking } };
  },
});

