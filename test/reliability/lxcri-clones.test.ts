/**
 * LXCRI clone_from_base under parallel scripts (each call its own `rexx-address`
 * process), on the real zfs-fuse pool: 20 clones of one base at once all succeed and
 * are ZFS clones of its snapshot; 10 clones to one name give exactly one RC 0 and the
 * rest RC 4, with one dataset and one bundle left.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxRootfs, cli, deleteAllRunc, destroyNewParents, destroyOurDatasets, existingParents, POOL, requireTools, tryRun } from '../helpers/lxcri-env';
import { recordCounts } from '../helpers/reliability';
import { RUN_ID } from '../helpers/run-id';

const P = `lxcl${RUN_ID}`;
let tmp: string;
let hadParent = new Set<string>();
const env = () => ({ ...process.env, REXX_OCI_DIR: `${tmp}/oci`, REXX_OCI_ROOT: `${tmp}/run`, REXX_ZFS_POOL: POOL });
const run = (cmd: string) => cli(env(), cmd);

beforeAll(async () => {
  requireTools(['runc', 'zfs', 'busybox']);
  hadParent = existingParents();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-lxcri-rel-clone-'));
  busyboxRootfs(`${tmp}/base/rootfs`);
  expect((await run(`spec bundle=${tmp}/base arg=sleep arg=1000 runtime=runc`)).errorCode).toBe(0);
  const r = await run(`register_base name=${P}-base bundle=${tmp}/base`);
  expect(r.errorCode, r.errorMessage).toBe(0);
});

afterAll(() => {
  if (!tmp) return;
  deleteAllRunc(`${tmp}/run/runc`);
  destroyOurDatasets((d) => d.startsWith(`${POOL}/containers/${P}`));
  destroyNewParents(hadParent);
  fs.rmSync(tmp, { recursive: true, force: true });
});

const origin = (ds: string) => tryRun('zfs', ['get', '-H', '-o', 'value', 'origin', ds]).trim();

describe('parallel clone_from_base', () => {
  it('20 at once: all RC 0, each a ZFS clone of the base snapshot with its bundle', async () => {
    const names = Array.from({ length: 20 }, (_, i) => `${P}-c${i}`);
    const rs = await Promise.all(names.map((n) => run(`clone_from_base base=${P}-base name=${n} bundle_dir=${tmp}/bundles`)));
    const good = names.filter((n, i) => rs[i]!.errorCode === 0 && origin(`${POOL}/containers/${n}`) === `${POOL}/containers/${P}-base@rexx-base` && fs.existsSync(`${tmp}/bundles/${n}/config.json`));
    recordCounts('lxcri: 20 parallel clone_from_base → all RC 0, all clones', 20, good.length);
    expect(rs.map((r) => r.errorMessage).filter(Boolean)).toEqual([]);
    expect(good.length).toBe(20);
  });

  it('10 to one name: one RC 0, nine RC 4, one dataset and bundle', async () => {
    const n = `${P}-same`;
    const rs = await Promise.all(Array.from({ length: 10 }, () => run(`clone_from_base base=${P}-base name=${n} bundle_dir=${tmp}/bundles`)));
    const codes = rs.map((r) => r.errorCode).sort((a, b) => a - b);
    const held = codes.filter((c) => c === 0).length === 1 ? codes.filter((c) => c === 4).length + 1 : 0;
    recordCounts('lxcri: 10 parallel clones to one name → one RC 0, nine RC 4', 10, held);
    expect(codes, rs.map((r) => r.errorMessage).join(' | ')).toEqual([0, 4, 4, 4, 4, 4, 4, 4, 4, 4]);
    expect(origin(`${POOL}/containers/${n}`)).toBe(`${POOL}/containers/${P}-base@rexx-base`);
    expect(fs.existsSync(`${tmp}/bundles/${n}/config.json`)).toBe(true);
  });
});
