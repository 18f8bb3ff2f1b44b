/**
 * ADDRESS LXD under races, timeouts and half-done work, on the real daemon (issue 15):
 * parallel clones, parallel clones to one name, default snapshot names in the same
 * second, start/stop that run out of time, register_base that fails half-way, the base
 * snapshot, and config keys that would hand over the host. Counts go to the npm test
 * summary (test/helpers/reliability.ts).
 */
import * as fs from 'node:fs';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler } from '../../shared/dispatch';
import { table } from '../../handlers/lxd';
import { cleanupInstances, requireLxd, uniq } from '../integration/lxd/lxd-test-env';
import { recordCounts } from '../helpers/reliability';
import { createEffects } from '../../shared/effects';
import { allPids, procArgv } from '../../shared/proc-tree';

/** Host reads (/proc) for finding the host's LXD daemon. */
const hostFx = createEffects({ dryrun: false, log: () => undefined });

const lxd = createHandler(table);
const made: string[] = [];
const base = uniq('relbase');
made.push(base);

beforeAll(async () => {
  await requireLxd();
  const r = await lxd(`register_base name=${base} image=tiny`);
  if (!r.success) throw new Error(r.errorMessage);
});
afterAll(async () => {
  await cleanupInstances(made);
});

const instances = async (prefix: string) =>
  JSON.parse((await execa('lxc', ['query', '/1.0/instances?recursion=1'])).stdout).filter((i: { name: string }) => i.name.startsWith(prefix)) as Array<{ name: string }>;

describe('races', () => {
  it('20 parallel clone_from_base calls: all RC 0, all 20 exist', async () => {
    const names = Array.from({ length: 20 }, () => uniq('par'));
    made.push(...names);
    const rs = await Promise.all(names.map((n) => lxd(`clone_from_base base=${base} name=${n}`)));
    const ok = rs.filter((r) => r.errorCode === 0).length;
    const exist = (await Promise.all(names.map((n) => lxd(`info ${n}`)))).filter((r) => r.errorCode === 0).length;
    recordCounts('lxd: 20 parallel clones, all RC 0 and present', 20, Math.min(ok, exist));
    expect(ok).toBe(20);
    expect(exist).toBe(20);
  });

  it('10 parallel clones to one name: exactly one RC 0, the rest RC 4, one instance', async () => {
    const n = uniq('same');
    made.push(n);
    const rs = await Promise.all(Array.from({ length: 10 }, () => lxd(`clone_from_base base=${base} name=${n}`)));
    const codes = rs.map((r) => r.errorCode).sort();
    const held = codes.filter((c) => c === 0).length === 1 && codes.filter((c) => c === 4).length === 9;
    recordCounts('lxd: 10 parallel clones to one name → one RC 0, nine RC 4', 10, held ? 10 : codes.filter((c) => c === 4).length);
    expect(codes, rs.map((r) => r.errorMessage).join(' | ')).toEqual([0, 4, 4, 4, 4, 4, 4, 4, 4, 4]);
    expect((await instances(n)).length).toBe(1);
  });

  it('10 snapshots with the default name at once: all RC 0, 10 different names', async () => {
    const n = uniq('snaps');
    made.push(n);
    await lxd(`clone_from_base base=${base} name=${n}`);
    const rs = await Promise.all(Array.from({ length: 10 }, () => lxd(`snapshot name=${n}`)));
    const names = new Set(rs.filter((r) => r.success).map((r) => r.output));
    recordCounts('lxd: 10 default-named snapshots at once → 10 distinct', 10, names.size);
    expect(rs.map((r) => r.errorMessage).filter(Boolean)).toEqual([]);
    expect(names.size).toBe(10);
    for (const s of names) expect(s).toMatch(/^checkpoint-\d+(-\d+)?$/);
  });
});

