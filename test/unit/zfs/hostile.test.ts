/**
 * Every name-like parameter of every ZFS verb refuses the hostile values with RC 2
 * before anything runs: a fake `zfs`/`zpool`/`ssh`/`dd` on PATH records any call
 * (fake binary), and the CANARY file that a shell would create never appears.
 */
import * as fs from 'node:fs';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { createHandler } from '../../../shared/dispatch';
import { table } from '../../../handlers/zfs';
import { fakeBin } from '../../helpers/fakebin';
import { CANARY, HOSTILE } from '../../helpers/hostile';

const fake = fakeBin({ zfs: {}, zpool: {}, ssh: {}, dd: {}, truncate: {} });
const h = createHandler(table, { env: { ...fake.env, REXX_ZFS_IMPL: 'openzfs' } });
afterAll(() => fake.cleanup());
beforeEach(() => fs.rmSync(fake.log, { force: true }));

/** verb → the valid arguments it needs, and which of its keys are name-like. */
const CASES: Array<[string, Record<string, string>, string[]]> = [
  ['pool_status', {}, ['pool']],
  ['pool_check', {}, ['pool']],
  ['pool_create', { pool: 'p1', vdev: '/var/tmp/x.img' }, ['pool']],
  ['pool_destroy', { pool: 'p1', force: 'true' }, ['pool']],
  ['create', { name: 'web' }, ['name', 'pool']],
  ['create_volume', { name: 'vol', size: '1G' }, ['name', 'pool', 'size', 'volblocksize']],
  ['resize', { name: 'vol', size: '2G' }, ['name', 'pool', 'size']],
  ['destroy', { name: 'web' }, ['name', 'pool']],
  ['rename', { name: 'web', to: 'web2' }, ['name', 'to', 'pool']],
  ['get', { name: 'web', property: 'compression' }, ['name', 'property', 'pool']],
  ['set', { name: 'web', property: 'atime=off' }, ['name', 'pool']],
  ['list', {}, ['name', 'pool']],
  ['mount', { name: 'web' }, ['name', 'pool']],
  ['unmount', { name: 'web' }, ['name', 'pool']],
  ['snapshot', { name: 'web' }, ['name', 'snapshot', 'pool']],
  ['list_snapshots', { name: 'web' }, ['name', 'pool']],
  ['rollback', { name: 'web', snapshot: 's1' }, ['name', 'snapshot', 'pool']],
  ['destroy_snapshot', { name: 'web', snapshot: 's1' }, ['name', 'snapshot', 'pool']],
  ['hold', { name: 'web', snapshot: 's1' }, ['name', 'snapshot', 'tag', 'pool']],
  ['release', { name: 'web', snapshot: 's1' }, ['name', 'snapshot', 'tag', 'pool']],
  ['clone', { name: 'web', snapshot: 's1', target: 'web2' }, ['name', 'snapshot', 'target', 'pool']],
  ['promote', { name: 'web' }, ['name', 'pool']],
  ['register_base', { name: 'web' }, ['name', 'pool']],
  ['clone_from_base', { base: 'golden', name: 'web' }, ['base', 'name', 'pool']],
  ['list_bases', {}, ['pool']],
  ['unregister_base', { name: 'web' }, ['name', 'pool']],
  ['send', { name: 'web', snapshot: 's1', target: 'web2' }, ['name', 'snapshot', 'target', 'target_pool', 'ssh', 'from']],
  ['receive', { name: 'web', file: '/tmp/x' }, ['name', 'pool']],
  ['replicate', { name: 'web', target: 'web2' }, ['name', 'snapshot', 'target', 'target_pool', 'ssh', 'pool']],
  ['prune', { name: 'web', keep: '3' }, ['name', 'prefix', 'pool']],
  ['stats', {}, ['name', 'pool']],
  ['status', {}, ['pool']],
];

describe('hostile values in every name-like parameter → RC 2, nothing ran (fake binary)', () => {
  it('the table covers every verb', () => {
    expect(CASES.map(([v]) => v).sort()).toEqual(table.verbs.map((v) => v.name).sort());
  });
  it(`has at least 50 hostile values`, () => expect(HOSTILE.length).toBeGreaterThanOrEqual(50));

  for (const [verb, valid, keys] of CASES) {
    for (const key of keys) {
      it(`${verb} ${key}=<each of ${HOSTILE.length} hostile values>`, async () => {
        // "a@b" is a legitimate ssh destination (user a on host b), not a hostile one there.
        for (const bad of HOSTILE.filter((v) => !(key === 'ssh' && v === 'a@b'))) {
          const r = await h(verb, { ...valid, [key]: bad });
          expect(r.errorCode, `${verb} ${key}=${JSON.stringify(bad)}: ${r.errorMessage}`).toBe(2);
        }
        expect(fake.calls()).toEqual([]);
        expect(fs.existsSync(CANARY)).toBe(false);
      });
    }
  }

  it('the same values as a command string are refused too (name=..., snapshot=...)', async () => {
    for (const bad of HOSTILE.filter((v) => !/["'\\\0\n\r]/.test(v))) {
      expect((await h(`rollback name="${bad}" snapshot=s1`)).errorCode).toBe(2);
      expect((await h(`rollback name=web snapshot="${bad}"`)).errorCode).toBe(2);
    }
    expect(fake.calls()).toEqual([]);
  });

  it('hostile text in a property VALUE reaches zfs as one argv element, never a shell (fake binary)', async () => {
    const value = `$(touch ${CANARY}); x`;
    const r = await h('set', { name: 'web', property: `org.example:note=${value}` });
    expect(r.errorCode).toBe(0);
    expect(fake.calls()).toEqual([['zfs', 'set', `org.example:note=${value}`, 'rexxpool/web']]);
    expect(fs.existsSync(CANARY)).toBe(false);
  });
});
