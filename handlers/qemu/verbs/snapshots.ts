/**
 * VM snapshots. A stopped VM: qemu-img internal snapshots of its disk (`snapshot -c /
 * -a / -d`). A running VM: the QMP jobs `snapshot-save` / `snapshot-load` /
 * `snapshot-delete` (disk and RAM state in the qcow2, node `disk0`), awaited to
 * `concluded`, their error reported, then dismissed. list_snapshots reads
 * `qemu-img info -U` either way.
 */
import { notFound, refused, toolFailed } from '../../../shared/errors';
import { stem } from '../../../shared/result';
import { defineVerb, type Ctx } from '../../../shared/verb';
import { checkVmFiles } from '../hostfiles';
import { imageChain, qemuImg } from '../tool';
import { NAME, snapshotTag, timeout } from '../params';
import type { Qmp } from '../../../shared/qmp';
import { liveness, loadVm, vmPaths } from '../state';
import { startVm, stopVm, vmCrashed } from '../vm';

const TAG = { snapshot: { type: 'string', required: true, rule: snapshotTag, aliases: ['snapshot_name'], doc: 'snapshot name' } } as const;

/** The internal snapshot save_state writes and restore_state loads (RAM and disk). */
export const SAVED_STATE = 'rexx-saved-state';

/** The VM's qcow2 disk, else RC 7 (also when hostfiles.ts refuses its chain). */
async function qcow2Disk(ctx: Ctx, name: string): Promise<string> {
  const def = loadVm(ctx, name);
  if (!def.disk || def.format !== 'qcow2') throw refused(`VM ${name} has no qcow2 disk to hold snapshots`);
  await checkVmFiles(ctx, def);
  return def.disk;
}

/**
 * Run a QMP snapshot job to its end; RC 1 with the job's error, RC 5 at the deadline.
 * Under dryrun the job is not started (ctx.qmp) and nothing is waited for (ctx.poll).
 */
async function job(ctx: Ctx, q: Qmp, command: string, args: Record<string, unknown>, timeoutMs: number): Promise<void> {
  const id = `rexx-${command}-${ctx.clock.now()}`;
  await q.execute(command, { 'job-id': id, ...args });
  const done = await ctx.poll(
    async () => {
      const jobs = await q.execute<Array<{ id: string; status: string; error?: string }>>('query-jobs');
      const j = jobs.find((x) => x.id === id);
      return !j || j.status === 'concluded' || j.status === 'null' ? { j } : undefined;
    },
    { timeoutMs, initialMs: 10, maxMs: 100, what: `QMP ${command} job ${id} to conclude` },
  );
  const j = done.value?.j;
  if (j) await q.execute('job-dismiss', { id });
  if (j?.error) throw toolFailed(`QMP ${command}: ${j.error}`);
}

/** Either the offline qemu-img form or the running QMP job, by the VM's state. */
async function either(ctx: Ctx, name: string, offline: string[], qmp: [string, Record<string, unknown>], timeoutMs: number) {
  const disk = await qcow2Disk(ctx, name);
  const l = liveness(ctx, name);
  if (l.kind === 'crashed') throw vmCrashed(ctx, name, l.pid);
  if (l.kind === 'stopped') {
    await qemuImg(ctx, ['snapshot', ...offline, disk], { timeoutMs });
    return 'offline';
  }
  await ctx.qmp(vmPaths(ctx, name).qmp, (q) => job(ctx, q, qmp[0], qmp[1], timeoutMs));
  return 'qmp';
}

const JOB = ['disk0'];

export const snapshot = defineVerb({
  name: 'snapshot',
  summary: 'snapshot a VM\'s disk: qemu-img snapshot -c when stopped, QMP snapshot-save (with RAM) when running; METHOD says which',
  params: { ...NAME, ...TAG, ...timeout(120_000, 'how long the snapshot may take') },
  positional: ['name', 'snapshot'],
  examples: ['snapshot name=web-1 snapshot=before-upgrade'],
  vars: { METHOD: 'offline (qemu-img) or qmp (running VM)', STATUS: 'crashed when QEMU died or the guest can no longer run' },
  async run(p, ctx) {
    const m = await either(ctx, p.name, ['-c', p.snapshot], ['snapshot-save', { tag: p.snapshot, vmstate: 'disk0', devices: JOB }], p.timeout);
    return { result: p.snapshot, vars: { METHOD: m } };
  },
});

export const restore = defineVerb({
  name: 'restore',
  summary: 'revert a VM\'s disk to a snapshot: qemu-img snapshot -a when stopped, QMP snapshot-load when running',
  params: { ...NAME, ...TAG, ...timeout(120_000, 'how long the restore may take') },
  positional: ['name', 'snapshot'],
  vars: { METHOD: 'offline (qemu-img) or qmp (running VM)', STATUS: 'crashed when QEMU died or the guest can no longer run' },
  async run(p, ctx) {
    const m = await either(ctx, p.name, ['-a', p.snapshot], ['snapshot-load', { tag: p.snapshot, vmstate: 'disk0', devices: JOB }], p.timeout);
    return { result: p.snapshot, vars: { METHOD: m } };
  },
});

