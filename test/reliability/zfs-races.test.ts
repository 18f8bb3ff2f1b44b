/**
 * ADDRESS ZFS under parallel calls, on the real zfs-fuse (a throwaway pool): 20 clones of
 * one base at once, 10 clones and 10 creates of one name (with parents=true, whose
 * `-p` would answer 0 for an existing target), and 10 default-named snapshots in the
 * same second. Counts go to the npm test summary.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordCounts } from '../helpers/reliability';
import { throwawayPool } from '../integration/zfs/zfs-test-env';

const pool = throwawayPool('races');
const h = pool.h;

beforeAll(async () => {
  await pool.create();
  for (const cmd of ['create name=gold', 'register_base name=gold']) {
    const r = await h(cmd);
    if (!r.success) throw new Error(`${cmd}: ${r.errorMessage}`);
  }
});
afterAll(() => pool.destroy());

const codes = (rs: Array<{ errorCode: number }>) => rs.map((r) => r.errorCode).sort((a, b) => a - b);
const oneWinner = (c: number[]) => (c.filter((x) => x === 0).length === 1 ? c.filter((x) => x === 4).length + 1 : 0);

describe('parallel calls on one pool', () => {
  it('20 clone_from_base at once: all RC 0, all clones of gold@rexx-base', async () => {
    const names = Array.from({ length: 20 }, (_, i) => `c${i}`);
    const rs = await Promise.all(names.map((n) => h(`clone_from_base base=gold name=${n}`)));
    const listed = await h('list type=filesystem');
    const origins = new Map(Object.keys(listed.rexxVariables.DATASETS as object).filter((k) => k !== '0').map((k) => [
      (listed.rexxVariables.DATASETS as Record<string, string>)[k]!, (listed.rexxVariables.ORIGINS as Record<string, string>)[k]!,
    ]));
    const good = names.filter((n, i) => rs[i]!.errorCode === 0 && origins.get(`${pool.name}/${n}`) === `${pool.name}/gold@rexx-base`).length;
    recordCounts('zfs: 20 parallel clone_from_base → all RC 0, all clones', 20, good);
    expect(rs.map((r) => r.errorMessage).filter(Boolean)).toEqual([]);
    expect(good).toBe(20);
  });

  it.each([
    ['clone_from_base base=gold name=deep/same parents=true', 'clone_from_base to one name (parents=true)'],
    ['clone_from_base base=gold name=same', 'clone_from_base to one name'],
    ['create name=a/b/same parents=true', 'create of one name (parents=true)'],
  ])('10 × %s: one RC 0, nine RC 4', async (cmd, what) => {
    const rs = await Promise.all(Array.from({ length: 10 }, () => h(cmd)));
    const c = codes(rs);
    recordCounts(`zfs: 10 parallel ${what} → one RC 0, nine RC 4`, 10, oneWinner(c));
    expect(c, rs.map((r) => r.errorMessage).join(' | ')).toEqual([0, 4, 4, 4, 4, 4, 4, 4, 4, 4]);
  });

  // Raw `zfs create -p` of 10 distinct children into one new parent, in parallel, wedged
  // zfs-fuse within 7 rounds here (2026-11-30); the handler makes parents under a lock.
  it('10 × create name=fresh/b/cN parents=true (distinct), 6 rounds: all RC 0, all mounted, zfs-fuse answers', async () => {
    let good = 0;
    const errors: string[] = [];
    for (let r = 0; r < 6; r++) {
      const names = Array.from({ length: 10 }, (_, i) => `fresh${r}/b/c${i}`);
      const rs = await Promise.all(names.map((n) => h(`create name=${n} parents=true`)));
      errors.push(...rs.map((x) => x.errorMessage).filter(Boolean));
      for (const n of names) {
        const g = await h(`get name=${n} property=mounted`);
        if (g.success && g.output === 'yes') good++;
      }
    }
    recordCounts('zfs: 10 parallel create parents=true into one new parent → all RC 0 and mounted (calls)', 60, good);
    expect(errors).toEqual([]);
    expect(good).toBe(60);
  });

  it('10 default-named snapshots at once: all RC 0, 10 different names', async () => {
    const rs = await Promise.all(Array.from({ length: 10 }, () => h('snapshot name=c0')));
    const names = new Set(rs.filter((r) => r.success).map((r) => r.rexxVariables.SNAPSHOT as string));
    recordCounts('zfs: 10 default-named snapshots at once → 10 distinct', 10, names.size);
    expect(rs.map((r) => r.errorMessage).filter(Boolean)).toEqual([]);
    expect(names.size).toBe(10);
    for (const n of names) expect(n).toMatch(/^checkpoint-\d+(-\d+)?$/);
  });
});
