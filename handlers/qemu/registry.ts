/**
 * The base registry, kept in the backend as every handler's is:
 *
 * - a qcow2 base is an image `<state>/images/NAME.qcow2` made read-only (mode 0444)
 *   with a record `NAME.base.json` beside it (checksum, virtual size, created): the
 *   registry for files. Any process reads the same files, through ctx.state
 *   (schema-checked; a corrupt record is RC 1 naming it). Its clones are qcow2 overlays
 *   whose header names the base as backing file;
 * - a zvol base is a ZFS volume registered in the ZFS handler's registry
 *   (handlers/zfs/registry.ts: the snapshot `@rexx-base` and `org.rexxjs:` user
 *   properties), so `ADDRESS ZFS list_bases` shows it too; the QEMU base name and the
 *   hardware its clones get are the volume's own user properties {@link QEMU_PROPS}.
 *   Its clones are `zfs clone`s beside it, booted as raw host devices.
 *
 * Registering and unregistering hold the lock of the name's record file (for a zvol
 * base only a lock), and a clone checks under the same lock that its base is still
 * registered, so of parallel callers exactly one registers, and no clone outlives an
 * unregister.
 */
import * as path from 'node:path';
import { lazySchema, type Infer } from '../../shared/schema';
import { classify, isReason, notFound } from '../../shared/errors';
import { qemuName } from './names';
import { CorruptStateError } from '../../shared/state-file';
import { undoAll } from '../../shared/undo';
import { listBases as zfsListBases, registerBase as zfsRegister, unregisterBase as zfsUnregister } from '../zfs/registry';
import { rows, zfs, ZFS_ERRORS } from '../zfs/tool';
import type { Ctx } from '../../shared/verb';
import { qcow2Refs } from './qcow2';
import { QEMU_ERRORS } from './errors';
import { diskPath, imagesDir, ruled, type Host } from './state';

/** The user properties a zvol base carries besides the ZFS registry's own. */
export const QEMU_PROPS = {
  /** The QEMU base name (clone_from_base base=NAME). */
  name: 'org.rexxjs:qemu-base',
  /** register_base memory=. */
  memory: 'org.rexxjs:qemu-memory',
  /** register_base cpus=. */
  cpus: 'org.rexxjs:qemu-cpus',
} as const;

/** What `NAME.base.json` holds (kind qcow2; a zvol base's record is kept in ZFS). */
export const BaseRecordSchema = lazySchema((z) => z.object({
  name: ruled(z, qemuName),
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
}));
export type BaseRecord = Infer<typeof BaseRecordSchema>;

export const baseRecordPath = (ctx: Pick<Ctx, 'env'>, name: string) => path.join(imagesDir(ctx), `${name}.base.json`);

/** How to repair a corrupt base record, for the RC 1 message. */
const baseRepair = (file: string, name: string) =>
  `fix it by hand, or forget the base with "unregister_base name=${name} force=true" and register it again`;

/**
 * The qcow2 base's record, or undefined when there is none. RC 1
 * ({@link CorruptStateError}) when the record does not parse, fails the schema, names
 * another base, or points its clones anywhere but its own image — a hand-edited source
 * would become every clone's `-b` — or says zvol (a zvol base is kept in ZFS).
 */
export function findBase(ctx: Host, name: string): BaseRecord | undefined {
  const file = baseRecordPath(ctx, name);
  const repair = baseRepair(file, name);
  const b = ctx.state.read(file, BaseRecordSchema(), repair);
  if (!b) return undefined;
  const bad = (why: string) => new CorruptStateError(file, why, repair);
  if (b.name !== name) throw bad(`name: "${b.name}" is not the file's name "${name}"`);
  if (b.kind === 'zvol') throw bad(`kind: a zvol base is registered in ZFS (org.rexxjs: properties of the volume), not in a record file`);
  if (b.source !== diskPath(ctx, name, 'qcow2')) throw bad(`source: a qcow2 base's image is ${diskPath(ctx, name, 'qcow2')}, not ${b.source}`);
  return b;
}

/**
 * Every zvol base: the volumes with a QEMU base name ({@link QEMU_PROPS}) that the ZFS
 * registry lists as registered (reads: one `zfs get` of those properties on every
 * dataset, then the registry's). None when zfs is not installed; RC 6 when ZFS does
 * not answer.
 */
export async function zvolBases(ctx: Ctx): Promise<BaseRecord[]> {
  const r = await ctx.run(['zfs', 'get', '-H', '-p', '-o', 'name,property,value', '-s', 'local', Object.values(QEMU_PROPS).join(',')], { readOnly: true, timeoutMs: 30_000 });
  if (r.missing) return [];
  if (!r.ok) throw classify(r, ZFS_ERRORS);
  const props = new Map<string, Record<string, string>>();
  for (const [n, k, v] of rows(r.stdout)) if (n && k && !n.includes('@')) props.set(n, { ...props.get(n), [k]: v ?? '' });
  const named = [...props].filter(([, p]) => p[QEMU_PROPS.name] && !qemuName.check(p[QEMU_PROPS.name]!));
  if (!named.length) return [];
  const registered = new Map((await zfsListBases(ctx)).map((b) => [b.name, b]));
  return named.flatMap(([dataset, p]) => {
    const b = registered.get(dataset);
    if (!b) return [];
    const cpus = Number(p[QEMU_PROPS.cpus]);
    return [{
      name: p[QEMU_PROPS.name]!, kind: 'zvol' as const, source: `${dataset}@${b.snapshot}`, virtualSize: 0, checksum: '',
      created: b.created ?? '', description: b.description ?? '',
      memory: p[QEMU_PROPS.memory] || undefined, cpus: Number.isInteger(cpus) && cpus >= 1 ? cpus : undefined,
    }];
  });
}

