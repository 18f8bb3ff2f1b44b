/**
 * What a REXX script is told, on the real daemon (issue 8): exec behaves like a shell,
 * RC follows the REXX convention (the command's status, or negative when it never ran),
 * no variable survives from an earlier call, and scripts written for RexxJS's own LXD
 * handler (and the seed design) run. Every call goes through the function RexxJS calls.
 */
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler } from '../../../shared/dispatch';
import { table } from '../../../handlers/lxd';
import { cleanupInstances, requireLxd, uniq } from './lxd-test-env';

const lxd = createHandler(table);
const name = uniq('truth');
const noShell = uniq('nosh');
const made: string[] = [name, noShell];

beforeAll(async () => {
  await requireLxd();
  for (const n of [name, noShell]) {
    const r = await lxd(`create name=${n} image=tiny`);
    if (!r.success) throw new Error(r.errorMessage);
    const s = await lxd(`start ${n}`);
    if (!s.success) throw new Error(s.errorMessage);
  }
  // a guest without /bin/sh (busybox is still there, as /bin/busybox)
  await execa('lxc', ['exec', noShell, '--', '/bin/busybox', 'rm', '/bin/sh']);
});
afterAll(() => cleanupInstances(made));

describe('exec runs a command line the way a shell does', () => {
  it.each([
    ['exit 3', 3, ''],
    ['cd /tmp && pwd', 0, '/tmp'],
    ['cd /tmp', 0, ''],
    ['export A=1; echo $A', 0, '1'],
    ['A=1 env | grep ^A=', 0, 'A=1'],
    ['ulimit -n', 0, /^\d+$/],
    ['echo X=7 > /tmp/vars.sh; . /tmp/vars.sh; echo $X', 0, '7'],
    ['false', 1, ''],
    ['kill -9 $$', 137, ''],
  ])('%s → RC %d', async (command, rc, out) => {
    const r = await lxd(`exec name=${name} command=${JSON.stringify(command)}`);
    expect(r.errorCode, r.errorMessage).toBe(rc);
    expect(r.rexxVariables.EXIT_CODE).toBe(rc);
    if (out instanceof RegExp) expect(r.output).toMatch(out);
    else expect(r.output).toBe(out);
  });

  it('cwd= that does not exist fails with -3 and the command does not run', async () => {
    const r = await lxd(`exec name=${name} command="touch /tmp/ran-in-cwd" cwd=/nonexistent`);
    expect(r.errorCode).toBe(-3);
    expect(r.errorMessage).toMatch(/cwd=\/nonexistent does not exist/);
    expect((await lxd(`exec name=${name} command="test -e /tmp/ran-in-cwd"`)).errorCode).toBe(1);
    // a file is not a working directory either
    expect((await lxd(`exec name=${name} command=pwd cwd=/etc/inittab`)).errorCode).toBe(-3);
    expect((await lxd(`exec name=${name} command=pwd cwd=/tmp`)).output).toBe('/tmp');
  });

  it('a guest without /bin/sh: -3 naming shell=never; shell=never and arg= still run', async () => {
    const r = await lxd(`exec name=${noShell} command="echo hi"`);
    expect(r.errorCode).toBe(-3);
    expect(r.errorMessage).toMatch(/no \/bin\/sh.*shell=never/);
    expect((await lxd(`exec name=${noShell} command="/bin/busybox echo hi" shell=never`)).output).toBe('hi');
    expect((await lxd(`exec name=${noShell} arg=/bin/busybox arg=echo arg="a b"`)).output).toBe('a b');
  });
});

describe('RC of exec follows the REXX convention', () => {
  it('a missing instance is -3, never the same as a command that exited 3', async () => {
    const missing = await lxd(`exec name=${uniq('missing')} command="exit 3"`);
    expect(missing.errorCode).toBe(-3);
    expect((await lxd(`exec name=${name} command="exit 3"`)).errorCode).toBe(3);
  });

  it('a stopped instance is -1, never the same as a command that exited 1', async () => {
    const stopped = uniq('stopped');
    made.push(stopped);
    await lxd(`create name=${stopped} image=tiny`);
    expect((await lxd(`exec name=${stopped} command=true`)).errorCode).toBe(-1);
  });

  it('a timeout is -5; a bad parameter is -2 and nothing runs', async () => {
    expect((await lxd(`exec name=${name} command="sleep 30" timeout=300ms`)).errorCode).toBe(-5);
    expect((await lxd(`exec name=${name} command=true user=x`)).errorCode).toBe(-2);
  });
});

describe('no verb leaves a variable from an earlier call', () => {
  it('success, then failure, then the variables read back', async () => {
    const ok = await lxd(`info name=${name}`);
    expect(ok.rexxVariables).toMatchObject({ STATUS: 'Running', IS_BASE: 0 });
    expect(ok.rexxVariables.PID).toBeGreaterThan(0);
    const bad = await lxd(`info name=${uniq('missing')}`);
    expect(bad.errorCode).toBe(3);
    expect(bad.rexxVariables).toMatchObject({ STATUS: '', PID: '', TYPE: '', IPV4: '', IPV4S: { 0: 0 }, PROFILES: { 0: 0 } });
  });

  it('an exec that never ran clears STDERR, EXIT_CODE and LINES of the one before', async () => {
    const ran = await lxd(`exec name=${name} command="echo out; echo err >&2; exit 4"`);
    expect(ran.rexxVariables).toMatchObject({ STDERR: 'err', EXIT_CODE: 4, LINES: { 0: 1, 1: 'out' } });
    const never = await lxd(`exec name=${uniq('missing')} command=true`);
    expect(never.rexxVariables).toMatchObject({ STDERR: '', EXIT_CODE: '', LINES: { 0: 0 } });
  });
});

describe('scripts written for RexxJS\'s own LXD handler and for the seed design run', () => {
  it("the seed's execute, and the original's remove, clone and register_base memory= cpus= storage=", async () => {
    const base = uniq('seedbase');
    const copy = uniq('seedcopy');
    made.push(base, copy);
    // the seed design's own line, with a command this guest has
    const seed = await lxd(`execute name=${name} command='echo update && echo install'`);
    expect(seed).toMatchObject({ success: true, output: 'update\ninstall' });
    const reg = await lxd(`register_base name=${base} image=tiny memory=128MiB cpus=1 storage=${process.env.REXX_LXD_POOL ?? 'rexxbt'}`);
    expect(reg.success, reg.errorMessage).toBe(true);
    const cfg = await execa('lxc', ['config', 'get', base, 'limits.memory']);
    expect(cfg.stdout).toBe('128MiB');
    expect((await lxd(`clone source=${base} destination=${copy}`)).success).toBe(true);
    expect((await lxd(`remove name=${copy}`)).success).toBe(true);
    expect((await lxd(`info ${copy}`)).errorCode).toBe(3);
  });
});
