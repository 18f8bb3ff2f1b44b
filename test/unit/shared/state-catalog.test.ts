/**
 * The state catalog (shared/state-catalog.ts) on real files in a temporary folder:
 * claiming entries under free ids, the Creating → Ready | Invalid transitions (an
 * Invalid one never becomes Ready), a Creating entry whose writer is gone reading as
 * Invalid, listing oldest first, and which entries a prune removes.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createEffects } from '../../../shared/effects';
import { ancestors, createEntry, listEntries, mustEntry, pruneSelection, readEntry, transition, type StateEntry } from '../../../shared/state-catalog';

let dir: string;
let now = Date.UTC(2026, 0, 1);
const fx = () => ({ ...createEffects({ dryrun: false, log: () => undefined, clock: { now: () => now } }) });
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-catalog-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const entry = (id: string, parent: string, state: StateEntry['state'] = 'Ready', created = id): StateEntry => ({
  version: 1, id, kind: 'qemu', target: 'vm', created, size: 1, state, parent, reason: '', pid: 0, data: {},
});

describe('state catalog', () => {
  it('claims entries under free ids (state-<s>, -2 ...), Creating, written by this process; an explicit taken id is RC 4', async () => {
    const ctx = fx();
    const a = await createEntry(ctx, dir, { kind: 'qemu', target: 'vm', parent: '' }, { pid: process.pid });
    const b = await createEntry(ctx, dir, { kind: 'qemu', target: 'vm', parent: a.id }, { pid: process.pid });
    expect(a.id).toBe(`state-${now / 1000}`);
    expect(b.id).toBe(`state-${now / 1000}-2`);
    expect(readEntry(ctx, dir, a.id)).toMatchObject({ state: 'Creating', pid: process.pid });
    await expect(createEntry(ctx, dir, { kind: 'qemu', target: 'vm', parent: '' }, { id: a.id, pid: process.pid })).rejects.toMatchObject({ kind: 'exists' });
  });

  it('Creating → Ready; Ready → Invalid; an Invalid one never becomes Ready (RC 7); mustEntry ready refuses it', async () => {
    const ctx = fx();
    const a = await createEntry(ctx, dir, { kind: 'qemu', target: 'vm', parent: '' }, { id: 'a', pid: process.pid });
    expect(await transition(ctx, dir, a.id, 'Ready', { size: 42, data: { x: 1 } })).toMatchObject({ state: 'Ready', size: 42, pid: 0, data: { x: 1 } });
    await transition(ctx, dir, 'a', 'Invalid', { reason: 'memory file gone' });
    await expect(transition(ctx, dir, 'a', 'Ready')).rejects.toMatchObject({ kind: 'refused' });
    expect(() => mustEntry(ctx, dir, 'a', { ready: true })).toThrow(/Invalid \(memory file gone\)/);
    expect(() => mustEntry(ctx, dir, 'nope')).toThrow(/not found/);
  });

  it('a Creating entry whose writer is gone reads as Invalid (an interrupted save is never half-Ready)', async () => {
    const ctx = fx();
    await createEntry(ctx, dir, { kind: 'qemu', target: 'vm', parent: '' }, { id: 'dead', pid: 2 ** 22 + 12345 });
    expect(readEntry(ctx, dir, 'dead')).toMatchObject({ state: 'Invalid', reason: expect.stringMatching(/interrupted/) });
  });

  it('lists oldest first, leaving out folders that are not entries', async () => {
    const ctx = fx();
    for (const [id, t] of [['b', 2], ['a', 1], ['c', 3]] as const) {
      now = Date.UTC(2026, 0, 1) + t * 1000;
      await createEntry(ctx, dir, { kind: 'qemu', target: 'vm', parent: '' }, { id, pid: process.pid });
    }
    fs.mkdirSync(path.join(dir, '.export-x'));
    fs.mkdirSync(path.join(dir, 'empty'));
    expect(listEntries(ctx, dir).map((e) => e.id)).toEqual(['a', 'b', 'c']);
  });

  it('prune keeps the newest N Ready, what they and the pinned ones build on, and Creating ones', () => {
    // a ← b ← c, a ← d (restored a, saved d); e Invalid; f Creating
    const es = [entry('a', ''), entry('b', 'a'), entry('c', 'b'), entry('d', 'a'), entry('e', 'd', 'Invalid'), entry('f', 'd', 'Creating')];
    expect(ancestors(es, 'c')).toEqual(['b', 'a']);
    expect(pruneSelection(es, 1).map((e) => e.id)).toEqual(['b', 'c', 'e']);
    expect(pruneSelection(es, 1, ['c']).map((e) => e.id)).toEqual(['e']);
    expect(pruneSelection(es, 0).map((e) => e.id)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(pruneSelection(es, 10).map((e) => e.id)).toEqual(['e']);
  });
});
