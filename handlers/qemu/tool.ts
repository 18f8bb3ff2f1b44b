/**
 * `qemu-img` as the verbs use it: run through the shared runner, failures classified
 * into the shared error family, sizes converted to bytes, and the image info JSON
 * (`qemu-img info --output=json --backing-chain`, an array from the image down).
 */
import { classify } from '../../shared/errors';
import type { RunOptions, RunResult } from '../../shared/runner';
import type { Ctx } from '../../shared/verb';
import { QEMU_ERRORS } from './errors';
import { checkImage } from './hostfiles';

/** The format an image's name says (`X.qcow2`, `X.raw`), or undefined. */
export const formatByName = (file: string): 'qcow2' | 'raw' | undefined =>
  file.endsWith('.qcow2') ? 'qcow2' : file.endsWith('.raw') ? 'raw' : undefined;

/** Run `qemu-img ARGS`; throws the classified AddressError when it fails. */
export async function qemuImg(ctx: Ctx, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await ctx.run(['qemu-img', ...args], { timeoutMs: 600_000, ...opts });
  if (!r.ok) throw classify(r, QEMU_ERRORS);
  return r;
}

/** One image of `qemu-img info --output=json --backing-chain`. */
export interface ImageInfo {
  filename: string;
  format: string;
  'virtual-size': number;
  'actual-size'?: number;
  'backing-filename'?: string;
  'full-backing-filename'?: string;
  'backing-filename-format'?: string;
  snapshots?: Array<{ id: string; name: string; 'vm-state-size': number; 'date-sec': number; 'vm-clock-sec'?: number }>;
  'dirty-flag'?: boolean;
}

/**
 * The backing chain of `file`, the image itself first (a read: runs under dryrun too).
 * The chain is checked first (hostfiles.ts checkImage, RC 7), and a file named
 * `.qcow2` or `.raw` is read as that format (`-f`), never guessed from its content.
 */
export async function imageChain(ctx: Ctx, file: string, opts: { forceShare?: boolean } = {}): Promise<ImageInfo[]> {
  checkImage(ctx, file, file);
  const args = ['info', '--output=json', '--backing-chain'];
  const fmt = formatByName(file);
  if (fmt) args.push('-f', fmt);
  if (opts.forceShare) args.push('-U');
  const r = await qemuImg(ctx, [...args, file], { readOnly: true, timeoutMs: 30_000 });
  const j = JSON.parse(r.stdout) as ImageInfo | ImageInfo[];
  return Array.isArray(j) ? j : [j];
}
