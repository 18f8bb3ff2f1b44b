/**
 * Datasets and volumes: `create`, `create_volume` (zvol; OpenZFS only), `resize`
 * (volsize), `destroy` (with the dependents check), `rename`, `mount`, `unmount`.
 */
import { refused, usageError } from '../../../shared/errors';
import { stem } from '../../../shared/result';
import { defineVerb } from '../../../shared/verb';
import { NAME, POOL, PROPERTIES, zfsDatasetName, zfsSize } from '../params';
import { listBases } from '../registry';
import { createOrUndo, dependentsOf, destroyDataset, getProps, renameDataset } from '../dataset';
import { requireNotInUse } from '../in-use';
import { checkProperties } from '../mount-policy';
import { parseSize } from '../../../shared/size';
import { fullName, requireOpenZfs, zfs } from '../tool';

const PARENTS = { parents: { type: 'bool', default: false, doc: 'create missing parent datasets (-p)' } } as const;

export const create = defineVerb({
  name: 'create',
  summary: 'create a filesystem dataset (zfs create [-p] [-o K=V]...); RC 4 when it exists; a mountpoint= over host files is RC 7 (README: Security); undone when zfs fails after making it',
  params: { ...NAME, ...PROPERTIES, ...PARENTS, ...POOL },
  positional: ['name'],
  examples: ['create name=web property=compression=on property=atime=off', 'create name=rexxpool/ct/web parents=true'],
  vars: { DATASET: 'the new dataset' },
  async run(p, ctx) {
    const name = fullName(ctx, p.pool, p.name);
    await checkProperties(ctx, name, p.property, 'create');
    const args = ['create'];
    if (p.parents) args.push('-p');
    for (const kv of p.property) args.push('-o', kv);
    await createOrUndo(ctx, name, [...args, name], { parents: p.parents });
    return { result: name, vars: { DATASET: name } };
  },
});

/**
 * `zfs create [-p] [-s] -o volblocksize=B [-o K=V]... -V SIZE NAME`. zfs-fuse has no
 * zvols (its `zfs create -V` aborts with "Function not implemented"): refused up front
 * with RC 6 when zfs-fuse is detected.
 */
export const createVolume = defineVerb({
  name: 'create_volume',
  summary: 'create a zvol (block device) of size=, sparse by default, volblocksize 16k; needs OpenZFS (RC 6 on zfs-fuse)',
  params: {
    ...NAME,
    size: { type: 'string', required: true, rule: zfsSize, doc: 'volume size (10G, 512M)' },
    sparse: { type: 'bool', default: true, doc: 'thin-provisioned, no reservation (-s)' },
    volblocksize: { type: 'string', default: '16k', rule: zfsSize, doc: 'volume block size (set at creation only)' },
    ...PROPERTIES,
    ...PARENTS,
    ...POOL,
  },
  positional: ['name'],
  examples: ['create_volume name=vm-disk size=20G'],
  vars: { VOLUME: 'the new volume', DEVICE: 'its block device (/dev/zvol/…)' },
  async run(p, ctx) {
    const name = fullName(ctx, p.pool, p.name);
    await requireOpenZfs(ctx, 'create_volume (zvols)');
    await checkProperties(ctx, name, p.property, 'create_volume');
    const args = ['create'];
    if (p.parents) args.push('-p');
    if (p.sparse) args.push('-s');
    args.push('-o', `volblocksize=${p.volblocksize}`);
    for (const kv of p.property) args.push('-o', kv);
    args.push('-V', p.size, name);
    await createOrUndo(ctx, name, args, { parents: p.parents });
    return { result: name, vars: { VOLUME: name, DEVICE: `/dev/zvol/${name}` } };
  },
});

export const resize = defineVerb({
  name: 'resize',
  summary: 'set a volume\'s size (zfs set volsize=); shrinking is refused (RC 7) unless force=true; RC 2 for a filesystem',
  params: { ...NAME, size: { type: 'string', required: true, rule: zfsSize, doc: 'new volume size (20G)' }, force: { type: 'bool', default: false, doc: 'allow shrinking (destroys data past the new end)' }, ...POOL },
  positional: ['name', 'size'],
  vars: { VOLSIZE: 'the new size in bytes', PREVIOUS: 'the size before, in bytes' },
  async run(p, ctx) {
    const name = fullName(ctx, p.pool, p.name);
    const cur = await getProps(ctx, name, ['type', 'volsize']);
    if (cur.type !== 'volume') throw usageError(`resize: ${name} is a ${cur.type ?? 'dataset'}, not a volume (use set property=quota=... for filesystems)`);
    const now = Number(cur.volsize);
    const want = parseSize(p.size);
    if (want < now && !p.force) throw refused(`resize: ${name} would shrink from ${now} to ${want} bytes; give force=true to shrink`);
    await zfs(ctx, ['set', `volsize=${p.size}`, name]);
    return { result: String(want), vars: { VOLSIZE: want, PREVIOUS: now } };
  },
});

