/**
 * Pools: `pool_status` (zpool list and each device from zpool status), `pool_check`
 * (health, then the recommended settings for VM and container storage), `pool_create`
 * (zpool create with those settings: stripe, mirror, raidz, raidz2, log and cache
 * devices), `pool_destroy` (zpool destroy, refused unless force=true), `pool_export`,
 * `pool_import` and `scrub`.
 */
import { AddressError, alreadyExists, classify, isReason, refused, usageError } from '../../../shared/errors';
import { absHostPath, hostPath } from '../../../shared/names';
import { timeoutParam } from '../../../shared/params';
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
import { badDevices, poolStatusInfo } from '../pool-status';
import { cacheDeviceRefused } from '../errors';

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
  summary: 'one pool: RESULT its health; HEALTH, SIZE, ALLOCATED, FREE (bytes, from zpool list), VERSION, CAPACITY (%); each device and its state (zpool status), the scrub',
  params: { ...POOL },
  positional: ['pool'],
  vars: {
    POOL: 'the pool', HEALTH: 'ONLINE, DEGRADED, …', SIZE: 'bytes', ALLOCATED: 'bytes', FREE: 'bytes', CAPACITY: 'percent used', VERSION: 'pool version',
    DEVICES: { stem: 'the vdev groups (mirror-0, raidz2-0) and devices (file paths; a missing one by the path it was), log and cache devices included' },
    DEVICE_STATES: { stem: 'the state of each: ONLINE, DEGRADED, FAULTED, UNAVAIL, OFFLINE, REMOVED' },
    DEVICE_ROLES: { stem: 'data, log, cache or spare' },
    SCRUB_STATE: 'none, in progress, completed or stopped',
  },
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
    const st = await poolStatusInfo(ctx, pool);
    return {
      result: health ?? '',
      vars: {
        ...vars,
        DEVICES: stem(st.devices.map((d) => d.name)),
        DEVICE_STATES: stem(st.devices.map((d) => d.state)),
        DEVICE_ROLES: stem(st.devices.map((d) => d.role)),
        SCRUB_STATE: st.scrub.state,
      },
    };
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
  summary: 'compare a pool with the recommended VM/container settings (ashift=12, autotrim=on, compression=lz4, xattr=sa, atime=off); each deviation with its fix; fix=true applies the dataset-level ones; a pool that is not ONLINE or has a device that is not (DEGRADED, UNAVAIL, FAULTED) is RC 1 with HEALTH and BAD_DEVICES',
  params: { ...POOL, fix: { type: 'bool', default: false, doc: 'apply the dataset-level fixes this implementation supports (zfs set on the pool root)' } },
  positional: ['pool'],
  vars: {
    OK: '1 when nothing deviates, else 0',
    DEVIATIONS: { stem: 'properties that differ from the recommendation' },
    CURRENT: { stem: 'their current values' },
    RECOMMENDED: { stem: 'the recommended values' },
    FIXES: { stem: 'the command that fixes each' },
    FIXED: { stem: 'properties fixed by fix=true' },
    HEALTH: 'the pool\'s state (zpool status): ONLINE, DEGRADED, FAULTED, UNAVAIL',
    BAD_DEVICES: { stem: 'devices that are not ONLINE, as "NAME STATE (note)"; any makes it RC 1' },
  },
  async run(p, ctx) {
    const pool = p.pool ?? defaultPool(ctx);
    const st = await poolStatusInfo(ctx, pool);
    const bad = badDevices(st);
    if (st.state !== 'ONLINE' || bad.length) {
      // zfs-fuse keeps a mirror ONLINE whose leg lost its label (the leg is UNAVAIL): the devices decide too.
      throw new AddressError('toolFailed', `pool_check: pool ${pool} is ${st.state}${bad.length ? `: ${bad.join(', ')}` : ''}; replace or reattach the device (zpool replace / zpool online), then scrub`, {
        vars: { OK: 0, HEALTH: st.state, BAD_DEVICES: stem(bad) },
      });
    }
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
        HEALTH: st.state,
        BAD_DEVICES: stem([]),
      },
    };
  },
});

