/**
 * Custom storage volumes: `lxc storage volume create|attach|detach|delete|snapshot`.
 * A volume lives in a storage pool, outlives the instances it is attached to, and can be
 * attached to several (a filesystem volume) at once. LXD refuses to delete one that is
 * attached (RC 7, errors.ts LXC_IN_USE_ERRORS); volume_detach first.
 */
import { usageError } from '../../../shared/errors';
import { guestPath } from '../../../shared/names';
import { createUnderFreeName, epochName } from '../../../shared/snapshot-names';
import { defineVerb } from '../../../shared/verb';
import { lxdDeviceName } from '../devices';
import { LXC_IN_USE_ERRORS } from '../errors';
import { lxdInstanceName, lxdObjectName, lxdSnapshotName, volumeSize } from '../names';
import { REMOTE } from '../params';
import { lxc, ref } from '../tool';

const VOLUME = {
  pool: { type: 'string', required: true, rule: lxdObjectName, doc: 'the storage pool (lxc storage list)' },
  volume: { type: 'string', required: true, rule: lxdObjectName, doc: 'the custom volume\'s name' },
} as const;

const INSTANCE = {
  name: { type: 'string', required: true, rule: lxdInstanceName, doc: 'the instance' },
} as const;

export const volumeCreate = defineVerb({
  name: 'volume_create',
  summary: 'create a custom storage volume in a pool (lxc storage volume create), a filesystem or a block device; an existing one is RC 4',
  params: {
    ...VOLUME,
    size: { type: 'string', rule: volumeSize, doc: 'its size (size=; default: the pool\'s volume.size, unlimited on dir/btrfs)' },
    content: { type: 'enum', values: ['filesystem', 'block'], default: 'filesystem', doc: 'a filesystem (mounted at a path, shareable) or a block device (for a VM)' },
    ...REMOTE,
  },
  positional: ['pool', 'volume'],
  examples: ['volume_create pool=default volume=webdata size=1GiB'],
  vars: {},
  async run(p, ctx) {
    const args = ['storage', 'volume', 'create', ref(p.remote, p.pool), p.volume];
    if (p.size) args.push(`size=${p.size}`);
    if (p.content === 'block') args.push('--type=block');
    await lxc(ctx, args, { timeoutMs: 120_000 });
    return { result: p.volume };
  },
});

export const volumeAttach = defineVerb({
  name: 'volume_attach',
  summary: 'attach a custom volume to an instance as a disk device (lxc storage volume attach), hot-plugged when it runs; a taken device name is RC 4',
  params: {
    ...VOLUME,
    ...INSTANCE,
    path: { type: 'string', rule: guestPath, doc: 'where a filesystem volume is mounted in the instance (none for a block volume)' },
    device: { type: 'string', rule: lxdDeviceName, doc: 'the device name in the instance (default: the volume\'s name; with path=)' },
    ...REMOTE,
  },
  examples: ['volume_attach pool=default volume=webdata name=web path=/srv/data'],
  vars: {},
  async run(p, ctx) {
    if (p.device !== undefined && p.path === undefined) throw usageError('volume_attach: device= goes with path= (a block volume is attached under its own name)');
    const args = ['storage', 'volume', 'attach', ref(p.remote, p.pool), p.volume, p.name];
    if (p.path !== undefined) args.push(p.device ?? p.volume, p.path);
    await lxc(ctx, args, { timeoutMs: 120_000 });
    return { result: p.device ?? p.volume };
  },
});

export const volumeDetach = defineVerb({
  name: 'volume_detach',
  summary: 'detach a custom volume from an instance (lxc storage volume detach), hot-unplugged when it runs; RC 3 when it is not attached there',
  params: {
    ...VOLUME,
    ...INSTANCE,
    device: { type: 'string', rule: lxdDeviceName, doc: 'the device name, when the volume is attached more than once' },
    ...REMOTE,
  },
  examples: ['volume_detach pool=default volume=webdata name=web'],
  vars: {},
  async run(p, ctx) {
    const args = ['storage', 'volume', 'detach', ref(p.remote, p.pool), p.volume, p.name];
    if (p.device !== undefined) args.push(p.device);
    await lxc(ctx, args, { errors: LXC_IN_USE_ERRORS, timeoutMs: 120_000 });
    return { result: p.volume };
  },
});

export const volumeDelete = defineVerb({
  name: 'volume_delete',
  summary: 'delete a custom volume and its snapshots (lxc storage volume delete); RC 7 while it is attached (LXD refuses: volume_detach first), RC 3 when there is none',
  params: { ...VOLUME, ...REMOTE },
  positional: ['pool', 'volume'],
  examples: ['volume_delete pool=default volume=webdata'],
  vars: {},
  async run(p, ctx) {
    await lxc(ctx, ['storage', 'volume', 'delete', ref(p.remote, p.pool), p.volume], { errors: LXC_IN_USE_ERRORS, timeoutMs: 120_000 });
    return { result: p.volume };
  },
});

export const volumeSnapshot = defineVerb({
  name: 'volume_snapshot',
  summary: 'take a snapshot of a custom volume (lxc storage volume snapshot; default name snap-<unix seconds>, then -2, -3 … when taken); RESULT and SNAPSHOT are its name',
  params: {
    ...VOLUME,
    snapshot: { type: 'string', rule: lxdSnapshotName, doc: 'snapshot name (default snap-<unix seconds>; RC 4 when a given name exists)' },
    ...REMOTE,
  },
  positional: ['pool', 'volume', 'snapshot'],
  examples: ['volume_snapshot pool=default volume=webdata snapshot=before-upgrade'],
  vars: { SNAPSHOT: 'the snapshot name' },
  async run(p, ctx) {
    const take = (snap: string) => lxc(ctx, ['storage', 'volume', 'snapshot', ref(p.remote, p.pool), p.volume, snap], { timeoutMs: 600_000 });
    const snap = p.snapshot ?? (await createUnderFreeName(epochName('snap', ctx.clock.now()), take)).name;
    if (p.snapshot) await take(p.snapshot);
    return { result: snap, vars: { SNAPSHOT: snap } };
  },
});
