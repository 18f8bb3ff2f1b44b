/**
 * Progress on the real tools: QEMU convert (qemu-img convert -p's percentages) and ZFS
 * clone_from_base count=5 (k of N) recorded by a sink; then the CLI in a real
 * pseudo-terminal (@lydell/node-pty) drawing its progress line on stderr and clearing it
 * before RESULT, and drawing nothing when stderr is a pipe or CI is set.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from '@lydell/node-pty';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler, type AddressHandler } from '../../../shared/dispatch';
import type { ProgressEvent } from '../../../shared/progress';
import { table as qemu } from '../../../handlers/qemu';
import { table as zfs } from '../../../handlers/zfs';
import { throwawayPool, uniq } from '../zfs/zfs-test-env';

const ROOT = path.resolve(__dirname, '../../..');
const CLI = path.join(ROOT, 'bin', 'rexx-address.js');
/** The label of convert's task, as the CLI line shows it. */
const CONVERTING = /converting to qcow2 \d+%/;
let dir: string;
let h: AddressHandler;
const events: ProgressEvent[] = [];
/** The environment of a CLI process: this one's without CI (the line is drawn only when CI is unset). */
const cliEnv = (extra: Record<string, string> = {}) => {
  const env: Record<string, string> = { TERM: 'xterm-256color', REXX_QEMU_DIR: dir, ...extra };
  for (const k of ['PATH', 'HOME', 'LANG']) if (process.env[k]) env[k] = process.env[k]!;
  return env;
};

beforeAll(async () => {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'cli.js'))) throw new Error('dist/ is missing: run "npm run build" before the integration tests');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-progress-it-'));
  h = createHandler(qemu, { env: { ...process.env, REXX_QEMU_DIR: dir }, progress: (e) => void events.push(e) });
  const r = await h('create_disk name=big size=96M');
  expect(r.errorCode, r.errorMessage).toBe(0);
  // Real data, so convert has something to copy (and compress=true takes about a second).
  const w = await execa('qemu-io', ['-f', 'qcow2', '-c', 'write -P 7 0 96M', path.join(dir, 'images', 'big.qcow2')], { reject: false });
  expect(w.exitCode, w.stderr).toBe(0);
});
afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('progress recorded from the real tools', () => {
  it('QEMU convert: percentages read from qemu-img -p, rising to 100, then the task ends; ELAPSED_MS is set', async () => {
    events.length = 0;
    const r = await h('convert name=big target=big-raw format=raw');
    expect(r.errorCode, r.errorMessage).toBe(0);
    expect(events[0]).toMatchObject({ type: 'start', verb: 'convert', label: 'converting to raw', unit: 'percent', total: 100 });
    const done = events.filter((e) => e.type === 'update').map((e) => e.done);
    expect(done.length).toBeGreaterThan(2);
    expect(done).toEqual([...done].sort((a, b) => a - b));
    expect(done.at(-1)).toBe(100);
    expect(events.at(-1)!.type).toBe('end');
    expect(r.rexxVariables.ELAPSED_MS).toEqual(expect.any(Number));
  });

  describe('ZFS clone_from_base count=5 on zfs-fuse', () => {
    const pool = throwawayPool('progress');
    beforeAll(() => pool.create());
    afterAll(() => pool.destroy());

    it('one task of 5 items, each clone noted, ended at 5/5', async () => {
      const base = uniq('pbase');
      const zfsEvents: ProgressEvent[] = [];
      const z = createHandler(zfs, { env: { ...process.env, REXX_ZFS_POOL: pool.name }, progress: (e) => void zfsEvents.push(e) });
      expect((await z(`create name=${base}`)).errorCode).toBe(0);
      expect((await z(`register_base name=${base}`)).errorCode).toBe(0);
      // concurrency=2: zfs-fuse is the shared daemon of every test; a few at a time is what it takes well.
      const r = await z(`clone_from_base base=${base} name=${base}-c count=5 concurrency=2 progress=frac`);
      expect(r.errorCode, r.errorMessage).toBe(0);
      const clones = zfsEvents.filter((e) => e.label === 'clones');
      expect(clones.filter((e) => e.type === 'update').map((e) => e.done)).toEqual([1, 2, 3, 4, 5]);
      expect(clones.filter((e) => e.type === 'note')).toHaveLength(5);
      expect(clones.at(-1)).toMatchObject({ type: 'end', done: 5, total: 5 });
      expect(r.rexxVariables).toMatchObject({ frac: 1, ELAPSED_MS: expect.any(Number) });
    });
  });
});

/** Run the CLI in a pseudo-terminal; resolves with everything the terminal received and the exit code. */
function inPty(args: string[], env: Record<string, string>): Promise<{ out: string; code: number }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], { name: 'xterm-256color', cols: 120, rows: 30, cwd: ROOT, env });
    let out = '';
    p.onData((d) => (out += d));
    p.onExit(({ exitCode }) => setTimeout(() => resolve({ out, code: exitCode }), 50));
  });
}

describe('the CLI\'s progress line', () => {
  it('on a terminal: a spinner line with the task, redrawn while qemu-img runs, cleared (and the cursor shown again) before RESULT', async () => {
    const { out, code } = await inPty(['qemu', 'convert name=big target=big-c compress=true'], cliEnv());
    expect(code, out).toBe(0);
    expect(out).toMatch(CONVERTING);
    const result = out.lastIndexOf(path.join(dir, 'images', 'big-c.qcow2'));
    expect(result).toBeGreaterThan(0);
    const draws = [...out.matchAll(new RegExp(CONVERTING, 'g'))].map((m) => m.index);
    expect(draws.at(-1)).toBeLessThan(result);
    // yocto-spinner hides the cursor while spinning and shows it again when stopped (before RESULT is printed).
    expect(out.indexOf('\u001b[?25l')).toBeGreaterThanOrEqual(0);
    expect(out.lastIndexOf('\u001b[?25h')).toBeLessThan(result);
    // After RESULT nothing more is drawn.
    expect(out.slice(result)).not.toMatch(CONVERTING);
  });

  it('on a terminal with CI set: nothing is drawn', async () => {
    const { out, code } = await inPty(['qemu', 'convert name=big target=big-ci compress=true'], cliEnv({ CI: 'true' }));
    expect(code, out).toBe(0);
    expect(out).not.toMatch(/converting/);
    expect(out).not.toContain('\u001b[?25l');
  });

  it('stderr a pipe: stderr stays empty and stdout is RESULT alone', async () => {
    const r = await execa(process.execPath, [CLI, 'qemu', 'convert name=big target=big-pipe compress=true'], { env: cliEnv(), extendEnv: false, reject: false });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(path.join(dir, 'images', 'big-pipe.qcow2'));
  });
});
