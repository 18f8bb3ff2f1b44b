/**
 * ctx.progress, progress=VAR and ELAPSED_MS through the real dispatcher, with a recording
 * sink: LXD clone_from_base count=N on a fake runner (k of N), a small table of test
 * verbs for the waits (ctx.poll) and the mid-call variable, and the CLI's line renderer
 * on a fake terminal stream.
 */
import { describe, expect, it } from 'vitest';
import { createHandler } from '../../../shared/dispatch';
import { defineVerb, type HandlerTable } from '../../../shared/verb';
import type { ProgressEvent } from '../../../shared/progress';
import { table as lxd } from '../../../handlers/lxd';
import { table as zfs } from '../../../handlers/zfs';
import { table as qemu } from '../../../handlers/qemu';
import { table as lxcri } from '../../../handlers/lxcri';
import { describeTask, formatBytes, terminalProgress } from '../../../cli/progress';
import { fakeRunner } from '../../helpers/fake-runner';

const env = { REXX_ADDRESS_STRICT_VARS: '1', PATH: '/nonexistent' };
const recorder = () => {
  const events: ProgressEvent[] = [];
  return { events, sink: (e: ProgressEvent) => void events.push(e) };
};
/** A monotonic clock that moves 7 ms each time it is read. */
const steppingClock = () => {
  let t = 1000;
  return { monotonic: () => (t += 7) };
};

describe('clone_from_base count=N reports k of N (fake runner)', () => {
  it('LXD count=4: one "clones" task of unit items, ticked to 4 with each name noted, then ended; ELAPSED_MS from the call clock (fake runner)', async () => {
    const f = fakeRunner();
    const rec = recorder();
    const r = await createHandler(lxd, { env, runner: f.runner, progress: rec.sink, clock: steppingClock() })('clone_from_base base=web name=w count=4 concurrency=2');
    expect(r.errorCode, r.errorMessage).toBe(0);
    const clones = rec.events.filter((e) => e.label === 'clones');
    expect(clones[0]).toMatchObject({ type: 'start', target: 'lxd', verb: 'clone_from_base', unit: 'items', total: 4, done: 0 });
    expect(clones.filter((e) => e.type === 'update').map((e) => e.done)).toEqual([1, 2, 3, 4]);
    expect(clones.filter((e) => e.type === 'note').map((e) => e.text).sort()).toEqual(['w-1 made', 'w-2 made', 'w-3 made', 'w-4 made']);
    expect(clones.at(-1)).toMatchObject({ type: 'end', done: 4 });
    expect(new Set(clones.map((e) => e.id)).size).toBe(1);
    // The stepping clock: ELAPSED_MS is a whole number of its 7 ms steps, taken around the verb.
    expect(typeof r.rexxVariables.ELAPSED_MS).toBe('number');
    expect((r.rexxVariables.ELAPSED_MS as number) % 7).toBe(0);
    expect(r.rexxVariables.ELAPSED_MS as number).toBeGreaterThan(0);
  });

  it('a clone that fails: the task still ends at N with the failure noted; ELAPSED_MS and progress=VAR are blank (fake runner)', async () => {
    const f = fakeRunner((argv) => (argv[1] === 'copy' && argv[3] === 'w-2' ? { exitCode: 1, stderr: 'Error: boom' } : undefined));
    const rec = recorder();
    const r = await createHandler(lxd, { env, runner: f.runner, progress: rec.sink })('clone_from_base base=web name=w count=3 progress=pct');
    expect(r.errorCode).toBe(1);
    expect(rec.events.filter((e) => e.type === 'note').map((e) => e.text)).toContain('w-2 failed');
    expect(rec.events.at(-1)).toMatchObject({ type: 'end', done: 3, total: 3 });
    expect(r.rexxVariables.ELAPSED_MS).toBe('');
    expect(r.rexxVariables.pct).toBe('');
  });

  it('dryrun reports nothing and leaves ELAPSED_MS blank (fake runner)', async () => {
    const f = fakeRunner();
    const rec = recorder();
    const r = await createHandler(lxd, { env, runner: f.runner, progress: rec.sink })('clone_from_base base=web name=w count=3 dryrun=true');
    expect(r.errorCode).toBe(0);
    expect(rec.events).toEqual([]);
    expect(r.rexxVariables.ELAPSED_MS).toBe('');
  });

  it('every handler\'s clone_from_base is long: it takes progress= and declares ELAPSED_MS', () => {
    for (const t of [lxd, zfs, qemu, lxcri]) {
      const v = t.verbs.find((x) => x.name === 'clone_from_base')!;
      expect(v.long, t.target).toBe(true);
      expect(Object.keys(v.params), t.target).toContain('progress');
      expect(Object.keys(v.vars), t.target).toContain('ELAPSED_MS');
    }
    for (const t of [lxd, qemu]) expect(t.verbs.find((x) => x.name === 'start')!.long, t.target).toBe(true);
    expect(qemu.verbs.find((x) => x.name === 'convert')!.long).toBe(true);
  });
});