export const poolCreate = defineVerb({
  name: 'pool_create',
  summary: 'create a pool on vdev files or devices with the recommended options (those this implementation supports); size= first makes a missing vdev file as a sparse file (removed again if zpool create fails); a mountpoint (default /POOL) over host files is RC 7',
  params: {
    pool: { type: 'string', required: true, rule: zfsPoolName, doc: 'name of the new pool' },
    vdev: { type: 'list', rule: hostPath, doc: 'vdev file (absolute path) or device (repeat: a stripe, or the members of layout=)' },
    layout: { type: 'enum', values: ['stripe', 'mirror', 'raidz', 'raidz2'], default: 'stripe', doc: 'how the vdev= devices are combined: stripe (each its own vdev), mirror (at least 2), raidz (at least 2), raidz2 (at least 3)' },
    log: { type: 'list', rule: hostPath, doc: 'separate intent-log device (absolute path; repeat for several)' },
    cache: { type: 'list', rule: hostPath, doc: 'L2ARC cache device (absolute path; repeat for several); zfs-fuse accepts only disks here (RC 6 for a file)' },
    size: { type: 'string', rule: zfsSize, doc: 'create each missing vdev FILE with this size (sparse, truncate -s) first' },
    recommended: { type: 'bool', default: true, doc: 'apply the recommended options (ashift=12, autotrim=on, compression=lz4, xattr=sa, atime=off; only those supported)' },
    mountpoint: { type: 'string', rule: hostPath, doc: 'mountpoint of the root dataset (zpool create -m; default /POOL): an absolute path, none or legacy; over a system path, a file, a non-empty directory or another mount it is RC 7 (README: Security)' },
  },
  positional: ['pool'],
  examples: ['pool_create pool=scratch vdev=/var/tmp/scratch.img size=1G', 'pool_create pool=safe layout=mirror vdev=/var/tmp/a.img vdev=/var/tmp/b.img size=1G'],
  vars: { POOL: 'the new pool', SKIPPED: { stem: 'recommended options this implementation lacks' } },
  async run(p, ctx) {
    if (!p.vdev.length) throw usageError('pool_create: give at least one vdev= (file or device)');
    for (const [key, list] of [['vdev', p.vdev], ['log', p.log], ['cache', p.cache]] as const) {
      if (list.some((v) => !v.startsWith('/'))) throw usageError(`pool_create: ${key}= must be an absolute path`);
    }
    const all = [...p.vdev, ...p.log, ...p.cache];
    const twice = all.find((v, i) => all.indexOf(v) !== i);
    if (twice) throw usageError(`pool_create: ${twice} is given twice`);
    const least = MIN_VDEVS[p.layout];
    if (p.vdev.length < least) throw usageError(`pool_create: layout=${p.layout} needs at least ${least} vdev= devices, got ${p.vdev.length}`);
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
    args.push(p.pool, ...(p.layout === 'stripe' ? [] : [p.layout]), ...p.vdev);
    if (p.log.length) args.push('log', ...p.log);
    if (p.cache.length) args.push('cache', ...p.cache);
    const undo: Undo[] = [];
    try {
      if (p.size) {
        for (const v of all) {
          if (ctx.fs.exists(v)) continue;
          await ctxRunOk(ctx, ['truncate', '-s', p.size, v]);
          undo.push({ what: `remove ${v}`, run: async () => ctx.fs.remove(v) });
        }
      }
      await zpool(ctx, args, { timeoutMs: zfsTimeout(ctx, 120_000) });
    } catch (e) {
      // errors.ts calls zfs-fuse's "cache device must be a disk or disk slice" unavailable: name the
      // feature. The daemon answered, so the vdev files made above are removed (undoAll keeps them for RC 6).
      if (isReason(e, 'unavailable') && cacheDeviceRefused(e)) {
        const msg = `pool_create: cache= (L2ARC) devices on files are not supported by this ZFS (zfs-fuse takes only disks): ${e.message}`;
        throw new AddressError('unavailable', (await undoAll(undo, new AddressError('toolFailed', msg))).message, { cause: e });
      }
      throw await undoAll(undo, e);
    }
    return { result: p.pool, vars: { POOL: p.pool, SKIPPED: stem(skipped) } };
  },
});

