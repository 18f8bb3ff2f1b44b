/**
 * Pools: `pool_status` (zpool list), `pool_check` (recommended settings for VM and
 * container storage), `pool_create` (zpool create with those settings) and
 * `pool_destroy` (zpool destroy, refused unless force=true).
 */
import { alreadyExists, classify, refused, usageError } from '../../../shared/errors';
import { hostPath } from '../../../shared/names';
import { argvLine } from '../../../shared/runner';
import { stem } from '../../../shared/result';
import { defineVerb, type Ctx } from '../../../shared/verb';
import { POOL, zfsPoolName, zfsSize } from '../params';
import { undoAll, type Undo } from '../../../shared/undo';
import { getProps, setProp } from '../dataset';
import { requireNotInUse } from '../in-use';
import { checkMountpoint } from '../mount-policy';
import { parseSize } from '../../../shared/size';
import { defaultPool, implementation, rows, zfsTimeout, zpool } from '../tool';

/** Recommended pool settings for VM/container storage; `level` says which command sets it. */
export const RECOMMENDED = [
  { property: 'ashift', value: '12', level: 'pool-create', openzfsOnly: false },
  { property: 'autotrim', value: 'on', level: 'pool', openzfsOnly: true },
  { property: 'compression', value: 'lz4', level: 'dataset', openzfsOnly: true },
  { property: 'xattr', value: 'sa', level: 'dataset', openzfsOnly: true },
  { property: 'atime', value: 'off', level: 'dataset', openzfsOnly: false },
] as const;

export const poolStatus = defineVerb({
  name: 'pool_status',
  summary: 'one pool: RESULT its health; HEALTH, SIZE, ALLOCATED, FREE (bytes, from zpool list), VERSION, CAPACITY (%)',
  params: { ...POOL },
  positional: ['pool'],
  vars: { POOL: 'the pool', HEALTH: 'ONLINE, DEGRADED, …', SIZE: 'bytes', ALLOCATED: 'bytes', FREE: 'bytes', CAPACITY: 'percent used', VERSION: 'pool version' },
  async run(p, ctx) {
    const pool = p.pool ?? defaultPool(ctx);
    const r = await zpool(ctx, ['list', '-H', '-o', 'name,size,allocated,free,capacity,health,version', pool], { readOnly: true });
    const [, size, alloc, free, cap, health, version] = rows(r.stdout)[0] ?? [];
    const vars = {
      POOL: pool,
      HEALTH: health ?? '',
      SIZE: parseSize(size ?? ''),
      ALLOCATED: parseSize(alloc ?? ''),
      FREE: parseSize(free ?? ''),
      CAPACITY: Number((cap ?? '').replace('%', '')),
      VERSION: version ?? '',
    };
    return { result: health ?? '', vars };
  },
});

interface Deviation { property: string; current: string; recommended: string; fix: string; applicable: boolean }

/** Read the current values and list the deviations from RECOMMENDED (exported for tests). */
async function deviations(ctx: Ctx, pool: string): Promise<Deviation[]> {
  const { impl } = await implementation(ctx);
  const openzfs = impl !== 'zfs-fuse';
  const current: Record<string, string> = {};
  const r = await zpool(ctx, ['get', openzfs ? 'ashift,autotrim' : 'ashift', pool], { readOnly: true });
  // `zpool get` without -H (zfs-fuse lacks it): header line, then NAME PROPERTY VALUE SOURCE.
  for (const line of r.stdout.split('\n').slice(1)) {
    const [, k, v] = line.trim().split(/\s+/);
    if (k) current[k] = v ?? '';
  }
  Object.assign(current, await getProps(ctx, pool, ['compression', 'xattr', 'atime']));
  const out: Deviation[] = [];
  for (const rec of RECOMMENDED) {
    const cur = current[rec.property] ?? (openzfs ? '' : 'unsupported');
    if (cur === rec.value) continue;
    const lacking = rec.openzfsOnly && !openzfs ? ' (needs OpenZFS; zfs-fuse lacks it)' : '';
    const fix =
      rec.level === 'pool-create'
        ? `recreate the pool: ${argvLine(['zpool', 'create', '-o', `${rec.property}=${rec.value}`, pool, 'VDEV'])} (ashift is fixed per vdev)`
        : rec.level === 'pool'
          ? argvLine(['zpool', 'set', `${rec.property}=${rec.value}`, pool]) + lacking
          : argvLine(['zfs', 'set', `${rec.property}=${rec.value}`, pool]) + lacking;
    out.push({ property: rec.property, current: cur, recommended: rec.value, fix, applicable: rec.level === 'dataset' && !lacking });
  }
  return out;
}

