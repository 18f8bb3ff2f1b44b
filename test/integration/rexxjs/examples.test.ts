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

  it('incus-provision.rexx: ADDRESS INCUS (REQUIRE dist/address-incus.js): an IPv4 on the bridge of Incus, snapshot/restore, security.devlxd read back, clean up', async () => {
    const r = await execa('node', [cli, 'examples/incus-provision.rexx'], { cwd: root, reject: false, timeout: 120_000 });
    expect(r.stdout).toMatch(/status RC=0 CLIENT=incus SERVER_VERSION=6\./);
    expect(r.stdout).toMatch(/start RC=0 IPV4=10\.231\.17\.\d+/);
    expect(r.stdout).toContain('after restore RC=0 RESULT=v1');
    expect(r.stdout).toContain('security.devlxd RESULT=false');
    expect(r.stdout).toMatch(/cleaned up, RC=0/);
    expect(r.stdout).not.toMatch(/Could not pre-fetch/);
  });

  it('zfs-checkpoint.rexx: checkpoint, roll back on failure, clean up', async () => {
    const r = await execa('node', [cli, 'examples/zfs-checkpoint.rexx'], { cwd: root, reject: false, timeout: 120_000 });
    expect(r.stdout).toMatch(/checkpoint checkpoint-\d+ RC=0/);
    expect(r.stdout).toMatch(/upgrade failed; rollback RC=0/);
    expect(r.stdout).toMatch(/cleaned up, RC=0/);
  });

  it('exec-truth.rexx: shell command lines, REXX return codes, no stale variables', async () => {
    const r = await execa('node', [cli, 'examples/exec-truth.rexx'], { cwd: root, reject: false, timeout: 120_000 });
    expect(r.stdout).toContain('exit 3: RC=3 EXIT_CODE=3');
    expect(r.stdout).toContain('cd /tmp && pwd: RC=0 RESULT=/tmp');
    expect(r.stdout).toContain('export: RESULT=A is 1');
    expect(r.stdout).toContain('no such instance: RC=-3 EXIT_CODE=[]');
    expect(r.stdout).toContain('missing cwd: RC=-3');
    expect(r.stdout).toContain('info: RC=0 STATUS=Running');
    expect(r.stdout).toContain('info of a missing instance: RC=3 STATUS=[] PID=[]');
    expect(r.stdout).toContain('execute: RC=0 LINES=2');
    expect(r.stdout).toMatch(/cleaned up, RC=0/);
  });

  it('lxcri-registry.rexx: image_pull from the local registry, a Debian container from it, a missing tag RC 3, clean up', async () => {
    const r = await execa('node', [cli, 'examples/lxcri-registry.rexx'], { cwd: root, reject: false, timeout: 300_000 });
    expect(r.stdout).toMatch(/image_inspect RC=0 layers=1 size=\d+/);
    expect(r.stdout).toMatch(/image_pull RC=0 RESULT=demo-debian:12 in \d+ ms/);
    expect(r.stdout).toContain('missing tag RC=3');
    expect(r.stdout).toMatch(/bundle_from_image RC=0 cloned=1/);
    expect(r.stdout).toMatch(/debian_version RC=0 RESULT=12\.\d+/);
    expect(r.stdout).toMatch(/demo-debian:12 \d+ bytes on disk/);
    expect(r.stdout).toMatch(/cleaned up, RC=0/);
  }, 300_000);

  it('qemu-states.rexx: save_state, migrate, restore_state of the counter guest, clean up', async () => {
    const r = await execa('node', [cli, 'examples/qemu-states.rexx'], { cwd: root, reject: false, timeout: 300_000 });
    expect(r.stdout).toContain('started RC=0');
    expect(r.stdout).toMatch(/saved state-\d+ \(\d+ bytes on disk\) RC=0/);
    expect(r.stdout).toMatch(/migrated RC=0 to pid \d+: \d+ ms, downtime \d+ ms/);
    expect(r.stdout).toMatch(/restored state-\d+ RC=0/);
    expect(r.stdout).toContain('states: 1');
  }, 300_000);
});