/** The fewest vdev= devices each layout takes (OpenZFS's minimums; zfs-fuse's are the same). */
const MIN_VDEVS = { stripe: 1, mirror: 2, raidz: 2, raidz2: 3 } as const;

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

export const poolExport = defineVerb({
  name: 'pool_export',
  summary: 'export a pool (zpool export): its datasets are unmounted and it can be imported again, here or on another host; refused (RC 7) while any of its datasets is in use (IN_USE_BY stem)',
  params: { pool: { type: 'string', required: true, rule: zfsPoolName, doc: 'the pool to export' } },
  positional: ['pool'],
  vars: { POOL: 'the exported pool' },
  async run(p, ctx) {
    // An export unmounts every dataset, as destroy does: the same guard.
    await requireNotInUse(ctx, [p.pool], 'pool_export');
    await zpool(ctx, ['export', p.pool], { timeoutMs: zfsTimeout(ctx, 120_000) });
    return { result: p.pool, vars: { POOL: p.pool } };
  },
});

export const poolImport = defineVerb({
  name: 'pool_import',
  summary: 'import an exported pool (zpool import [-d DIR] POOL); dir= is the folder holding file vdevs (zpool searches only /dev without it)',
  params: {
    pool: { type: 'string', required: true, rule: zfsPoolName, doc: 'the pool to import' },
    dir: { type: 'string', rule: absHostPath, doc: 'folder to search for the vdevs (zpool import -d): an absolute path, e.g. /var/tmp for file vdevs' },
  },
  positional: ['pool'],
  vars: { POOL: 'the imported pool', HEALTH: 'its state after the import (zpool status): ONLINE, DEGRADED …' },
  async run(p, ctx) {
    await zpool(ctx, ['import', ...(p.dir ? ['-d', p.dir] : []), p.pool], { timeoutMs: zfsTimeout(ctx, 120_000) });
    const st = await poolStatusInfo(ctx, p.pool);
    return { result: p.pool, vars: { POOL: p.pool, HEALTH: st.state } };
  },
});

export const scrub = defineVerb({
  name: 'scrub',
  long: true,
  summary: 'start a scrub of a pool (zpool scrub), or stop one (stop=true: zpool scrub -s); wait=true polls zpool status until it is done (RC 5 at timeout=); RESULT and SCRUB_STATE: none, in progress, completed or stopped',
  params: {
    ...POOL,
    wait: { type: 'bool', default: false, doc: 'wait until the scrub is no longer in progress' },
    stop: { type: 'bool', default: false, doc: 'stop the running scrub instead (zpool scrub -s)' },
    ...timeoutParam(600_000, 'how long wait=true waits (default 10m), then RC 5 (the scrub goes on)'),
  },
  positional: ['pool'],
  vars: {
    POOL: 'the pool',
    SCRUB_STATE: 'none, in progress, completed or stopped (from zpool status)',
    SCRUB_ERRORS: 'errors the last scrub found (0 while none is known)',
    SCRUB_PERCENT: 'percent done (100 when completed)',
  },
  async run(p, ctx) {
    const pool = p.pool ?? defaultPool(ctx);
    if (p.stop && p.wait) throw usageError('scrub: stop=true and wait=true do not go together');
    await zpool(ctx, ['scrub', ...(p.stop ? ['-s'] : []), pool]);
    if (p.wait) {
      // The percent zpool status gives, beside the wait the poller itself shows.
      const task = ctx.progress(`scrub of ${pool}`, { unit: 'percent', total: 100 });
      try {
        await ctx.poll(
          async () => {
            const st = await poolStatusInfo(ctx, pool);
            task.set(st.scrub.percent);
            return st.scrub.state === 'in progress' ? undefined : st;
          },
          { timeoutMs: p.timeout, initialMs: 100, maxMs: 1_000, what: `the scrub of ${pool} to finish` },
        );
      } finally {
        task.end();
      }
    }
    const { scrub: s } = await poolStatusInfo(ctx, pool);
    return { result: s.state, vars: { POOL: pool, SCRUB_STATE: s.state, SCRUB_ERRORS: s.errors, SCRUB_PERCENT: s.percent } };
  },
});
