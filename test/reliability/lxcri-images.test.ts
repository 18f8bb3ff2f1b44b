/**
 * The LXCRI image store under parallel scripts and after damage, on the real skopeo and
 * umoci (and zfs-fuse for bundle_from_image): every parallel call is its own
 * `rexx-address` process, as separate REXX scripts are. Checks:
 * - N parallel image_import of distinct tags: every RC 0 import is in image_list, in the
 *   layout's own index (umoci ls) and usable by bundle_from_image;
 * - N parallel image_import of one tag: exactly one RC 0, the rest RC 4; with force=true
 *   all RC 0 and the tag is there once;
 * - parallel bundle_from_image of one image onto ZFS: all RC 0, the image unpacked once;
 * - parallel image_delete: every deleted tag gone from both indexes, the others intact;
 * - a truncated or wrong-shape images.json: RC 1 naming the file, never rewritten.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, destroyNewParents, destroyOurDatasets, existingParents, POOL, requireTools, sh, tinyLayout, tryRun } from '../helpers/lxcri-env';
import { recordCounts } from '../helpers/reliability';
import { RUN_ID } from '../helpers/run-id';

const N = 8;
const ROUNDS = 3;
const P = `lxri${RUN_ID}`;
let tmp: string;
let layout: string;
const env = () => ({ ...process.env, REXX_OCI_DIR: `${tmp}/oci`, REXX_OCI_ROOT: `${tmp}/run`, REXX_ZFS_POOL: POOL });
const run = (cmd: string) => cli(env(), cmd);
const tagsInLayout = () => new Set(tryRun('umoci', ['ls', '--layout', `${tmp}/oci/layout`]).split('\n').filter(Boolean));
const listed = async () => {
  const l = await run(`image_list filter=${P}`);
  expect(l.errorCode, l.errorMessage).toBe(0);
  return new Set(Object.entries(l.rexxVariables.IMAGES as Record<string, unknown>).filter(([k]) => k !== '0').map(([, v]) => String(v)));
};
let digest = '';
/** Parent datasets that existed before this file ran (the ones it makes are removed again). */
let hadParent = new Set<string>();

beforeAll(() => {
  requireTools(['umoci', 'skopeo', 'busybox', 'zfs']);
  hadParent = existingParents();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-lxcri-rel-img-'));
  layout = tinyLayout(tmp);
});

