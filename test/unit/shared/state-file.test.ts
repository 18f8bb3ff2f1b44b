/**
 * shared/state-file.ts on the real file system: schema-checked reads, atomic writes,
 * and the race itself — N processes doing read-modify-write on one file at once, then
 * a count of what survived.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CorruptStateError, createStateExclusive, readState, updateState, withLock, writeState } from '../../../shared/state-file';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-state-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const Counter = z.object({ items: z.array(z.string()) });
const DIST = path.join(__dirname, '..', '..', '..', 'dist', 'shared', 'state-file.js');

describe('readState / writeState', () => {
  it('missing file → undefined; a written file reads back', () => {
    const f = path.join(dir, 'a.json');
    expect(readState(f, Counter)).toBeUndefined();
    writeState(f, { items: ['x'] });
    expect(readState(f, Counter)).toEqual({ items: ['x'] });
    expect(fs.readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it.each([
    ['truncated', '{"items": ["x"'],
    ['empty', ''],
    ['wrong shape', '{"items": "x"}'],
  ])('a %s file is CorruptStateError (RC 1) naming the file', (_, text) => {
    const f = path.join(dir, `bad-${Math.random()}.json`);
    fs.writeFileSync(f, text);
    let err: unknown;
    try {
      readState(f, Counter);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CorruptStateError);
    expect((err as CorruptStateError).rc).toBe(1);
    expect((err as Error).message).toContain(f);
  });

  it('updateState never replaces a corrupt file', async () => {
    const f = path.join(dir, 'corrupt.json');
    fs.writeFileSync(f, '{"items": [');
    await expect(updateState(f, Counter, () => ({ items: [] }))).rejects.toBeInstanceOf(CorruptStateError);
    expect(fs.readFileSync(f, 'utf8')).toBe('{"items": [');
  });

  it('createStateExclusive: exactly one of 20 parallel creators wins', async () => {
    const f = path.join(dir, 'excl.json');
    const wins = await Promise.all(Array.from({ length: 20 }, (_, i) => Promise.resolve().then(() => createStateExclusive(f, { items: [String(i)] }))));
    expect(wins.filter(Boolean)).toHaveLength(1);
    expect(readState(f, Counter)!.items).toHaveLength(1);
  });

  it('withLock: a second holder waits, then RC 5 after its wait', async () => {
    const f = path.join(dir, 'held.json');
    let release!: () => void;
    const held = withLock(f, () => new Promise<void>((r) => (release = r)));
    await new Promise((r) => setTimeout(r, 50));
    await expect(withLock(f, () => 1, 300)).rejects.toMatchObject({ rc: 5 });
    release();
    await held;
    await expect(withLock(f, () => 2, 300)).resolves.toBe(2);
  });
});

describe.skipIf(!fs.existsSync(DIST))('the race: N processes update one file at once (needs npm run build)', () => {
  it('12 processes × 5 appends each: all 60 survive', async () => {
    const f = path.join(dir, 'race.json');
    const script = `
      const { updateState } = require(${JSON.stringify(DIST)});
      const { z } = require('zod');
      const S = z.object({ items: z.array(z.string()) });
      (async () => {
        for (let i = 0; i < 5; i++) {
          await updateState(${JSON.stringify(f)}, S, (c) => ({ items: [...(c?.items ?? []), process.argv[1] + '-' + i] }));
        }
      })().catch((e) => { console.error(e); process.exit(1); });`;
    const procs = Array.from({ length: 12 }, (_, n) => execa('node', ['-e', script, `p${n}`], { cwd: path.join(__dirname, '..', '..', '..') }));
    await Promise.all(procs);
    const items = readState(f, Counter)!.items;
    expect(items).toHaveLength(60);
    expect(new Set(items).size).toBe(60);
  }, 120_000);
});
