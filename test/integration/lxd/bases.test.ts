/**
 * The base registry on real LXD: a base registered by one process is found by
 * another (the registry is LXD's own user.* keys), count=N clones in parallel,
 * the refusals that keep a base safe, and dryrun.
 */
import * as path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler } from '../../../shared/dispatch';
import { table } from '../../../handlers/lxd';
import { cleanupInstances, requireLxd, uniq } from './lxd-test-env';

const lxd = createHandler(table);
const base = uniq('base');
const clone = uniq('clone');
const many = uniq('many');
const cli = path.join(__dirname, '..', '..', '..', 'bin', 'rexx-address.js');
const made: string[] = [base, clone];

beforeAll(requireLxd);
afterAll(() => cleanupInstances(made));

/** Run the CLI in a separate process, as another script would. */
const otherProcess = (command: string) => execa('node', [cli, 'lxd', '--json', command], { reject: false });

describe('ADDRESS LXD bases and clones on a real daemon', () => {
  it('registers a base from an image with a prepare step, in another process', async () => {
    const r = await otherProcess(`register_base name=${base} image=tiny prepare="echo prepared > /root/marker" description="test base"`);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).rexxVariables).toMatchObject({ BASE: base, SNAPSHOT: 'rexx-base' });
    expect((await lxd(`info ${base}`)).rexxVariables).toMatchObject({ STATUS: 'Stopped', IS_BASE: 1 });
  });

  it('finds the base from this process: list_bases', async () => {
    const r = await lxd('list_bases');
    expect(r.output).toContain(`${base} rexx-base`);
    const names = Object.values(r.rexxVariables.BASES as Record<string, unknown>);
    expect(names).toContain(base);
  });

  it('refuses to register it again unless refresh=true (RC 4)', async () => {
    expect((await lxd(`register_base name=${base}`)).errorCode).toBe(4);
  });

  it('clones it; the clone has the prepared file, knows its base, and is not a base', async () => {
    const r = await lxd(`clone_from_base base=${base} name=${clone} start=true`);
    expect(r.success, r.errorMessage).toBe(true);
    expect(r.rexxVariables.CLONES).toEqual({ 0: 1, 1: clone });
    expect(typeof r.rexxVariables.CLONE_MS).toBe('number');
    const i = await lxd(`info ${clone}`);
    expect(i.rexxVariables).toMatchObject({ STATUS: 'Running', BASE: base, IS_BASE: 0 });
    expect((await lxd(`exec ${clone} command="cat /root/marker"`)).output).toBe('prepared');
    expect((await lxd(`list base=${base}`)).rexxVariables.INSTANCES).toEqual({ 0: 1, 1: clone });
  });

  it('a clone name that exists is RC 4', async () => {
    expect((await lxd(`clone_from_base base=${base} name=${clone}`)).errorCode).toBe(4);
  });

  it('makes count=5 clones in parallel, NAME-1..NAME-5', async () => {
    const names = [1, 2, 3, 4, 5].map((i) => `${many}-${i}`);
    made.push(...names);
    const r = await lxd(`clone_from_base base=${base} name=${many} count=5 concurrency=5`);
    expect(r.success, r.errorMessage).toBe(true);
    expect(r.rexxVariables.CLONES).toEqual({ 0: 5, 1: names[0], 2: names[1], 3: names[2], 4: names[3], 5: names[4] });
    const l = await lxd(`list base=${base} status=Stopped`);
    expect(Object.values(l.rexxVariables.INSTANCES as object).slice(1)).toEqual(names);
  });

  it('start=true wait=ip waits until each clone has an IPv4 (rexx-net bridge)', async () => {
    const net = uniq('net');
    made.push(net);
    const r = await lxd(`clone_from_base base=${base} name=${net} start=true wait=ip profile=default profile=rexx-net timeout=30s`);
    expect(r.success, r.errorMessage).toBe(true);
    // wait=ip returned only once the address was there, so info has it at once.
    expect((await lxd(`info ${net}`)).rexxVariables.IPV4).toMatch(/^10\.231\.7\.\d+$/);
  });

  it('an unregistered base is RC 3 with a clear message', async () => {
    const r = await lxd(`clone_from_base base=${uniq('nobase')} name=${uniq('x')}`);
    expect(r.errorCode).toBe(3);
    expect(r.errorMessage).toMatch(/not found: no such instance/);
  });

  it('dryrun lists the exact lxc copy and creates nothing', async () => {
    const target = uniq('dry');
    const r = await lxd(`clone_from_base base=${base} name=${target} dryrun=true`);
    expect(r.output).toBe(`lxc copy ${base}/rexx-base ${target} --config user.rexx.cloned_from=${base}`);
    expect(r.rexxVariables.COMMANDS).toEqual({ 0: 1, 1: r.output });
    expect((await lxd(`info ${target}`)).errorCode).toBe(3);
  });

  it('refuses to delete a registered base without force (RC 7)', async () => {
    const r = await lxd(`delete name=${base}`);
    expect(r.errorCode).toBe(7);
    expect(r.errorMessage).toMatch(/registered base/);
  });

  it('refresh=true re-takes the snapshot without making clones look like bases', async () => {
    expect((await lxd(`register_base name=${base} refresh=true`)).success).toBe(true);
    const fresh = uniq('fresh');
    made.push(fresh);
    await lxd(`clone_from_base base=${base} name=${fresh}`);
    expect((await lxd(`info ${fresh}`)).rexxVariables).toMatchObject({ IS_BASE: 0, BASE: base });
  });

  it('unregisters it: gone from list_bases, clones stay, delete then works', async () => {
    expect((await lxd(`unregister_base name=${base}`)).success).toBe(true);
    expect((await lxd('list_bases')).output).not.toContain(`${base} `);
    expect((await lxd(`unregister_base name=${base}`)).errorCode).toBe(3);
    expect((await lxd(`info ${clone}`)).success).toBe(true);
    expect((await lxd(`delete name=${base}`)).success).toBe(true);
  });
});
