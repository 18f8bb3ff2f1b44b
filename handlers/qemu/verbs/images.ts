/**
 * Image verbs on qemu-img: create_disk, info, resize. A disk is `name=` (the file
 * <state>/images/NAME.qcow2 or NAME.raw) or `disk=` (an explicit absolute path).
 * Writes to a registered base are refused (RC 7).
 */
import { alreadyExists } from '../../../shared/errors';
import { sizeValue } from '../names';
import { stem } from '../../../shared/result';
import { defineVerb } from '../../../shared/verb';
import { existing, FORMAT, formatOf, reserve, unreserve, writable } from '../disks';
import { checkNewImage } from '../hostfiles';
import { toBytes } from '../../../shared/size';
import { imageChain, qemuImg } from '../tool';
import { DISK } from '../params';
import { baseOfFile } from '../registry';
import { diskPath, resolveDisk } from '../state';

export const createDisk = defineVerb({
  name: 'create_disk',
  summary: 'create an empty disk image (qemu-img create): name= in the images folder or disk= path (ending in .qcow2 or .raw as format= says); RC 4 if it exists',
  params: { ...DISK, size: { type: 'string', required: true, rule: sizeValue, doc: 'virtual size: 1G, 512M, 512MiB, bytes' }, ...FORMAT },
  positional: ['name', 'size'],
  examples: ['create_disk name=data size=1G', 'create_disk disk=/srv/vm/scratch.raw size=512M format=raw'],
  vars: { DISK: 'the new image', FORMAT: 'qcow2 or raw', VIRTUAL_SIZE: 'bytes' },
  async run(p, ctx) {
    resolveDisk(ctx, p, 'create_disk');
    const file = p.disk ?? diskPath(ctx, p.name!, p.format);
    if (p.disk) checkNewImage(ctx, `disk=${p.disk}`, p.disk, p.format);
    if (p.name && ctx.fs.exists(diskPath(ctx, p.name, p.format === 'raw' ? 'qcow2' : 'raw'))) {
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
  vars: {
    DISK: 'the image',
    FORMAT: 'its format',
    VIRTUAL_SIZE: 'bytes the guest sees',
    ACTUAL_SIZE: 'bytes on the host',
    BACKING: 'its backing file',
    BASE: 'the registered base it is an overlay of',
    CHAIN: { stem: 'the image and its backing files, top first' },
    CHAIN_FORMATS: { stem: 'the format of each' },
    SNAPSHOTS: { stem: 'internal snapshots of the top image' },
  },
  async run(p, ctx) {
    const file = existing(ctx, resolveDisk(ctx, p, 'info'));
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
  vars: { DISK: 'the image', VIRTUAL_SIZE: 'the new size in bytes' },
  async run(p, ctx) {
    const file = writable(ctx, resolveDisk(ctx, p, 'resize'), 'resize');
    const args = ['resize', '-q', '-f', await formatOf(ctx, file)];
    if (p.shrink) args.push('--shrink');
    await qemuImg(ctx, [...args, file, String(toBytes(p.size))]);
    return { result: file, vars: { DISK: file, VIRTUAL_SIZE: toBytes(p.size) } };
  },
});
