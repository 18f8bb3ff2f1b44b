/**
 * image_pull under parallel scripts, on the real registry (docker-registry on
 * 127.0.0.1:5000), skopeo, umoci and zfs-fuse: N `rexx-address` processes pull one ref
 * at the same moment, ROUNDS times into fresh stores. Every pull must answer RC 0 and
 * the store must hold that image once: one image_list entry, one tag in the layout's own
 * index (umoci ls), one unpacked dataset. Counted for the reliability table.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, destroyNewParents, destroyOurDatasets, existingParents, POOL, requireTools, tinyLayout, tryRun } from '../helpers/lxcri-env';
import { deleteFromRegistry, pushLayout, REGISTRY, requireRegistry } from '../helpers/registry';
import { recordCounts } from '../helpers/reliability';
import { RUN_ID } from '../helpers/run-id';

const N = 6;
const ROUNDS = 3;
const REPO = `rexx-rel-${RUN_ID}/busybox:1`;
let tmp: string;
let digest = '';
let hadParent = new Set<string>();

beforeAll(() => {
  requireTools(['umoci', 'skopeo', 'busybox', 'zfs', 'curl']);
  requireRegistry();
  hadParent = existingParents();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-lxcri-rel-reg-'));
  tinyLayout(tmp);
  digest = pushLayout(`${tmp}/layout:tiny`, REPO);
});

afterAll(() => {
  if (!tmp) return;
  destroyOurDatasets((d) => digest !== '' && d === `${POOL}/images/${digest.slice(7, 23)}`);
  destroyNewParents(hadParent);
  deleteFromRegistry(REPO);
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('image_pull under parallel scripts', () => {
  it(`${N} parallel pulls of one ref, ${ROUNDS} rounds: all RC 0, and the store has the image once`, async () => {
    let tried = 0;
    let held = 0;
    const bad: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const env = { ...process.env, REXX_OCI_DIR: `${tmp}/oci-${round}`, REXX_OCI_ROOT: `${tmp}/run`, REXX_ZFS_POOL: POOL };
      const rs = await Promise.all(Array.from({ length: N }, () => cli(env, `image_pull ${REGISTRY}/${REPO} tls_verify=false name=race:1`)));
      tried += N;
      const ok = rs.filter((r) => r.errorCode === 0 && r.rexxVariables.DIGEST === digest);
      held += ok.length;
      for (const r of rs) if (r.errorCode !== 0) bad.push(`round ${round}: RC ${r.errorCode} ${r.errorMessage}`);
      const l = await cli(env, 'image_list');
      const images = Object.entries(l.rexxVariables.IMAGES as Record<string, unknown>).filter(([k]) => k !== '0').map(([, v]) => v);
      const tags = tryRun('umoci', ['ls', '--layout', `${tmp}/oci-${round}/layout`]).split('\n').filter(Boolean);
      const sets = tryRun('zfs', ['list', '-H', '-o', 'name', '-r', `${POOL}/images`]).split('\n').filter((d) => d === `${POOL}/images/${digest.slice(7, 23)}`);
      if (images.length !== 1 || tags.length !== 1 || sets.length !== 1) bad.push(`round ${round}: listed ${images.join(',')}; layout ${tags.join(',')}; datasets ${sets.length}`);
    }
    recordCounts('lxcri parallel image_pull of one ref: RC 0 and one stored image', tried, held);
    expect(bad).toEqual([]);
    expect(held).toBe(tried);
  });
});
