/**
 * Checkpoint / restore (the Proxmox LXCRI v0.3.0 seed, done better): on ZFS the
 * container is frozen (`<runtime> pause`) around `zfs snapshot`, and resumed in a
 * finally even when the snapshot fails; restore to an older checkpoint needs
 * discard_newer=true (`zfs rollback -r`) and reports what it destroyed. Without ZFS,
 * CRIU through `<runtime> checkpoint --image-path DIR` / `<runtime> restore`. The two
 * ways of taking one, and the list of both kinds, are the library ../checkpoint.ts.
 */
import { alreadyExists, isReason, notFound, refused, usageError } from '../../../shared/errors';
import { absHostPath } from '../../../shared/names';
import { checkNewFile } from '../../../shared/new-file';
import { stem } from '../../../shared/result';
import { selectForPrune, retentionParams } from '../../../shared/retention';
import { defineVerb } from '../../../shared/verb';
import { zfsDatasetName } from '../../zfs/names';
import { listSnapshots, rollback } from '../../zfs/snapshot';
import { fullName, zfs } from '../../zfs/tool';
import { checkBundle } from '../bundle-policy';
import { allCheckpoints, criuCheckpoint, criuDir, criuRestore, recordedBundle, requireCriu, zfsCheckpoint, zfsCheckpoints, type Checkpoint, type CriuFlags } from '../checkpoint';
import { listEntries, STATE_LIST_VARS, stateListOutput } from '../../../shared/state-catalog';
import { getState, mustState, removeRunFiles, runcBundle, runDetached, waitState, withContainerLock } from '../container';
import { exportCriu, exportZfs, importCriu, importZfs, readManifest } from '../export';
import { BUNDLE_OPT, CRIU_FLAGS, NAME, POOL, RUNTIME, SNAPSHOT_OPT, timeout } from '../params';
import { containerDataset, datasetOf, forgetDataset } from '../rootfs';
import { pickRuntime } from '../runtime';
import { rtRun } from '../tool';

/** The CRIU flags given (undefined = not given). */
const givenFlags = (p: { tcp_established?: boolean; file_locks?: boolean; shell_job?: boolean; ext_unix_sk?: boolean }): Partial<CriuFlags> => ({
  tcpEstablished: p.tcp_established,
  fileLocks: p.file_locks,
  shellJob: p.shell_job,
  extUnixSk: p.ext_unix_sk,
});

