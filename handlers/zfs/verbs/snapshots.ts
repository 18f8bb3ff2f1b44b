/**
 * Snapshots: `snapshot`, `list_snapshots`, `rollback`, `destroy_snapshot`, `hold`,
 * `release`. A checkpoint is a snapshot named `checkpoint-<unix seconds>` by default
 * (`-2`, `-3` … when that is taken, shared/snapshot-names.ts).
 */
import { notFound, refused } from '../../../shared/errors';
import { stem } from '../../../shared/result';
import { createUnderFreeName, epochName } from '../../../shared/snapshot-names';
import { defineVerb } from '../../../shared/verb';
import { holdTag, NAME, OPT_SNAPSHOT, POOL, SNAPSHOT } from '../params';
import { clonesOf, destroyDataset, getProps } from '../dataset';
import { listBases, refuseBaseSnapshots } from '../registry';
import { listSnapshots, rollback as zrollback, snapshot as zsnapshot } from '../snapshot';
import { fullName, zfs } from '../tool';

export const snapshot = defineVerb({
  name: 'snapshot',
  aliases: ['checkpoint'],
  summary: 'take a snapshot (zfs snapshot [-r]); name defaults to checkpoint-<unix seconds> (-2, -3 … when taken); RESULT the full name, SNAPSHOT the short one',
  params: { ...NAME, ...OPT_SNAPSHOT, recursive: { type: 'bool', default: false, doc: 'also snapshot every child dataset (-r)' }, ...POOL },
  positional: ['name', 'snapshot'],
  examples: ['snapshot name=web', 'snapshot name=web snapshot=before-upgrade'],
  vars: { SNAPSHOT: 'the short name (after @)', FULLNAME: 'dataset@snapshot' },
  async run(p, ctx) {
    const name = fullName(ctx, p.pool, p.name);
    const take = (short: string) => zsnapshot(ctx, name, short, { recursive: p.recursive });
    const { name: short, value: full } = p.snapshot ? { name: p.snapshot, value: await take(p.snapshot) } : await createUnderFreeName(epochName('checkpoint', ctx.clock.now()), take);
    return { result: full, vars: { SNAPSHOT: short, FULLNAME: full } };
  },
});

export const listSnapshotsVerb = defineVerb({
  name: 'list_snapshots',
  summary: 'snapshots of a dataset, oldest first: SNAPSHOTS (short names), CREATED (epoch seconds), USED (bytes) stems; RESULT "name created used" lines',
  params: { ...NAME, ...POOL },
  positional: ['name'],
  vars: { SNAPSHOTS: { stem: 'short names, oldest first' }, CREATED: { stem: 'creation of each, epoch seconds' }, USED: { stem: 'bytes each holds' } },
  async run(p, ctx) {
    const snaps = await listSnapshots(ctx, fullName(ctx, p.pool, p.name));
    return {
      result: snaps.map((s) => `${s.snapshot} ${s.createdEpoch} ${s.usedBytes}`).join('\n'),
      vars: { SNAPSHOTS: stem(snaps.map((s) => s.snapshot)), CREATED: stem(snaps.map((s) => s.createdEpoch)), USED: stem(snaps.map((s) => s.usedBytes)) },
    };
  },
});

export const rollback = defineVerb({
  name: 'rollback',
  aliases: ['restore'],
  summary: 'roll a dataset back to a snapshot (latest by default); an older one only with discard_newer=true (-r), and RESULT lists the snapshots it destroyed; refused (RC 7) while in use or when it would destroy a registered base\'s snapshot',
  params: {
    ...NAME,
    ...OPT_SNAPSHOT,
    discard_newer: { type: 'bool', default: false, doc: 'allow rolling back past newer snapshots, destroying them (zfs rollback -r)' },
    ...POOL,
  },
  positional: ['name', 'snapshot'],
  examples: ['rollback name=web', 'rollback name=web snapshot=before-upgrade discard_newer=true'],
  vars: { SNAPSHOT: 'the snapshot rolled back to', DESTROYED: { stem: 'newer snapshots destroyed (discard_newer=true)' } },
  async run(p, ctx) {
    const name = fullName(ctx, p.pool, p.name);
    let short = p.snapshot;
    let snaps;
    if (!short || p.discard_newer) {
      snaps = await listSnapshots(ctx, name);
      if (!short) {
        short = snaps[snaps.length - 1]?.snapshot;
        if (!short) throw notFound(`rollback: ${name} has no snapshots`);
      }
    }
    const destroyed = await zrollback(ctx, name, short, { discardNewer: p.discard_newer, snapshots: snaps });
    return { result: destroyed.join('\n'), vars: { SNAPSHOT: short, DESTROYED: stem(destroyed) } };
  },
});