describe('a timeout leaves the state its message says', () => {
  it('start timeout=100ms: RC 5, and the instance is stopped again', async () => {
    const n = uniq('slow');
    made.push(n);
    await lxd(`clone_from_base base=${base} name=${n}`);
    let held = 0;
    const tries = 3;
    for (let i = 0; i < tries; i++) {
      const r = await lxd(`start name=${n} timeout=100ms`);
      const after = await lxd(`info ${n}`);
      if (r.errorCode === 5 && /stopped again/.test(r.errorMessage) && after.output === 'Stopped' && r.rexxVariables.STATUS === 'Stopped') held++;
      else if (r.errorCode === 0) await lxd(`stop ${n} force=true`);
    }
    recordCounts('lxd: start timeout=100ms → RC 5 and Stopped again', tries, held);
    expect(held).toBe(tries);
  });

  it('stop timeout=1s of an instance whose init ignores the signal: RC 5, still running, and it says so', async () => {
    const n = uniq('stubborn');
    made.push(n);
    await lxd(`clone_from_base base=${base} name=${n}`);
    // PID 1 of a namespace ignores every signal it has no handler for: sleep as init ignores SIGPWR.
    await execa('lxc', ['config', 'set', n, 'raw.lxc', 'lxc.init.cmd = /bin/sleep 1000']);
    expect((await lxd(`start ${n}`)).success).toBe(true);
    const r = await lxd(`stop name=${n} timeout=1s`);
    recordCounts('lxd: stop timeout=1s ignored → RC 5', 1, r.errorCode === 5 ? 1 : 0);
    expect(r.errorCode, r.errorMessage).toBe(5);
    expect(r.errorMessage).toMatch(/still Running.*force=true/);
    expect((await lxd(`stop name=${n} force=true`)).success).toBe(true);
  });
});

describe('register_base: all or nothing', () => {
  it('an oversized description is RC 2 before anything runs', async () => {
    const n = uniq('bigdesc');
    made.push(n);
    const r = await lxd(`register_base name=${n} image=tiny description=${'x'.repeat(140_000)}`);
    expect(r.errorCode).toBe(2);
    expect(r.errorMessage).toMatch(/limit is 4096/);
    expect((await lxd(`info ${n}`)).errorCode).toBe(3);
  });

  it('prepare fails on an instance it created: the instance is gone again', async () => {
    const n = uniq('prepfail');
    made.push(n);
    const r = await lxd(`register_base name=${n} image=tiny prepare="exit 9"`);
    expect(r.errorCode).toBe(1);
    expect(r.errorMessage).toMatch(/prepare failed with exit code 9/);
    expect((await lxd(`info ${n}`)).errorCode).toBe(3);
    expect((await lxd('list_bases')).rexxVariables.BASES).not.toContain(n);
  });

  it('prepare fails on an existing instance: what it changed is undone, no base, no leftover snapshot', async () => {
    const n = uniq('prepundo');
    made.push(n);
    await lxd(`create name=${n} image=tiny`);
    const r = await lxd(`register_base name=${n} prepare="echo changed > /root/mark; exit 4"`);
    expect(r.errorCode).toBe(1);
    await lxd(`start ${n}`);
    expect((await lxd(`exec name=${n} command="test -e /root/mark"`)).errorCode).toBe(1);
    expect((await lxd(`list_snapshots ${n}`)).rexxVariables.SNAPSHOTS).toEqual({ 0: 0 });
    expect((await lxd(`info ${n}`)).rexxVariables.IS_BASE).toBe(0);
  });

  it('refresh keeps the old snapshot until the new registration is complete', async () => {
    const n = uniq('refresh');
    made.push(n);
    expect((await lxd(`register_base name=${n} image=tiny description=first`)).success).toBe(true);
    const r = await lxd(`register_base name=${n} refresh=true prepare="exit 5"`);
    expect(r.errorCode).toBe(1);
    // still a base, with its snapshot, clonable
    expect((await lxd(`info ${n}`)).rexxVariables.IS_BASE).toBe(1);
    const c = uniq('refclone');
    made.push(c);
    expect((await lxd(`clone_from_base base=${n} name=${c}`)).success).toBe(true);
    expect((await lxd(`list_snapshots ${n}`)).rexxVariables.SNAPSHOTS).toEqual({ 0: 1, 1: 'rexx-base' });
  });
});

