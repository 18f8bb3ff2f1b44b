/**
 * `status`: which ZFS implementation this is (OpenZFS or zfs-fuse), whether it answers,
 * its pools, and what it lacks that the verbs would otherwise use.
 */
import { isReason } from '../../../shared/errors';
import { stem } from '../../../shared/result';
import { statusOutput, statusVars, unreachable } from '../../../shared/status';
import { defineVerb } from '../../../shared/verb';
import { POOL } from '../params';
import { defaultPool, implementation, type Implementation, rows, zpool } from '../tool';

/** What each implementation lacks compared with OpenZFS 2.x (zfs-fuse 0.7 measured on this host; see host-notes.md). */
export const LACKS: Record<Implementation, string[]> = {
  openzfs: [],
  'zfs-fuse': [
    'zvols (create_volume, resize)',
    'compression=lz4',
    'xattr=sa',
    'autotrim',
    'feature flags (pool version 23 only)',
    'encryption',
    'bookmarks',
    'zfs holds listing (hold/release and userrefs work)',
    'zfs list -p, zpool get -H/-p',
    'zfs send -c/-L/-w/-n/-P, zfs receive -s/-o',
  ],
  unknown: [],
};

export const status = defineVerb({
  name: 'status',
  summary: 'handler version, ZFS implementation (openzfs|zfs-fuse) and what it lacks, pools; RC 6 with REACHABLE=0 when zfs/zpool do not answer (zfs-fuse daemon down)',
  params: { ...POOL },
  vars: {
    ...statusVars('1 when zfs answers, else 0'),
    IMPLEMENTATION: 'openzfs or zfs-fuse',
    IMPLEMENTATION_VERSION: 'its version',
    LACKS: { stem: 'features this implementation lacks' },
    POOLS: { stem: 'imported pools' },
    DEFAULT_POOL: 'the pool verbs use when pool= is not given',
    DEFAULT_POOL_HEALTH: 'its health, or MISSING',
  },
  async run(p, ctx) {
    const { impl, version: implVersion } = await implementation(ctx);
    const lacks = LACKS[impl];
    const base = { IMPLEMENTATION: impl, IMPLEMENTATION_VERSION: implVersion, LACKS: stem(lacks) };
    let pools: string[][];
    try {
      pools = rows((await zpool(ctx, ['list', '-H', '-o', 'name,health'], { readOnly: true, timeoutMs: 10_000 })).stdout);
    } catch (e) {
      if (!isReason(e, 'unavailable', 'timedOut')) throw e;
      throw unreachable(`ZFS is not answering (${impl}): ${e.message}`, { vars: base, lines: [`implementation ${impl}`], cause: e });
    }
    const pool = p.pool ?? defaultPool(ctx);
    const found = pools.find(([n]) => n === pool);
    const vars = {
      ...base,
      POOLS: stem(pools.map(([n]) => n)),
      DEFAULT_POOL: pool,
      DEFAULT_POOL_HEALTH: found?.[1] ?? 'MISSING',
    };
    return statusOutput(
      [
        `implementation ${impl}${implVersion ? ` (${implVersion})` : ''}`,
        'reachable yes',
        `pools ${pools.map(([n, h]) => `${n}:${h}`).join(' ')}`,
        `default pool ${pool} ${vars.DEFAULT_POOL_HEALTH}`,
        `lacks ${lacks.length ? lacks.join('; ') : 'nothing'}`,
      ],
      vars,
    );
  },
});
