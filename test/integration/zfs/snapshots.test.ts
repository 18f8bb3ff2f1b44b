/**
 * Snapshots on real zfs-fuse in a throwaway pool: checkpoint names, list_snapshots
 * order and fields, rollback with and without discard_newer (file contents compared),
 * destroy_snapshot refusals, hold/release, and prune keeping exactly what it says.
 */
import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { throwawayPool, uniq } from './zfs-test-env';

const pool = throwawayPool('snap');
const h = pool.h;
const P = pool.name;

beforeAll(() => pool.create());
afterAll(() => pool.destroy());

const vals = (s: unknown) => Object.values(s as object).slice(1);

describe('ADDRESS ZFS snapshots on zfs-fuse', () => {
  it('snapshot defaults to checkpoint-<unix seconds>; list_snapshots is oldest first with creation and used', async () => {
    const d = uniq('ck');
    await h(`create name=${d}`);
    const before = Math.floor(Date.now() / 1000);
    const r = await h(`snapshot ${d}`);
    expect(r.success, r.errorMessage).toBe(true);
    const short = r.rexxVariables.SNAPSHOT as string;
    expect(short).toMatch(/^checkpoint-\d+$/);
    expect(Number(short.slice(11))).toBeGreaterThanOrEqual(before);
    expect(r.output).toBe(`${P}/${d}@${short}`);
    await h(`snapshot name=${d} snapshot=b`);
    await h(`snapshot name=${d} snapshot=a`);
    const l = await h(`list_snapshots ${d}`);
    expect(vals(l.rexxVariables.SNAPSHOTS)).toEqual([short, 'b', 'a']);
    for (const c of vals(l.rexxVariables.CREATED)) expect(c as number).toBeGreaterThanOrEqual(before);
    for (const u of vals(l.rexxVariables.USED)) expect(typeof u).toBe('number');
    expect((await h(`snapshot name=${d} snapshot=a`)).errorCode).toBe(4);
    expect((await h(`snapshot name=${d}-missing snapshot=a`)).errorCode).toBe(3);
  });

  it('snapshot recursive=true covers children', async () => {
    const d = uniq('rec');
    await h(`create name=${d}/kid parents=true`);
    await h(`snapshot name=${d} snapshot=r1 recursive=true`);
    expect(vals((await h(`list_snapshots ${d}/kid`)).rexxVariables.SNAPSHOTS)).toEqual(['r1']);
  });

  it('rollback: latest by default; an older one refused (RC 7) unless discard_newer=true, which reports what it destroyed', async () => {
    const d = uniq('rb');
    await h(`create name=${d}`);
    const f = `/${P}/${d}/data`;
    fs.writeFileSync(f, 'v1');
    await h(`snapshot name=${d} snapshot=v1`);
    fs.writeFileSync(f, 'v2');
    await h(`snapshot name=${d} snapshot=v2`);
    fs.writeFileSync(f, 'v3');
    await h(`snapshot name=${d} snapshot=v3`);
    fs.writeFileSync(f, 'broken');

    const latest = await h(`rollback ${d}`);
    expect(latest.success, latest.errorMessage).toBe(true);
    expect(latest.rexxVariables.SNAPSHOT).toBe('v3');
    expect(fs.readFileSync(f, 'utf8')).toBe('v3');

    const refused = await h(`rollback name=${d} snapshot=v1`);
    expect(refused.errorCode).toBe(7);
    expect(refused.errorMessage).toMatch(/discard_newer=true/);
    expect(fs.readFileSync(f, 'utf8')).toBe('v3');

    const old = await h(`rollback name=${d} snapshot=v1 discard_newer=true`);
    expect(old.success, old.errorMessage).toBe(true);
    expect(old.output.split('\n')).toEqual([`${P}/${d}@v2`, `${P}/${d}@v3`]);
    expect(vals(old.rexxVariables.DESTROYED)).toEqual([`${P}/${d}@v2`, `${P}/${d}@v3`]);
    expect(fs.readFileSync(f, 'utf8')).toBe('v1');
    expect(vals((await h(`list_snapshots ${d}`)).rexxVariables.SNAPSHOTS)).toEqual(['v1']);
    expect((await h(`rollback name=${d} snapshot=nope`)).errorCode).toBe(3);
  });

  it('rollback of a dataset without snapshots is RC 3', async () => {
    const d = uniq('none');
    await h(`create name=${d}`);
    expect((await h(`rollback ${d}`)).errorCode).toBe(3);
  });

  it('destroy_snapshot: refused with clones (RC 7, DEPENDENTS) or holds; then destroyed', async () => {
    const d = uniq('ds');
    await h(`create name=${d}`);
    await h(`snapshot name=${d} snapshot=s1`);
    await h(`clone name=${d} snapshot=s1 target=${d}-c`);
    const r = await h(`destroy_snapshot name=${d} snapshot=s1`);
    expect(r.errorCode).toBe(7);
    expect(r.rexxVariables.DEPENDENTS).toEqual({ 0: 1, 1: `${P}/${d}-c` });
    expect((await h(`destroy name=${d}-c`)).success).toBe(true);

    const held = await h(`hold name=${d} snapshot=s1 tag=keep`);
    expect(held.rexxVariables.HOLDS).toBe(1);
    expect((await h(`destroy_snapshot name=${d} snapshot=s1`)).errorCode).toBe(7);
    expect((await h(`release name=${d} snapshot=s1 tag=keep`)).rexxVariables.HOLDS).toBe(0);

    expect((await h(`destroy_snapshot name=${d} snapshot=s1`)).success).toBe(true);
    expect(vals((await h(`list_snapshots ${d}`)).rexxVariables.SNAPSHOTS)).toEqual([]);
    expect((await h(`destroy_snapshot name=${d} snapshot=s1`)).errorCode).toBe(3);
  });

  it('prune keep=N: exactly the N newest checkpoints stay; other prefixes, clones and holds are never touched', async () => {
    const d = uniq('pr');
    await h(`create name=${d}`);
    for (const s of ['checkpoint-1', 'manual', 'checkpoint-2', 'checkpoint-3', 'checkpoint-4', 'checkpoint-5', 'checkpoint-6']) {
      await h(`snapshot name=${d} snapshot=${s}`);
    }
    await h(`clone name=${d} snapshot=checkpoint-1 target=${d}-c`);
    await h(`hold name=${d} snapshot=checkpoint-2`);

    const dry = await h(`prune name=${d} keep=2 dryrun=true`);
    expect(dry.output.split('\n')).toEqual([`zfs destroy ${P}/${d}@checkpoint-3`, `zfs destroy ${P}/${d}@checkpoint-4`]);
    expect(vals((await h(`list_snapshots ${d}`)).rexxVariables.SNAPSHOTS)).toHaveLength(7);

    const r = await h(`prune name=${d} keep=2`);
    expect(r.success, r.errorMessage).toBe(true);
    expect(vals(r.rexxVariables.PRUNED)).toEqual(['checkpoint-3', 'checkpoint-4']);
    expect(vals(r.rexxVariables.PROTECTED)).toEqual(['checkpoint-1', 'checkpoint-2']);
    expect(vals((await h(`list_snapshots ${d}`)).rexxVariables.SNAPSHOTS)).toEqual(['checkpoint-1', 'manual', 'checkpoint-2', 'checkpoint-5', 'checkpoint-6']);
    await h(`release name=${d} snapshot=checkpoint-2`);
  });

  it('prune older_than only takes snapshots older than the limit; prefix= selects another family', async () => {
    const d = uniq('po');
    await h(`create name=${d}`);
    await h(`snapshot name=${d} snapshot=repl-1`);
    await h(`snapshot name=${d} snapshot=repl-2`);
    const young = await h(`prune name=${d} older_than=1h prefix=repl-`);
    expect(vals(young.rexxVariables.PRUNED)).toEqual([]);
    await new Promise((r) => setTimeout(r, 1100));
    const all = await h(`prune name=${d} older_than=500ms prefix=repl- keep=1`);
    expect(vals(all.rexxVariables.PRUNED)).toEqual(['repl-1']);
    expect(vals(all.rexxVariables.KEPT)).toEqual(['repl-2']);
    expect((await h(`prune name=${d}`)).errorCode).toBe(2);
  });
});
