/**
 * The base registry: a base is a qcow2 image `<state>/images/NAME.qcow2` made
 * read-only (mode 0444) with a record `NAME.base.json` beside it (checksum, virtual
 * size, created), or a zvol snapshot recorded the same way. Any process reads the
 * same files, through shared/state-file.ts (schema-checked; a corrupt record is RC 1
 * naming it). Registering and unregistering hold the record's lock, and a clone checks
 * under the same lock that its base is still registered, so of parallel callers
 * exactly one registers, and no clone outlives an unregister. Clones are qcow2
 * overlays whose header names the base as backing file.
 */
import * as path from 'node:path';
import { z } from 'zod';
import { classify, notFound } from '../../shared/errors';
import { qemuName } from './names';
import { zfsDatasetName } from '../zfs/names';
import { CorruptStateError } from '../../shared/state-file';
import type { Ctx } from '../../shared/verb';
import { qcow2Refs } from './qcow2';
import { QEMU_ERRORS } from './errors';
import { diskPath, imagesDir, ruled, type Host } from './state';

import { BASE_SNAPSHOT as ZVOL_BASE_SNAPSHOT } from '../../shared/bases';
export { ZVOL_BASE_SNAPSHOT };

/** What `NAME.base.json` holds. */
export const BaseRecordSchema = z.object({
  name: ruled(qemuName),
  kind: z.enum(['qcow2', 'zvol']),
  /** qcow2: the image file (always <state>/images/NAME.qcow2); zvol: the snapshot clones come from (pool/vol@rexx-base). */
  source: z.string().min(1),
  /** Virtual size in bytes. */
  virtualSize: z.number().int().min(0),
  /** `sha256:HEX` of the image file (qcow2 only; '' for zvol). */
  checksum: z.string(),
  /** ISO 8601. */
  created: z.string(),
  description: z.string(),
  /** Memory and CPUs its clones get unless clone_from_base says otherwise (register_base memory= cpus=). */
  memory: z.string().optional(),
  cpus: z.number().int().min(1).optional(),
});
export type BaseRecord = z.infer<typeof BaseRecordSchema>;

export const baseRecordPath = (ctx: Pick<Ctx, 'env'>, name: string) => path.join(imagesDir(ctx), `${name}.base.json`);

/** How to repair a corrupt base record, for the RC 1 message. */
const baseRepair = (file: string, name: string) =>
  `fix it by hand, or forget the base with "unregister_base name=${name} force=true" and register it again`;

/**
 * The base's record, or undefined when it is not registered. RC 1
 * ({@link CorruptStateError}) when the record does not parse, fails the schema, names
 * another base, or points its clones anywhere but its own image (qcow2) or a
 * `@rexx-base` snapshot (zvol) — a hand-edited source would become every clone's `-b`.
 */
export function findBase(ctx: Host, name: string): BaseRecord | undefined {
  const file = baseRecordPath(ctx, name);
  const repair = baseRepair(file, name);
  const b = ctx.state.read(file, BaseRecordSchema, repair);
  if (!b) return undefined;
  const bad = (why: string) => new CorruptStateError(file, why, repair);
  if (b.name !== name) throw bad(`name: "${b.name}" is not the file's name "${name}"`);
  if (b.kind === 'qcow2' && b.source !== diskPath(ctx, name, 'qcow2')) throw bad(`source: a qcow2 base's image is ${diskPath(ctx, name, 'qcow2')}, not ${b.source}`);
  if (b.kind === 'zvol') {
    const [vol, snap, more] = b.source.split('@');
    if (more !== undefined || snap !== ZVOL_BASE_SNAPSHOT || zfsDatasetName.check(vol ?? '')) throw bad(`source: a zvol base's source is POOL/VOL@${ZVOL_BASE_SNAPSHOT}, not ${b.source}`);
  }
  return b;
}

