/**
 * project= on the real LXD daemon: a project made by raw lxc in set-up (images and
 * profiles from the default project, storage volumes its own); instances made, listed,
 * started, exec'd into, registered as a base, cloned and deleted inside it are not seen
 * without project= (nor the project's volumes), and the base registry (user.* keys on
 * the instances) is per project.
 */
import { execa } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { table } from '../../../handlers/lxd';
import { createHandler } from '../../../shared/dispatch';
import { RUN_ID } from '../../helpers/run-id';
import { okWith, requireLxd, uniq } from './lxd-test-env';

const h = createHandler(table);
const ok = okWith(h);
const PROJECT = `itp${RUN_ID}`;
const BASE = uniq('pbase');
const CLONE = uniq('pclone');
const VOL = uniq('pvol');

const stemValues = (s: unknown) => Object.entries(s as Record<string, unknown>).filter(([k]) => k !== '0').map(([, v]) => v);

beforeAll(async () => {
  await requireLxd();
  await execa('lxc', ['project', 'create', PROJECT, '-c', 'features.images=false', '-c', 'features.profiles=false']);
});

afterAll(async () => {
  const inP = ['--project', PROJECT];
  for (const n of [CLONE, BASE]) await execa('lxc', [...inP, 'delete', '--force', n], { reject: false });
  await execa('lxc', [...inP, 'storage', 'volume', 'delete', 'rexxbt', VOL], { reject: false });
  await execa('lxc', ['project', 'delete', PROJECT], { reject: false });
});

it('create / list / start / exec / file_mkdir / delete inside project=; list without project= does not see it', async () => {
  const dry = await ok(`create name=${BASE} image=tiny project=${PROJECT} dryrun=true`);
  expect(dry.output).toContain(`lxc --project ${PROJECT} init tiny ${BASE}`);

  await ok(`create name=${BASE} image=tiny project=${PROJECT}`);
  expect(stemValues((await ok(`list project=${PROJECT}`)).rexxVariables!.INSTANCES)).toEqual([BASE]);
  expect(stemValues((await ok('list')).rexxVariables!.INSTANCES)).not.toContain(BASE);
  expect((await h(`info name=${BASE}`)).errorCode).toBe(3);
  expect((await ok(`info name=${BASE} project=${PROJECT}`)).rexxVariables!.STATUS).toBe('Stopped');
  expect((await execa('lxc', ['--project', PROJECT, 'list', '-f', 'csv', '-c', 'n'])).stdout.trim()).toBe(BASE);

  await ok(`start name=${BASE} project=${PROJECT}`);
  expect((await ok(`exec name=${BASE} project=${PROJECT} command='echo in-project'`)).output.trim()).toBe('in-project');
  await ok(`file_mkdir name=${BASE} project=${PROJECT} path=/tmp/p mode=0700`);
  expect((await execa('lxc', ['--project', PROJECT, 'exec', BASE, '--', 'stat', '-c', '%a', '/tmp/p'])).stdout.trim()).toBe('700');
  await ok(`stop name=${BASE} project=${PROJECT} force=true`);
});

it('the base registry is per project: register_base / list_bases / clone_from_base in the project, not seen outside it', async () => {
  await ok(`register_base name=${BASE} project=${PROJECT}`);
  expect(stemValues((await ok(`list_bases project=${PROJECT}`)).rexxVariables!.BASES)).toEqual([BASE]);
  expect(stemValues((await ok('list_bases')).rexxVariables!.BASES)).not.toContain(BASE);
  expect((await h(`clone_from_base base=${BASE} name=${CLONE}`)).errorCode).toBe(3);
  await ok(`clone_from_base base=${BASE} name=${CLONE} project=${PROJECT}`);
  expect(stemValues((await ok(`list project=${PROJECT}`)).rexxVariables!.INSTANCES).sort()).toEqual([BASE, CLONE].sort());
  await ok(`delete name=${CLONE} project=${PROJECT}`);
  await ok(`unregister_base name=${BASE} project=${PROJECT}`);
  await ok(`delete name=${BASE} project=${PROJECT}`);
  expect(stemValues((await ok(`list project=${PROJECT}`)).rexxVariables!.INSTANCES)).toEqual([]);
});

it('a storage volume made with project= lives in that project', async () => {
  await ok(`volume_create pool=rexxbt volume=${VOL} project=${PROJECT}`);
  const names = async (...p: string[]) => (await execa('lxc', [...p, 'storage', 'volume', 'list', 'rexxbt', '-f', 'csv', '-c', 'n'])).stdout;
  expect(await names('--project', PROJECT)).toContain(VOL);
  expect(await names()).not.toContain(VOL);
  expect((await h(`volume_delete pool=rexxbt volume=${VOL}`)).errorCode).toBe(3);
  await ok(`volume_delete pool=rexxbt volume=${VOL} project=${PROJECT}`);
});
