/**
 * ADDRESS INCUS on the real Incus daemon that scripts/setup-host.sh starts beside LXD
 * (incusd from bookworm-backports, dir pool, bridge rexxincbr0, LXD's tiny image): the
 * verbs of ADDRESS LXD driving `incus`, where Incus spells things otherwise (snapshot
 * create / snapshot restore, security.guestapi, its error texts), and ADDRESS LXD picking
 * the client (REXX_LXD_CLIENT, auto).
 */
import * as path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { table as incusTable } from '../../../handlers/incus';
import { table as lxdTable } from '../../../handlers/lxd';
import { createHandler } from '../../../shared/dispatch';
import { pollUntil } from '../../../shared/poll';
import { okWith, uniq } from './lxd-test-env';

const incus = createHandler(incusTable);
const ok = okWith(incus);
const A = uniq('inc');
const COPY = uniq('inc-copy');
const BASE = uniq('inc-base');
const CLONE = uniq('inc-clone');
const EV = uniq('inc-ev');
const made = [A, COPY, BASE, CLONE, `${CLONE}-1`, `${CLONE}-2`, `${CLONE}-3`, EV];
const vals = (s: unknown) => Object.values((s ?? { 0: 0 }) as object).slice(1);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cli = path.join(__dirname, '..', '..', '..', 'bin', 'rexx-address.js');

/** Fail (not skip) with a clear message when the Incus daemon from setup-host isn't up. */
async function requireIncus(): Promise<void> {
  const r = await execa('incus', ['query', '/1.0'], { reject: false, timeout: 10_000 });
  if (r.exitCode !== 0) throw new Error(`Incus is not answering (${(r.stderr || r.message).trim()}): run "bash scripts/setup-host.sh" as root first`);
  const img = await execa('incus', ['query', '/1.0/images/aliases/tiny'], { reject: false });
  if (img.exitCode !== 0) throw new Error('Incus has no image alias "tiny": run "bash scripts/setup-host.sh"');
}

/** What the incus client itself says of an instance (not through the handler). */
const incusQuery = async (api: string) => JSON.parse((await execa('incus', ['query', api])).stdout);

beforeAll(requireIncus);
afterAll(() => Promise.all(made.map((n) => execa('incus', ['delete', '--force', n], { reject: false }))));

