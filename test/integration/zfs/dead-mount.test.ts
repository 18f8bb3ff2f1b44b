/**
 * A zfs-fuse that died leaves its FUSE mounts behind: every access answers ENOTCONN
 * ("Transport endpoint is not connected"), and the next daemon cannot create a child's
 * mountpoint under one ("cannot mount '/rexxpool/containers': failed to create
 * mountpoint"). That is how a CI machine restored from a snapshot failed. Here a real
 * dead FUSE mount of type fuse.zfs is made the way the kernel makes one: mount with a
 * /dev/fuse descriptor, then close the descriptor with no daemon ever serving it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { createHandler } from '../../../shared/dispatch';
import { pollUntil } from '../../../shared/poll';
import { table } from '../../../handlers/zfs';
import { requireZfs, uniq } from './zfs-test-env';

const made: string[] = [];

/** A fresh directory with a dead fuse.zfs mount on it. */
async function deadZfsMount(): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-dead-zfs-'));
  const fd = fs.openSync('/dev/fuse', 'r+');
  try {
    await execa('mount', ['-i', '-t', 'fuse.zfs', '-o', 'fd=3,rootmode=40000,user_id=0,group_id=0', 'rexx-dead-test', dir], {
      stdio: ['ignore', 'pipe', 'pipe', fd],
    });
  } finally {
    fs.closeSync(fd);
  }
  made.push(dir);
  return dir;
}

afterAll(async () => {
  for (const d of made) {
    await execa('umount', ['-l', d], { reject: false });
    fs.rmSync(d, { recursive: true, force: true });
  }
});

describe('a dead zfs-fuse mount (real FUSE mount, no daemon behind it)', () => {
  it('the fixture really is dead: stat fails with ENOTCONN', async () => {
    const d = await deadZfsMount();
    expect(() => fs.statSync(d)).toThrow(/ENOTCONN/);
  });

  it('zfs create with a mountpoint under it: RC 1 before zfs runs, and ERRORTEXT names the dead mount and the fix', async () => {
    await requireZfs();
    const d = await deadZfsMount();
    const h = createHandler(table);
    const ds = `rexxpool/${uniq('dead')}`;
    try {
      const r = await h(`create name=${ds} property=mountpoint=${d}/child`);
      expect(r.errorCode).toBe(1);
      expect(r.errorMessage).toMatch(/cannot check mountpoint .*ENOTCONN/);
      expect(r.errorMessage).toContain(`${d} is a dead mount left by a zfs-fuse that stopped: umount -l ${d}`);
    } finally {
      await execa('zfs', ['destroy', ds], { reject: false });
    }
  });

  it('scripts/setup-host.sh detaches dead fuse.zfs mounts', async () => {
    const d = await deadZfsMount();
    const r = await execa('bash', ['scripts/setup-host.sh'], { reject: false, env: { REXX_SETUP_SKIP_QEMU: '1' } });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain(`detached dead mount ${d}`);
    expect(fs.readFileSync('/proc/mounts', 'utf8')).not.toContain(` ${d} `);
    expect(fs.statSync(d).isDirectory()).toBe(true);
  }, 120_000);
});

describe('zfs-fuse killed outright (the real daemon, brought back by setup-host)', () => {
  it('after kill -9, setup-host restarts it and rexxpool is usable again: a child dataset mounts under it', async () => {
    await requireZfs();
    await execa('pkill', ['-9', '-x', 'zfs-fuse']);
    const gone = await pollUntil(async () => (await execa('pgrep', ['-x', 'zfs-fuse'], { reject: false })).exitCode === 1, { timeoutMs: 10_000 });
    expect(gone).toBe(true);
    // Its mount stays in the table, dead: ECONNABORTED while it exits, ENOTCONN after
    // (stat may still answer from the attribute cache).
    await expect(fs.promises.readdir('/rexxpool')).rejects.toThrow(/ENOTCONN|ECONNABORTED/);
    const r = await execa('bash', ['scripts/setup-host.sh'], { reject: false, env: { REXX_SETUP_SKIP_QEMU: '1' } });
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('detached dead mount /rexxpool');
    expect(Array.isArray(await fs.promises.readdir('/rexxpool'))).toBe(true);
    const h = createHandler(table);
    const ds = `rexxpool/${uniq('after-kill')}`;
    const c = await h(`create name=${ds}`);
    expect(c.errorCode, c.errorMessage).toBe(0);
    expect((await h(`get name=${ds} property=mounted`)).output).toBe('yes');
    expect((await h(`destroy name=${ds}`)).errorCode).toBe(0);
  }, 120_000);
});
