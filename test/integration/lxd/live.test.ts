/**
 * Changing an instance in place, on the real LXD daemon: config_set / config_get /
 * config_unset (a memory limit taking effect in the running container's cgroup), freeze
 * and unfreeze (the guest's clock of work stops), rename, and hot-plugged devices: a proxy
 * that forwards a host port to a server in the container, a nic on the project bridge,
 * a host directory as a disk and a unix-char device (both only with unsafe settings
 * allowed), and device_remove.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { table } from '../../../handlers/lxd';
import { createHandler } from '../../../shared/dispatch';
import { cleanupInstances, requireLxd, uniq } from './lxd-test-env';

const h = createHandler(table);
const trusted = createHandler(table, { env: { ...process.env, REXX_LXD_ALLOW_UNSAFE: '1' } });
const RUNNING = uniq('live');
const STOPPED = uniq('live-stopped');
const made: string[] = [RUNNING, STOPPED];
let tmp: string;

async function ok(handler: typeof h, cmd: string) {
  const r = await handler(cmd);
  expect(r.errorCode, `${cmd}: ${r.errorMessage}`).toBe(0);
  return r;
}

/** Ask 127.0.0.1:port for one line (what the server in the container answers). */
function ask(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    s.setTimeout(5_000, () => s.destroy(new Error('no answer in 5 s')));
    s.on('data', (d) => (got += d));
    s.on('end', () => resolve(got));
    s.on('error', reject);
  });
}

/** A free TCP port on 127.0.0.1. */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

