/**
 * ADDRESS ZFS under parallel calls, on real zfs-fuse (one throwaway pool): the races
 * themselves, counted (recordCounts → the table at the end of npm test).
 * - register_base ×10 on one dataset: exactly one registers, the others get RC 4, and
 *   the registry is intact afterwards (one @rexx-base, nothing renamed aside).
 * - send file=SAME ×10: exactly one file, complete (it receives), the others RC 4, no
 *   partial file left.
 * - destroy / unmount ×10 of a dataset in use: every one RC 7, the dataset still mounted
 *   and zfs-fuse still answering.
 * - replicate ×5 towards an ssh peer that never answers, timeout=2s: every one RC 5 in
 *   time, and none of the five repl- snapshots they took is left.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler } from '../../shared/dispatch';
import { table } from '../../handlers/zfs';
import { recordCounts } from '../helpers/reliability';
import { startSshd, type TestSshd } from '../helpers/sshd';
import { throwawayPool, uniq } from '../integration/zfs/zfs-test-env';

const pool = throwawayPool('rel');
const h = pool.h;
const P = pool.name;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-zfs-rel-'));
const vals = (s: unknown) => Object.values((s ?? { 0: 0 }) as object).slice(1).map(String);
const N = 10;

beforeAll(() => pool.create());
afterAll(async () => {
  await pool.destroy();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('ADDRESS ZFS races (reliability)', () => {
  it(`register_base ×${N} in parallel on one dataset, 3 rounds: one winner, the rest RC 4, the registry intact`, async () => {
    let tried = 0;
    let held = 0;
    for (let round = 0; round < 3; round++) {
      const d = uniq('reg');
      await h(`create name=${d}`);
      const rs = await Promise.all(Array.from({ length: N }, (_, i) => h(`register_base name=${d} description=caller-${i}`)));
      const codes = rs.map((r) => r.errorCode);
      const snaps = vals((await h(`list_snapshots name=${d}`)).rexxVariables.SNAPSHOTS);
      const listed = vals((await h('list_bases')).rexxVariables.BASES).includes(`${P}/${d}`);
      const ok = codes.filter((c) => c === 0).length === 1 && codes.filter((c) => c === 4).length === N - 1 && snaps.join() === 'rexx-base' && listed;
      tried += 1;
      if (ok) held += 1;
      expect({ codes: codes.sort(), snaps, listed }).toEqual({ codes: [0, ...Array(N - 1).fill(4)], snaps: ['rexx-base'], listed: true });
    }
    recordCounts(`zfs register_base ×${N} parallel: one winner, registry intact (rounds)`, tried, held);
  });

  it(`send file=SAME ×${N} in parallel, 2 rounds: one complete file, the rest RC 4, no partial file`, async () => {
    const d = uniq('send');
    await h(`create name=${d}`);
    fs.writeFileSync(`/${P}/${d}/big`, Buffer.alloc(2 << 20, 9));
    await h(`snapshot name=${d} snapshot=s1`);
    let tried = 0;
    let held = 0;
    for (let round = 0; round < 2; round++) {
      const f = path.join(tmp, `same-${round}.zfs`);
      const rs = await Promise.all(Array.from({ length: N }, () => h(`send name=${d} snapshot=s1 file=${f}`)));
      const codes = rs.map((r) => r.errorCode).sort();
      const leftovers = fs.readdirSync(tmp).filter((n) => n.includes('rexx-partial'));
      const target = uniq('back');
      const recv = await h(`receive name=${target} file=${f}`);
      const complete = recv.success && fs.statSync(`/${P}/${target}/big`).size === 2 << 20;
      tried += 1;
      if (codes.join() === [0, ...Array(N - 1).fill(4)].join() && !leftovers.length && complete) held += 1;
      expect({ codes, leftovers, complete }).toEqual({ codes: [0, ...Array(N - 1).fill(4)], leftovers: [], complete: true });
    }
    recordCounts(`zfs send file=SAME ×${N} parallel: one complete file, no partial (rounds)`, tried, held);
  });

  it(`destroy and unmount ×${N} each in parallel of a dataset in use: all RC 7, still mounted, zfs-fuse answers`, async () => {
    const d = uniq('busy');
    await h(`create name=${d}`);
    const p = spawn('sleep', ['300'], { cwd: `/${P}/${d}`, stdio: 'ignore' });
    try {
      const rs = await Promise.all([
        ...Array.from({ length: N }, () => h(`destroy name=${d}`)),
        ...Array.from({ length: N }, () => h(`unmount name=${d}`)),
      ]);
      const refused = rs.filter((r) => r.errorCode === 7 && r.errorMessage.includes(`pid ${p.pid}`)).length;
      const mounted = (await h(`get name=${d} property=mounted`)).output === 'yes';
      const answers = (await execa('ls', [`/${P}`], { timeout: 10_000, reject: false })).exitCode === 0;
      recordCounts(`zfs destroy/unmount ×${N} each of a dataset in use: refused, still mounted (calls)`, rs.length, mounted && answers ? refused : 0);
      expect({ refused, mounted, answers }).toEqual({ refused: 2 * N, mounted: true, answers: true });
    } finally {
      p.kill('SIGKILL');
      await new Promise((r) => p.once('exit', r));
    }
    expect((await h(`destroy name=${d}`)).success).toBe(true);
  });

  describe('towards an ssh peer that never answers', () => {
    let sshd: TestSshd;
    beforeAll(async () => {
      sshd = await startSshd();
    });
    afterAll(() => sshd?.stop());

    it('replicate ×5 in parallel with timeout=2s: all RC 5 within 6 s, none of their repl- snapshots left', async () => {
      const hs = createHandler(table, { env: { ...process.env, REXX_ZFS_POOL: P, REXX_ZFS_SSH_CONFIG: sshd.config } });
      const d = uniq('repl');
      await h(`create name=${d}`);
      const t0 = performance.now();
      const rs = await Promise.all(Array.from({ length: 5 }, () => hs(`replicate name=${d} target=${d} target_pool=${P} ssh=${sshd.silent} timeout=2s`)));
      const ms = performance.now() - t0;
      const left = vals((await h(`list_snapshots name=${d}`)).rexxVariables.SNAPSHOTS);
      const inTime = rs.filter((r) => r.errorCode === 5).length;
      recordCounts('zfs replicate ×5 parallel, ssh silent, timeout=2s: RC 5 in time, snapshot removed (calls)', rs.length, ms < 6000 && !left.length ? inTime : 0);
      expect({ codes: rs.map((r) => r.errorCode), left, inTime: ms < 6000 }).toEqual({ codes: [5, 5, 5, 5, 5], left: [], inTime: true });
    });
  });
});
