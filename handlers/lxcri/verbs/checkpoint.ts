/**
 * Checkpoint / restore (the Proxmox LXCRI v0.3.0 seed, done better): on ZFS the
 * container is frozen (`<runtime> pause`) around `zfs snapshot`, and resumed in a
 * finally even when the snapshot fails; restore to an older checkpoint needs
 * discard_newer=true (`zfs rollback -r`) and reports what it destroyed. Without ZFS,
 * CRIU through `<runtime> checkpoint --image-path DIR` / `<runtime> restore`. The two
 * ways of taking one, and the list of both kinds, are the library ../checkpoint.ts.
 */
import { notFound, refused, usageError } from '../../../shared/errors';
import { stem } from '../../../shared/result';
import { selectForPrune, retentionParams } from '../../../shared/retention';
import { defineVerb } from '../../../shared/verb';
import { listSnapshots, rollback } from '../../zfs/snapshot';
import { zfs } from '../../zfs/tool';
import { checkBundle } from '../bundle-policy';
import { allCheckpoints, criuCheckpoint, zfsCheckpoint, type Checkpoint } from '../checkpoint';
import { getState, mustState, runDetached, waitState, withContainerLock } from '../container';
import { BUNDLE_OPT, NAME, RUNTIME, SNAPSHOT_OPT, timeout } from '../params';
import { datasetOf } from '../rootfs';
import { pickRuntime } from '../runtime';
import { rtDetached, rtRun } from '../tool';

export const checkpoint = defineVerb({
  name: 'checkpoint',
  summary: 'checkpoint a container: rootfs on ZFS → pause, zfs snapshot <dataset>@checkpoint-<unix seconds>, resume; else CRIU image; RESULT the name',
  params: {
    ...NAME,
    backend: { type: 'enum', values: ['auto', 'zfs', 'criu'], default: 'auto', doc: 'auto: zfs when the rootfs is on a ZFS dataset, else criu' },
    leave_running: { type: 'bool', default: true, doc: 'CRIU: keep the container running after the dump (--leave-running)' },
    ...RUNTIME,
    ...timeout(120_000, 'how long the checkpoint may take (RC 5)'),
  },
  positional: ['name'],
  examples: ['checkpoint name=web', 'checkpoint name=web backend=criu leave_running=false'],
  vars: { SNAPSHOT: 'the checkpoint name', KIND: 'zfs or criu', DATASET: 'the rootfs dataset (zfs)', CHECKPOINT_MS: 'ms it took', STATUS: 'on a CRIU failure: the container status after it' },
  async run(p, ctx) {
    const rt = await pickRuntime(ctx, p.runtime);
    // A restore of the same id in between would delete the container this pauses.
    return withContainerLock(ctx, rt, p.name, p.timeout, async () => {
      const t0 = ctx.clock.monotonic();
      const s = await mustState(ctx, rt, p.name);
      const ds = p.backend === 'criu' ? undefined : await datasetOf(ctx, p.name, s.bundle);
      if (p.backend === 'zfs' && !ds) throw notFound(`container ${p.name}: its rootfs is not on a ZFS dataset (create it with zfs=true)`);
      let name: string;
      if (ds) name = await zfsCheckpoint(ctx, rt, p.name, ds, s.status === 'running');
      else name = await criuCheckpoint(ctx, rt, p.name, s.bundle, p.leave_running, p.timeout);
      const kind = ds ? 'zfs' : 'criu';
      return { result: name, vars: { SNAPSHOT: name, KIND: kind, DATASET: ds ?? '', CHECKPOINT_MS: Math.round(ctx.clock.monotonic() - t0) } };
    });
  },
});