export const poolCheck = defineVerb({
  name: 'pool_check',
  summary: 'compare a pool with the recommended VM/container settings (ashift=12, autotrim=on, compression=lz4, xattr=sa, atime=off); each deviation with its fix; fix=true applies the dataset-level ones',
  params: { ...POOL, fix: { type: 'bool', default: false, doc: 'apply the dataset-level fixes this implementation supports (zfs set on the pool root)' } },
  positional: ['pool'],
  vars: {
    OK: '1 when nothing deviates, else 0',
    DEVIATIONS: { stem: 'properties that differ from the recommendation' },
    CURRENT: { stem: 'their current values' },
    RECOMMENDED: { stem: 'the recommended values' },
    FIXES: { stem: 'the command that fixes each' },
    FIXED: { stem: 'properties fixed by fix=true' },
  },
  async run(p, ctx) {
    const pool = p.pool ?? defaultPool(ctx);
    const devs = await deviations(ctx, pool);
    const fixed: string[] = [];
    if (p.fix) {
      for (const d of devs.filter((x) => x.applicable)) {
        await setProp(ctx, pool, d.property, d.recommended);
        fixed.push(d.property);
      }
    }
    const left = devs.filter((d) => !fixed.includes(d.property));
    return {
      result: left.map((d) => `${d.property} is ${d.current || '(unset)'}, recommended ${d.recommended}: ${d.fix}`).join('\n'),
      vars: {
        OK: left.length === 0 ? 1 : 0,
        DEVIATIONS: stem(left.map((d) => d.property)),
        CURRENT: stem(left.map((d) => d.current)),
        RECOMMENDED: stem(left.map((d) => d.recommended)),
        FIXES: stem(left.map((d) => d.fix)),
        FIXED: stem(fixed),
      },
    };
  },
});

export const poolCreate = defineVerb({
  name: 'pool_create',
  summary: 'create a pool on vdev files or devices with the recommended options (those this implementation supports); size= first makes a missing vdev file as a sparse file (removed again if zpool create fails); a mountpoint (default /POOL) over host files is RC 7',
  params: {
    pool: { type: 'string', required: true, rule: zfsPoolName, doc: 'name of the new pool' },
    vdev: { type: 'list', rule: hostPath, doc: 'vdev file (absolute path) or device (repeat for a stripe)' },
    size: { type: 'string', rule: zfsSize, doc: 'create each missing vdev FILE with this size (sparse, truncate -s) first' },
    recommended: { type: 'bool', default: true, doc: 'apply the recommended options (ashift=12, autotrim=on, compression=lz4, xattr=sa, atime=off; only those supported)' },
    mountpoint: { type: 'string', rule: hostPath, doc: 'mountpoint of the root dataset (zpool create -m; default /POOL): an absolute path, none or legacy; over a system path, a file, a non-empty directory or another mount it is RC 7 (README: Security)' },
  },
  positional: ['pool'],
  examples: ['pool_create pool=scratch vdev=/var/tmp/scratch.img size=1G'],
  vars: { POOL: 'the new pool', SKIPPED: { stem: 'recommended options this implementation lacks' } },
  async run(p, ctx) {
    if (!p.vdev.length) throw usageError('pool_create: give at least one vdev= (file or device)');
    if (p.vdev.some((v) => !v.startsWith('/'))) throw usageError('pool_create: vdev= must be an absolute path');
    // zfs-fuse checks the mountpoint before the name: an existing pool would be "mountpoint exists".
    const existing = await ctx.run(['zpool', 'list', '-H', '-o', 'name', p.pool], { readOnly: true, timeoutMs: zfsTimeout(ctx, 10_000) });
    if (existing.ok) throw alreadyExists(`pool_create: pool ${p.pool} already exists`);
    await checkMountpoint(ctx, p.pool, undefined, p.mountpoint ?? `/${p.pool}`, 'pool_create');
    const args = ['create'];
    const skipped: string[] = [];
    if (p.recommended) {
      const { impl } = await implementation(ctx);
      for (const r of RECOMMENDED) {
        if (r.openzfsOnly && impl === 'zfs-fuse') skipped.push(`${r.property}=${r.value}`);
        else args.push(r.level === 'dataset' ? '-O' : '-o', `${r.property}=${r.value}`);
      }
    }
    if (p.mountpoint) args.push('-m', p.mountpoint);
    args.push(p.pool, ...p.vdev);
    const undo: Undo[] = [];
    try {
      if (p.size) {
        for (const v of p.vdev) {
          if (ctx.fs.exists(v)) continue;
          await ctxRunOk(ctx, ['truncate', '-s', p.size, v]);
          undo.push({ what: `remove ${v}`, run: async () => ctx.fs.remove(v) });
        }
      }
      await zpool(ctx, args, { timeoutMs: zfsTimeout(ctx, 120_000) });
    } catch (e) {
      throw await undoAll(undo, e);
    }
    return { result: p.pool, vars: { POOL: p.pool, SKIPPED: stem(skipped) } };
  },
});

/** Run a helper command (truncate): its failure is the tool's (RC 1), a missing binary RC 6. */
async function ctxRunOk(ctx: Ctx, argv: string[]) {
  const r = await ctx.run(argv);
  if (!r.ok) throw classify(r, { patterns: [] });
}

export const poolDestroy = defineVerb({
  name: 'pool_destroy',
  summary: 'destroy a pool and everything on it (zpool destroy -f); refused (RC 7) unless force=true, and while any of its datasets is in use (IN_USE_BY stem)',
  params: {
    pool: { type: 'string', required: true, rule: zfsPoolName, doc: 'the pool to destroy' },
    force: { type: 'bool', default: false, doc: 'yes, destroy it and all its datasets' },
  },
  positional: ['pool'],
  vars: {},
  async run(p, ctx) {
    if (!p.force) throw refused(`pool_destroy: refusing to destroy pool ${p.pool} and all its data without force=true`);
    // zpool destroy -f unmounts every dataset, busy or not.
    await requireNotInUse(ctx, [p.pool], 'pool_destroy');
    await zpool(ctx, ['destroy', '-f', p.pool], { timeoutMs: zfsTimeout(ctx, 120_000) });
    return { result: p.pool };
  },
});