describe('the base snapshot and the registry agree', () => {
  it('delete_snapshot of rexx-base on a registered base is RC 7; deleted behind our back, clone and register_base say how to repair', async () => {
    expect((await lxd(`delete_snapshot name=${base} snapshot=rexx-base`)).errorCode).toBe(7);
    const n = uniq('broken');
    made.push(n);
    await lxd(`register_base name=${n} image=tiny`);
    await execa('lxc', ['delete', `${n}/rexx-base`]);
    const c = uniq('brokenclone');
    made.push(c);
    const clone = await lxd(`clone_from_base base=${n} name=${c}`);
    expect(clone.errorCode).toBe(3);
    expect(clone.errorMessage).toMatch(/snapshot rexx-base is gone.*refresh=true/);
    expect((await lxd(`register_base name=${n}`)).errorCode).toBe(4);
    expect((await lxd(`register_base name=${n} refresh=true`)).success).toBe(true);
    expect((await lxd(`clone_from_base base=${n} name=${c}`)).success).toBe(true);
  });
});

describe('config= keys that hand over the host', () => {
  it('raw.lxc with a host hook is RC 7 by default: nothing is created, the hook never runs', async () => {
    const n = uniq('pwn');
    made.push(n);
    const canary = `/tmp/rexx-pwned-${n}`;
    const r = await lxd(`create name=${n} image=tiny config="raw.lxc=lxc.hook.pre-start = /bin/touch ${canary}"`);
    expect(r.errorCode).toBe(7);
    expect(r.errorMessage).toMatch(/REXX_LXD_ALLOW_UNSAFE=1/);
    expect((await lxd(`info ${n}`)).errorCode).toBe(3);
    for (const key of ['security.privileged=true', 'security.nesting=true', 'security.idmap.base=0', 'linux.kernel_modules=ext4', 'security.syscalls.intercept.mount=true', 'volatile.idmap.next=x']) {
      expect((await lxd(`clone_from_base base=${base} name=${n} config=${key}`)).errorCode, key).toBe(7);
    }
    expect(fs.existsSync(canary)).toBe(false);
  });

  it('a handler created with REXX_LXD_ALLOW_UNSAFE=1 allows them (the policy is the handler\'s, never the command\'s)', async () => {
    const n = uniq('trusted');
    made.push(n);
    const trusted = createHandler(table, { env: { ...process.env, REXX_LXD_ALLOW_UNSAFE: '1' } });
    expect((await trusted(`create name=${n} image=tiny config=security.nesting=true`)).success).toBe(true);
    expect((await lxd(`create name=${uniq('x')} image=tiny config=security.nesting=true REXX_LXD_ALLOW_UNSAFE=1`)).errorCode).toBe(2);
  });
});

describe('a dead host daemon', () => {
  it('setup-host restarts a killed host LXD (nested cluster members run LXD daemons of their own), in /, and the handler works again on its socket', async () => {
    const ourNs = fs.readlinkSync('/proc/self/ns/pid');
    const hostLxd = () =>
      allPids(hostFx).filter((p) => {
        const argv = procArgv(hostFx, p);
        return argv[0] === '/usr/bin/lxd' && argv[1] === '--group' && hostFx.fs.readlink(`/proc/${p}/ns/pid`) === ourNs;
      });
    // One handler through it all (as a long script), with its trace lines.
    const lines: string[] = [];
    const h = createHandler(table, { traceSink: (l) => lines.push(l) });
    expect((await h('list')).errorCode).toBe(0);
    const [pid] = hostLxd();
    expect(pid, 'the host LXD daemon').toBeGreaterThan(0);
    process.kill(pid!, 'SIGTERM'); // the daemon stops; its containers run on
    for (let i = 0; i < 300 && hostLxd().includes(pid!); i++) await new Promise((r) => setTimeout(r, 100));
    expect(hostLxd()).not.toContain(pid);
    expect((await h('list')).errorCode).not.toBe(0);
    const r = await execa('bash', ['scripts/setup-host.sh'], { reject: false, all: true, stdin: 'ignore', timeout: 240_000 });
    expect(r.exitCode, r.all).toBe(0);
    const [again] = hostLxd();
    expect(again).toBeGreaterThan(0);
    expect(fs.readlinkSync(`/proc/${again}/cwd`)).toBe('/');
    expect((await h('list')).errorCode).toBe(0);
    lines.length = 0;
    expect((await h(`info ${base} trace=true`)).errorCode).toBe(0);
    expect(lines.some((l) => l.includes(`GET unix:/var/lib/lxd/unix.socket /1.0/instances/${base}`)), lines.join('\n')).toBe(true);
  });
});
