/**
 * Properties and listings: `get` / `set` (native and user properties), `list`
 * (datasets, volumes or snapshots as stems), `stats` (space as numbers).
 */
import { usageError } from '../../../shared/errors';
import { stem } from '../../../shared/result';
import { defineVerb } from '../../../shared/verb';
import { NAME, POOL, PROPERTIES, zfsDatasetName, zfsPropName } from '../params';
import { undoAll, type Undo } from '../../../shared/undo';
import { getProps, setProp } from '../dataset';
import { requireNotInUse } from '../in-use';
import { checkProperties, remounts } from '../mount-policy';
import { defaultPool, fullName, rows, zfs } from '../tool';

export const get = defineVerb({
  name: 'get',
  summary: 'read properties (zfs get -H -p: bytes and epoch seconds): RESULT the value when one, else "property value" lines; PROPERTIES, VALUES, SOURCES stems',
  params: {
    ...NAME,
    property: { type: 'list', rule: zfsPropName, doc: 'property to read (repeat; default all)' },
    ...POOL,
  },
  positional: ['name', 'property'],
  examples: ['get name=web property=compression', 'get name=web property=org.rexxjs:cloned-from'],
  vars: { PROPERTIES: { stem: 'property names' }, VALUES: { stem: 'their values (bytes, epoch seconds)' }, SOURCES: { stem: 'where each value comes from (local, default, inherited …)' } },
  async run(p, ctx) {
    const name = fullName(ctx, p.pool, p.name);
    const props = p.property.length ? p.property.join(',') : 'all';
    const r = await zfs(ctx, ['get', '-H', '-p', '-o', 'property,value,source', props, name], { readOnly: true });
    const got = rows(r.stdout);
    const vals = got.map(([, v]) => v ?? '');
    return {
      result: p.property.length === 1 ? (vals[0] ?? '') : got.map(([k, v]) => `${k} ${v}`).join('\n'),
      vars: { PROPERTIES: stem(got.map(([k]) => k)), VALUES: stem(vals), SOURCES: stem(got.map(([, , s]) => s ?? '')) },
    };
  },
});

export const set = defineVerb({
  name: 'set',
  summary: 'set properties (one zfs set per PROPERTY=VALUE, as zfs-fuse requires; all or none: the ones set are put back when a later one fails); user properties need a colon (org.example:k); mountpoint= over host files, sharenfs, sharesmb, zoned are RC 7 (README: Security)',
  params: { ...NAME, ...PROPERTIES, ...POOL },
  positional: ['name', 'property'],
  examples: ['set name=web property=atime=off', 'set name=web property=org.example:owner=ops'],
  vars: {},
  async run(p, ctx) {
    if (!p.property.length) throw usageError('set: give at least one property=PROPERTY=VALUE');
    const name = fullName(ctx, p.pool, p.name);
    await checkProperties(ctx, name, p.property, 'set');
    // A new mountpoint (or canmount, zoned) unmounts the filesystem first.
    if (remounts(p.property)) await requireNotInUse(ctx, [name], 'set');
    const keys = [...new Set(p.property.map((kv) => kv.slice(0, kv.indexOf('='))))];
    const before = await zfs(ctx, ['get', '-H', '-p', '-o', 'property,value,source', [...keys, 'mounted'].join(','), name], { readOnly: true });
    const was = new Map(rows(before.stdout).map(([k, v, source]) => [k!, { value: v ?? '', local: source === 'local' }]));
    const undo: Undo[] = [];
    if (remounts(p.property) && was.get('mounted')?.value === 'yes') {
      // Runs last: a failed remount leaves the filesystem unmounted under its old mountpoint.
      undo.push({ what: `mount ${name}`, run: async () => (await getProps(ctx, name, ['mounted'])).mounted === 'yes' || zfs(ctx, ['mount', name]) });
    }
    try {
      for (const kv of p.property) {
        const key = kv.slice(0, kv.indexOf('='));
        const old = was.get(key);
        undo.push({
          what: `${key} back to ${old?.local ? old.value : 'inherited'}`,
          run: () => zfs(ctx, old?.local ? ['set', `${key}=${old.value}`, name] : ['inherit', key, name]),
        });
        await setProp(ctx, name, key, kv.slice(key.length + 1));
      }
    } catch (e) {
      // The failed set is undone too: zfs may have set it and failed after ("property may
      // be set but unable to remount filesystem").
      throw await undoAll(undo, e);
    }
    return { result: name };
  },
});

