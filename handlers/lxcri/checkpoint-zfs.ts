/**
 * A ZFS checkpoint: the container is frozen (`<runtime> pause`) around `zfs snapshot
 * -o org.rexxjs:checkpoint-kind=zfs <dataset>@checkpoint-<unix seconds>[-N]` and resumed
 * in a finally, even when the snapshot fails.
 */
import { AddressError } from '../../shared/errors';
import type { Ctx } from '../../shared/verb';
import { zfs } from '../zfs/tool';
import { KIND_PROP, uniqueName } from './checkpoints';
import type { Runtime } from './runtime';
import { rtRun } from './tool';

/** pause → zfs snapshot -o kind=zfs → resume (in finally); `-N` suffix when the second's name is taken. */
export async function zfsCheckpoint(ctx: Ctx, rt: Runtime, id: string, ds: string, running: boolean): Promise<string> {
  const secs = Math.floor(Date.now() / 1000);
  const taken = new Set<string>();
  if (running) await rtRun(ctx, rt, ['pause', id]);
  try {
    for (;;) {
      const name = uniqueName(secs, taken);
      try {
        await zfs(ctx, ['snapshot', '-o', `${KIND_PROP}=zfs`, `${ds}@${name}`]);
        return name;
      } catch (e) {
        if (!(e instanceof AddressError && e.kind === 'exists') || taken.size > 100) throw e;
        taken.add(name);
      }
    }
  } finally {
    if (running) await rtRun(ctx, rt, ['resume', id]);
  }
}
