/**
 * The REXX examples inside the real RexxJS interpreter. RexxJS is not on the npm
 * registry, so this runs only when REXXJS_HOME points at a copy of its repository
 * (with core/src/cli.js); CI has none and skips it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';

const home = process.env.REXXJS_HOME;
const cli = home ? path.join(home, 'core', 'src', 'cli.js') : '';
const root = path.join(__dirname, '..', '..', '..');

describe.skipIf(!home)('examples/*.rexx in RexxJS (REXXJS_HOME)', () => {
  it('registers a base, clones 3, execs in each, cleans up', async () => {
    expect(fs.existsSync(cli), `no ${cli}`).toBe(true);
    const r = await execa('node', [cli, 'examples/provision.rexx'], { cwd: root, reject: false, timeout: 120_000 });
    expect(r.stdout).toMatch(/register_base RC=0/);
    expect(r.stdout).toMatch(/clone_from_base RC=0 clones=3 in \d+ ms/);
    expect(r.stdout.match(/exec demo-rexx-web-\d RC=0 RESULT=demo-rexx-web-\d: provisioned by REXX/g)).toHaveLength(3);
    expect(r.stdout).toMatch(/cleaned up, RC=0/);
    expect(r.stdout).not.toMatch(/Could not pre-fetch/);
  });

  it('zfs-checkpoint.rexx: checkpoint, roll back on failure, clean up', async () => {
    const r = await execa('node', [cli, 'examples/zfs-checkpoint.rexx'], { cwd: root, reject: false, timeout: 120_000 });
    expect(r.stdout).toMatch(/checkpoint checkpoint-\d+ RC=0/);
    expect(r.stdout).toMatch(/upgrade failed; rollback RC=0/);
    expect(r.stdout).toMatch(/cleaned up, RC=0/);
  });
});