export const checkpoint = defineVerb({
  name: 'checkpoint',
  summary:
    'checkpoint a container: rootfs on ZFS → pause, zfs snapshot <dataset>@checkpoint-<unix seconds>, resume; else CRIU image (runc checkpoint; RC 6 with CRIU\'s own error when CRIU cannot work here); export=FILE also writes it as one tar to move the container to another host; RESULT the name',
  params: {
    ...NAME,
    backend: { type: 'enum', values: ['auto', 'zfs', 'criu'], default: 'auto', doc: 'auto: zfs when the rootfs is on a ZFS dataset, else criu' },
    leave_running: {
      type: 'bool',
      default: true,
      doc: 'keep the container running afterwards; false ends it as a move would: CRIU dumps without --leave-running (runc removes the container), ZFS deletes it after the snapshot',
    },
    pre_dump: { type: 'bool', default: false, doc: 'CRIU: an iterative pre-copy first (runc checkpoint --pre-dump into DIR/pre-dump), then the final dump with --parent-path pre-dump' },
    ...CRIU_FLAGS,
    export: { type: 'string', rule: absHostPath, doc: 'also write the checkpoint, the config.json and the rootfs (CRIU: the folder; ZFS: a zfs send stream) as one tar file here (written aside, then moved into place)' },
    force: { type: 'bool', default: false, doc: 'with export=: replace an existing file (never a symlink or a folder)' },
    ...RUNTIME,
    ...timeout(120_000, 'how long the checkpoint may take (RC 5)'),
  },
  positional: ['name'],
  examples: ['checkpoint name=web', 'checkpoint name=web backend=criu leave_running=false tcp_established=true', 'checkpoint name=web export=/srv/moves/web.tar'],
  vars: {
    SNAPSHOT: 'the checkpoint name',
    KIND: 'zfs or criu',
    DATASET: 'the rootfs dataset (zfs)',
    CHECKPOINT_MS: 'ms it took (export included)',
    STATUS: 'the container status afterwards (\'\' when leave_running=false ended it); on a CRIU failure: its status after the attempt',
    EXPORT: 'the file written (export=)',
    EXPORT_BYTES: 'its size in bytes',
  },
  async run(p, ctx) {
    const rt = await pickRuntime(ctx, p.runtime);
    // A restore of the same id in between would delete the container this pauses.
    return withContainerLock(ctx, rt, p.name, p.timeout, async () => {
      const t0 = ctx.clock.monotonic();
      // runc: the bundle from its state.json, and the status from the pause (no `runc state`: ~8 ms of a ~30 ms checkpoint).
      const quick = p.backend === 'criu' ? undefined : runcBundle(ctx, rt, p.name);
      let s = quick ? { bundle: quick, status: 'unknown' } : await mustState(ctx, rt, p.name);
      let ds = p.backend === 'criu' ? undefined : await datasetOf(ctx, p.name, s.bundle);
      if (!ds && s.status === 'unknown') s = await mustState(ctx, rt, p.name);
      if (p.backend === 'zfs' && !ds) throw notFound(`container ${p.name}: its rootfs is not on a ZFS dataset (create it with zfs=true)`);
      const flags: CriuFlags = { tcpEstablished: !!p.tcp_established, fileLocks: !!p.file_locks, shellJob: !!p.shell_job, extUnixSk: !!p.ext_unix_sk };
      if (ds && (p.pre_dump || Object.values(flags).some(Boolean))) {
        throw usageError(`checkpoint: pre_dump=, tcp_established=, file_locks=, shell_job= and ext_unix_sk= apply to CRIU; ${p.name}'s rootfs is on ZFS (${ds}): give backend=criu`);
      }
      const file = p.export;
      // Refuse a bad export= before the checkpoint: leave_running=false would end the container first.
      if (file) checkNewFile(ctx, file, { force: p.force, what: 'export', key: 'export' });
      let name: string;
      let bytes = 0;
      if (ds) {
        let taken: { name: string; status: string };
        try {
          taken = await zfsCheckpoint(ctx, rt, p.name, ds, s.status, !p.leave_running);
        } catch (e) {
          // The dataset datasetOf kept for this bundle may have been destroyed or renamed since: look again, once.
          const fresh = isReason(e, 'notFound') ? await datasetOf(ctx, p.name, s.bundle, { fresh: true }) : undefined;
          if (!fresh || fresh === ds) throw e;
          ds = fresh;
          taken = await zfsCheckpoint(ctx, rt, p.name, ds, s.status, !p.leave_running);
        }
        name = taken.name;
        s = { ...s, status: taken.status };
        if (!p.leave_running) removeRunFiles(ctx, rt, p.name);
        if (file) bytes = await exportZfs(ctx, { file, force: p.force, id: p.name, name, bundle: s.bundle, dataset: ds, runtime: rt.name, timeoutMs: p.timeout });
      } else {
        name = (await criuCheckpoint(ctx, rt, p.name, s.bundle, { leaveRunning: p.leave_running, preDump: p.pre_dump, flags, timeoutMs: p.timeout })).name;
        if (file) bytes = await exportCriu(ctx, { file, force: p.force, id: p.name, name, bundle: s.bundle, runtime: rt.name, flags, preDump: p.pre_dump, timeoutMs: p.timeout });
      }
      return {
        result: name,
        vars: {
          SNAPSHOT: name,
          KIND: ds ? 'zfs' : 'criu',
          DATASET: ds ?? '',
          CHECKPOINT_MS: Math.round(ctx.clock.monotonic() - t0),
          STATUS: p.leave_running ? s.status : '',
          EXPORT: file ?? '',
          EXPORT_BYTES: file ? bytes : '',
        },
      };
    });
  },
});