export const destroy = defineVerb({
  name: 'destroy',
  summary: 'destroy a dataset or volume; refused (RC 7) while in use (IN_USE_BY stem), with children, snapshots or clones unless recursive=true (DEPENDENTS stem), and for a registered base (itself or below it) unless force=true',
  params: {
    ...NAME,
    recursive: { type: 'bool', default: false, doc: 'also destroy its children and snapshots, and clones of those (-r, or -R when clones exist)' },
    force: { type: 'bool', default: false, doc: 'allow destroying registered bases (it, or with recursive=true any below it)' },
    ...POOL,
  },
  positional: ['name'],
  vars: { DESTROYED: { stem: 'what was destroyed' }, DEPENDENTS: { stem: 'on refusal: the children, snapshots and clones in the way' }, CLONES: { stem: 'on refusal: the clones in the way' } },
  async run(p, ctx) {
    const name = fullName(ctx, p.pool, p.name);
    if (name.indexOf('/') < 0) throw refused(`destroy: ${name} is a pool's root dataset; use pool_destroy`);
    const bases = (await listBases(ctx, name)).map((b) => b.name);
    if (bases.length && !p.force) {
      throw refused(`destroy: ${bases.join(', ')} ${bases.length > 1 ? 'are registered bases' : 'is a registered base'}; give force=true (or unregister_base first)`, { vars: { BASES: stem(bases) } });
    }
    const d = await dependentsOf(ctx, name);
    const all = [...d.children, ...d.snapshots, ...d.clones];
    if (all.length && !p.recursive) {
      throw refused(`destroy: ${name} has dependents (give recursive=true to destroy them too): ${all.join(', ')}`, {
        vars: { DEPENDENTS: stem(all), CLONES: stem(d.clones) },
        output: all.join('\n'),
      });
    }
    await destroyDataset(ctx, name, { recursive: p.recursive, dependents: p.recursive && d.clones.length > 0, alsoInUse: d.clones });
    return { result: [name, ...all].join('\n'), vars: { DESTROYED: stem([name, ...all]) } };
  },
});

export const rename = defineVerb({
  name: 'rename',
  summary: 'rename a dataset or volume (zfs rename [-p]); refused (RC 7) while in use; on zfs-fuse\'s "dataset is busy" it unmounts, renames and mounts again (renamed back if that mount fails)',
  params: { ...NAME, to: { type: 'string', required: true, rule: zfsDatasetName, doc: 'new name (full or relative to pool=)' }, ...PARENTS, ...POOL },
  positional: ['name', 'to'],
  vars: { DATASET: 'the new name' },
  async run(p, ctx) {
    const from = fullName(ctx, p.pool, p.name);
    const to = fullName(ctx, p.pool, p.to);
    await renameDataset(ctx, from, to, { parents: p.parents });
    return { result: to, vars: { DATASET: to } };
  },
});

export const mount = defineVerb({
  name: 'mount',
  summary: 'mount a filesystem (zfs mount); already mounted is fine (ALREADY=1); RESULT its mountpoint',
  params: { ...NAME, ...POOL },
  positional: ['name'],
  vars: { ALREADY: '1 when it was already mounted, else 0', MOUNTPOINT: 'where it is mounted' },
  async run(p, ctx) {
    const name = fullName(ctx, p.pool, p.name);
    const cur = await getProps(ctx, name, ['mounted', 'mountpoint']);
    if (cur.mounted === 'yes') return { result: cur.mountpoint ?? '', vars: { ALREADY: 1, MOUNTPOINT: cur.mountpoint ?? '' } };
    await zfs(ctx, ['mount', name]);
    return { result: cur.mountpoint ?? '', vars: { ALREADY: 0, MOUNTPOINT: cur.mountpoint ?? '' } };
  },
});

export const unmount = defineVerb({
  name: 'unmount',
  aliases: ['umount'],
  summary: 'unmount a filesystem (zfs unmount [-f]); not mounted is fine (ALREADY=1); refused (RC 7, IN_USE_BY stem) while a container or process uses it, even with force=true',
  params: { ...NAME, force: { type: 'bool', default: false, doc: 'zfs unmount -f, for a mount the kernel calls busy although no container or process uses it (one in use is still refused)' }, ...POOL },
  positional: ['name'],
  vars: { ALREADY: '1 when it was not mounted, else 0' },
  async run(p, ctx) {
    const name = fullName(ctx, p.pool, p.name);
    const cur = await getProps(ctx, name, ['mounted']);
    if (cur.mounted !== 'yes') return { result: name, vars: { ALREADY: 1 } };
    await requireNotInUse(ctx, [name], 'unmount');
    await zfs(ctx, p.force ? ['unmount', '-f', name] : ['unmount', name]);
    return { result: name, vars: { ALREADY: 0 } };
  },
});
