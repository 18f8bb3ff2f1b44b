/**
 * ADDRESS LXD on a real three-member LXD cluster (scripts/setup-cluster.sh: nested
 * unprivileged containers rexx-cm1..3 on the project bridge, each running Debian's lxd
 * as member1..3; remotes rexx-cluster → member1 and rexx-cluster-m2 → member2). The
 * beforeAll runs setup-cluster.sh, which is idempotent: about 2 s when the cluster is up,
 * about 15 s to make the members from the cached node image, about 75 s more the first
 * time on a machine (it builds that image). The cluster is a fixture, like the ZFS pool:
 * it stays up; everything a test makes in it is deleted.
 *
 * What is checked: placement (create target=, clone_from_base spreading or target=),
 * list's LOCATIONS, a base found through another member, copy and move between the
 * host's LXD and the cluster (mode=push; the pull the host cannot serve is RC 7), move
 * between members, and a member stopped in the middle of work (a clear RC, in bounded time).
 */
import * as path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler } from '../../../shared/dispatch';
import { table } from '../../../handlers/lxd';
import { pollUntil } from '../../../shared/poll';
import { RUN_ID } from '../../helpers/run-id';
import { okWith, requireLxd, uniq } from './lxd-test-env';

const C = 'rexx-cluster';
const C2 = 'rexx-cluster-m2';
const lxd = createHandler(table);
const ok = okWith(lxd);
/** Instances made here: [remote or '' for the host, name]. */
const made: Array<[string, string]> = [];
const mk = (remote: string, what: string) => {
  const n = uniq(what);
  made.push([remote, n]);
  return n;
};
const stemOf = (v: unknown): string[] => {
  const s = v as Record<number, unknown>;
  return Array.from({ length: Number(s[0] ?? 0) }, (_, i) => String(s[i + 1]));
};
const locationOf = async (remote: string, name: string) => String((await ok(`info name=${name} remote=${remote}`)).rexxVariables.LOCATION);

async function memberStates(): Promise<Record<string, string>> {
  const r = await execa('lxc', ['query', `${C}:/1.0/cluster/members?recursion=1`], { reject: false, timeout: 20_000 });
  if (r.exitCode !== 0) return {};
  return Object.fromEntries((JSON.parse(r.stdout) as Array<{ server_name: string; status: string }>).map((m) => [m.server_name, m.status]));
}

beforeAll(async () => {
  await requireLxd();
  const r = await execa('bash', [path.join(__dirname, '../../../scripts/setup-cluster.sh')], { reject: false, timeout: 170_000, all: true, stdin: 'ignore' });
  if (r.exitCode !== 0) throw new Error(`scripts/setup-cluster.sh failed (exit ${r.exitCode}):\n${r.all}`);
}, 180_000);

afterAll(async () => {
  // A member a test stopped is started again first, so what was on it can be deleted.
  await execa('lxc', ['start', 'rexx-cm3'], { reject: false });
  await pollUntil(async () => (await memberStates()).member3 === 'Online', { timeoutMs: 60_000 });
  await Promise.all(made.map(([remote, n]) => execa('lxc', ['delete', '--force', remote ? `${remote}:${n}` : n], { reject: false, timeout: 60_000 })));
}, 180_000);

