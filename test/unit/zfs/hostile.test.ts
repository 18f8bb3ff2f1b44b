/**
 * Every name-like parameter (every string/list param with a `rule`) of every ZFS verb
 * refuses the hostile values with RC 2 before anything runs: a fake `zfs`/`zpool`/`ssh`/
 * `dd` on PATH records any call (fake binary), and the CANARY file that a shell would
 * create never appears (test/helpers/hostile-suite.ts). Here: the valid arguments each
 * verb needs, the values ZFS accepts on purpose, and the ZFS-specific cases.
 */
import * as fs from 'node:fs';
import { beforeEach, describe, expect, it } from 'vitest';
import { table } from '../../../handlers/zfs';
import { hostileSuite, isHostPath } from '../../helpers/hostile-suite';
import { CANARY, HOSTILE } from '../../helpers/hostile';

/** verb → the valid arguments it needs, so a call fails only because of the value under test. */
const VALID_ARGS: Record<string, Record<string, string>> = {
  pool_create: { pool: 'p1', vdev: '/var/tmp/x.img' },
  pool_destroy: { pool: 'p1', force: 'true' },
  pool_export: { pool: 'p1' },
  pool_import: { pool: 'p1' },
  create: { name: 'web' },
  create_volume: { name: 'vol', size: '1G' },
  resize: { name: 'vol', size: '2G' },
  destroy: { name: 'web' },
  rename: { name: 'web', to: 'web2' },
  get: { name: 'web', property: 'compression' },
  set: { name: 'web', property: 'atime=off' },
  mount: { name: 'web' },
  unmount: { name: 'web' },
  snapshot: { name: 'web' },
  list_snapshots: { name: 'web' },
  rollback: { name: 'web', snapshot: 's1' },
  destroy_snapshot: { name: 'web', snapshot: 's1' },
  hold: { name: 'web', snapshot: 's1' },
  release: { name: 'web', snapshot: 's1' },
  clone: { name: 'web', snapshot: 's1', target: 'web2' },
  promote: { name: 'web' },
  register_base: { name: 'web' },
  clone_from_base: { base: 'golden', name: 'web' },
  unregister_base: { name: 'web' },
  send: { name: 'web', snapshot: 's1', target: 'web2' },
  receive: { name: 'web', file: '/tmp/x' },
  replicate: { name: 'web', target: 'web2' },
  prune: { name: 'web', keep: '3' },
};

/** Hostile values a rule accepts on purpose: real values passed to zfs/ssh as one argv element, never through a shell. */
const LEGIT: Record<string, (v: string) => boolean> = {
  // "a@b" is a legitimate ssh destination (user a on host b), not a hostile one there.
  'ssh host': (v) => v === 'a@b',
  // vdev=, mountpoint=, file=: a host path is data (the verb may still refuse it: RC 2 if not absolute, RC 3 if missing)
  'host path': isHostPath,
  // pool_import dir=: an absolute folder zpool import -d searches for vdevs (one argv element; reading it changes nothing)
  'absolute host path': (v) => isHostPath(v) && v.startsWith('/'),
  // property=: a value with commas is a legitimate property value
  'ZFS PROPERTY=VALUE': (v) => v === 'file=/etc/passwd,if=none',
  // exclude=: a glob on a relative dataset name ("*", "?") is what the rule is for; matched in the handler, never by a shell
  'dataset pattern': (v) => /^[*?a-z]+$/.test(v.replace(/[*?]/g, 'a')) && !v.includes('/'),
  // register_base description=: free text, one element of `zfs set org.rexxjs:base-description=TEXT`
  'base description': (v) => !/[\0-\x1f\x7f]/.test(v),
};

const suite = hostileSuite({
  table,
  tools: ['zfs', 'zpool', 'ssh', 'dd', 'truncate'],
  env: () => ({ REXX_ZFS_IMPL: 'openzfs' }),
  valid: {},
  extra: (c) => VALID_ARGS[c.verb],
  legit: LEGIT,
  // Accepted by the rule, so sent: the verb may run (receive reads file= as stdin, pool_create passes vdev= as
  // one argv element) or refuse it itself (RC 2 not absolute, RC 3 missing); the CANARY proves no shell saw it.
  onLegit: () => {},
});
beforeEach(() => fs.rmSync(suite.fake.log, { force: true }));

describe('hostile values in ZFS parameters → RC 2, nothing ran (fake binary)', () => {
  it('the name-like parameters cover every verb, and at least the ones listed here', () => {
    expect([...new Set(suite.cases.map((c) => c.verb))].sort()).toEqual(table.verbs.map((v) => v.name).sort());
    const keys = new Set(suite.cases.map((c) => `${c.verb} ${c.key}`));
    for (const k of ['replicate target', 'replicate exclude', 'replicate bwlimit', 'send target', 'create_volume size', 'create_volume volblocksize', 'rename to', 'get property', 'hold tag', 'send from', 'send ssh', 'send target_pool', 'replicate ssh', 'prune prefix', 'pool_create log', 'pool_create cache', 'pool_import dir', 'scrub pool']) {
      expect(keys, k).toContain(k);
    }
  });

  it('the same values as a command string are refused too (name=..., snapshot=...)', async () => {
    for (const bad of HOSTILE.filter((v) => !/["'\\\0\n\r]/.test(v))) {
      expect((await suite.h(`rollback name="${bad}" snapshot=s1`)).errorCode).toBe(2);
      expect((await suite.h(`rollback name=web snapshot="${bad}"`)).errorCode).toBe(2);
    }
    expect(suite.fake.calls()).toEqual([]);
  });

  it('hostile hosts and users in target=HOST:DATASET and ssh= are RC 2, nothing ran (fake binary)', async () => {
    const hosts = [
      `-oProxyCommand=touch ${CANARY}`, '-oProxyCommand=x', `host;touch ${CANARY}`, 'host;rm', 'ho st', ' host', `$(touch ${CANARY})`, '`id`',
      'hôst', 'хост', '😀', 'host\nx', 'host|x', 'host&x', 'host>x', "h'x", 'h"x', 'h\\x', 'h*', 'h?', '[h]', '~h', '${H}',
    ];
    for (const host of hosts) {
      for (const user of ['', 'root@', '-oX=y@', `$(touch ${CANARY})@`, 'ü@', 'a b@']) {
        const dest = `${user}${host}`;
        expect((await suite.h('replicate', { name: 'web', target: `${dest}:tank/web` })).errorCode, dest).toBe(2);
        expect((await suite.h('replicate', { name: 'web', target: 'tank/web', ssh: dest })).errorCode, dest).toBe(2);
      }
      expect((await suite.h('replicate', { name: 'web', target: `root@${host}:tank/web` })).errorCode, host).toBe(2);
    }
    for (const ds of ['-F', 'tank/web;rm', 'tank/../x', 'tank/web@s', 'tank web', '$(id)']) {
      expect((await suite.h('replicate', { name: 'web', target: `backup1:${ds}` })).errorCode, ds).toBe(2);
    }
    expect(suite.fake.calls()).toEqual([]);
    expect(fs.existsSync(CANARY)).toBe(false);
  });

  it('hostile text in a property VALUE reaches zfs as one argv element, never a shell (fake binary)', async () => {
    const value = `$(touch ${CANARY}); x`;
    const r = await suite.h('set', { name: 'web', property: `org.example:note=${value}` });
    expect(r.errorCode).toBe(0);
    expect(suite.fake.calls().filter((c) => c[1] !== 'get')).toEqual([['zfs', 'set', `org.example:note=${value}`, 'rexxpool/web']]);
    expect(fs.existsSync(CANARY)).toBe(false);
  });
});