export const restore = defineVerb({
  name: 'restore',
  summary:
    'stop the container, roll back to a checkpoint (default the newest; an older one only with discard_newer=true), start it again; import=FILE bundle=DIR brings a container back from a checkpoint export (another host: a fresh state directory, a new dataset)',
  params: {
    ...NAME,
    ...SNAPSHOT_OPT,
    discard_newer: { type: 'bool', default: false, doc: 'allow an older checkpoint: destroy the newer snapshots (zfs rollback -r)' },
    start: { type: 'bool', default: true, doc: 'run the container again afterwards (ZFS; a CRIU restore always runs it)' },
    import: { type: 'string', rule: absHostPath, doc: 'a file written by checkpoint export=: unpack it (bundle= an empty or new folder) and restore from it' },
    dataset: { type: 'string', rule: zfsDatasetName, doc: 'with import= of a ZFS export: the dataset to receive into, full or relative to pool= (default <pool>/containers/<name>)' },
    ...POOL,
    ...CRIU_FLAGS,
    ...BUNDLE_OPT,
    ...RUNTIME,
    ...timeout(120_000, 'how long the restore may take (RC 5)'),
  },
  positional: ['name', 'snapshot'],
  examples: ['restore name=web', 'restore name=web snapshot=checkpoint-1795240000 discard_newer=true', 'restore name=web import=/srv/moves/web.tar bundle=/srv/oci/web dataset=tank/containers/web'],
  vars: {
    SNAPSHOT: 'the checkpoint restored',
    KIND: 'zfs or criu',
    DESTROYED: { stem: 'newer checkpoints destroyed (discard_newer=true)' },
    NEWER: { stem: 'on refusal: the newer checkpoints in the way' },
    STATUS: 'the container status afterwards',
    RESTORE_MS: 'ms it took',
    DATASET: 'import= of a ZFS export: the dataset received',
  },
  async run(p, ctx) {
    const rt = await pickRuntime(ctx, p.runtime);
    // delete → rollback → run again is one step for this id: no parallel run or delete in between.
    return withContainerLock(ctx, rt, p.name, p.timeout, async () => {
      const t0 = ctx.clock.monotonic();
      const s = await getState(ctx, rt, p.name);
      const done = (snapshot: string, kind: string, o: { destroyed?: string[]; status?: string; dataset?: string }) => ({
        result: [snapshot, ...(o.destroyed ?? [])].join('\n'),
        vars: { SNAPSHOT: snapshot, KIND: kind, DESTROYED: stem(o.destroyed ?? []), STATUS: o.status ?? '', RESTORE_MS: Math.round(ctx.clock.monotonic() - t0), DATASET: o.dataset ?? '' },
      });
      if (p.import) {
        if (!p.bundle) throw usageError('restore import=: give bundle= (an empty or new folder for the container)');
        if (s) throw alreadyExists(`container ${p.name} already exists here (${s.status}); delete it, or import under another name=`);
        const m = await readManifest(ctx, p.import);
        if (m.kind === 'zfs') {
          const ds = p.dataset ? fullName(ctx, p.pool, p.dataset) : containerDataset(ctx, p.name, p.pool);
          await importZfs(ctx, p.import, m, ds, p.bundle, p.timeout);
          forgetDataset(ctx, p.bundle);
          const st = p.start ? await runDetached(ctx, rt, p.name, p.bundle, p.timeout) : undefined;
          return done(m.checkpoint, 'zfs', { status: st?.status, dataset: ds });
        }
        await requireCriu(ctx, rt, 'restore', { KIND: 'criu' });
        const dir = await importCriu(ctx, p.import, m, p.name, p.bundle, p.timeout);
        checkBundle(ctx, p.bundle);
        await criuRestore(ctx, rt, p.name, dir, p.bundle, givenFlags(p), p.timeout);
        return done(m.checkpoint, 'criu', { status: (await waitState(ctx, rt, p.name, ['running', 'stopped'], p.timeout)).value?.status });
      }
      const bundle = p.bundle ?? s?.bundle ?? (await recordedBundle(ctx, p.name, p.snapshot, p.pool));
      if (!bundle) throw notFound(`container ${p.name} not found; give bundle= to restore its rootfs and run it`);
      const { ds, list } = await allCheckpoints(ctx, p.name, bundle);
      const target: Checkpoint | undefined = p.snapshot ? list.find((c) => c.name === p.snapshot) : list[list.length - 1];
      if (!target) throw notFound(p.snapshot ? `container ${p.name} has no checkpoint ${p.snapshot}` : `container ${p.name} has no checkpoints`);
      if (target.kind === 'zfs') {
        const snaps = await listSnapshots(ctx, ds!);
        const newer = snaps.slice(snaps.findIndex((x) => x.snapshot === target.name) + 1).map((x) => x.name);
        if (newer.length && !p.discard_newer) {
          throw refused(`${target.name} is not the newest snapshot of ${ds}; discard_newer=true destroys these: ${newer.join(', ')}`, { vars: { NEWER: stem(newer) } });
        }
        if (s) await rtRun(ctx, rt, ['delete', '--force', p.name], { timeoutMs: 60_000 });
        const destroyed = await rollback(ctx, ds!, target.name, { discardNewer: p.discard_newer, snapshots: snaps });
        const st = p.start ? await runDetached(ctx, rt, p.name, bundle, p.timeout) : undefined;
        return done(target.name, 'zfs', { destroyed, status: st?.status });
      }
      checkBundle(ctx, bundle);
      await requireCriu(ctx, rt, 'restore', { KIND: 'criu' });
      if (s) await rtRun(ctx, rt, ['delete', '--force', p.name], { timeoutMs: 60_000 });
      await criuRestore(ctx, rt, p.name, target.where, bundle, givenFlags(p), p.timeout);
      return done(target.name, 'criu', { status: (await waitState(ctx, rt, p.name, ['running', 'stopped'], p.timeout)).value?.status });
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

export const listStates = defineVerb({
  name: 'list_states',
  summary: 'the states of a container in the catalog format QEMU\'s saved states use (shared/state-catalog.ts), oldest first: CRIU checkpoints as their catalog entries (Creating, Ready, or Invalid with CRIU\'s error), ZFS checkpoints as Ready; stems IDS, STATES, PARENTS, SIZES, CREATED and KINDS (zfs|criu)',
  params: { ...NAME, ...BUNDLE_OPT, ...RUNTIME },
  positional: ['name'],
  vars: { ...STATE_LIST_VARS, KINDS: { stem: 'zfs or criu' } },
  async run(p, ctx) {
    const rt = await pickRuntime(ctx, p.runtime);
    const bundle = p.bundle ?? (await getState(ctx, rt, p.name))?.bundle;
    const ds = await datasetOf(ctx, p.name, bundle, { fresh: true });
    const zfsStates = (ds ? await zfsCheckpoints(ctx, ds) : []).map((c) => ({
      id: c.name, state: 'Ready' as const, parent: '', size: c.bytes ?? 0, created: new Date(c.createdEpoch * 1000).toISOString(), kind: 'zfs',
    }));
    const criuStates = listEntries(ctx, criuDir(ctx, p.name)).map((e) => ({ ...e, kind: 'criu' }));
    const all = [...zfsStates, ...criuStates].sort((a, b) => a.created.localeCompare(b.created) || a.id.localeCompare(b.id));
    const out = stateListOutput(all);
    return { result: out.result, vars: { ...out.vars, KINDS: stem(all.map((e) => e.kind)) } };
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
