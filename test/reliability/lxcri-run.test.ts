/**
 * LXCRI `run` under parallel scripts, on the real runc: every call is its own
 * `rexx-address` process. Checks:
 * - 10 parallel runs of one id, several rounds: exactly one RC 0, the rest RC 4, and
 *   nothing orphaned — one container process on the host (from /proc), and it is the
 *   one `runc list` shows, still there a moment later;
 * - 20 parallel runs of distinct ids: all RC 0, all listed and running;
 * - delete leaves no `<id>.pid` / `<id>.log` / `<id>.out.log` (the container's output,
 *   which `logs` reads) behind in the runc root, and each output log was there before.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxRootfs, cli, deleteAllRunc, pidsOf, requireTools, tryRun } from '../helpers/lxcri-env';
import { recordCounts } from '../helpers/reliability';
import { RUN_ID } from '../helpers/run-id';

const P = `lxrr${RUN_ID}`;
const SAME = 10;
const ROUNDS = 5;
const DISTINCT = 20;
let tmp: string;
const root = () => `${tmp}/run/runc`;
const env = () => ({ ...process.env, REXX_OCI_DIR: `${tmp}/oci`, REXX_OCI_ROOT: `${tmp}/run` });
const run = (cmd: string) => cli(env(), cmd);
/** `runc list` of the handler's root: id → [status, pid]. */
const listed = () =>
  new Map(
    (JSON.parse(tryRun('runc', ['--root', root(), 'list', '--format', 'json']) || 'null') ?? []).map((c: { id: string; status: string; pid: number }) => [
      c.id,
      [c.status, c.pid] as const,
    ]),
  ) as Map<string, readonly [string, number]>;
/** The sleep every container of this file runs: a number no other process here uses. */
const SLEEP = `sleep ${process.pid}7`;
let bundle: string;

beforeAll(async () => {
  requireTools(['runc', 'busybox'], false);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-lxcri-rel-run-'));
  bundle = `${tmp}/bundle`;
  busyboxRootfs(`${bundle}/rootfs`);
  const s = await run(`spec bundle=${bundle} arg=sleep arg=${process.pid}7 runtime=runc`);
  expect(s.errorCode, s.errorMessage).toBe(0);
});

afterAll(() => {
  if (!tmp) return;
  deleteAllRunc(root());
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('parallel run', () => {
  it(`${SAME} parallel runs of one id, ${ROUNDS} rounds: one RC 0, the rest RC 4, nothing orphaned`, async () => {
    let held = 0;
    const seen: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const id = `${P}-same${round}`;
      const rs = await Promise.all(Array.from({ length: SAME }, () => run(`run name=${id} bundle=${bundle} runtime=runc`)));
      const codes = rs.map((r) => r.errorCode).sort((a, b) => a - b);
      // A moment later: the winner's container is still there, and it is the only process.
      await new Promise((r) => setTimeout(r, 1000));
      const l = listed().get(id);
      const procs = pidsOf(SLEEP);
      const ok =
        codes.filter((c) => c === 0).length === 1 &&
        codes.filter((c) => c === 4).length === SAME - 1 &&
        l?.[0] === 'running' &&
        procs.length === 1 &&
        procs[0] === l[1];
      if (ok) held++;
      seen.push(`codes ${codes.join(',')}; listed ${l?.join(' ') ?? 'no'}; processes ${procs.join(',') || 'none'}${ok ? '' : `: ${rs.map((r) => r.errorMessage).filter(Boolean).join(' | ')}`}`);
      // Clean up whatever is there before the next round, through the handler.
      await run(`delete ${id} force=true runtime=runc`);
      for (const pid of pidsOf(SLEEP)) tryRun('kill', ['-9', String(pid)]);
    }
    recordCounts('lxcri: parallel run of one id (one RC 0, rest RC 4, no orphan)', ROUNDS, held);
    expect(seen.filter((s) => !/^codes 0(,4){9}; listed running \d+; processes \d+$/.test(s)), seen.join('\n')).toEqual([]);
    expect(held).toBe(ROUNDS);
  });

  it(`${DISTINCT} parallel runs of distinct ids: all RC 0 and all listed running`, async () => {
    const ids = Array.from({ length: DISTINCT }, (_, i) => `${P}-d${i}`);
    const rs = await Promise.all(ids.map((id) => run(`run name=${id} bundle=${bundle} runtime=runc`)));
    const l = listed();
    const good = ids.filter((id, i) => rs[i]!.errorCode === 0 && l.get(id)?.[0] === 'running').length;
    recordCounts('lxcri: parallel run of distinct ids (all RC 0, all running)', DISTINCT, good);
    expect(rs.map((r) => `${r.errorCode} ${r.errorMessage}`)).toEqual(ids.map(() => '0 '));
    expect(ids.filter((id) => l.get(id)?.[0] !== 'running')).toEqual([]);
    expect(pidsOf(SLEEP).length).toBe(DISTINCT);
  });

  it('delete (in parallel too) removes the container and its <id>.pid, <id>.log and <id>.out.log', async () => {
    const ids = Array.from({ length: DISTINCT }, (_, i) => `${P}-d${i}`);
    // run kept each container's output in <id>.out.log (logs reads it) ...
    expect(ids.filter((id) => !fs.existsSync(`${root()}/${id}.out.log`))).toEqual([]);
    const rs = await Promise.all(ids.map((id) => run(`delete ${id} force=true runtime=runc`)));
    expect(rs.map((r) => `${r.errorCode} ${r.errorMessage}`)).toEqual(ids.map(() => '0 '));
    const left = fs.readdirSync(root()).filter((f) => f.startsWith(P));
    recordCounts('lxcri: delete leaves no container, pid, log or output log file', DISTINCT, ids.filter((id) => !left.some((f) => f.startsWith(`${id}.`) || f === id)).length);
    expect(left).toEqual([]);
    expect(listed().size).toBe(0);
    expect(pidsOf(SLEEP)).toEqual([]);
  });
});
