/**
 * A CRIU checkpoint, where the rootfs is not on ZFS: `<runtime> checkpoint --image-path
 * <REXX_OCI_DIR>/checkpoints/<id>/<name>`, recorded by `rexx-checkpoint.json` in that
 * image directory; on failure the directory goes and CRIU's own log lines join ERRORTEXT.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { toolFailed, toolMessage } from '../../shared/errors';
import { writeState } from '../../shared/state-file';
import type { Ctx } from '../../shared/verb';
import { criuDir, criuLogErrors, CRIU_META, uniqueName } from './checkpoints';
import { getState } from './container';
import type { Runtime } from './runtime';
import { rtArgv } from './tool';

/** `<runtime> checkpoint --image-path DIR [--leave-running] ID`; on failure CRIU's own log lines join ERRORTEXT. */
export async function criuCheckpoint(ctx: Ctx, rt: Runtime, id: string, bundle: string, leaveRunning: boolean, timeoutMs: number): Promise<string> {
  const secs = Math.floor(Date.now() / 1000);
  const existing = new Set(fs.existsSync(criuDir(ctx, id)) ? fs.readdirSync(criuDir(ctx, id)) : []);
  const name = uniqueName(secs, existing);
  const dir = path.join(criuDir(ctx, id), name);
  if (!ctx.dryrun) fs.mkdirSync(dir, { recursive: true });
  const args = ['checkpoint', '--image-path', dir];
  if (leaveRunning) args.push('--leave-running');
  args.push(id);
  const r = await ctx.run(rtArgv(rt, args), { timeoutMs });
  if (!r.ok) {
    const criu = criuLogErrors(dir);
    fs.rmSync(dir, { recursive: true, force: true });
    const s = await getState(ctx, rt, id).catch(() => undefined);
    throw toolFailed(`CRIU checkpoint failed: ${toolMessage(r)}${criu ? `\n${criu}` : ''}`, { cause: r, vars: { STATUS: s?.status ?? '', KIND: 'criu' } });
  }
  if (!ctx.dryrun) {
    writeState(path.join(dir, CRIU_META), { kind: 'criu', runtime: rt.name, bundle, createdMs: Date.now(), leaveRunning });
  }
  return name;
}
