/**
 * Clones: `clone` (a copy-on-write clone of any snapshot) and `promote`. Clones of
 * registered bases are in bases.ts.
 */
import { defineVerb } from '../../../shared/verb';
import { createOrUndo } from '../dataset';
import { checkProperties } from '../mount-policy';
import { zfsDatasetName } from '../names';
import { NAME, POOL, PROPERTIES, SNAPSHOT } from '../params';
import { fullName, zfs } from '../tool';

export const clone = defineVerb({
  name: 'clone',
  summary: 'copy-on-write clone of a snapshot into a new dataset (zfs clone [-p] [-o K=V]... NAME@SNAPSHOT TARGET); a mountpoint= over host files is RC 7; undone when zfs fails after making it',
  params: {
    ...NAME,
    ...SNAPSHOT,
    target: { type: 'string', required: true, rule: zfsDatasetName, doc: 'the new dataset (full or relative to pool=)' },
    ...PROPERTIES,
    parents: { type: 'bool', default: false, doc: 'create missing parents of target (-p)' },
    ...POOL,
  },
  positional: ['name', 'snapshot', 'target'],
  examples: ['clone name=web snapshot=before-upgrade target=web-test'],
  vars: { DATASET: 'the new dataset', ORIGIN: 'the snapshot it was cloned from' },
  async run(p, ctx) {
    const src = `${fullName(ctx, p.pool, p.name)}@${p.snapshot}`;
    const target = fullName(ctx, p.pool, p.target);
    await checkProperties(ctx, target, p.property, 'clone');
    const args = ['clone'];
    if (p.parents) args.push('-p');
    for (const kv of p.property) args.push('-o', kv);
    await createOrUndo(ctx, target, [...args, src, target], { parents: p.parents });
    return { result: target, vars: { DATASET: target, ORIGIN: src } };
  },
});

export const promote = defineVerb({
  name: 'promote',
  summary: 'make a clone independent of its origin (zfs promote): the origin\'s older snapshots move to it',
  params: { ...NAME, ...POOL },
  positional: ['name'],
  vars: {},
  async run(p, ctx) {
    const name = fullName(ctx, p.pool, p.name);
    await zfs(ctx, ['promote', name]);
    return { result: name };
  },
});
