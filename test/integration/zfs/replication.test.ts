/**
 * Replication on real zfs-fuse between two throwaway pools: send into another pool
 * (full, then incremental from the last common snapshot, even after the target was
 * touched), send to a file and receive from it (full and incremental), replicate;
 * the data is compared at each step. ssh= is covered on argv in the unit tests.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { throwawayPool, uniq } from './zfs-test-env';

const src = throwawayPool('src');
const dst = throwawayPool('dst');
const h = src.h;
const S = src.name;
const D = dst.name;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-zfs-repl-'));

beforeAll(async () => {
  await src.create();
  await dst.create();
});
afterAll(async () => {
  await src.destroy();
  await dst.destroy();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const read = (p: string) => fs.readFileSync(p, 'utf8');
const vals = (s: unknown) => Object.values(s as object).slice(1);

describe('ADDRESS ZFS send/receive/replicate on zfs-fuse', () => {
  const d = uniq('web');

  it('send into another pool: full first, then incremental from the last common snapshot', async () => {
    await h(`create name=${d}`);
    fs.writeFileSync(`/${S}/${d}/a`, 'one');
    fs.writeFileSync(`/${S}/${d}/big`, Buffer.alloc(2 << 20, 1));
    await h(`snapshot name=${d} snapshot=s1`);
    const full = await h(`send name=${d} target=${d} target_pool=${D}`);
    expect(full.success, full.errorMessage).toBe(true);
    expect(full.rexxVariables).toMatchObject({ MODE: 'full', FROM: '', SNAPSHOT: 's1', TARGET: `${D}/${d}` });
    expect(read(`/${D}/${d}/a`)).toBe('one');
    expect(fs.statSync(`/${D}/${d}/big`).size).toBe(2 << 20);

    fs.writeFileSync(`/${S}/${d}/a`, 'two');
    fs.writeFileSync(`/${S}/${d}/b`, 'new');
    await h(`snapshot name=${d} snapshot=s2`);
    fs.readFileSync(`/${D}/${d}/a`); // touch the target (atime): an incremental then needs -F
    const inc = await h(`send name=${d} target=${D}/${d} target_pool=${D}`);
    expect(inc.success, inc.errorMessage).toBe(true);
    expect(inc.rexxVariables).toMatchObject({ MODE: 'incremental', FROM: 's1', SNAPSHOT: 's2' });
    expect(read(`/${D}/${d}/a`)).toBe('two');
    expect(read(`/${D}/${d}/b`)).toBe('new');
    expect(vals((await h(`list_snapshots name=${d} pool=${D}`)).rexxVariables.SNAPSHOTS)).toEqual(['s1', 's2']);

    const again = await h(`send name=${d} target=${d} target_pool=${D}`);
    expect(again.rexxVariables.MODE).toBe('none');
  });

  it('a target that shares no snapshot is refused (RC 7) unless force=true', async () => {
    const other = uniq('other');
    await h(`create name=${other} pool=${D}`);
    await h(`snapshot name=${other} pool=${D} snapshot=unrelated`);
    const r = await h(`send name=${d} target=${other} target_pool=${D}`);
    expect(r.errorCode).toBe(7);
    const f = await h(`send name=${d} target=${other} target_pool=${D} force=true`);
    expect(f.success, f.errorMessage).toBe(true);
    expect(read(`/${D}/${other}/a`)).toBe('two');
  });

  it('send to a file and receive from it: full, then incremental with from=', async () => {
    const e = uniq('file');
    await h(`create name=${e}`);
    fs.writeFileSync(`/${S}/${e}/x`, 'first');
    await h(`snapshot name=${e} snapshot=f1`);
    const fullFile = path.join(tmp, 'full.zfs');
    const s = await h(`send name=${e} file=${fullFile}`);
    expect(s.success, s.errorMessage).toBe(true);
    expect(s.rexxVariables).toMatchObject({ MODE: 'full', SNAPSHOT: 'f1' });
    expect(s.rexxVariables.BYTES as number).toBeGreaterThan(0);
    expect(s.rexxVariables.BYTES).toBe(fs.statSync(fullFile).size);

    fs.writeFileSync(`/${S}/${e}/x`, 'second');
    await h(`snapshot name=${e} snapshot=f2`);
    const incFile = path.join(tmp, 'inc.zfs');
    expect((await h(`send name=${e} snapshot=f2 from=f1 file=${incFile}`)).rexxVariables.MODE).toBe('incremental');

    const rf = await h(`receive name=${e} pool=${D} file=${fullFile}`);
    expect(rf.success, rf.errorMessage).toBe(true);
    expect(read(`/${D}/${e}/x`)).toBe('first');
    const ri = await h(`receive name=${e} pool=${D} file=${incFile} force=true`);
    expect(ri.success, ri.errorMessage).toBe(true);
    expect(read(`/${D}/${e}/x`)).toBe('second');
    expect((await h(`receive name=${e} pool=${D} file=${path.join(tmp, 'missing')}`)).errorCode).toBe(3);
    expect((await h(`receive name=${e}-2 pool=${D} file=${incFile}`)).success).toBe(false);
  });

  it('replicate: snapshots now and sends, incremental the second time', async () => {
    const r = uniq('rep');
    await h(`create name=${r}`);
    fs.writeFileSync(`/${S}/${r}/v`, '1');
    const first = await h(`replicate name=${r} target=${r} target_pool=${D}`);
    expect(first.success, first.errorMessage).toBe(true);
    expect(first.rexxVariables.MODE).toBe('full');
    expect(first.rexxVariables.SNAPSHOT).toMatch(/^repl-\d+$/);
    expect(read(`/${D}/${r}/v`)).toBe('1');
    fs.writeFileSync(`/${S}/${r}/v`, '2');
    await new Promise((res) => setTimeout(res, 1100)); // a new second → a new repl-<seconds> name
    const second = await h(`replicate name=${r} target=${r} target_pool=${D}`);
    expect(second.success, second.errorMessage).toBe(true);
    expect(second.rexxVariables).toMatchObject({ MODE: 'incremental', FROM: first.rexxVariables.SNAPSHOT });
    expect(read(`/${D}/${r}/v`)).toBe('2');
  });
});