export const deleteSnapshot = defineVerb({
  name: 'delete_snapshot',
  summary: 'delete a snapshot: qemu-img snapshot -d when stopped, QMP snapshot-delete when running',
  params: { ...NAME, ...TAG, ...timeout(120_000, 'how long it may take') },
  positional: ['name', 'snapshot'],
  vars: { METHOD: 'offline (qemu-img) or qmp (running VM)', STATUS: 'crashed when QEMU died or the guest can no longer run' },
  async run(p, ctx) {
    const m = await either(ctx, p.name, ['-d', p.snapshot], ['snapshot-delete', { tag: p.snapshot, devices: JOB }], p.timeout);
    return { result: p.snapshot, vars: { METHOD: m } };
  },
});

export const listSnapshots = defineVerb({
  name: 'list_snapshots',
  summary: 'snapshots of a VM\'s disk (qemu-img info -U): stems SNAPSHOTS, SNAPSHOT_DATES (ISO 8601), VM_STATE_SIZES (bytes)',
  params: { ...NAME },
  positional: ['name'],
  vars: { SNAPSHOTS: { stem: 'snapshot tags' }, SNAPSHOT_DATES: { stem: 'when each was taken (ISO 8601)' }, VM_STATE_SIZES: { stem: 'bytes of saved RAM (0 for disk-only)' } },
  async run(p, ctx) {
    const top = (await imageChain(ctx, await qcow2Disk(ctx, p.name), { forceShare: true }))[0]!;
    const snaps = top.snapshots ?? [];
    const dates = snaps.map((s) => new Date(s['date-sec'] * 1000).toISOString());
    return {
      result: snaps.map((s, i) => `${s.name} ${dates[i]}`).join('\n'),
      vars: { SNAPSHOTS: stem(snaps.map((s) => s.name)), SNAPSHOT_DATES: stem(dates), VM_STATE_SIZES: stem(snaps.map((s) => s['vm-state-size'])) },
    };
  },
});

export const saveState = defineVerb({
  name: 'save_state',
  summary: `save a running VM's whole state (RAM and disk, QMP snapshot-save as ${SAVED_STATE}) and stop it; restore_state resumes it where it was`,
  params: { ...NAME, ...timeout(300_000, 'how long saving may take') },
  positional: ['name'],
  vars: { STATUS: 'saved (stopped, with its state kept), or crashed', SNAPSHOT: `the snapshot holding it (${SAVED_STATE})` },
  async run(p, ctx) {
    const disk = await qcow2Disk(ctx, p.name);
    const l = liveness(ctx, p.name);
    if (l.kind === 'crashed') throw vmCrashed(ctx, p.name, l.pid);
    if (l.kind === 'stopped') throw refused(`save_state: VM ${p.name} is not running (a stopped VM has no state to save)`);
    await ctx.qmp(vmPaths(ctx, p.name).qmp, async (q) => {
      // One saved state at a time: an older one is replaced.
      const top = (await imageChain(ctx, disk, { forceShare: true }))[0]!;
      if ((top.snapshots ?? []).some((s) => s.name === SAVED_STATE)) await job(ctx, q, 'snapshot-delete', { tag: SAVED_STATE, devices: JOB }, p.timeout);
      await job(ctx, q, 'snapshot-save', { tag: SAVED_STATE, vmstate: 'disk0', devices: JOB }, p.timeout);
    });
    await stopVm(ctx, p.name, true, 0);
    return { result: 'saved', vars: { STATUS: 'saved', SNAPSHOT: SAVED_STATE } };
  },
});

export const restoreState = defineVerb({
  name: 'restore_state',
  summary: `start a VM from the state save_state kept (qemu -loadvm ${SAVED_STATE}), then drop that saved state; RC 3 when there is none`,
  params: { ...NAME, ...timeout(300_000, 'how long loading may take') },
  positional: ['name'],
  vars: {
    STATUS: 'running, or crashed',
    PID: 'the QEMU pid',
    ACCEL: 'kvm or tcg',
    ACCEL_REASON: 'why that accelerator',
    ALREADY: '0',
    START_MS: 'ms from launch to running',
    QMP_MS: 'ms until QMP said running',
    READY_MS: '0',
    SNAPSHOT: `the snapshot it came from (${SAVED_STATE})`,
  },
  async run(p, ctx) {
    const disk = await qcow2Disk(ctx, p.name);
    if (liveness(ctx, p.name).kind === 'running') throw refused(`restore_state: VM ${p.name} is running; save_state stops it, so its saved state belongs to a stopped VM`);
    const top = (await imageChain(ctx, disk, { forceShare: true }))[0]!;
    const saved = (top.snapshots ?? []).find((s) => s.name === SAVED_STATE);
    if (!saved) throw notFound(`restore_state: VM ${p.name} has no saved state (save_state makes one)`);
    if (saved && saved['vm-state-size'] === 0) throw notFound(`restore_state: ${SAVED_STATE} of ${p.name} holds no RAM state`);
    const out = await startVm(ctx, p.name, 'running', p.timeout, { loadvm: SAVED_STATE });
    // Consumed, as libvirt's managedsave image is: the next start boots afresh.
    // On the QEMU this call launched: under dryrun there is none.
    await ctx.effect(() => ctx.qmp(vmPaths(ctx, p.name).qmp, (q) => job(ctx, q, 'snapshot-delete', { tag: SAVED_STATE, devices: JOB }, p.timeout)), undefined);
    return { ...out, vars: { ...out.vars, SNAPSHOT: SAVED_STATE } };
  },
});