/** The base's record, or RC 3; RC 1 when it is corrupt. */
export function loadBase(ctx: Host, name: string): BaseRecord {
  const b = findBase(ctx, name);
  if (!b) throw notFound(`base '${name}' is not registered (no ${baseRecordPath(ctx, name)})`);
  return b;
}

/**
 * Run `fn` holding the lock of base `name`'s record (`NAME.base.json.lock`), waiting up
 * to `waitMs` for another holder (then RC 5). Under dryrun nothing is locked.
 */
export function withBaseLock<R>(ctx: Pick<Ctx, 'env' | 'state'>, name: string, fn: () => Promise<R> | R, waitMs?: number): Promise<R> {
  return ctx.state.lock(baseRecordPath(ctx, name), fn, waitMs);
}

/** The dataset and device of VM `name`'s clone of zvol base `base`: a sibling of the base volume. */
export function zvolClone(base: Pick<BaseRecord, 'source'>, name: string): { dataset: string; disk: string } {
  const parent = base.source.split('@')[0]!.replace(/\/[^/]+$/, '');
  const dataset = `${parent}/${name}`;
  return { dataset, disk: `/dev/zvol/${dataset}` };
}

/** Every registered base, and the record files that are corrupt (skipped, never fatal for the rest). */
export function allBases(ctx: Host): { bases: BaseRecord[]; corrupt: string[] } {
  const files = ctx.fs.list(imagesDir(ctx)).filter((f) => f.endsWith('.base.json'));
  const bases: BaseRecord[] = [];
  const corrupt: string[] = [];
  for (const f of files) {
    try {
      const r = findBase(ctx, f.slice(0, -'.base.json'.length));
      if (r) bases.push(r);
    } catch (e) {
      if (!(e instanceof CorruptStateError)) throw e;
      corrupt.push(e.file);
    }
  }
  return { bases, corrupt };
}

/** The registered base whose image is `file`, if any (writes to it are refused); RC 1 when its record is corrupt. */
export function baseOfFile(ctx: Host, file: string): BaseRecord | undefined {
  const abs = path.resolve(file);
  if (path.dirname(abs) !== imagesDir(ctx)) return undefined;
  const m = /^(.+)\.qcow2$/.exec(path.basename(abs));
  return m ? findBase(ctx, m[1]!) : undefined;
}

/** `sha256:HEX` of a file (`sha256sum`, a read). RC 1 when it cannot be read. */
export async function sha256File(ctx: Ctx, file: string): Promise<string> {
  const r = await ctx.run(['sha256sum', '--', file], { readOnly: true, timeoutMs: 600_000 });
  const hex = /^([0-9a-f]{64})\b/.exec(r.stdout)?.[1];
  if (!r.ok || !hex) throw classify(r, QEMU_ERRORS);
  return `sha256:${hex}`;
}

/** The backing file named in `file`'s qcow2 header as an absolute path (see ./qcow2.ts), or undefined. */
export function qcow2Backing(ctx: Pick<Ctx, 'fs'>, file: string): string | undefined {
  const name = qcow2Refs(ctx, file)?.backing;
  return name === undefined ? undefined : path.resolve(path.dirname(file), name);
}

/** Images in the images folder whose qcow2 header names `baseFile` as backing. */
export function overlaysOf(ctx: Pick<Ctx, 'env' | 'fs'>, baseFile: string): string[] {
  return ctx.fs.list(imagesDir(ctx))
    .filter((f) => f.endsWith('.qcow2'))
    .filter((f) => qcow2Backing(ctx, path.join(imagesDir(ctx), f)) === path.resolve(baseFile))
    .map((f) => f.replace(/\.qcow2$/, ''))
    .sort();
}

/** Make a base's image read-only (mode 0444) or writable again (0644): `chmod`. RC 7 when not permitted. */
export async function readOnlyImage(ctx: Ctx, file: string, readOnly: boolean): Promise<void> {
  const r = await ctx.run(['chmod', readOnly ? '0444' : '0644', '--', file], { timeoutMs: 10_000 });
  if (!r.ok) throw classify(r, QEMU_ERRORS);
}
