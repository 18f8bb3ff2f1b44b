/**
 * The base verbs for OCI bundles (the registry itself is ../registry.ts over the ZFS
 * handler's): a clone is one `zfs clone` mounted at the new bundle (or its rootfs, with
 * config.json copied from the base bundle).
 */
import * as path from 'node:path';
import { BASES_VARS, basesOutput, CLONE_PARAMS, CLONE_VARS, cloneAll, cloneNames, DESCRIPTION_PARAM } from '../../../shared/bases';
import { ociContainerId } from '../names';
import { defineVerb } from '../../../shared/verb';
import { cloneFromBase as zfsClone, registerBase as zfsRegister, unregisterBase as zfsUnregister } from '../../zfs/registry';
import { getProps } from '../../zfs/dataset';
import { defaultPool } from '../../zfs/tool';
import { configFile } from '../bundle-config';
import { mustNotExist, runDetached, withContainerLock } from '../container';
import { absHostPath, BUNDLE, NAME, POOL, RUNTIME, timeout } from '../params';
import { baseDataset, ociBases } from '../registry';
import { bundleDataset, containerDataset, placeRootfsOnZfs, requireEmptyDir } from '../rootfs';
import { ociDir, pickRuntime } from '../runtime';

export const registerBase = defineVerb({
  name: 'register_base',
  summary: 'make a bundle\'s rootfs a base: moved onto <pool>/containers/<name> first if it is not on ZFS, then the fixed snapshot rexx-base',
  params: {
    ...NAME,
    ...BUNDLE,
    ...DESCRIPTION_PARAM,
    refresh: { type: 'bool', default: false, doc: 're-take the snapshot of an already registered base' },
    ...POOL,
  },
  positional: ['name', 'bundle'],
  examples: ['register_base name=web bundle=/srv/oci/web description="busybox + app"'],
  vars: { BASE: 'the base id', DATASET: 'its rootfs dataset', SNAPSHOT: 'its fixed snapshot (rexx-base)', CREATED: 'registration time (ISO 8601)' },
  async run(p, ctx) {
    const ds = (await bundleDataset(ctx, p.bundle))?.dataset ?? (await placeRootfsOnZfs(ctx, { name: p.name, bundle: p.bundle, zfs: true, pool: p.pool }))!;
    const b = await zfsRegister(ctx, ds, { description: p.description, refresh: p.refresh });
    return { result: p.name, vars: { BASE: p.name, DATASET: ds, SNAPSHOT: b.snapshot, CREATED: b.created ?? '' } };
  },
});

export const cloneFromBase = defineVerb({
  name: 'clone_from_base',
  long: true,
  summary: 'copy-on-write bundle(s) from a base: <bundle_dir>/<name> on dataset <pool>/containers/<name>; count=N in parallel; start=true runs them',
  params: {
    ...NAME,
    ...CLONE_PARAMS,
    base: { ...CLONE_PARAMS.base, rule: ociContainerId },
    bundle_dir: { type: 'string', rule: absHostPath, doc: 'parent of the new bundles (default <REXX_OCI_DIR>/bundles)' },
    start: { type: 'bool', default: false, doc: 'run each clone (runtime run -d) and wait until running' },
    ...POOL,
    ...RUNTIME,
    ...timeout(60_000, 'how long each clone (and its start) may take'),
  },
  positional: ['base', 'name'],
  examples: ['clone_from_base base=web name=web-1 start=true', 'clone_from_base base=web name=web count=3'],
  vars: CLONE_VARS,
  async run(p, ctx) {
    const names = cloneNames(p.name, p.count, ociContainerId);
    const pool = p.pool ?? defaultPool(ctx);
    const base = await baseDataset(ctx, pool, p.base);
    const mp = (await getProps(ctx, base, ['mountpoint'])).mountpoint ?? '';
    const baseConfig = configFile(path.dirname(mp));
    const config = path.basename(mp) === 'rootfs' ? ctx.fs.readText(baseConfig) : undefined;
    const rootfsShape = config !== undefined;
    const configMode = (ctx.fs.stat(baseConfig)?.mode ?? 0o644) & 0o777;
    const dir = p.bundle_dir ?? path.join(ociDir(ctx), 'bundles');
    const rt = p.start ? await pickRuntime(ctx, p.runtime) : undefined;
    return cloneAll(ctx, names, p.concurrency, async (name) => {
      const bundle = path.join(dir, name);
      // The clone is mounted at the bundle (or its rootfs): never over a host directory's files.
      requireEmptyDir(ctx, bundle);
      ctx.fs.mkdir(bundle);
      const target = containerDataset(ctx, name, pool);
      const mountpoint = rootfsShape ? path.join(bundle, 'rootfs') : bundle;
      await zfsClone(ctx, base, target, { properties: [`mountpoint=${mountpoint}`], parents: true, timeoutMs: p.timeout });
      // The base bundle's config.json, as it is (copied: the clone is only the rootfs).
      if (config !== undefined) ctx.fs.writeText(configFile(bundle), config, { mode: configMode });
      if (rt) {
        await withContainerLock(ctx, rt, name, p.timeout, async () => {
          await mustNotExist(ctx, rt, name);
          await runDetached(ctx, rt, name, bundle, p.timeout);
        });
      }
    });
  },
});

export const listBases = defineVerb({
  name: 'list_bases',
  summary: 'registered bases (bundle rootfs and image datasets): stem BASES (ids), BASE_SNAPSHOTS; RESULT "name snapshot created" per line',
  params: { ...POOL },
  vars: BASES_VARS,
  async run(p, ctx) {
    const all = await ociBases(ctx, p.pool ?? defaultPool(ctx));
    return basesOutput(all.map((b) => ({ ...b, name: b.name.split('/').pop()! })));
  },
});

export const unregisterBase = defineVerb({
  name: 'unregister_base',
  summary: 'stop treating a bundle rootfs as a base (its snapshot is destroyed when no clone needs it, else deferred); clones stay',
  params: { ...NAME, ...POOL },
  positional: ['name'],
  vars: { DATASET: 'the rootfs dataset that was the base' },
  async run(p, ctx) {
    const ds = await baseDataset(ctx, p.pool ?? defaultPool(ctx), p.name);
    await zfsUnregister(ctx, ds);
    return { result: p.name, vars: { DATASET: ds } };
  },
});