beforeAll(async () => {
  await requireLxd();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-live-'));
  await ok(h, `create name=${RUNNING} image=tiny`);
  await ok(h, `start name=${RUNNING}`);
  await ok(h, `create name=${STOPPED} image=tiny`);
});
afterAll(async () => {
  await cleanupInstances(made);
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('config of a running instance', () => {
  it('config_set applies limits.memory at once (the container cgroup says so); config_get reads one key or all; config_unset removes keys, set or not', async () => {
    await ok(h, `config_set name=${RUNNING} config=limits.memory=96MiB config=user.role=web`);
    // the container's memory cgroup on the host (v1 here; v2 on a unified host)
    const cg = [`/sys/fs/cgroup/memory/lxc.payload.${RUNNING}/memory.limit_in_bytes`, `/sys/fs/cgroup/lxc.payload.${RUNNING}/memory.max`].find((f) => fs.existsSync(f))!;
    expect(fs.readFileSync(cg, 'utf8').trim()).toBe(String(96 * 1024 * 1024));
    const one = await ok(h, `config_get name=${RUNNING} key=user.role`);
    expect(one.output).toBe('web');
    expect(one.rexxVariables.VALUE).toBe('web');
    const all = await ok(h, `config_get name=${RUNNING}`);
    const keys = all.rexxVariables.KEYS as Record<string, string>;
    const listed = Array.from({ length: Number(keys[0]) }, (_, i) => keys[i + 1]);
    expect(listed).toEqual(expect.arrayContaining(['limits.memory', 'user.role']));
    // the positional form, as lxc config set NAME KEY VALUE
    await ok(h, `config_set ${RUNNING} user.note "two words"`);
    expect((await ok(h, `config_get ${RUNNING} user.note`)).output).toBe('two words');
    await ok(h, `config_unset name=${RUNNING} key=user.role key=user.note key=user.never-set`);
    expect((await ok(h, `config_get name=${RUNNING} key=user.role`)).output).toBe('');
    const raw = await execa('lxc', ['config', 'get', RUNNING, 'user.note']);
    expect(raw.stdout).toBe('');
    // expanded=true shows what the profile gives too
    const exp = await ok(h, `config_get name=${RUNNING} key=user.rexx.default-nic expanded=true`);
    expect(exp.output).not.toBe('');
  });

  it('unsafe keys are RC 7 and the registry\'s own keys RC 2, with nothing changed', async () => {
    const r = await h(`config_set name=${RUNNING} config=security.privileged=true`);
    expect(r.errorCode).toBe(7);
    expect(r.errorMessage).toMatch(/REXX_LXD_ALLOW_UNSAFE/);
    expect((await h(`config_set name=${RUNNING} key=raw.lxc value="lxc.hook.pre-start=/bin/sh"`)).errorCode).toBe(7);
    expect((await h(`config_unset name=${RUNNING} key=volatile.idmap.current`)).errorCode).toBe(7);
    expect((await h(`config_set name=${RUNNING} config=user.rexx.cloned_from=web`)).errorCode).toBe(2);
    expect((await execa('lxc', ['config', 'get', RUNNING, 'security.privileged'])).stdout).toBe('');
  });

  it('a missing instance is RC 3', async () => {
    expect((await h(`config_get name=${uniq('nope')} key=user.a`)).errorCode).toBe(3);
    expect((await h(`config_set name=${uniq('nope')} config=user.a=1`)).errorCode).toBe(3);
  });
});

describe('freeze and unfreeze', () => {
  it('freeze stops the guest\'s processes where they are (a counter stops), unfreeze lets them run on; both are RC 0 when already there', async () => {
    // The counter is written aside and renamed into place: a read between `>`'s truncation and its write saw an empty file (CI).
    await ok(h, `exec name=${RUNNING} command="(i=0; while :; do i=$((i+1)); echo $i > /tmp/count.new; mv /tmp/count.new /tmp/count; sleep 0.1; done) >/dev/null 2>&1 &"`);
    await new Promise((r) => setTimeout(r, 500));
    const f = await ok(h, `freeze name=${RUNNING}`);
    expect(f.rexxVariables.STATUS).toBe('Frozen');
    expect((await ok(h, `info name=${RUNNING}`)).rexxVariables.STATUS).toBe('Frozen');
    await ok(h, `freeze name=${RUNNING}`);
    const before = (await execa('lxc', ['file', 'pull', `${RUNNING}/tmp/count`, '-'])).stdout;
    await new Promise((r) => setTimeout(r, 600));
    expect((await execa('lxc', ['file', 'pull', `${RUNNING}/tmp/count`, '-'])).stdout).toBe(before);
    expect((await ok(h, `unfreeze name=${RUNNING}`)).rexxVariables.STATUS).toBe('Running');
    await ok(h, `unfreeze name=${RUNNING}`);
    await new Promise((r) => setTimeout(r, 600));
    expect(Number((await execa('lxc', ['file', 'pull', `${RUNNING}/tmp/count`, '-'])).stdout)).toBeGreaterThan(Number(before));
  });

  it('a stopped instance: freeze and unfreeze are RC 7, and unfreeze does not start it (unlike lxc start)', async () => {
    const f = await h(`freeze name=${STOPPED}`);
    expect(f.errorCode).toBe(7);
    expect(f.rexxVariables.STATUS).toBe('');
    expect((await h(`unfreeze name=${STOPPED}`)).errorCode).toBe(7);
    expect((await ok(h, `info name=${STOPPED}`)).rexxVariables.STATUS).toBe('Stopped');
  });
});

describe('rename', () => {
  it('renames a stopped instance with its snapshots; running is RC 7, a taken name RC 4, a missing one RC 3', async () => {
    const from = uniq('ren');
    const to = uniq('ren-new');
    made.push(from, to);
    await ok(h, `create name=${from} image=tiny`);
    await ok(h, `snapshot name=${from} snapshot=s1`);
    expect((await h(`rename name=${from} new_name=${STOPPED}`)).errorCode).toBe(4);
    await ok(h, `rename name=${from} new_name=${to}`);
    expect((await h(`info name=${from}`)).errorCode).toBe(3);
    const snaps = await ok(h, `list_snapshots name=${to}`);
    expect(snaps.output).toContain('s1');
    const r = await h(`rename name=${RUNNING} new_name=${uniq('x')}`);
    expect(r.errorCode).toBe(7);
    expect(r.errorMessage).toMatch(/stop it first/);
    expect((await h(`rename name=${uniq('nope')} new_name=${uniq('x')}`)).errorCode).toBe(3);
  });
});

describe('devices, hot-plugged into the running instance', () => {
  it('a proxy forwards a host port to a server in the container; device_remove ends it; a second remove is RC 3', async () => {
    const port = await freePort();
    await ok(h, `exec name=${RUNNING} command="busybox nc -ll -p 7070 -e echo from-the-container >/dev/null 2>&1 &"`);
    await ok(h, `device_add name=${RUNNING} device=web type=proxy listen=tcp:127.0.0.1:${port} connect=tcp:127.0.0.1:7070`);
    expect((await ask(port)).trim()).toBe('from-the-container');
    expect((await h(`device_add name=${RUNNING} device=web type=proxy listen=tcp:127.0.0.1:${port} connect=tcp:127.0.0.1:7070`)).errorCode).toBe(4);
    await ok(h, `device_remove name=${RUNNING} device=web`);
    await expect(ask(port)).rejects.toThrow();
    expect((await h(`device_remove name=${RUNNING} device=web`)).errorCode).toBe(3);
  });

  it('a second nic (a veth pair, nictype=p2p) shows up in the container as the named interface', async () => {
    // Not on rexxbr0: the instance's eth0 is there already, and LXD gives an instance one DNS name per managed network
    await ok(h, `device_add name=${RUNNING} device=extra type=nic nictype=p2p nic_name=eth9`);
    const ip = await ok(h, `exec name=${RUNNING} command="ip link show eth9"`);
    expect(ip.output).toContain('eth9');
    await ok(h, `device_remove name=${RUNNING} device=extra`);
    expect((await h(`exec name=${RUNNING} command="ip link show eth9"`)).errorCode).not.toBe(0);
  });

  it('a host directory as a disk and a unix-char device: RC 7 with nothing added, unless unsafe settings are allowed; then readonly holds', async () => {
    fs.writeFileSync(path.join(tmp, 'hello'), 'from-the-host\n');
    fs.chmodSync(tmp, 0o755);
    const d = await h(`device_add name=${RUNNING} device=hostdir type=disk source=${tmp} path=/mnt/host readonly=true`);
    expect(d.errorCode).toBe(7);
    expect(d.errorMessage).toMatch(/host path/);
    expect((await h(`device_add name=${RUNNING} device=null2 type=unix-char source=/dev/null path=/dev/null2`)).errorCode).toBe(7);
    expect((await h(`device_add name=${RUNNING} device=up type=proxy listen=tcp:127.0.0.1:7071 connect=tcp:127.0.0.1:22 bind=instance`)).errorCode).toBe(7);
    const shown = await execa('lxc', ['config', 'device', 'list', RUNNING]);
    expect(shown.stdout).not.toMatch(/hostdir|null2|\bup\b/);

    await ok(trusted, `device_add name=${RUNNING} device=hostdir type=disk source=${tmp} path=/mnt/host readonly=true`);
    expect((await ok(h, `exec name=${RUNNING} command="cat /mnt/host/hello"`)).output.trim()).toBe('from-the-host');
    expect((await h(`exec name=${RUNNING} command="touch /mnt/host/new"`)).errorCode).not.toBe(0);
    expect(fs.existsSync(path.join(tmp, 'new'))).toBe(false);
    await ok(trusted, `device_add name=${RUNNING} device=null2 type=unix-char source=/dev/null path=/dev/null2`);
    await ok(h, `exec name=${RUNNING} command="test -c /dev/null2"`);
    await ok(h, `device_remove name=${RUNNING} device=hostdir`);
    await ok(h, `device_remove name=${RUNNING} device=null2`);
  });

  it('a key of another device type, or a missing required one, is RC 2 and nothing runs', async () => {
    const r = await h(`device_add name=${RUNNING} device=x type=proxy listen=tcp:127.0.0.1:1 connect=tcp:127.0.0.1:2 path=/x`);
    expect(r.errorCode).toBe(2);
    expect(r.errorMessage).toMatch(/path= is not a key of a proxy device/);
    expect((await h(`device_add name=${RUNNING} device=x type=proxy listen=tcp:127.0.0.1:1`)).errorMessage).toMatch(/needs connect=/);
    expect((await h(`device_add name=${RUNNING} device=x type=nic network=rexxbr0 nictype=bridged`)).errorCode).toBe(2);
  });
});
