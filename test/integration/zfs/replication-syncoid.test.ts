/**
 * replicate the syncoid way on real zfs-fuse (pool version 23) over a real sshd on
 * 127.0.0.1 (test/helpers/sshd.ts) into a second throwaway pool, with the
 * target=HOST:pool/dataset form and a shared ssh connection (ControlMaster): BYTES of an
 * incremental is the new data only; intermediate=true carries every snapshot between;
 * recursive=true with exclude=; a diverged target is RC 7, then force=true; a transfer
 * killed mid-stream (bwlimit= slows it, timeout= ends it) leaves the target at its
 * previous snapshot and a rerun works; resume=true is RC 6 naming the pool feature.
 * Data is compared by sha256 on both sides (the target read after a remount: zfs-fuse's
 * FUSE cache keeps old entries after a receive, host-notes).
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler } from '../../../shared/dispatch';
import { table } from '../../../handlers/zfs';
import { startSshd, type TestSshd } from '../../helpers/sshd';
import { throwawayPool, uniq } from './zfs-test-env';

const src = throwawayPool('ysrc');
const dst = throwawayPool('ydst');
const S = src.name;
const D = dst.name;
let sshd: TestSshd;
let h: ReturnType<typeof createHandler>;
const vals = (s: unknown) => Object.values((s ?? { 0: 0 }) as object).slice(1);
const MB = 1 << 20;

beforeAll(async () => {
  await src.create();
  await dst.create();
  sshd = await startSshd();
  h = createHandler(table, { env: { ...process.env, REXX_ZFS_POOL: S, REXX_ZFS_SSH_CONFIG: sshd.config } });
}, 60_000);
afterAll(async () => {
  await sshd?.stop();
  await src.destroy();
  await dst.destroy();
}, 120_000);

/** sha256 of every file under a folder, by relative path. */
function hashes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.isDirectory()) walk(`${d}/${e.name}`, `${rel}${e.name}/`);
      else if (e.isFile()) out[`${rel}${e.name}`] = crypto.createHash('sha256').update(fs.readFileSync(`${d}/${e.name}`)).digest('hex');
    }
  };
  walk(dir, '');
  return out;
}

/** The target's files by sha256, after a remount of it and its parents up to the pool (zfs-fuse's FUSE cache). */
async function remoteHashes(ds: string): Promise<Record<string, string>> {
  const chain = ds.split('/').map((_, i, a) => a.slice(0, i + 1).join('/'));
  for (const c of [...chain].reverse()) {
    const u = await h(`unmount name=${c} pool=${D}`);
    expect(u.success, u.errorMessage).toBe(true);
  }
  for (const c of chain) {
    const m = await h(`mount name=${c} pool=${D}`);
    expect(m.success, m.errorMessage).toBe(true);
  }
  return hashes(`/${D}/${ds}`);
}

const snaps = async (ds: string, pool: string) => vals((await h(`list_snapshots name=${ds} pool=${pool}`)).rexxVariables.SNAPSHOTS);
const to = (ds: string) => `${sshd.peer}:${D}/${ds}`;

