/**
 * Scripts written for RexxJS's own ADDRESS QEMU, on the real qemu-img and
 * qemu-system-x86_64 (TCG): its verbs and keys where they mean the same here
 * (clone, remove, start_if_stopped, stop_if_running, restart, save_state/restore_state,
 * snapshot_name=, logs vm=, register_base disk= memory= cpus=), and RC 2 naming what to
 * use for those it only pretended to do.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler, type AddressHandler } from '../../../shared/dispatch';
import { sleep } from '../../../shared/poll';
import { table } from '../../../handlers/qemu';
import { removeQemuState } from '../../helpers/qemu';

const G = '/var/lib/rexx-address/qemu-guest';
const SHELL = `kernel=${G}/vmlinuz initrd=${G}/initrd.img append="console=ttyS0 quiet" accel=tcg`;
let dir: string;
let h: AddressHandler;
const ok = async (cmd: string) => {
  const r = await h(cmd);
  expect(r.errorCode, `${cmd}: ${r.errorMessage}`).toBe(0);
  return r;
};

beforeAll(async () => {
  for (const f of ['vmlinuz', 'initrd.img']) if (!fs.existsSync(path.join(G, f))) throw new Error(`${G}/${f} missing: run scripts/build-qemu-guest.sh`);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-qcompat-'));
  h = createHandler(table, { env: { ...process.env, REXX_QEMU_DIR: dir } });
  await ok('create_disk name=src size=16M');
});
afterAll(() => removeQemuState(h, dir));

describe("RexxJS's own ADDRESS QEMU verbs and keys", () => {
  it('register_base disk= memory= cpus=, then clone (no_start=true) takes the base\'s memory and cpus; remove deletes it', async () => {
    const reg = await ok(`register_base name=gold disk=${dir}/images/src.qcow2 memory=192 cpus=2`);
    expect(reg.rexxVariables.BASE).toBe('gold');
    await ok('clone base=gold name=c1 no_start=true');
    const st = await ok('state c1');
    expect(st.rexxVariables).toMatchObject({ STATUS: 'stopped', MEMORY: 192, CPUS: 2, BASE: 'gold' });
    await ok('clone_from_base base=gold name=c2 memory=256');
    expect((await ok('state c2')).rexxVariables).toMatchObject({ MEMORY: 256, CPUS: 2 });
    await ok('remove name=c1');
    expect((await h('state c1')).errorCode).toBe(3);
  });

  it('snapshot_name=, logs vm=, start_if_stopped, stop_if_running, verify_host', async () => {
    await ok(`clone base=gold name=v1 no_start=true ${SHELL}`);
    expect((await ok('snapshot name=v1 snapshot_name=s1')).rexxVariables.METHOD).toBe('offline');
    expect((await ok('restore name=v1 snapshot_name=s1')).rexxVariables.METHOD).toBe('offline');
    expect((await h('snapshot name=v1 snapshot=s2 snapshot_name=s3')).errorCode).toBe(2);
    expect((await ok('start_if_stopped name=v1 wait=serial:REXX-GUEST-READY timeout=60s')).rexxVariables.STATUS).toBe('running');
    expect((await ok('start_if_stopped name=v1')).rexxVariables.ALREADY).toBe(1);
    expect((await ok('logs vm=v1 lines=50')).output).toContain('REXX-GUEST-READY');
    expect((await ok('stop_if_running name=v1 force=true')).rexxVariables.WAS).toBe('running');
    expect((await ok('stop_if_running name=v1')).rexxVariables.METHOD).toBe('none');
    expect((await ok('verify_host')).rexxVariables.REACHABLE).toBe(1);
  });

  it('save_state stop=true keeps RAM and disk and stops the VM; restore_state resumes it where it was, without booting again', async () => {
    await ok(`clone base=gold name=v2 wait=serial:REXX-GUEST-READY timeout=60s ${SHELL}`);
    const saved = await ok('save_state name=v2 stop=true');
    expect(saved.rexxVariables).toMatchObject({ STATUS: 'stopped', SNAPSHOT: expect.stringMatching(/^state-\d+$/) });
    expect((await ok('state v2')).output).toBe('stopped');
    expect((await ok('list_states v2')).rexxVariables.STATES).toEqual({ 0: 1, 1: 'Ready' });
    const r = await ok('restore_state name=v2');
    expect(r.rexxVariables).toMatchObject({ STATUS: 'running', SNAPSHOT: saved.rexxVariables.SNAPSHOT });
    // A fresh boot prints the kernel banner and the marker within ~2 s; a resumed guest does not.
    await sleep(3000);
    const log = (await ok('console v2 lines=200')).output;
    expect(log).not.toContain('REXX-GUEST-READY');
    expect(log).not.toMatch(/Linux version/);
    expect((await ok('state v2')).output).toBe('running');
    expect((await h('restore_state name=v2')).errorCode).toBe(7);
    await ok('stop v2 force=true');
    expect((await h('restore_state name=v1')).errorCode).toBe(3);
  });

  it('restart stops and starts again, booting afresh', async () => {
    const r = await ok('restart name=v2 force=true wait=serial:REXX-GUEST-READY timeout=60s');
    expect(r.rexxVariables).toMatchObject({ METHOD: 'none', STATUS: 'running' });
    const again = await ok('restart name=v2 force=true wait=serial:REXX-GUEST-READY timeout=60s');
    expect(again.rexxVariables.METHOD).toBe('quit');
    await ok('stop v2 force=true');
  });

  it('execute / copy_to / copy_from take the original keys (vm=, working_dir=, local=, remote=) and run through the guest agent: on a stopped VM RC 7 naming the state, never a simulated success', async () => {
    for (const cmd of ['execute vm=v2 command=ls working_dir=/tmp', 'copy_to vm=v2 local=/etc/hosts remote=/tmp/h', 'copy_from vm=v2 remote=/etc/hostname local=/tmp/rexx-compat-h']) {
      const r = await h(cmd);
      expect(r.errorMessage, cmd).not.toMatch(/unknown key/);
      expect(Math.abs(r.errorCode), `${cmd}: ${r.errorMessage}`).toBe(7);
    }
  });

  it.each([
    ['provision script=/tmp/x.rexx', /never ran the script/],
    ['configure_ssh name=v2 host=1.2.3.4', /only recorded these in memory/],
    ['download_iso url=http://x destination=/tmp/x.iso', /host set-up is not a verb here/],
  ])('%s → RC 2, nothing run, saying what to use', async (cmd, why) => {
    const r = await h(cmd);
    expect(r.errorCode).toBe(2);
    expect(r.errorMessage).toMatch(/a verb of RexxJS's own ADDRESS QEMU\) is not available here/);
    expect(r.errorMessage).toMatch(why);
  });
});
