/**
 * zfs-fuse daemon not reachable → RC 6, with the REAL zfs/zpool binaries: each runs in
 * its own mount namespace where an empty folder hides /var/run/zfs (the daemon's
 * socket), so the client sees exactly what it sees when the daemon is stopped
 * ("connect: No such file or directory / Please make sure that the zfs-fuse daemon is
 * running.") — while the real daemon keeps serving every other test and engineer.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler } from '../../../shared/dispatch';
import { table } from '../../../handlers/zfs';
import { requireZfs } from './zfs-test-env';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-zfs-nodaemon-'));
const empty = path.join(dir, 'empty-run-zfs');
// A second set of wrappers sees a socket that accepts and never answers: a hung daemon.
const hungDir = path.join(dir, 'hung-bin');
const hungRun = path.join(dir, 'hung-run-zfs');
let hung: net.Server | undefined;
const conns = new Set<net.Socket>();

function wrap(binDir: string, runDir: string, tool: string, real: string) {
  fs.writeFileSync(
    path.join(binDir, tool),
    `#!/bin/sh\nexec unshare -m --propagation private sh -c 'mount --bind "$0" /var/run/zfs && exec ${real} "$@"' ${runDir} "$@"\n`,
    { mode: 0o755 },
  );
}

beforeAll(async () => {
  await requireZfs();
  fs.mkdirSync(empty);
  fs.mkdirSync(hungDir);
  fs.mkdirSync(hungRun);
  for (const tool of ['zfs', 'zpool']) {
    const real = (await execa('sh', ['-c', `command -v ${tool}`])).stdout.trim();
    wrap(dir, empty, tool, real);
    wrap(hungDir, hungRun, tool, real);
  }
  hung = net.createServer((c) => {
    conns.add(c);
    c.on('close', () => conns.delete(c));
  });
  await new Promise<void>((res) => hung!.listen(path.join(hungRun, 'zfs_socket'), res));
});
afterAll(async () => {
  for (const c of conns) c.destroy();
  await new Promise((res) => (hung ? hung.close(res) : res(undefined)));
  fs.rmSync(dir, { recursive: true, force: true });
});

const down = createHandler(table, { env: { ...process.env, PATH: `${dir}:${process.env.PATH}` } });

describe('ADDRESS ZFS with the zfs-fuse daemon unreachable (real binaries)', () => {
  it('the wrapper really reproduces the daemon-down message', async () => {
    const r = await execa(path.join(dir, 'zfs'), ['list'], { reject: false });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/Please make sure that the zfs-fuse daemon is running/);
  });

  it('status: RC 6, REACHABLE=0, still names the implementation', async () => {
    const r = await down('status');
    expect(r.errorCode).toBe(6);
    expect(r.rexxVariables).toMatchObject({ REACHABLE: 0, IMPLEMENTATION: 'zfs-fuse' });
    expect(r.errorMessage).toMatch(/zfs-fuse daemon is running/);
  });

  it.each(['list', 'pool_status', 'create name=it-nodaemon', 'snapshot name=it-nodaemon', 'rollback name=it-nodaemon snapshot=s1', 'clone_from_base base=golden name=x', 'list_bases', 'stats'])(
    '%s → RC 6',
    async (cmd) => {
      const r = await down(cmd);
      expect(r.errorCode, r.errorMessage).toBe(6);
    },
  );

  it('a daemon that accepts but never answers: status gives up at its 10 s timeout with RC 6, REACHABLE=0', async () => {
    const h = createHandler(table, { env: { ...process.env, PATH: `${hungDir}:${process.env.PATH}` } });
    const r = await h('status');
    expect(r.errorCode, r.errorMessage).toBe(6);
    expect(r.rexxVariables.REACHABLE).toBe(0);
    expect(r.errorMessage).toMatch(/timed out/);
  }, 30_000);

  it('the real daemon was never disturbed', async () => {
    await requireZfs();
    expect((await createHandler(table)('status')).rexxVariables.REACHABLE).toBe(1);
  });
});