describe('ADDRESS INCUS on a real Incus daemon', () => {
  it('status: CLIENT incus, and the server is Incus', async () => {
    const r = await ok('status');
    expect(r.rexxVariables).toMatchObject({ REACHABLE: 1, CLIENT: 'incus' });
    expect(String(r.rexxVariables.SERVER_VERSION)).toMatch(/^6\./);
    expect(r.output).toContain('client incus (ADDRESS INCUS)');
  });

  it('create, start wait=ip (a lease on Incus\'s own bridge), exec, info', async () => {
    await ok(`create name=${A} image=tiny`);
    expect((await incusQuery(`/1.0/instances/${A}`)).status).toBe('Stopped');
    const s = await ok(`start name=${A} wait=ip timeout=60s`);
    expect(String(s.rexxVariables.IPV4)).toMatch(/^10\.231\.17\./);
    const e = await incus(`exec name=${A} command="echo hi from incus; exit 3"`);
    expect(e.errorCode).toBe(3);
    expect(e.output).toBe('hi from incus');
    expect((await ok(`info ${A}`)).rexxVariables).toMatchObject({ STATUS: 'Running', TYPE: 'container', IS_BASE: 0 });
  });

  it('exec timeout= ends what the command started too (Incus\'s forkexec helper has LXD\'s shape)', async () => {
    const r = await incus(`exec name=${A} command="sleep 4422 & sleep 4423; wait" timeout=2s`);
    expect(r.errorCode).toBe(-5);
    const gone = await pollUntil(async () => !/sleep 442[23]/.test((await incus(`exec name=${A} command=ps`)).output), { timeoutMs: 10_000 });
    expect(gone).toBe(true);
  });

  it('errors keep their RC with Incus\'s words: create of a name that exists RC 4, a missing instance RC 3 (exec -3)', async () => {
    expect((await incus(`create name=${A} image=tiny`)).errorCode).toBe(4);
    const missing = uniq('inc-none');
    expect((await incus(`info ${missing}`)).errorCode).toBe(3);
    expect((await incus(`exec name=${missing} command=true`)).errorCode).toBe(-3);
    expect((await incus(`start name=${missing}`)).errorCode).toBe(3);
  });

  it('snapshot and restore (incus snapshot create / snapshot restore), list and delete a snapshot', async () => {
    await ok(`exec name=${A} command="echo one > /root/f"`);
    await ok(`snapshot name=${A} snapshot=s1`);
    await ok(`exec name=${A} command="echo two > /root/f"`);
    await ok(`stop name=${A} force=true`);
    await ok(`restore name=${A} snapshot=s1`);
    await ok(`start name=${A}`);
    expect((await ok(`exec name=${A} command="cat /root/f"`)).output).toBe('one');
    expect(vals((await ok(`list_snapshots name=${A}`)).rexxVariables.SNAPSHOTS)).toContain('s1');
    expect((await incus(`snapshot name=${A} snapshot=s1`)).errorCode).toBe(4);
    await ok(`delete_snapshot name=${A} snapshot=s1`);
    expect(vals((await ok(`list_snapshots name=${A}`)).rexxVariables.SNAPSHOTS)).not.toContain('s1');
  });

  it('config_set / config_get: LXD\'s security.devlxd is Incus\'s security.guestapi', async () => {
    await ok(`config_set name=${A} config=security.devlxd=false config=user.role=web`);
    expect((await incusQuery(`/1.0/instances/${A}`)).config).toMatchObject({ 'security.guestapi': 'false', 'user.role': 'web' });
    expect((await ok(`config_get name=${A} key=security.devlxd`)).output).toBe('false');
    expect((await ok(`config_get name=${A} key=security.guestapi`)).output).toBe('false');
    await ok(`config_unset name=${A} key=security.devlxd`);
    expect((await incusQuery(`/1.0/instances/${A}`)).config['security.guestapi']).toBeUndefined();
  });

  it('file_push and file_pull', async () => {
    const r = await ok(`exec name=${A} command="echo pushed-back > /root/g"`);
    expect(r.errorCode).toBe(0);
    const tmp = `/tmp/${uniq('inc-file')}`;
    await ok(`file_pull name=${A} path=/root/g destination=${tmp}`);
    await ok(`file_push name=${A} source=${tmp} path=/root/h`);
    expect((await ok(`exec name=${A} command="cat /root/h"`)).output).toBe('pushed-back');
    await execa('rm', ['-f', tmp]);
  });

  it('copy of a stopped instance (RC 4 when the destination exists), list', async () => {
    await ok(`stop name=${A} force=true`);
    await ok(`copy source=${A} destination=${COPY}`);
    expect((await incus(`copy source=${A} destination=${COPY}`)).errorCode).toBe(4);
    const l = await ok('list');
    expect(vals(l.rexxVariables.INSTANCES)).toEqual(expect.arrayContaining([A, COPY]));
  });

  it('register_base, clone_from_base count=2 start=true, list base=, list_bases, info BASE', async () => {
    await ok(`register_base name=${BASE} image=tiny prepare="echo prepared > /root/marker"`);
    expect(vals((await ok('list_bases')).rexxVariables.BASES)).toContain(BASE);
    const c = await ok(`clone_from_base base=${BASE} name=${CLONE} count=2 start=true`);
    expect(vals(c.rexxVariables.CLONES)).toEqual([`${CLONE}-1`, `${CLONE}-2`]);
    expect((await ok(`exec name=${CLONE}-2 command="cat /root/marker"`)).output).toBe('prepared');
    expect(vals((await ok(`list base=${BASE}`)).rexxVariables.INSTANCES).sort()).toEqual([`${CLONE}-1`, `${CLONE}-2`]);
    expect((await ok(`info ${CLONE}-1`)).rexxVariables).toMatchObject({ BASE, IS_BASE: 0, STATUS: 'Running' });
    expect((await incus(`delete name=${BASE}`)).errorCode).toBe(7);
  });

  it('register_base refresh=true (snapshot rename: incus snapshot rename) and unregister_base (snapshot delete)', async () => {
    await ok(`register_base name=${BASE} refresh=true prepare="echo refreshed > /root/marker"`);
    const snaps = (await incusQuery(`/1.0/instances/${BASE}/snapshots`)) as string[];
    expect(snaps.map((u) => u.split('/').pop())).toEqual(['rexx-base']);
    await ok(`clone_from_base base=${BASE} name=${CLONE}-3 start=true`);
    expect((await ok(`exec name=${CLONE}-3 command="cat /root/marker"`)).output).toBe('refreshed');
    await ok(`unregister_base name=${BASE}`);
    expect((await incusQuery(`/1.0/instances/${BASE}/snapshots`)) as string[]).toEqual([]);
    expect(vals((await ok('list_bases')).rexxVariables.BASES)).not.toContain(BASE);
  });

  it('events (incus monitor): until=instance-started returns once the instance starts', async () => {
    await ok(`create name=${EV} image=tiny`);
    const [r] = await Promise.all([
      incus(`events name=${EV} until=instance-started duration=60s`),
      (async () => {
        await sleep(700); // monitor is listening by then
        await ok(`start name=${EV}`);
      })(),
    ]);
    expect(r.errorCode, r.errorMessage).toBe(0);
    expect(vals(r.rexxVariables.ACTIONS)).toEqual(['instance-started']);
    expect(vals(r.rexxVariables.SOURCES)).toEqual([`/1.0/instances/${EV}`]);
  });

  it('freeze / unfreeze, device_add / device_remove, restart, rename, publish, image_alias, image_delete', async () => {
    const live = uniq('inc-live');
    const img = uniq('inc-img');
    made.push(live, `${live}-r`);
    try {
      await ok(`create name=${live} image=tiny`);
      await ok(`start name=${live}`);
      expect((await ok(`freeze name=${live}`)).output).toBe('Frozen');
      expect((await ok(`unfreeze name=${live}`)).output).toBe('Running');
      await ok(`device_add name=${live} device=p1 type=proxy listen=tcp:127.0.0.1:18181 connect=tcp:127.0.0.1:80`);
      expect((await incusQuery(`/1.0/instances/${live}`)).devices.p1).toMatchObject({ type: 'proxy' });
      await ok(`device_remove name=${live} device=p1`);
      await ok(`restart name=${live} force=true`);
      await ok(`stop name=${live} force=true`);
      await ok(`rename name=${live} new_name=${live}-r`);
      await ok(`publish name=${live}-r alias=${img}`);
      expect(vals((await ok('image_list')).rexxVariables.ALIASES)).toContain(img);
      await ok(`image_alias alias=${img} new_alias=${img}-2 action=rename`);
      await ok(`image_delete image=${img}-2`);
      expect((await incus(`image_delete image=${img}-2`)).errorCode).toBe(3);
    } finally {
      await execa('incus', ['image', 'delete', img], { reject: false });
      await execa('incus', ['image', 'delete', `${img}-2`], { reject: false });
    }
  });

  it('delete: a running instance needs force=true (RC 7); then it is gone (RC 3)', async () => {
    expect((await incus(`delete name=${EV}`)).errorCode).toBe(7);
    await ok(`delete name=${EV} force=true`);
    expect((await incus(`info ${EV}`)).errorCode).toBe(3);
    await ok(`delete name=${COPY}`);
  });
});