/** A table of test verbs: a wait through ctx.poll, and items ticked between awaits. */
function testTable(onTick?: () => void): HandlerTable {
  return {
    target: 'demo',
    summary: 'test verbs',
    tools: 'none',
    verbs: [
      defineVerb({
        name: 'wait',
        long: true,
        summary: 'waits for three probes',
        params: {},
        vars: {},
        async run(_p, ctx) {
          let n = 0;
          await ctx.poll(async () => (++n >= 3 ? true : undefined), { timeoutMs: 5000, what: 'the third probe', initialMs: 1 });
          return { result: 'ok' };
        },
      }),
      defineVerb({
        name: 'items',
        long: true,
        summary: 'ticks 4 items',
        params: {},
        vars: { DONE: 'how many' },
        async run(_p, ctx) {
          const t = ctx.progress('items', { total: 4, unit: 'items' });
          for (let i = 0; i < 4; i++) {
            t.tick();
            onTick?.();
          }
          t.end();
          return { result: 'ok', vars: { DONE: 4 } };
        },
      }),
      defineVerb({
        name: 'short',
        summary: 'not long',
        params: {},
        vars: {},
        async run(_p, ctx) {
          ctx.progress('left open', { unit: 'items' });
          return { result: 'ok' };
        },
      }),
    ],
  };
}

describe('the dispatcher\'s progress', () => {
  it('every ctx.poll is a task of unit ms "waiting for WHAT", set to the time waited after each probe that did not answer', async () => {
    const rec = recorder();
    const r = await createHandler(testTable(), { env, progress: rec.sink })('wait');
    expect(r.errorCode, r.errorMessage).toBe(0);
    expect(rec.events.map((e) => e.type)).toEqual(['start', 'update', 'update', 'end']);
    expect(rec.events[0]).toMatchObject({ label: 'waiting for the third probe', unit: 'ms', total: 5000 });
  });

  it('a task the verb left open is ended when the call returns', async () => {
    const rec = recorder();
    await createHandler(testTable(), { env, progress: rec.sink })('short');
    expect(rec.events.map((e) => e.type)).toEqual(['start', 'end']);
  });

  it('a verb that is not long takes no progress= (RC 2) and sets no ELAPSED_MS', async () => {
    const h = createHandler(testTable(), { env });
    expect((await h('short progress=x')).errorCode).toBe(2);
    expect((await h('short')).rexxVariables).not.toHaveProperty('ELAPSED_MS');
  });

  it('progress=VAR: the interpreter\'s variable goes 0, ¼ … 1 during the call (as written, case kept); the script gets 1', async () => {
    const variables = new Map<string, unknown>();
    const seen: unknown[] = [];
    const h = createHandler(testTable(() => seen.push(variables.get('Pct'))), { env });
    const r = await h('items progress=Pct', {}, { interpreter: { variables } });
    expect(r.errorCode, r.errorMessage).toBe(0);
    expect(seen).toEqual([0.25, 0.5, 0.75, 1]);
    expect(r.rexxVariables.Pct).toBe(1);
    expect(r.rexxVariables.ELAPSED_MS).toEqual(expect.any(Number));
  });

  it('progress=VAR without an interpreter (the CLI, a plain call) still sets VAR at the end', async () => {
    const r = await createHandler(testTable(), { env })('items progress=done_frac');
    expect(r.rexxVariables.done_frac).toBe(1);
  });

  it('progress= naming a variable the call sets itself (RC, RESULT, ERRORTEXT, the verb\'s, COMMANDS) is RC 2, nothing run', async () => {
    const h = createHandler(testTable(), { env });
    for (const v of ['RC', 'rc', 'RESULT', 'ERRORTEXT', 'DONE', 'ELAPSED_MS', 'COMMANDS']) {
      const r = await h(`items progress=${v}`);
      expect(r.errorCode, v).toBe(2);
      expect(r.errorMessage).toMatch(/would overwrite/);
    }
  });

  it('progress= must be a REXX symbol: stems, spaces, leading digits and options are RC 2', async () => {
    const h = createHandler(testTable(), { env });
    for (const v of ['a.b', '1x', '-x', "'a b'", 'x;y', '$(id)', 'a'.repeat(65)]) expect((await h(`items progress=${v}`)).errorCode, v).toBe(2);
  });
});

describe('the CLI\'s progress line (cli/progress.ts)', () => {
  const ev = (o: Partial<ProgressEvent>): ProgressEvent => ({ type: 'update', id: 1, target: 'zfs', verb: 'send', label: 'sending', unit: 'items', done: 0, elapsedMs: 0, ...o });

  it('draws nothing unless stderr is a terminal, TERM is not dumb and CI is not set', () => {
    const tty = { isTTY: true, write: () => true } as unknown as NodeJS.WritableStream;
    const pipe = { isTTY: false, write: () => true } as unknown as NodeJS.WritableStream;
    expect(terminalProgress(pipe, {})).toBeUndefined();
    expect(terminalProgress(tty, { CI: 'true' })).toBeUndefined();
    expect(terminalProgress(tty, { TERM: 'dumb' })).toBeUndefined();
    expect(terminalProgress(tty, { TERM: 'xterm' })).toBeTypeOf('function');
  });

  it('describes each unit: k/N, percent, bytes with a rate, a wait with its limit', () => {
    expect(describeTask(ev({ label: 'clones', done: 3, total: 5, text: 'w-3 made' }), 1200)).toBe('clones 3/5 (w-3 made) 1.2s');
    expect(describeTask(ev({ label: 'converting to raw', unit: 'percent', done: 42.5, total: 100 }), 500)).toBe('converting to raw 42% 0.5s');
    expect(describeTask(ev({ unit: 'bytes', done: 3 * 2 ** 20, total: 6 * 2 ** 20 }), 2000)).toBe('sending 3.0 MiB of 6.0 MiB, 1.5 MiB/s 2.0s');
    expect(describeTask(ev({ label: 'waiting for web to be Running', unit: 'ms', total: 60_000 }), 75_000)).toBe('waiting for web to be Running 1m15s (gives up at 1m00s)');
    expect(formatBytes(512)).toBe('512 B');
  });
});
