/**
 * ADDRESS LXD on the real daemon (scripts/setup-host.sh): the full lifecycle of one
 * instance, exec exit codes and stderr, files, snapshots, and the not-found / exists /
 * timeout / unreachable RCs.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler } from '../../../shared/dispatch';
import { table } from '../../../handlers/lxd';
import { pollUntil } from '../../../shared/poll';
import { requireLxd, cleanupInstances, uniq } from './lxd-test-env';

const lxd = createHandler(table);
const name = uniq('life');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-lxd-'));
const extra: string[] = [];

beforeAll(requireLxd);
afterAll(async () => {
  await cleanupInstances([name, ...extra]);
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('ADDRESS LXD lifecycle on a real daemon', () => {
  it('creates a stopped instance with lxc init', async () => {
    const r = await lxd(`create name=${name} image=tiny memory=128MiB`);
    expect(r).toMatchObject({ success: true, output: name });
    const i = await lxd(`info ${name}`);
    expect(i.output).toBe('Stopped');
  });

  it('refuses to create it twice (RC 4)', async () => {
    const r = await lxd(`create name=${name} image=tiny`);
    expect(r.errorCode).toBe(4);
    expect(r.errorMessage).toMatch(/already exists/);
  });

  it('starts and waits until Running; starting again is RC 0', async () => {
    const r = await lxd(`start name=${name}`);
    expect(r).toMatchObject({ success: true, output: 'Running' });
    expect((r.rexxVariables as { START_MS: number }).START_MS).toBeGreaterThan(0);
    expect((await lxd(`start ${name}`)).errorCode).toBe(0);
    const i = await lxd(`info ${name}`);
    expect(i.rexxVariables).toMatchObject({ STATUS: 'Running', TYPE: 'container', IS_BASE: 0 });
    expect((i.rexxVariables as { PID: number }).PID).toBeGreaterThan(0);
  });

  it('exec returns stdout, LINES, and RC 0', async () => {
    const r = await lxd(`exec name=${name} command="echo one; echo two"`);
    expect(r).toMatchObject({ success: true, output: 'one\ntwo' });
    expect(r.rexxVariables.LINES).toEqual({ 0: 2, 1: 'one', 2: 'two' });
  });

  it('exec returns the command exit code as RC and its stderr', async () => {
    const r = await lxd(`exec name=${name} command="echo out; echo oops >&2; exit 7"`);
    expect(r).toMatchObject({ success: false, errorCode: 7, output: 'out', errorMessage: 'oops' });
    expect(r.rexxVariables).toMatchObject({ STDERR: 'oops', EXIT_CODE: 7 });
  });

  it('exec runs an exact argv with arg=, with env, cwd and stdin', async () => {
    const r = await lxd(`exec name=${name} arg=env env=GREETING="hello world"`);
    expect(r.output.split('\n')).toContain('GREETING=hello world');
    const missing = await lxd(`exec name=${name} arg=nosuchcmd`);
    expect(missing.errorCode).toBe(-3);
    expect(missing.errorMessage).toMatch(/command not found in the guest: nosuchcmd/);
    expect(missing.rexxVariables.EXIT_CODE).toBe('');
    // through the shell it ran: the shell's own 127
    expect((await lxd(`exec name=${name} command=nosuchcmd`)).errorCode).toBe(127);
    expect((await lxd(`exec name=${name} command=pwd cwd=/tmp`)).output).toBe('/tmp');
    expect((await lxd(`exec name=${name} command=cat input="from stdin"`)).output).toBe('from stdin');
    // `$HOME` reaches the guest literally and is expanded by the guest's sh, not the host's.
    expect((await lxd(`exec name=${name} command='echo $HOME'`)).output).toBe('/root');
  });

  it('exec times out with RC -5, and the command does not go on running in the instance', async () => {
    const r = await lxd(`exec name=${name} command="sleep 4321" timeout=500ms`);
    expect(r.errorCode).toBe(-5);
    // Stopping the lxc client ends the exec session; LXD kills the command with it.
    const left = await pollUntil(async () => !(await lxd(`exec name=${name} command=ps`)).output.includes('sleep 4321'), { timeoutMs: 5_000 });
    expect(left).toBe(true);
  });

  it('exec timeout= also ends what the command started: a background child and the waited one are gone', async () => {
    // LXD ends only the command's first process with the exec session; the handler kills the rest.
    const r = await lxd(`exec name=${name} command="sleep 4322 & sleep 4323; wait" timeout=1s`);
    expect(r.errorCode).toBe(-5);
    const gone = await pollUntil(async () => !/sleep 432[23]/.test((await lxd(`exec name=${name} command=ps`)).output), { timeoutMs: 5_000 });
    expect(gone).toBe(true);
  });

  it('pushes and pulls files', async () => {
    expect((await lxd(`file_push name=${name} path=/root/note.txt content="hi there"`)).success).toBe(true);
    expect((await lxd(`file_pull name=${name} path=/root/note.txt`)).output).toBe('hi there');
    const src = path.join(tmp, 'up.txt');
    fs.writeFileSync(src, 'from host\n');
    expect((await lxd(`file_push name=${name} source=${src} path=/root/up.txt mode=0600`)).success).toBe(true);
    const dest = path.join(tmp, 'down.txt');
    expect((await lxd(`file_pull name=${name} path=/root/up.txt destination=${dest}`)).success).toBe(true);
    expect(fs.readFileSync(dest, 'utf8')).toBe('from host\n');
  });

  it('snapshots, restores, lists and deletes snapshots', async () => {
    const s = await lxd(`snapshot name=${name} snapshot=before`);
    expect(s.output).toBe('before');
    await lxd(`exec name=${name} command="rm /root/note.txt"`);
    const auto = await lxd(`snapshot name=${name}`);
    expect(auto.output).toMatch(/^checkpoint-\d+$/);
    const l = await lxd(`list_snapshots name=${name}`);
    expect(l.rexxVariables.SNAPSHOTS).toEqual({ 0: 2, 1: 'before', 2: auto.output });
    expect((await lxd(`restore name=${name} snapshot=before`)).success).toBe(true);
    expect((await lxd(`file_pull name=${name} path=/root/note.txt`)).output).toBe('hi there');
    expect((await lxd(`delete_snapshot name=${name} snapshot=${auto.output}`)).success).toBe(true);
    expect((await lxd(`restore name=${name} snapshot=nosuch`)).errorCode).toBe(3);
  });

  it('copies the instance with and without its snapshots, and from one snapshot', async () => {
    const [full, only, fromSnap] = [uniq('copy'), uniq('copy'), uniq('copy')];
    extra.push(full, only, fromSnap);
    expect((await lxd(`copy source=${name} destination=${full}`)).output).toBe(full);
    expect((await lxd(`list_snapshots ${full}`)).rexxVariables.SNAPSHOTS).toEqual({ 0: 1, 1: 'before' });
    expect((await lxd(`copy source=${name} destination=${only} instance_only=true`)).success).toBe(true);
    expect((await lxd(`list_snapshots ${only}`)).rexxVariables.SNAPSHOTS).toEqual({ 0: 0 });
    expect((await lxd(`copy ${name}/before ${fromSnap}`)).success).toBe(true);
    expect((await lxd(`info ${fromSnap}`)).output).toBe('Stopped');
    expect((await lxd(`copy source=${name} destination=${full}`)).errorCode).toBe(4);
  });

  it('restarts a running instance (force: at once) and waits until Running', async () => {
    const r = await lxd(`restart name=${name} force=true`);
    expect(r).toMatchObject({ success: true, output: 'Running' });
    expect((await lxd(`file_pull name=${name} path=/root/note.txt`)).output).toBe('hi there');
  });

  it('refuses to delete a running instance without force (RC 7)', async () => {
    const r = await lxd(`delete name=${name}`);
    expect(r.errorCode).toBe(7);
  });

  it('stops with force, and stopping again is RC 0', async () => {
    expect((await lxd(`stop name=${name} force=true`)).output).toBe('Stopped');
    expect((await lxd(`stop name=${name} force=true`)).errorCode).toBe(0);
    // the command could not run: not running is -1
    expect((await lxd(`exec name=${name} command=true`)).errorCode).toBe(-1);
  });

  it('lists instances with a filter', async () => {
    const r = await lxd(`list filter=${name}`);
    expect(r.rexxVariables.INSTANCES).toEqual({ 0: 1, 1: name });
    expect(r.rexxVariables.STATUSES).toEqual({ 0: 1, 1: 'Stopped' });
  });

  it('deletes it; then it is not found (RC 3)', async () => {
    expect((await lxd(`delete ${name}`)).success).toBe(true);
    for (const cmd of [`info ${name}`, `start ${name}`, `delete ${name}`]) {
      expect((await lxd(cmd)).errorCode, cmd).toBe(3);
    }
    // exec: the command never ran, so the negative code, and a missing instance is never "exit 3"
    expect((await lxd(`exec name=${name} command=true`)).errorCode).toBe(-3);
  });

  it('start wait=ip on an instance without a network device is RC 2 at once, naming the fix, and starts nothing', async () => {
    const n = uniq('nonet');
    const prof = uniq('noprof');
    try {
      // a profile with a root disk and no nic (the default one has eth0 on rexxbr0)
      await execa('lxc', ['profile', 'create', prof]);
      await execa('lxc', ['profile', 'device', 'add', prof, 'root', 'disk', 'path=/', `pool=${process.env.REXX_LXD_POOL ?? 'rexxbt'}`]);
      await lxd(`create name=${n} image=tiny profile=${prof}`);
      const r = await lxd(`start name=${n} wait=ip timeout=30s`);
      expect(r.errorCode).toBe(2);
      expect(r.errorMessage).toMatch(/no network device.*profile=rexx-net/);
      expect((await lxd(`info ${n}`)).output).toBe('Stopped');
    } finally {
      await cleanupInstances([n]);
      await execa('lxc', ['profile', 'delete', prof], { reject: false });
    }
  });

  it('start wait=ip works with the default profile alone (setup-host gives it eth0, as lxd init --auto does)', async () => {
    const n = uniq('dflnet');
    try {
      await lxd(`create name=${n} image=tiny`);
      const r = await lxd(`start name=${n} wait=ip timeout=30s`);
      expect(r.success, r.errorMessage).toBe(true);
      expect(r.rexxVariables.IPV4).toMatch(/^10\.231\.7\.\d+$/);
    } finally {
      await cleanupInstances([n]);
    }
  });

  it('start wait=ip returns the DHCP address on the rexx-net bridge', async () => {
    const n = uniq('net');
    try {
      await lxd(`create name=${n} image=tiny profile=default profile=rexx-net`);
      const r = await lxd(`start name=${n} wait=ip timeout=30s`);
      expect(r.success, r.errorMessage).toBe(true);
      expect(r.rexxVariables.IPV4).toMatch(/^10\.231\.7\.\d+$/);
    } finally {
      await cleanupInstances([n]);
    }
  });

  it('a daemon that does not answer gives RC 6 (client pointed at a missing socket)', async () => {
    const down = createHandler(table, { env: { ...process.env, LXD_DIR: path.join(tmp, 'no-daemon') } });
    for (const cmd of ['status', 'list', `start ${name}`, `clone_from_base base=x name=${name}`]) {
      const r = await down(cmd);
      expect(r.errorCode, cmd).toBe(6);
    }
    expect((await down('status')).rexxVariables).toMatchObject({ REACHABLE: 0 });
  });

  it('status reports the server and its storage drivers', async () => {
    const r = await lxd('status');
    expect(r.rexxVariables).toMatchObject({ REACHABLE: 1 });
    expect(r.rexxVariables.STORAGE_DRIVERS).toMatch(/btrfs/);
  });
});
