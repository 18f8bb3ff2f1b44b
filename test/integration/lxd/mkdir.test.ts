/**
 * file_mkdir on the real LXD daemon: a directory with the mode and owner asked for, in a
 * running and in a stopped instance; parents=true (mkdir -p: missing parents made, an
 * existing directory RC 0); an existing path RC 4, a missing parent RC 3, / RC 7.
 */
import { execa } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { table } from '../../../handlers/lxd';
import { createHandler } from '../../../shared/dispatch';
import { cleanupInstances, okWith, requireLxd, uniq } from './lxd-test-env';

const h = createHandler(table);
const ok = okWith(h);
const RUNNING = uniq('mkdir');
const STOPPED = uniq('mkdir-stopped');

/** `mode uid gid type` of a path in a running instance (busybox stat). */
const statIn = async (name: string, p: string) => (await execa('lxc', ['exec', name, '--', 'stat', '-c', '%a %u %g %F', p])).stdout.trim();

beforeAll(async () => {
  await requireLxd();
  await ok(`create name=${RUNNING} image=tiny`);
  await ok(`start name=${RUNNING}`);
  await ok(`create name=${STOPPED} image=tiny`);
});

afterAll(() => cleanupInstances([RUNNING, STOPPED]));

it('makes a directory with mode= and owner; again is RC 4, with parents=true RC 0; on a file RC 4', async () => {
  expect((await ok(`file_mkdir name=${RUNNING} path=/tmp/www mode=0750 uid=33 gid=44`)).output).toBe('/tmp/www');
  expect(await statIn(RUNNING, '/tmp/www')).toBe('750 33 44 directory');
  expect((await h(`file_mkdir name=${RUNNING} path=/tmp/www`)).errorCode).toBe(4);
  await ok(`file_mkdir name=${RUNNING} path=/tmp/www/ parents=true mode=0700`);
  expect(await statIn(RUNNING, '/tmp/www')).toBe('750 33 44 directory'); // left as it was
  expect((await h(`file_mkdir name=${RUNNING} path=/etc/passwd parents=true`)).errorCode).toBe(4);
  await ok(`file_mkdir name=${RUNNING} path=/tmp/dflt`);
  expect(await statIn(RUNNING, '/tmp/dflt')).toBe('755 0 0 directory');
});

it('a missing parent is RC 3 unless parents=true; / is RC 7', async () => {
  const r = await h(`file_mkdir name=${RUNNING} path=/tmp/a/b/c`);
  expect(r.errorCode, r.errorMessage).toBe(3);
  expect(r.errorMessage).toContain('parents=true');
  await ok(`file_mkdir name=${RUNNING} path=/tmp/a/b/c parents=true mode=0770 gid=100`);
  expect(await statIn(RUNNING, '/tmp/a/b/c')).toBe('770 0 100 directory');
  expect((await h(`file_mkdir name=${RUNNING} path=/tmp/s mode=2770`)).errorCode).toBe(2);
  expect(await statIn(RUNNING, '/tmp/a')).toMatch(/ directory$/);
  expect((await h(`file_mkdir name=${RUNNING} path=/`)).errorCode).toBe(7);
  expect((await h(`file_mkdir name=${RUNNING}-nope path=/tmp/x`)).errorCode).toBe(3);
});

it('works in a stopped instance (no program in the guest needed)', async () => {
  await ok(`file_mkdir name=${STOPPED} path=/root/.ssh mode=0700`);
  await ok(`start name=${STOPPED}`);
  expect(await statIn(STOPPED, '/root/.ssh')).toBe('700 0 0 directory');
});
