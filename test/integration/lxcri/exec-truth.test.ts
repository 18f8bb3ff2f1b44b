/**
 * LXCRI exec tells a REXX script the truth, on the real runc (issue 8): the command line
 * runs under the container's /bin/sh -c, RC is its exit status, and a command that
 * never ran is negative (-3 container, cwd or program missing, -1 not running) with
 * EXIT_CODE '' and no variable left from the call before.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler, type AddressHandler } from '../../../shared/dispatch';
import { table } from '../../../handlers/lxcri';
import { busyboxRootfs, deleteAllRunc, requireTools } from '../../helpers/lxcri-env';
import { RUN_ID } from '../../helpers/run-id';

const P = `lxtr${RUN_ID}`;
let tmp: string;
let h: AddressHandler;

async function running(id: string, withShell = true) {
  const b = `${tmp}/${id}`;
  busyboxRootfs(`${b}/rootfs`);
  if (!withShell) fs.rmSync(`${b}/rootfs/bin/sh`);
  expect((await h(`spec bundle=${b} arg=/bin/busybox arg=sleep arg=1000 readonly=false runtime=runc`)).errorCode).toBe(0);
  const r = await h(`run name=${id} bundle=${b} zfs=false runtime=runc`);
  expect(r.errorCode, r.errorMessage).toBe(0);
}

beforeAll(async () => {
  requireTools(['runc', 'busybox'], false);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-lxcri-truth-'));
  h = createHandler(table, { env: { ...process.env, REXX_OCI_DIR: `${tmp}/oci`, REXX_OCI_ROOT: `${tmp}/run` } });
  await running(`${P}-a`);
  await running(`${P}-nosh`, false);
});
afterAll(() => {
  if (!tmp) return;
  deleteAllRunc(`${tmp}/run/runc`);
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('LXCRI exec: a shell command line, REXX return codes', () => {
  it.each([
    ['exit 3', 3, ''],
    ['cd /tmp && pwd', 0, '/tmp'],
    ['export A=1; echo $A', 0, '1'],
    ['A=2 sh -c \'echo $A\'', 0, '2'],
  ])('%s → RC %d', async (command, rc, out) => {
    const r = await h(`exec name=${P}-a command=${JSON.stringify(command)}`);
    expect(r.errorCode, r.errorMessage).toBe(rc);
    expect(r.output).toBe(out);
    expect(r.rexxVariables.EXIT_CODE).toBe(rc);
  });

  it('missing cwd, program, container: -3, nothing ran, EXIT_CODE empty', async () => {
    const cwd = await h(`exec name=${P}-a command="touch /tmp/ran" cwd=/nonexistent`);
    expect(cwd.errorCode).toBe(-3);
    expect(cwd.errorMessage).toMatch(/cwd=\/nonexistent does not exist/);
    expect((await h(`exec name=${P}-a command="test -e /tmp/ran"`)).errorCode).toBe(1);
    const prog = await h(`exec name=${P}-a arg=nosuchprogram`);
    expect(prog.errorCode).toBe(-3);
    expect(prog.errorMessage).toMatch(/command not found in the guest: nosuchprogram/);
    const gone = await h(`exec name=${P}-missing command=true`);
    expect(gone.errorCode).toBe(-3);
    expect(gone.rexxVariables).toMatchObject({ EXIT_CODE: '', STDERR: '', LINES: { 0: 0 } });
  });

  it('a container without /bin/sh: -3 naming shell=never, which runs', async () => {
    const r = await h(`exec name=${P}-nosh command="echo hi"`);
    expect(r.errorCode).toBe(-3);
    expect(r.errorMessage).toMatch(/no \/bin\/sh.*shell=never/);
    expect((await h(`exec name=${P}-nosh command="/bin/busybox echo hi" shell=never`)).output).toBe('hi');
  });

  it('a stopped container: -1', async () => {
    expect((await h(`kill name=${P}-a signal=KILL wait=true runtime=runc`)).errorCode).toBe(0);
    expect((await h(`exec name=${P}-a command=true`)).errorCode).toBe(-1);
  });
});
