/**
 * Backing-chain verbs on qemu-img: convert (a new standalone image), commit (an
 * overlay into its backing image) and rebase (another backing image, or none).
 * A registered base is never written (RC 7).
 */
import { refused, usageError } from '../../../shared/errors';
import type { ProgressTask } from '../../../shared/progress';
import { defineVerb } from '../../../shared/verb';
import { existing, FORMAT, formatOf, reserve, unreserve, writable } from '../disks';
import { checkNewImage } from '../hostfiles';
import { imageChain, qemuImg } from '../tool';
import { diskRef, DISK } from '../params';
import { baseOfFile } from '../registry';
import { diskPath, resolveDisk } from '../state';

export const convert = defineVerb({
  name: 'convert',
  summary: 'copy a disk to a new standalone image (qemu-img convert), e.g. qcow2 ↔ raw or flattening a clone',
  long: true,
  params: {
    ...DISK,
    target: { type: 'string', rule: diskRef, required: true, doc: 'new disk: a name in the images folder or an absolute path ending in .qcow2 or .raw as format= says (inside the state folder or REXX_QEMU_PATHS, else RC 7); RC 4 if it exists' },
    ...FORMAT,
    compress: { type: 'bool', default: false, doc: 'compress (qcow2 only, -c)' },
  },
  positional: ['name', 'target'],
  examples: ['convert name=web-1 target=web-1-flat', 'convert name=data target=/srv/export/data.raw format=raw'],
  vars: { DISK: 'the new image', FORMAT: 'its format' },
  async run(p, ctx) {
    const src = existing(ctx, resolveDisk(ctx, p, 'convert'));
    const dst = p.target.startsWith('/') ? p.target : diskPath(ctx, p.target, p.format);
    if (p.target.startsWith('/')) checkNewImage(ctx, `target=${p.target}`, dst, p.format);
    if (p.compress && p.format !== 'qcow2') throw usageError('convert: compress=true needs format=qcow2');
    const srcFmt = await formatOf(ctx, src);
    reserve(ctx, dst);
    // -p: qemu-img prints "(12.34/100%)" lines on stdout, ended by \r, as it copies (qemu-img(1)).
    const args = ['convert', '-p', '-f', srcFmt, '-O', p.format];
    if (p.compress) args.push('-c');
    const task = ctx.progress(`converting to ${p.format}`, { total: 100, unit: 'percent' });
    try {
      await qemuImg(ctx, [...args, src, dst], { onStdout: (text) => reportPercent(text, task) });
    } catch (e) {
      unreserve(ctx, dst);
      throw e;
    } finally {
      task.end();
    }
    return { result: dst, vars: { DISK: dst, FORMAT: p.format } };
  },
});

/** The last "(P/100%)" of a piece of `qemu-img -p` output, reported as `set(P)`. */
function reportPercent(text: string, task: ProgressTask): void {
  const all = [...text.matchAll(/\((\d+(?:\.\d+)?)\/100%\)/g)];
  const last = all[all.length - 1];
  if (last) task.set(Number(last[1]));
}

export const commit = defineVerb({
  name: 'commit',
  summary: 'write an overlay\'s changes into its backing image (qemu-img commit); refused (RC 7) when that is a registered base',
  params: { ...DISK },
  positional: ['name'],
  vars: { DISK: 'the overlay committed', BACKING: 'the image it was committed into' },
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
    backing: { type: 'string', rule: diskRef, doc: 'new backing image: a disk name or an absolute path (inside the state folder or REXX_QEMU_PATHS, else RC 7)' },
    flatten: { type: 'bool', default: false, doc: 'copy in all backing data and drop the backing file (-b "")' },
    unsafe: { type: 'bool', default: false, doc: 'only change the header; the data must already match (-u)' },
  },
  positional: ['name', 'backing'],
  examples: ['rebase name=web-1 backing=web-v2', 'rebase name=web-1 flatten=true'],
  vars: { DISK: 'the overlay', BACKING: 'its new backing file' },
  async run(p, ctx) {
    // -u only rewrites the header: the old backing file is not opened, so a bad one may be replaced.
    const file = writable(ctx, resolveDisk(ctx, p, 'rebase'), 'rebase', { backing: !p.unsafe });
    if (Boolean(p.backing) === p.flatten) throw usageError('rebase: give backing= or flatten=true (one of them)');
    const args = ['rebase', '-q', '-f', 'qcow2'];
    if (p.unsafe) args.push('-u');
    let newBacking = '';
    if (p.backing) {
      newBacking = existing(ctx, p.backing.startsWith('/') ? p.backing : diskPath(ctx, p.backing), `backing=${p.backing}`);
      args.push('-b', newBacking, '-F', await formatOf(ctx, newBacking));
    } else args.push('-b', '');
    await qemuImg(ctx, [...args, file]);
    return { result: newBacking, vars: { DISK: file, BACKING: newBacking } };
  },
});