export const restore = defineVerb({
  name: 'restore',
  summary: 'stop the container, roll back to a checkpoint (default the newest; an older one only with discard_newer=true), start it again',
  params: {
    ...NAME,
    ...SNAPSHOT_OPT,
    discard_newer: { type: 'bool', default: false, doc: 'allow an older checkpoint: destroy the newer snapshots (zfs rollback -r)' },
    start: { type: 'bool', default: true, doc: 'run the container again afterwards' },
    ...BUNDLE_OPT,
    ...RUNTIME,
    ...timeout(120_000, 'how long the restore may take (RC 5)'),
  },
  positional: ['name', 'snapshot'],
  examples: ['restore name=web', 'restore name=web snapshot=checkpoint-1795240000 discard_newer=true'],
  vars: { SNAPSHOT: 'the checkpoint restored', KIND: 'zfs or criu', DESTROYED: { stem: 'newer checkpoints destroyed (discard_newer=true)' }, NEWER: { stem: 'on refusal: the newer checkpoints in the way' }, STATUS: 'the container status afterwards', RESTORE_MS: 'ms it took' },
  async run(p, ctx) {
    const rt = await pickRuntime(ctx, p.runtime);
    // delete → rollback → run again is one step for this id: no parallel run or delete in between.
    return withContainerLock(ctx, rt, p.name, p.timeout, async () => {
      const t0 = ctx.clock.monotonic();
      const s = await getState(ctx, rt, p.name);
      const bundle = p.bundle ?? s?.bundle;
      if (!bundle) throw notFound(`container ${p.name} not found; give bundle= to restore its rootfs and run it`);
      const { ds, list } = await allCheckpoints(ctx, p.name, bundle);
      const target: Checkpoint | undefined = p.snapshot ? list.find((c) => c.name === p.snapshot) : list[list.length - 1];
      if (!target) throw notFound(p.snapshot ? `container ${p.name} has no checkpoint ${p.snapshot}` : `container ${p.name} has no checkpoints`);
      let destroyed: string[] = [];
      let started: { status: string } | undefined;
      if (target.kind === 'zfs') {
        const snaps = await listSnapshots(ctx, ds!);
        const newer = snaps.slice(snaps.findIndex((x) => x.snapshot === target.name) + 1).map((x) => x.name);
        if (newer.length && !p.discard_newer) {
          throw refused(`${target.name} is not the newest snapshot of ${ds}; discard_newer=true destroys these: ${newer.join(', ')}`, { vars: { NEWER: stem(newer) } });
        }
        if (s) await rtRun(ctx, rt, ['delete', '--force', p.name], { timeoutMs: 60_000 });
        destroyed = await rollback(ctx, ds!, target.name, { discardNewer: p.discard_newer, snapshots: snaps });
        if (p.start) started = await runDetached(ctx, rt, p.name, bundle, p.timeout);
      } else {
        checkBundle(ctx, bundle);
        if (s) await rtRun(ctx, rt, ['delete', '--force', p.name], { timeoutMs: 60_000 });
        await rtDetached(ctx, rt, p.name, ['restore', '-d', '--image-path', target.where, '--bundle', bundle, p.name], p.timeout);
      }
      const st = target.kind === 'criu' ? (await waitState(ctx, rt, p.name, ['running', 'stopped'], p.timeout)).value : started;
      return {
        result: [target.name, ...destroyed].join('\n'),
        vars: { SNAPSHOT: target.name, KIND: target.kind, DESTROYED: stem(destroyed), STATUS: st?.status ?? '', RESTORE_MS: Math.round(ctx.clock.monotonic() - t0) },
      };
    });
  },
});

export const listCheckpoints = defineVerb({
  name: 'list_checkpoints',
  summary: 'checkpoints of a container, oldest first: stem CHECKPOINTS, KINDS (zfs|criu), TIMES (ISO 8601); RESULT "name kind time" lines',
  params: { ...NAME, ...BUNDLE_OPT, ...RUNTIME },
  positional: ['name'],
  vars: { CHECKPOINTS: { stem: 'checkpoint names, oldest first' }, KINDS: { stem: 'zfs or criu' }, TIMES: { stem: 'when each was taken (ISO 8601)' } },
  async run(p, ctx) {
    const rt = await pickRuntime(ctx, p.runtime);
    const bundle = p.bundle ?? (await getState(ctx, rt, p.name))?.bundle;
    const { list } = await allCheckpoints(ctx, p.name, bundle);
    const times = list.map((c) => new Date(c.createdEpoch * 1000).toISOString());
    return {
      result: list.map((c, i) => `${c.name} ${c.kind} ${times[i]}`).join('\n'),
      vars: { CHECKPOINTS: stem(list.map((c) => c.name)), KINDS: stem(list.map((c) => c.kind)), TIMES: stem(times) },
    };
  },
});

export const prune = defineVerb({
  name: 'prune',
  summary: 'delete old checkpoints: keep the newest keep=N and/or those younger than older_than=; stem PRUNED',
  params: {
    ...NAME,
    ...retentionParams('checkpoints'),
    ...BUNDLE_OPT,
    ...RUNTIME,
  },
  positional: ['name'],
  vars: { PRUNED: { stem: 'checkpoints deleted (dryrun: would be)' } },
  // PRUNED comes from reads: under dryrun it says what would be deleted.
  dryrunVars: true,
  async run(p, ctx) {
    if (p.keep === undefined && p.older_than === undefined) throw usageError('prune: give keep= and/or older_than=');
    const rt = await pickRuntime(ctx, p.runtime);
    const bundle = p.bundle ?? (await getState(ctx, rt, p.name))?.bundle;
    const { list } = await allCheckpoints(ctx, p.name, bundle);
    const candidates = selectForPrune(list, { keep: p.keep, olderThanMs: p.older_than, nowMs: ctx.clock.now() });
    for (const c of candidates) {
      if (c.kind === 'zfs') await zfs(ctx, ['destroy', c.where]);
      else ctx.fs.remove(c.where);
    }
    const names = candidates.map((c) => c.name);
    return { result: names.join('\n'), vars: { PRUNED: stem(names) } };
  },
});