describe('ADDRESS LXD on a real 3-member LXD cluster', () => {
  it('the cluster has three ONLINE members', async () => {
    expect(await memberStates()).toEqual({ member1: 'Online', member2: 'Online', member3: 'Online' });
  });

  it('create target=member2 lands on member2; list remote= gives the LOCATION of each instance', async () => {
    const names = ['member1', 'member2', 'member3'].map((m) => [m, mk(C, `at-${m.slice(-1)}`)] as const);
    for (const [m, n] of names) await ok(`create name=${n} image=${C}:tiny remote=${C} target=${m}`);
    // image= is where lxc looks for it: a bare alias is the host's image, which the cluster cannot pull
    const fromHost = await lxd(`create name=${mk(C, 'hostimg')} image=tiny remote=${C}`);
    expect(fromHost.errorCode, fromHost.errorMessage).toBe(7);
    expect(await locationOf(C, names[1]![1])).toBe('member2');
    const l = await ok(`list remote=${C} filter=${RUN_ID}`);
    const got = Object.fromEntries(stemOf(l.rexxVariables.INSTANCES).map((n, i) => [n, stemOf(l.rexxVariables.LOCATIONS)[i]]));
    for (const [m, n] of names) expect(got[n], n).toBe(m);
    // On the host's LXD (not clustered) LXD says none.
    const host = await ok('list');
    expect(stemOf(host.rexxVariables.LOCATIONS).filter((x) => x !== 'none')).toEqual([]);
  });

  describe('bases on the cluster', () => {
    const base = mk(C, 'cb');
    beforeAll(async () => {
      await ok(`register_base name=${base} image=${C}:tiny remote=${C} prepare="echo from-the-base > /etc/motd"`);
    });

    it('clone_from_base count=6 spreads the clones over the members; target= puts them all on one', async () => {
      const spread = mk(C, 'sp');
      const r = await ok(`clone_from_base base=${base} name=${spread} count=6 remote=${C}`);
      const clones = stemOf(r.rexxVariables.CLONES);
      for (const c of clones) made.push([C, c]);
      expect(clones).toHaveLength(6);
      const where = await Promise.all(clones.map((c) => locationOf(C, c)));
      expect(new Set(where).size, `clones on ${where.join(' ')}`).toBeGreaterThanOrEqual(2);

      const pinned = mk(C, 'pin');
      const p = await ok(`clone_from_base base=${base} name=${pinned} count=3 remote=${C} target=member3`);
      for (const c of stemOf(p.rexxVariables.CLONES)) made.push([C, c]);
      expect(await Promise.all(stemOf(p.rexxVariables.CLONES).map((c) => locationOf(C, c)))).toEqual(['member3', 'member3', 'member3']);
      // The clone on another member than the base has the base's content (the snapshot travelled).
      const one = stemOf(p.rexxVariables.CLONES)[0]!;
      await ok(`start name=${one} remote=${C}`);
      expect((await ok(`exec name=${one} remote=${C} command="cat /etc/motd"`)).output).toBe('from-the-base');
    });

    it('a base registered through member1 is found and cloned through member2', async () => {
      const l = await ok(`list_bases remote=${C2}`);
      expect(stemOf(l.rexxVariables.BASES)).toContain(base);
      const n = mk(C, 'via2');
      await ok(`clone_from_base base=${base} name=${n} remote=${C2}`);
      expect((await ok(`info name=${n} remote=${C}`)).rexxVariables.BASE).toBe(base);
    });
  });

  describe('copy and move between the host and the cluster', () => {
    const onHost = mk('', 'hx');
    beforeAll(async () => {
      await ok(`create name=${onHost} image=tiny`);
      await ok(`file_push name=${onHost} path=/etc/motd content=from-the-host`);
    });

    it('a pull from the host (which does not listen on the network) is RC 7 saying mode=push; mode=push copies it', async () => {
      const n = mk(C, 'cp');
      const pull = await lxd(`copy source=${onHost} destination=${n} to_remote=${C}`);
      expect(pull.errorCode, pull.errorMessage).toBe(7);
      expect(pull.errorMessage).toMatch(/mode=push/);
      await ok(`copy source=${onHost} destination=${n} to_remote=${C} mode=push target=member2`);
      expect(await locationOf(C, n)).toBe('member2');
      // and back: the cluster listens, so the host pulls from it
      const back = mk('', 'back');
      await ok(`copy source=${n} destination=${back} remote=${C} to_remote=local`);
      await ok(`start name=${back}`);
      expect((await ok(`exec name=${back} command="cat /etc/motd"`)).output).toBe('from-the-host');
    });

    it('a running instance is copied from its disk (stateless): the copy is stopped, the source runs on', async () => {
      await ok(`start name=${onHost}`);
      const n = mk(C, 'cpr');
      await ok(`copy source=${onHost} destination=${n} to_remote=${C} mode=relay`);
      expect((await ok(`info name=${n} remote=${C}`)).rexxVariables.STATUS).toBe('Stopped');
      expect((await ok(`info name=${onHost}`)).rexxVariables.STATUS).toBe('Running');
    });

    it('move: host to cluster (push), between members, and back to the host, running all the way', async () => {
      const n = mk('', 'mv');
      made.push([C, n]);
      await ok(`copy source=${onHost} destination=${n}`);
      await ok(`start name=${n}`);
      expect((await lxd(`move name=${n} to_remote=${C}`)).errorCode).toBe(7);
      await ok(`move name=${n} to_remote=${C} mode=push target=member1`);
      expect((await lxd(`info name=${n}`)).errorCode).toBe(3);
      expect((await ok(`info name=${n} remote=${C}`)).rexxVariables).toMatchObject({ STATUS: 'Running', LOCATION: 'member1' });
      await ok(`move name=${n} remote=${C} target=member3`);
      expect((await ok(`info name=${n} remote=${C}`)).rexxVariables).toMatchObject({ STATUS: 'Running', LOCATION: 'member3' });
      const back = mk('', 'mvb');
      await ok(`move name=${n} remote=${C} to_remote=local destination=${back}`);
      expect((await lxd(`info name=${n} remote=${C}`)).errorCode).toBe(3);
      expect((await ok(`info name=${back}`)).rexxVariables.STATUS).toBe('Running');
      expect((await ok(`exec name=${back} command="cat /etc/motd"`)).output).toBe('from-the-host');
    });
  });

  // Last: it stops member3 (afterAll starts it again and waits until it is ONLINE).
  it('a member stopped in the middle of work gives a clear RC in bounded time, never a hang', async () => {
    const onM3 = mk(C, 'm3');
    await ok(`create name=${onM3} image=${C}:tiny remote=${C} target=member3`);
    const base = mk(C, 'cb3');
    await ok(`register_base name=${base} image=${C}:tiny remote=${C}`);
    // The member goes down (a kill, not a clean stop) while clones are being made on it; should
    // they all be done before it dies, the next round meets it dead (still not OFFLINE for
    // the cluster, which takes about 20 s, so LXD still sends work there).
    const stopping = execa('lxc', ['stop', '--force', 'rexx-cm3'], { reject: false });
    let r: Awaited<ReturnType<typeof lxd>> | undefined;
    for (let round = 1; round <= 2 && !(r && r.errorCode !== 0); round++) {
      const clones = mk(C, `mid${round}`);
      for (let i = 1; i <= 6; i++) made.push([C, `${clones}-${i}`]);
      const t0 = performance.now();
      r = await lxd(`clone_from_base base=${base} name=${clones} count=6 concurrency=6 remote=${C} target=member3 timeout=30s`);
      expect(performance.now() - t0).toBeLessThan(90_000);
      await stopping;
    }
    expect([1, 5, 6], `RC ${r!.errorCode}: ${r!.errorMessage}`).toContain(r!.errorCode);
    expect(r!.errorMessage).toMatch(/clone_from_base: \d+ of 6 failed/);
    expect(stemOf(r!.rexxVariables.CLONES).length).toBeLessThan(6);
    // With the member down, an instance on it is RC 6 (LXD gives up after about 10 s).
    const t = performance.now();
    const s = await lxd(`info name=${onM3} remote=${C}`);
    expect(s.errorCode, `RC ${s.errorCode} ${s.errorMessage}`).toBe(6);
    expect(s.errorMessage).toMatch(/Missing event connection with target cluster member|Unable to connect/);
    expect(performance.now() - t).toBeLessThan(60_000);
  });
});