afterAll(() => {
  if (!tmp) return;
  destroyOurDatasets((d) => d.startsWith(`${POOL}/containers/${P}`) || (digest !== '' && d === `${POOL}/images/${digest.slice(7, 23)}`));
  destroyNewParents(hadParent);
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('image store under parallel scripts', () => {
  it(`${N} parallel imports of distinct tags, ${ROUNDS} rounds: every RC 0 import is listed, in the layout, and unpacks`, async () => {
    let tried = 0;
    const lost: string[] = [];
    const failed: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const names = Array.from({ length: N }, (_, i) => `${P}/d${round}:t${i}`);
      const rs = await Promise.all(names.map((n) => run(`image_import source=${layout} name=${n} source_ref=tiny`)));
      digest ||= String(rs.find((r) => r.errorCode === 0)?.rexxVariables.DIGEST ?? '');
      const inList = await listed();
      const inLayout = tagsInLayout();
      names.forEach((n, i) => {
        tried++;
        if (rs[i]!.errorCode !== 0) failed.push(`${n}: RC ${rs[i]!.errorCode} ${rs[i]!.errorMessage}`);
        // RC 0 promises the image is findable: in image_list and in the layout's index.json.
        else if (!inList.has(n) || !inLayout.has(n)) lost.push(`${n}: list ${inList.has(n)}, layout ${inLayout.has(n)}`);
      });
    }
    recordCounts('lxcri: parallel image_import, distinct tags', tried, tried - lost.length - failed.length);
    expect(lost, 'RC 0 but not findable').toEqual([]);
    expect(failed).toEqual([]);
  });

  it('each imported tag unpacks with bundle_from_image (zfs=false), all at once', async () => {
    const names = Array.from({ length: N }, (_, i) => `${P}/d0:t${i}`);
    const rs = await Promise.all(names.map((n, i) => run(`bundle_from_image image=${n} bundle=${tmp}/ub${i} name=${P}-ub${i} zfs=false`)));
    const good = rs.filter((r, i) => r.errorCode === 0 && fs.existsSync(`${tmp}/ub${i}/rootfs/bin/busybox`)).length;
    recordCounts('lxcri: parallel bundle_from_image zfs=false of imported tags', N, good);
    expect(rs.map((r) => `${r.errorCode} ${r.errorMessage}`)).toEqual(names.map(() => '0 '));
  });

  it(`${N} parallel imports of one tag, ${ROUNDS} rounds: exactly one RC 0, the rest RC 4`, async () => {
    let held = 0;
    const seen: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const name = `${P}/same:r${round}`;
      const rs = await Promise.all(Array.from({ length: N }, () => run(`image_import source=${layout} name=${name} source_ref=tiny`)));
      const codes = rs.map((r) => r.errorCode).sort();
      const inList = (await listed()).has(name);
      if (codes.filter((c) => c === 0).length === 1 && codes.filter((c) => c === 4).length === N - 1 && inList) held++;
      seen.push(`${codes.join(',')} listed=${inList}`);
    }
    recordCounts('lxcri: parallel image_import, one tag (one RC 0, rest RC 4)', ROUNDS, held);
    expect(seen).toEqual(seen.map(() => `0,${Array(N - 1).fill(4).join(',')} listed=true`));
  });

  it(`${N} parallel imports of one tag with force=true: all RC 0, the tag once in both indexes`, async () => {
    const name = `${P}/forced:1`;
    const rs = await Promise.all(Array.from({ length: N }, () => run(`image_import source=${layout} name=${name} source_ref=tiny force=true`)));
    const l = await run(`image_list filter=${P}/forced`);
    const good = rs.filter((r) => r.errorCode === 0).length;
    recordCounts('lxcri: parallel image_import force=true, one tag', N, good);
    expect(rs.map((r) => r.errorMessage)).toEqual(rs.map(() => ''));
    expect(l.rexxVariables.IMAGES).toEqual({ 0: 1, 1: name });
    expect(tagsInLayout().has(name)).toBe(true);
  });

  it('6 parallel bundle_from_image of one image onto ZFS: all RC 0, clones of one image dataset', async () => {
    const rs = await Promise.all(Array.from({ length: 6 }, (_, i) => run(`bundle_from_image image=${P}/d1:t0 bundle=${tmp}/zb${i} name=${P}-zb${i}`)));
    const good = rs.filter((r) => r.errorCode === 0 && r.rexxVariables.CLONED === 1).length;
    recordCounts('lxcri: parallel bundle_from_image onto ZFS, one image', 6, good);
    expect(rs.map((r) => `${r.errorCode} ${r.errorMessage}`)).toEqual(rs.map(() => '0 '));
    for (let i = 0; i < 6; i++) {
      expect(sh('zfs', ['get', '-H', '-o', 'value', 'origin', `${POOL}/containers/${P}-zb${i}`]).trim()).toBe(`${POOL}/images/${digest.slice(7, 23)}@rexx-base`);
      expect(fs.existsSync(`${tmp}/zb${i}/rootfs/bin/busybox`)).toBe(true);
    }
  });

  it(`${N} parallel image_delete: the deleted tags are gone from both indexes, the rest still unpack`, async () => {
    const del = Array.from({ length: N }, (_, i) => `${P}/d2:t${i}`);
    const rs = await Promise.all(del.map((n) => run(`image_delete ${n}`)));
    const inList = await listed();
    const inLayout = tagsInLayout();
    const good = del.filter((n, i) => rs[i]!.errorCode === 0 && !inList.has(n) && !inLayout.has(n)).length;
    recordCounts('lxcri: parallel image_delete', N, good);
    expect(rs.map((r) => `${r.errorCode} ${r.errorMessage}`)).toEqual(del.map(() => '0 '));
    expect(del.filter((n) => inList.has(n) || inLayout.has(n))).toEqual([]);
    // What was not deleted is intact: its blobs survived the parallel umoci gc.
    const keep = `${P}/d1:t3`;
    expect(inList.has(keep) && inLayout.has(keep)).toBe(true);
    const b = await run(`bundle_from_image image=${keep} bundle=${tmp}/after-gc zfs=false`);
    expect(b.errorCode, b.errorMessage).toBe(0);
  });
});

describe('a damaged images.json is reported, never rewritten', () => {
  it.each([
    ['truncated', (t: string) => t.slice(0, Math.floor(t.length / 2))],
    ['wrong-shape', () => JSON.stringify({ images: 'not a list' })],
  ])('%s images.json: image_list and image_import RC 1 naming the file; the bytes stay as they were', async (kind, damage) => {
    const index = `${tmp}/oci/images.json`;
    const good = fs.readFileSync(index, 'utf8');
    const entries = (JSON.parse(good) as unknown[]).length;
    const bad = damage(good);
    fs.writeFileSync(index, bad);
    let held = 0;
    const l = await run('image_list');
    if (l.errorCode === 1 && l.errorMessage.includes(index)) held++;
    const imp = await run(`image_import source=${layout} name=${P}/after-damage:${kind} source_ref=tiny`);
    if (imp.errorCode === 1 && imp.errorMessage.includes(index) && fs.readFileSync(index, 'utf8') === bad) held++;
    const del = await run(`image_delete ${P}/d1:t1`);
    if (del.errorCode === 1 && fs.readFileSync(index, 'utf8') === bad) held++;
    recordCounts(`lxcri: ${kind} images.json reported, not rewritten`, 3, held);
    expect(l.errorCode).toBe(1);
    expect(l.errorMessage).toContain(index);
    expect(l.errorMessage).toMatch(/mv .*images\.json/);
    expect(imp.errorCode, imp.errorMessage).toBe(1);
    expect(imp.errorMessage).toContain(index);
    expect(del.errorCode, del.errorMessage).toBe(1);
    expect(fs.readFileSync(index, 'utf8')).toBe(bad);
    // Repaired by hand (the good bytes back): everything is still there.
    fs.writeFileSync(index, good);
    expect((await listed()).size).toBe(entries);
  });
});
