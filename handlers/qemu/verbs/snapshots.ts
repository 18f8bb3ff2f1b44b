/**
 * VM snapshots. A stopped VM: qemu-img internal snapshots of its disk (`snapshot -c /
 * -a / -d`). A running VM: the QMP jobs `snapshot-save` / `snapshot-load` /
 * `snapshot-delete` (disk and RAM state in the qcow2, node `disk0`), awaited to
 * `concluded`, their error reported, then dismissed. list_snapshots reads
 * `qemu-img info -U` either way.
 */
import { refused, toolFailed } from '../../../shared/errors';
import { stem } from '../../../shared/result';
import { defineVerb, type Ctx } from '../../../shared/verb';
import { checkVmFiles } from '../hostfiles';
import { imageChain, qemuImg } from '../tool';
import { NAME, snapshotTag, timeout } from '../params';
import type { Qmp } from '../../../shared/qmp';
import { liveness, loadVm, vmPaths } from '../state';
import { vmCrashed } from '../vm';
import { activeDiskNode } from '../migration';

const TAG = { snapshot: { type: 'string', required: true, rule: snapshotTag, aliases: ['snapshot_name'], doc: 'snapshot name' } } as const;

/** The VM's qcow2 disk, else RC 7 (also when hostfiles.ts refuses its chain). */
async function qcow2Disk(ctx: Ctx, name: string): Promise<string> {
  const def = loadVm(ctx, name);
  if (!def.disk || def.format !== 'qcow2') throw refused(`VM ${name} has no qcow2 disk to hold snapshots`);
  await checkVmFiles(ctx, def);
  // After save_state the VM writes to its overlay (def.top); the layers below are frozen.
  return def.top || def.disk;
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
  await ctx.qmp(vmPaths(ctx, name).qmp, async (q) => {
    // After save_state the guest writes to an overlay node (disk0-ID), not disk0.
    const node = await activeDiskNode(q);
    const args = { ...qmp[1], devices: [node], ...('vmstate' in qmp[1] ? { vmstate: node } : {}) };
    return job(ctx, q, qmp[0], args, timeoutMs);
  });
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
