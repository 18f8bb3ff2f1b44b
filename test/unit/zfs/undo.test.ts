/**
 * register_base and unregister_base either complete or undo what they did, when a later
 * `zfs` step fails — a failure the real zfs can't be made to produce on demand (the
 * integration tests cover the real ones: create's "created, but not mounted", set's
 * failed remount). A fake `zfs` on PATH (fake binary) records its argv, answers the
 * registry lookup with FAKE_GET, and fails the call whose argv matches FAKE_FAIL.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { createHandler } from '../../../shared/dispatch';
import { table } from '../../../handlers/zfs';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-fake-zfs-undo-'));
const log = path.join(dir, 'calls.jsonl');
fs.writeFileSync(
  path.join(dir, 'zfs'),
  `#!/usr/bin/env node
const fs = require('fs');
const argv = process.argv.slice(2);
fs.appendFileSync(${JSON.stringify(log)}, JSON.stringify(argv) + '\\n');
const line = argv.join(' ');
if (process.env.FAKE_FAIL && new RegExp(process.env.FAKE_FAIL).test(line)) {
  process.stderr.write("cannot do it: I/O error (fake)\\n");
  process.exit(1);
}
if (argv[0] === 'get') process.stdout.write(process.env.FAKE_GET || '');
`,
  { mode: 0o755 },
);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
beforeEach(() => fs.rmSync(log, { force: true }));

const calls = () => fs.readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as string[]);
const writes = () => calls().filter((c) => c[0] !== 'get' && c[0] !== 'list');
const handler = (env: Record<string, string>) =>
  createHandler(table, { env: { PATH: `${dir}:${process.env.PATH}`, REXX_ZFS_IMPL: 'zfs-fuse', REXX_ZFS_LOCK_DIR: path.join(dir, 'locks'), ...env } });

const REGISTERED = [
  'rexxpool/golden\torg.rexxjs:base-snapshot\trexx-base\tlocal',
  'rexxpool/golden\torg.rexxjs:base-description\told text\tlocal',
  'rexxpool/golden@rexx-base\tcreation\t1795240000\t-',
  'rexxpool/golden@rexx-base\tdefer_destroy\toff\t-',
].join('\n');

describe('multi-step registry verbs undo what they did (fake binary: a zfs step made to fail)', () => {
  it('register_base: the snapshot is destroyed and the properties are put back when a later zfs set fails', async () => {
    const h = handler({ FAKE_FAIL: '^set org\\.rexxjs:base-snapshot=' });
    const r = await h('register_base name=golden description=new');
    expect(r.errorCode).toBe(1);
    expect(r.errorMessage).toMatch(/I\/O error \(fake\); undone: destroy rexxpool\/golden@rexx-base, restore the org\.rexxjs: properties/);
    expect(writes()).toEqual([
      ['snapshot', 'rexxpool/golden@rexx-base'],
      ['set', 'org.rexxjs:base=on', 'rexxpool/golden'],
      ['set', 'org.rexxjs:base-snapshot=rexx-base', 'rexxpool/golden'],
      // undo, last step first: the properties as they were (none), then the snapshot
      ['inherit', 'org.rexxjs:base', 'rexxpool/golden'],
      ['inherit', 'org.rexxjs:base-snapshot', 'rexxpool/golden'],
      ['inherit', 'org.rexxjs:base-description', 'rexxpool/golden'],
      ['destroy', 'rexxpool/golden@rexx-base'],
    ]);
  });

  it('register_base refresh=true: the old snapshot is renamed back when the new one cannot be taken', async () => {
    const h = handler({ FAKE_GET: REGISTERED, FAKE_FAIL: '^snapshot ' });
    const r = await h('register_base name=golden refresh=true');
    expect(r.errorCode).toBe(1);
    const w = writes();
    const aside = /^rexxpool\/golden@(rexx-base-\d+)$/.exec(w[0]![2]!)?.[1];
    expect(w).toEqual([
      ['rename', 'rexxpool/golden@rexx-base', `rexxpool/golden@${aside}`],
      ['snapshot', 'rexxpool/golden@rexx-base'],
      ['rename', `rexxpool/golden@${aside}`, 'rexxpool/golden@rexx-base'],
    ]);
  });

  it('unregister_base: the properties are put back when the snapshot cannot be destroyed', async () => {
    const h = handler({ FAKE_GET: REGISTERED, FAKE_FAIL: '^destroy ' });
    const r = await h('unregister_base name=golden');
    expect(r.errorCode).toBe(1);
    expect(r.errorMessage).toMatch(/undone: restore the org\.rexxjs: properties/);
    expect(writes()).toEqual([
      ['inherit', 'org.rexxjs:base', 'rexxpool/golden'],
      ['inherit', 'org.rexxjs:base-snapshot', 'rexxpool/golden'],
      ['inherit', 'org.rexxjs:base-description', 'rexxpool/golden'],
      ['destroy', '-d', 'rexxpool/golden@rexx-base'],
      ['set', 'org.rexxjs:base=on', 'rexxpool/golden'],
      ['set', 'org.rexxjs:base-snapshot=rexx-base', 'rexxpool/golden'],
      ['set', 'org.rexxjs:base-description=old text', 'rexxpool/golden'],
    ]);
  });

  it('an undo that fails itself is named in ERRORTEXT', async () => {
    const h = handler({ FAKE_FAIL: '^(set org\\.rexxjs:base-snapshot=|destroy )' });
    const r = await h('register_base name=golden');
    expect(r.errorCode).toBe(1);
    expect(r.errorMessage).toMatch(/NOT undone — destroy rexxpool\/golden@rexx-base: cannot do it/);
  });
});
