/**
 * LXCRI `exec` that times out, on the real runc: RC -5 must not leave the command running.
 * After the timeout the command and everything it started are gone — checked in the
 * container's own process list (busybox ps through exec) and on the host (/proc).
 */
import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AddressHandler } from '../../shared/dispatch';
import { busyboxContainer, pidsOf, removeBusyboxContainer } from '../helpers/lxcri-env';
import { recordCounts } from '../helpers/reliability';
import { RUN_ID } from '../helpers/run-id';

const ID = `lxre${RUN_ID}`;
const ROUNDS = 3;
let tmp: string;
let h: AddressHandler;
/** Sleep lengths no other process here uses, so /proc and ps can tell ours apart. */
const mark = (n: number) => `${process.pid}${n}`;

beforeAll(async () => {
  ({ tmp, h } = await busyboxContainer('rexx-lxcri-rel-exec-', ID, mark(0)));
});

afterAll(() => removeBusyboxContainer(tmp));

/** The container's own process list (busybox ps), one command line per entry. */
async function containerPs(): Promise<string[]> {
  const r = await h(`exec ${ID} arg=ps arg=-o arg=args runtime=runc`);
  expect(r.errorCode, r.errorMessage).toBe(0);
  return r.output.split('\n').map((l) => l.trim());
}

describe('exec timeout (RC -5) kills what it started', () => {
  it(`a plain command, ${ROUNDS} times: RC -5, then it is in neither the container's ps nor the host's /proc`, async () => {
    let held = 0;
    const seen: string[] = [];
    for (let i = 1; i <= ROUNDS; i++) {
      const t0 = performance.now();
      const r = await h(`exec ${ID} arg=sleep arg=${mark(i)} timeout=1s runtime=runc`);
      const ms = Math.round(performance.now() - t0);
      const ps = await containerPs();
      const host = pidsOf(`sleep ${mark(i)}`);
      const ok = r.errorCode === -5 && !ps.includes(`sleep ${mark(i)}`) && host.length === 0 && r.rexxVariables.LEFT_RUNNING === '' && r.rexxVariables.KILLED === 1;
      if (ok) held++;
      seen.push(`RC ${r.errorCode} in ${ms} ms, KILLED ${r.rexxVariables.KILLED}, LEFT_RUNNING '${r.rexxVariables.LEFT_RUNNING}', in ps ${ps.includes(`sleep ${mark(i)}`)}, host pids ${host.join(',') || 'none'}: ${r.errorMessage}`);
    }
    recordCounts('lxcri: exec timeout kills its command', ROUNDS, held);
    expect(held, seen.join('\n')).toBe(ROUNDS);
    expect(seen[0]).toMatch(/its command was killed \(1 process, host pid \d+\)/);
  });

  it('a shell command with background children: RC -5, then none of its processes is left', async () => {
    const cmd = `sleep ${mark(7)} & sleep ${mark(8)} & sleep ${mark(9)}; wait`;
    const r = await h(`exec ${ID} command="${cmd}" timeout=1s runtime=runc`);
    const ps = await containerPs();
    const left = [7, 8, 9].filter((n) => ps.includes(`sleep ${mark(n)}`) || pidsOf(`sleep ${mark(n)}`).length > 0);
    recordCounts('lxcri: exec timeout kills the children its command started', 3, 3 - left.length);
    expect(r.errorCode, r.errorMessage).toBe(-5); // an exec whose command never finished: the negative code
    expect(left).toEqual([]);
    expect(r.rexxVariables.KILLED).toBe(4); // sh and its three sleeps
    expect(r.rexxVariables.LEFT_RUNNING).toBe('');
    // The container itself is untouched: running, its own process still there.
    expect((await h(`state ${ID} runtime=runc`)).output).toBe('running');
    expect(await containerPs()).toContain(`sleep ${mark(0)}`);
    expect(fs.readdirSync(`${tmp}/run/runc`).filter((f) => f.includes('.exec-'))).toEqual([]);
  });
});