export const destroySnapshot = defineVerb({
  name: 'destroy_snapshot',
  aliases: ['delete_snapshot'],
  summary: 'destroy a snapshot; refused (RC 7) when it is a registered base\'s snapshot (unregister_base first), when clones depend on it (DEPENDENTS stem) or it has holds',
  params: { ...NAME, ...SNAPSHOT, recursive: { type: 'bool', default: false, doc: 'also the same-named snapshot of every child (-r)' }, ...POOL },
  positional: ['name', 'snapshot'],
  vars: { DEPENDENTS: { stem: 'on refusal: the clones that depend on it' } },
  async run(p, ctx) {
    const name = fullName(ctx, p.pool, p.name);
    const full = `${name}@${p.snapshot}`;
    const bases = p.recursive ? (await listBases(ctx, name)).filter((b) => b.snapshot === p.snapshot).map((b) => `${b.name}@${b.snapshot}`) : [full];
    await refuseBaseSnapshots(ctx, bases, 'destroy_snapshot');
    const refs = await getProps(ctx, full, ['userrefs']);
    if (Number(refs.userrefs ?? 0) > 0) throw refused(`destroy_snapshot: ${full} has ${refs.userrefs} hold(s); release them first`);
    const clones = (await clonesOf(ctx, name, name.split('/')[0])).filter((c) => c.origin === full);
    if (clones.length) {
      throw refused(`destroy_snapshot: clones depend on ${full}: ${clones.map((c) => c.name).join(', ')} (destroy or promote them first)`, {
        vars: { DEPENDENTS: stem(clones.map((c) => c.name)) },
      });
    }
    await destroyDataset(ctx, full, { recursive: p.recursive });
    return { result: full };
  },
});

const HOLD_PARAMS = {
  ...NAME,
  ...SNAPSHOT,
  tag: { type: 'string', default: 'rexx', rule: holdTag, doc: 'hold tag' },
  recursive: { type: 'bool', default: false, doc: 'also the same-named snapshot of every child (-r)' },
  ...POOL,
} as const;

/**
 * `hold` and `release`, one verb each over the same parameters: `zfs hold|release [-r]
 * TAG DATASET@SNAPSHOT`, then HOLDS = the snapshot's userrefs.
 */
function holdVerb(verb: 'hold' | 'release', summary: string, holdsDoc: string) {
  return defineVerb({
    name: verb,
    summary,
    params: HOLD_PARAMS,
    positional: ['name', 'snapshot'],
    vars: { HOLDS: holdsDoc },
    async run(p, ctx) {
      const full = `${fullName(ctx, p.pool, p.name)}@${p.snapshot}`;
      await zfs(ctx, [verb, ...(p.recursive ? ['-r'] : []), p.tag, full]);
      const refs = await getProps(ctx, full, ['userrefs']);
      return { result: full, vars: { HOLDS: Number(refs.userrefs ?? 0) } };
    },
  });
}

export const hold = holdVerb('hold', 'put a hold on a snapshot so it cannot be destroyed (zfs hold TAG SNAP); HOLDS = how many holds it has now (userrefs)', 'how many holds the snapshot has now');

export const release = holdVerb('release', 'release a hold on a snapshot (zfs release TAG SNAP); HOLDS = holds left', 'how many holds the snapshot has left');
