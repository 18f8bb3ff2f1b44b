/**
 * The base registry: `register_base`, `clone_from_base` (count=N in parallel),
 * `list_bases`, `unregister_base` — the same words as ADDRESS LXD, kept in ZFS user
 * properties (see ../registry.ts).
 */
import { BASES_VARS, basesOutput, CLONE_PARAMS, CLONE_VARS, cloneAll, cloneNames, DESCRIPTION_PARAM } from '../../../shared/bases';
import { usageError } from '../../../shared/errors';
import { stem } from '../../../shared/result';
import { defineVerb } from '../../../shared/verb';
import { checkProperties } from '../mount-policy';
import { zfsDatasetName } from '../names';
import { NAME, POOL, PROPERTIES } from '../params';
import {
  BASE_SNAPSHOT,
  cloneFromBase as regClone,
  listBaseRecords,
  registerBase as regRegister,
  requireBase,
  unregisterBase as regUnregister,
} from '../registry';
import { defaultPool, fullName } from '../tool';

export const registerBase = defineVerb({
  name: 'register_base',
  summary: `make a dataset or volume a base: take the fixed snapshot @${BASE_SNAPSHOT} and mark it (org.rexxjs:base=on, org.rexxjs:base-snapshot) so any later process finds it; all or nothing; a half-registered dataset is registered again`,
  params: {
    ...NAME,
    description: { ...DESCRIPTION_PARAM.description, doc: 'free text kept with the base, no control characters (ZFS keeps it in a user property)' },
    refresh: { type: 'bool', default: false, doc: 're-take the snapshot of an already registered base (clones of the old one keep working)' },
    ...POOL,
  },
  positional: ['name'],
  examples: ['register_base name=golden description="debian 12 rootfs"'],
  vars: { BASE: 'the base dataset', SNAPSHOT: 'its fixed snapshot (rexx-base)', CREATED: 'registration time (ISO 8601)' },
  async run(p, ctx) {
    const b = await regRegister(ctx, fullName(ctx, p.pool, p.name), { description: p.description, refresh: p.refresh });
    return { result: b.name, vars: { BASE: b.name, SNAPSHOT: b.snapshot, CREATED: b.created ?? '' } };
  },
});

export const cloneFromBase = defineVerb({
  name: 'clone_from_base',
  long: true,
  summary: 'copy-on-write clone(s) of a registered base (RC 3 when it is not, or only half-registered), one zfs clone each: count=N makes NAME-1..NAME-N in parallel; CLONES stem, CLONE_MS',
  params: {
    ...NAME,
    ...CLONE_PARAMS,
    base: { ...CLONE_PARAMS.base, rule: zfsDatasetName },
    ...PROPERTIES,
    parents: { type: 'bool', default: false, doc: 'create missing parents of the clones (-p)' },
    ...POOL,
  },
  positional: ['base', 'name'],
  examples: ['clone_from_base base=golden name=web-1', 'clone_from_base base=golden name=web count=10'],
  vars: CLONE_VARS,
  async run(p, ctx) {
    const base = fullName(ctx, p.pool, p.base);
    const names = cloneNames(fullName(ctx, p.pool, p.name), p.count, zfsDatasetName);
    if (names.includes(base)) throw usageError('clone_from_base: name= must differ from base=');
    for (const n of names) await checkProperties(ctx, n, p.property, 'clone_from_base');
    await requireBase(ctx, base);
    return cloneAll(ctx, names, p.concurrency, (n) => regClone(ctx, base, n, { properties: p.property, parents: p.parents }));
  },
});

export const listBases = defineVerb({
  name: 'list_bases',
  summary: 'list registered bases in the pool (all pools with all=true): BASES, BASE_SNAPSHOTS stems; RESULT "name snapshot created" lines; BROKEN_BASES: half-registered ones (properties set, snapshot missing; register_base refresh=true repairs them)',
  params: { ...POOL, all: { type: 'bool', default: false, doc: 'every imported pool, not just pool=' } },
  vars: { ...BASES_VARS, BROKEN_BASES: { stem: 'half-registered datasets: properties set, snapshot missing (register_base refresh=true repairs them)' } },
  async run(p, ctx) {
    const root = p.all ? undefined : (p.pool ?? defaultPool(ctx));
    const records = await listBaseRecords(ctx, root);
    const out = basesOutput(records.filter((b) => b.intact));
    const broken = records.filter((b) => !b.intact).map((b) => b.name).sort();
    return { ...out, vars: { ...out.vars, BROKEN_BASES: stem(broken) } };
  },
});

export const unregisterBase = defineVerb({
  name: 'unregister_base',
  summary: `stop treating a dataset as a base: clear its org.rexxjs: properties and destroy @${BASE_SNAPSHOT} (deferred while clones use it)`,
  params: { ...NAME, ...POOL },
  positional: ['name'],
  vars: { SNAPSHOT: 'the base snapshot destroyed (deferred while clones use it)' },
  async run(p, ctx) {
    const name = fullName(ctx, p.pool, p.name);
    const snap = await regUnregister(ctx, name);
    return { result: name, vars: { SNAPSHOT: snap } };
  },
});