export const list = defineVerb({
  name: 'list',
  summary: 'list datasets under a root (default the pool): DATASETS, TYPES, MOUNTPOINTS, ORIGINS stems; type= filesystem|volume|snapshot|all',
  params: {
    name: { type: 'string', rule: zfsDatasetName, doc: 'root dataset to list under (default: the pool)' },
    type: { type: 'enum', values: ['filesystem', 'volume', 'snapshot', 'all', 'datasets'], default: 'datasets', doc: 'what to list; datasets = filesystem and volume' },
    recursive: { type: 'bool', default: true, doc: 'everything below the root (-r); false = the root and its direct children (-d 1)' },
    ...POOL,
  },
  positional: ['name'],
  vars: { DATASETS: { stem: 'dataset names' }, TYPES: { stem: 'filesystem, volume or snapshot' }, MOUNTPOINTS: { stem: 'mountpoints (empty for none)' }, ORIGINS: { stem: 'the snapshot each clone came from (empty for none)' } },
  async run(p, ctx) {
    const root = p.name ? fullName(ctx, p.pool, p.name) : (p.pool ?? defaultPool(ctx));
    const type = p.type === 'datasets' ? 'filesystem,volume' : p.type;
    const r = await zfs(ctx, ['list', '-H', '-o', 'name,type,mountpoint,origin', '-t', type, ...(p.recursive ? ['-r'] : ['-d', '1']), root], { readOnly: true });
    const got = rows(r.stdout);
    return {
      result: got.map(([n]) => n).join('\n'),
      vars: {
        DATASETS: stem(got.map(([n]) => n)),
        TYPES: stem(got.map(([, t]) => t)),
        MOUNTPOINTS: stem(got.map(([, , m]) => (m === '-' ? '' : m))),
        ORIGINS: stem(got.map(([, , , o]) => (o === '-' ? '' : o))),
      },
    };
  },
});

export const stats = defineVerb({
  name: 'stats',
  summary: 'space of one dataset (default the pool root) as numbers: USED, AVAILABLE, REFERENCED (bytes), COMPRESSRATIO (1.00); lags ~30 s on zfs-fuse',
  params: { name: { type: 'string', rule: zfsDatasetName, doc: 'dataset (default: the pool root)' }, ...POOL },
  positional: ['name'],
  vars: { DATASET: 'the dataset', USED: 'bytes', AVAILABLE: 'bytes', REFERENCED: 'bytes', COMPRESSRATIO: 'e.g. 1.00' },
  async run(p, ctx) {
    const name = p.name ? fullName(ctx, p.pool, p.name) : (p.pool ?? defaultPool(ctx));
    const r = await zfs(ctx, ['get', '-H', '-p', '-o', 'property,value', 'used,available,referenced,compressratio', name], { readOnly: true });
    const v = Object.fromEntries(rows(r.stdout).map(([k, x]) => [k!, x ?? '']));
    const num = (x: string | undefined) => Number(String(x ?? '').replace(/x$/, ''));
    const vars = {
      DATASET: name,
      USED: num(v.used),
      AVAILABLE: num(v.available),
      REFERENCED: num(v.referenced),
      COMPRESSRATIO: num(v.compressratio),
    };
    return { result: `used ${vars.USED} available ${vars.AVAILABLE} referenced ${vars.REFERENCED} compressratio ${vars.COMPRESSRATIO}`, vars };
  },
});