describe('ADDRESS LXD picks its client', () => {
  it('REXX_LXD_CLIENT=incus drives the Incus daemon (the instance ADDRESS INCUS made is there)', async () => {
    const viaLxd = createHandler(lxdTable, { env: { ...process.env, REXX_LXD_CLIENT: 'incus' } });
    const s = await viaLxd('status');
    expect(s.rexxVariables).toMatchObject({ CLIENT: 'incus' });
    expect(s.output).toContain('client incus (REXX_LXD_CLIENT=incus)');
    expect((await viaLxd(`info ${A}`)).rexxVariables).toMatchObject({ STATUS: 'Stopped' });
  });

  it('auto on this host (both installed, both daemons up) is lxc, and says why', async () => {
    const s = await createHandler(lxdTable, { env: { ...process.env, REXX_LXD_CLIENT: 'auto' } })('status');
    expect(s.rexxVariables).toMatchObject({ CLIENT: 'lxc', REACHABLE: 1 });
    expect(s.output).toContain("client lxc (auto: both installed, both daemons' sockets are there: lxc)");
  });

  it('the CLI: rexx-address incus (the bundle dist/handler-incus.js)', async () => {
    const r = await execa('node', [cli, 'incus', '--json', 'status'], { reject: false });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).rexxVariables).toMatchObject({ CLIENT: 'incus', REACHABLE: 1 });
  });
});
