/**
 * `events` on the real daemon: until=instance-started returns once another caller starts
 * the instance (the events of other instances left out), count= after N events, a quiet
 * duration= is RC 0 with empty stems, and an until= that never comes is RC 5.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { table } from '../../../handlers/lxd';
import { createHandler } from '../../../shared/dispatch';
import { cleanupInstances, requireLxd, uniq, okWith } from './lxd-test-env';

const h = createHandler(table);
const A = uniq('ev');
const B = uniq('ev-other');
const vals = (s: unknown) => Object.values((s ?? { 0: 0 }) as object).slice(1);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const ok = okWith(h);

beforeAll(async () => {
  await requireLxd();
  await ok(`create name=${A} image=tiny`);
  await ok(`create name=${B} image=tiny`);
});
afterAll(() => cleanupInstances([A, B]));

describe('ADDRESS LXD events (real daemon)', () => {
  it('until=instance-started returns once the instance is started by another caller; other instances\' events are left out', async () => {
    const t0 = performance.now();
    const [r] = await Promise.all([
      h(`events name=${A} until=instance-started duration=60s`),
      (async () => {
        await sleep(700); // (monitor is listening by then)
        await ok(`snapshot name=${B}`);
        await ok(`start name=${A}`);
      })(),
    ]);
    expect(r.errorCode, r.errorMessage).toBe(0);
    expect(performance.now() - t0).toBeLessThan(30_000);
    expect(vals(r.rexxVariables.ACTIONS)).toEqual(['instance-started']);
    expect(vals(r.rexxVariables.SOURCES)).toEqual([`/1.0/instances/${A}`]);
    expect(String(vals(r.rexxVariables.TIMES)[0])).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(r.rexxVariables.MATCHED).toBe(1);
  });

  it('count=2 returns after two events of the instance (a snapshot is one of its own)', async () => {
    const [r] = await Promise.all([
      h(`events name=${A} count=2 duration=60s`),
      (async () => {
        await sleep(700);
        await ok(`snapshot name=${A} snapshot=e1`);
        await ok(`stop name=${A} force=true`);
      })(),
    ]);
    expect(r.errorCode, r.errorMessage).toBe(0);
    expect(vals(r.rexxVariables.ACTIONS)).toEqual(['instance-snapshot-created', 'instance-stopped']);
    expect(vals(r.rexxVariables.SOURCES)[0]).toBe(`/1.0/instances/${A}/snapshots/e1`);
  });

  it('a quiet duration= is RC 0 with no events; until= that never comes is RC 5', async () => {
    const quiet = await ok(`events name=${A} duration=1s`);
    expect(quiet.rexxVariables.ACTIONS).toEqual({ 0: 0 });
    expect(quiet.rexxVariables.MATCHED).toBe(0);
    const never = await h(`events name=${A} until=instance-started duration=1s`);
    expect(never.errorCode).toBe(5);
    expect(never.errorMessage).toMatch(/no instance-started event/);
  });
});