/** The base called `name`: its qcow2 record, else the zvol base of that name; undefined when there is none. RC 1 when the record is corrupt. */
export async function lookupBase(ctx: Ctx, name: string): Promise<BaseRecord | undefined> {
  return findBase(ctx, name) ?? (await zvolBases(ctx)).find((b) => b.name === name);
}

/** The base called `name`, or RC 3; RC 1 when its record is corrupt. */
export async function loadBase(ctx: Ctx, name: string): Promise<BaseRecord> {
  const b = await lookupBase(ctx, name);
  if (!b) throw notFound(`base '${name}' is not registered (no ${baseRecordPath(ctx, name)}, and no ZFS volume registered as it)`);
  return b;
}

/**
 * Run `fn` holding the lock of base `name`'s record (`NAME.base.json.lock`), waiting up
 * to `waitMs` for another holder (then RC 5). Under dryrun nothing is locked.
 */
export function withBaseLock<R>(ctx: Pick<Ctx, 'env' | 'state'>, name: string, fn: () => Promise<R> | R, waitMs?: number): Promise<R> {
  return ctx.state.lock(baseRecordPath(ctx, name), fn, waitMs);
}

/**
 * Register volume `zvol` as zvol base `name`: in the ZFS registry (snapshot
 * `@rexx-base`, `org.rexxjs:` properties; RC 4 when the volume is a registered base
 * already, RC 3 when it does not exist), then the QEMU name and hardware
 * ({@link QEMU_PROPS}). Either all of it is done or what was done is undone.
 */
export async function registerZvolBase(ctx: Ctx, name: string, zvol: string, o: { created: string; description?: string; memory?: string; cpus?: number }): Promise<BaseRecord> {
  const b = await zfsRegister(ctx, zvol, { description: o.description });
  const props: Array<[string, string]> = [[QEMU_PROPS.name, name]];
  if (o.memory) props.push([QEMU_PROPS.memory, o.memory]);
  if (o.cpus) props.push([QEMU_PROPS.cpus, String(o.cpus)]);
  try {
    for (const [k, v] of props) await zfs(ctx, ['set', `${k}=${v}`, zvol]);
  } catch (e) {
    throw await undoAll([{ what: `unregister ${zvol} (ZFS registry) and drop its ${QEMU_PROPS.name}`, run: () => unregisterZvol(ctx, zvol) }], e);
  }
  return { name, kind: 'zvol', source: `${zvol}@${b.snapshot}`, virtualSize: 0, checksum: '', created: o.created, description: o.description ?? '', memory: o.memory, cpus: o.cpus };
}

/** Forget zvol base `base`: unregister its volume in the ZFS registry (its snapshot goes, deferred while clones use it), then drop {@link QEMU_PROPS}. */
export async function unregisterZvolBase(ctx: Ctx, base: Pick<BaseRecord, 'source'>): Promise<void> {
  await unregisterZvol(ctx, base.source.split('@')[0]!);
}

async function unregisterZvol(ctx: Ctx, zvol: string): Promise<void> {
  await zfsUnregister(ctx, zvol);
  for (const k of Object.values(QEMU_PROPS)) await zfs(ctx, ['inherit', k, zvol]);
}

/** The dataset and device of VM `name`'s clone of zvol base `base`: a sibling of the base volume. */
export function zvolClone(base: Pick<BaseRecord, 'source'>, name: string): { dataset: string; disk: string } {
  const parent = base.source.split('@')[0]!.replace(/\/[^/]+$/, '');
  const dataset = `${parent}/${name}`;
  return { dataset, disk: `/dev/zvol/${dataset}` };
}

/** Every qcow2 base, and the record files that are corrupt (skipped, never fatal for the rest). */
export function qcow2Bases(ctx: Host): { bases: BaseRecord[]; corrupt: string[] } {
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

/**
 * Every base, qcow2 and zvol, by name, and the record files that are corrupt. When ZFS
 * does not answer (RC 6) the qcow2 bases are still listed, and the log says so.
 */
export async function allBases(ctx: Ctx): Promise<{ bases: BaseRecord[]; corrupt: string[] }> {
  const { bases, corrupt } = qcow2Bases(ctx);
  const zvols = await zvolBases(ctx).catch((e) => {
    if (!isReason(e, 'unavailable')) throw e;
    ctx.log(`qemu: zvol bases left out: ${(e as Error).message}`);
    return [];
  });
  return { bases: [...bases, ...zvols].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)), corrupt };
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