describe('ADDRESS ZFS replicate, syncoid model, over real ssh (target=HOST:pool/dataset)', () => {
  it('full, then an incremental that carries only the new 1 MB (BYTES), data equal by sha256', async () => {
    const d = uniq('inc');
    await h(`create name=${d}`);
    fs.writeFileSync(`/${S}/${d}/big`, crypto.randomBytes(8 * MB));
    const first = await h(`replicate name=${d} target=${to(d)}`);
    expect(first.success, first.errorMessage).toBe(true);
    expect(first.rexxVariables).toMatchObject({ MODE: 'full', HOST: sshd.peer, TARGET: `${D}/${d}` });
    expect(first.rexxVariables.BYTES).toBeGreaterThan(8 * MB);
    fs.writeFileSync(`/${S}/${d}/new`, crypto.randomBytes(MB));
    const second = await h(`replicate name=${d} target=${to(d)}`);
    expect(second.success, second.errorMessage).toBe(true);
    expect(second.rexxVariables).toMatchObject({ MODE: 'incremental', FROM: first.rexxVariables.SNAPSHOT });
    const bytes = Number(second.rexxVariables.BYTES);
    expect(bytes).toBeGreaterThan(MB);
    expect(bytes).toBeLessThan(1.5 * MB);
    expect(await remoteHashes(d)).toEqual(hashes(`/${S}/${d}`));
    // nothing new: the next run sends only the new (empty) snapshot's delta
    const third = await h(`replicate name=${d} target=${to(d)}`);
    expect(third.success, third.errorMessage).toBe(true);
    expect(Number(third.rexxVariables.BYTES)).toBeLessThan(200_000);
  });

  it('intermediate=true carries every snapshot in between (-I); without it only the newest (-i)', async () => {
    const d = uniq('int');
    await h(`create name=${d}`);
    fs.writeFileSync(`/${S}/${d}/v`, '0');
    await h(`snapshot name=${d} snapshot=a0`);
    expect((await h(`send name=${d} target=${to(d)}`)).success).toBe(true);
    for (const s of ['a1', 'a2', 'a3']) {
      fs.writeFileSync(`/${S}/${d}/v`, s);
      await h(`snapshot name=${d} snapshot=${s}`);
    }
    const r = await h(`send name=${d} snapshot=a3 target=${to(d)} intermediate=true`);
    expect(r.success, r.errorMessage).toBe(true);
    expect(r.rexxVariables).toMatchObject({ MODE: 'incremental', FROM: 'a0' });
    expect(await snaps(d, D)).toEqual(['a0', 'a1', 'a2', 'a3']);
    fs.writeFileSync(`/${S}/${d}/v`, 'b');
    await h(`snapshot name=${d} snapshot=b1`);
    await h(`snapshot name=${d} snapshot=b2`);
    expect((await h(`send name=${d} target=${to(d)}`)).success).toBe(true);
    expect(await snaps(d, D)).toEqual(['a0', 'a1', 'a2', 'a3', 'b2']);
    expect(await remoteHashes(d)).toEqual(hashes(`/${S}/${d}`));
  });

  it('recursive=true sends the tree, parents first, minus exclude= (and what is under an excluded one)', async () => {
    const d = uniq('rec');
    for (const c of [d, `${d}/app`, `${d}/app/db`, `${d}/cache`, `${d}/cache/deep`, `${d}/logs-1`]) {
      expect((await h(`create name=${c}`)).success).toBe(true);
      fs.writeFileSync(`/${S}/${c}/f`, c);
    }
    const r = await h(`replicate name=${d} target=${to(d)} recursive=true exclude=cache exclude=logs-*`);
    expect(r.success, r.errorMessage).toBe(true);
    expect(vals(r.rexxVariables.DATASETS)).toEqual([`${D}/${d}`, `${D}/${d}/app`, `${D}/${d}/app/db`]);
    expect(vals(r.rexxVariables.EXCLUDED)).toEqual([`${S}/${d}/cache`, `${S}/${d}/cache/deep`, `${S}/${d}/logs-1`]);
    const listed = vals((await h(`list name=${d} pool=${D} recursive=true`)).rexxVariables.DATASETS);
    expect(listed.filter((n) => /cache|logs/.test(String(n)))).toEqual([]);
    expect(await remoteHashes(`${d}/app/db`)).toEqual(hashes(`/${S}/${d}/app/db`));
    fs.writeFileSync(`/${S}/${d}/app/db/f2`, 'more');
    const again = await h(`replicate name=${d} target=${to(d)} recursive=true exclude=cache exclude=logs-*`);
    expect(again.success, again.errorMessage).toBe(true);
    expect(again.rexxVariables.MODE).toBe('incremental');
    expect(await remoteHashes(`${d}/app/db`)).toEqual(hashes(`/${S}/${d}/app/db`));
    expect((await h(`replicate name=${d} target=${to(d)} exclude=cache`)).errorCode).toBe(2);
  });

  it('a diverged target (a snapshot of its own after the common one) is RC 7 naming it; force=true rolls it back and succeeds', async () => {
    const d = uniq('div');
    await h(`create name=${d}`);
    fs.writeFileSync(`/${S}/${d}/v`, 'one');
    const first = await h(`replicate name=${d} target=${to(d)}`);
    expect(first.success, first.errorMessage).toBe(true);
    await h(`snapshot name=${d} pool=${D} snapshot=local-change`);
    fs.writeFileSync(`/${S}/${d}/v`, 'two');
    const r = await h(`replicate name=${d} target=${to(d)}`);
    expect(r.errorCode, r.errorMessage).toBe(7);
    expect(r.errorMessage).toMatch(/diverged.*local-change/);
    expect(await snaps(d, S)).toEqual([first.rexxVariables.SNAPSHOT]); // its own snapshot undone
    const f = await h(`replicate name=${d} target=${to(d)} force=true`);
    expect(f.success, f.errorMessage).toBe(true);
    expect(f.rexxVariables).toMatchObject({ MODE: 'incremental', FROM: first.rexxVariables.SNAPSHOT });
    expect(await snaps(d, D)).toEqual([first.rexxVariables.SNAPSHOT, f.rexxVariables.SNAPSHOT]);
    expect(await remoteHashes(d)).toEqual(hashes(`/${S}/${d}`));
  });

  it('a snapshot of the same name but another guid is not common: RC 7 saying so', async () => {
    const d = uniq('guid');
    await h(`create name=${d}`);
    await h(`snapshot name=${d} snapshot=same`);
    await h(`create name=${d} pool=${D}`);
    await h(`snapshot name=${d} pool=${D} snapshot=same`);
    await h(`snapshot name=${d} snapshot=later`);
    const r = await h(`send name=${d} target=${to(d)}`);
    expect(r.errorCode, r.errorMessage).toBe(7);
    expect(r.errorMessage).toMatch(/same.*other guids/);
  });

  it('killed mid-stream (bwlimit=4M slows 50 MB, timeout=3s): RC 5, the target still at its previous snapshot, no partial dataset, the snapshot undone; a rerun works', async () => {
    const d = uniq('kill');
    await h(`create name=${d}`);
    fs.writeFileSync(`/${S}/${d}/v`, 'one');
    const first = await h(`replicate name=${d} target=${to(d)}`);
    expect(first.success, first.errorMessage).toBe(true);
    fs.writeFileSync(`/${S}/${d}/big`, crypto.randomBytes(50 * MB));
    const t0 = performance.now();
    const r = await h(`replicate name=${d} target=${to(d)} bwlimit=4M timeout=3s`);
    expect(r.errorCode, r.errorMessage).toBe(5);
    expect(performance.now() - t0).toBeLessThan(20_000);
    expect(await snaps(d, S)).toEqual([first.rexxVariables.SNAPSHOT]);
    expect(await snaps(d, D)).toEqual([first.rexxVariables.SNAPSHOT]);
    expect(vals((await h(`list name=${d} pool=${D} recursive=true`)).rexxVariables.DATASETS)).toEqual([`${D}/${d}`]);
    expect(await remoteHashes(d)).toEqual({ v: hashes(`/${S}/${d}`).v });
    const again = await h(`replicate name=${d} target=${to(d)}`);
    expect(again.success, again.errorMessage).toBe(true);
    expect(Number(again.rexxVariables.BYTES)).toBeGreaterThan(50 * MB);
    expect(await remoteHashes(d)).toEqual(hashes(`/${S}/${d}`));
  }, 60_000);

  it('resume=, raw=, compressed=, large_blocks= on zfs-fuse: RC 6 naming the feature and the pool version, before any snapshot', async () => {
    const d = uniq('feat');
    await h(`create name=${d}`);
    for (const [opt, feature] of [['resume', 'extensible_dataset'], ['raw', 'encryption'], ['compressed', 'lz4_compress'], ['large_blocks', 'large_blocks']]) {
      const r = await h(`replicate name=${d} target=${to(d)} ${opt}=true`);
      expect(r.errorCode, r.errorMessage).toBe(6);
      expect(r.errorMessage).toContain(`${opt}=true needs feature@${feature}`);
      expect(r.errorMessage).toMatch(/pool rexxt-\S+ is version 23 \(zfs-fuse\)/);
    }
    expect(await snaps(d, S)).toEqual([]);
  });

  it('the host given twice (target=HOST:… and ssh=) is RC 2, nothing ran', async () => {
    const r = await h(`replicate name=x target=${to('x')} ssh=${sshd.peer}`);
    expect(r.errorCode).toBe(2);
    expect(r.errorMessage).toMatch(/give the host once/);
  });
});
