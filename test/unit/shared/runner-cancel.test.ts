/**
 * Cancelling a call (HandlerOptions.cancel → RunnerOptions.signal), with real processes:
 * the command and everything it started in its process group end, nothing starts after
 * the abort, waits stop, and the call answers RC 130 with its variables cleared.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { createHandler } from '../../../shared/dispatch';
import { RC } from '../../../shared/errors';
import { CANCEL_GRACE_MS, Runner } from '../../../shared/runner';
import { defineVerb, type HandlerTable } from '../../../shared/verb';

const tag = () => `${3000 + Math.floor(Math.random() * 5000)}.${process.pid % 1000}`;
const alive = (t: string) => {
  try {
    return execFileSync('pgrep', ['-f', `sleep ${t}`], { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
};
const until = async (f: () => boolean, ms = 5_000) => {
  const t0 = Date.now();
  while (!f()) {
    if (Date.now() - t0 > ms) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('Runner with a signal', () => {
  it('an abort ends the command and the children in its process group, and marks it cancelled', async () => {
    const t = tag();
    const ac = new AbortController();
    const r = new Runner({ signal: ac.signal });
    // The shell starts a background sleep and a foreground one: both are in the group.
    const pending = r.run(['sh', '-c', `sleep ${t} & sleep ${t}; wait`], { timeoutMs: 60_000 });
    await until(() => alive(t).split('\n').filter(Boolean).length >= 2);
    const t0 = Date.now();
    ac.abort();
    const res = await pending;
    expect(res).toMatchObject({ ok: false, cancelled: true, timedOut: false });
    await until(() => alive(t) === '', CANCEL_GRACE_MS + 2_000);
    expect(Date.now() - t0).toBeLessThan(CANCEL_GRACE_MS + 2_000);
  });

  it('a process that ignores SIGINT gets SIGKILL after the grace', async () => {
    const t = tag();
    const ac = new AbortController();
    const r = new Runner({ signal: ac.signal });
    const pending = r.run(['sh', '-c', `trap "" INT; sleep ${t}; echo done`]);
    await until(() => alive(t) !== '');
    ac.abort();
    await pending;
    await until(() => alive(t) === '', CANCEL_GRACE_MS + 2_000);
  });

  it('nothing starts after the abort: run and runPipeline answer at once, cancelled', async () => {
    const ac = new AbortController();
    ac.abort();
    const r = new Runner({ signal: ac.signal });
    expect(await r.run(['echo', 'x'])).toMatchObject({ ok: false, cancelled: true, stdout: '' });
    expect(await r.runPipeline([['echo', 'x'], ['cat']])).toMatchObject({ ok: false, cancelled: true });
  });

  it('without a signal commands stay in the caller process group (not detached)', async () => {
    const res = await new Runner().run(['sh', '-c', 'ps -o pgid= -p $$']);
    expect(Number(res.stdout.trim())).toBe(Number(execFileSync('ps', ['-o', 'pgid=', '-p', String(process.pid)], { encoding: 'utf8' }).trim()));
  });
});

describe('a cancelled call through the dispatcher', () => {
  const t = tag();
  const table: HandlerTable = {
    target: 'test',
    summary: 's',
    tools: 't',
    verbs: [
      defineVerb({
        name: 'slow',
        summary: 'runs a long sleep, then another command',
        params: {},
        vars: { AFTER: 'set when the second command ran', LIST: { stem: 'a stem' } },
        async run(_p, ctx) {
          await ctx.run(['sleep', t]);
          const second = await ctx.run(['echo', 'second']);
          return { result: second.stdout, vars: { AFTER: second.ok ? 'ran' : 'refused', LIST: { 0: 1, 1: 'x' } } };
        },
      }),
      defineVerb({
        name: 'xec',
        summary: 'an exec verb',
        params: {},
        vars: {},
        exitStatus: true,
        async run(_p, ctx) {
          const r = await ctx.run(['sleep', t]);
          return { rc: r.exitCode ?? 1 };
        },
      }),
      defineVerb({
        name: 'waits',
        summary: 'polls for ever',
        params: {},
        vars: {},
        async run(_p, ctx) {
          await ctx.poll(async () => undefined, { timeoutMs: 60_000, what: 'never' });
          return {};
        },
      }),
    ],
  };

  it.each(['slow', 'xec', 'waits'])('%s: RC 130, declared variables cleared, nothing left running', async (verb) => {
    let ac: AbortController | undefined;
    const h = createHandler(table, { cancel: () => (ac = new AbortController()).signal });
    const pending = h(verb);
    if (verb === 'waits') await new Promise((r) => setTimeout(r, 200));
    else await until(() => alive(t) !== '');
    ac!.abort();
    const r = await pending;
    expect(r.errorCode).toBe(RC.cancelled);
    expect(r.errorCode).toBe(130);
    expect(r.errorMessage).toMatch(/^cancelled after \d+ ms/);
    expect(r.rexxVariables.ERRORTEXT).toBe(r.errorMessage);
    if (verb === 'slow') expect(r.rexxVariables).toMatchObject({ AFTER: '', LIST: { 0: 0 } });
    await until(() => alive(t) === '', CANCEL_GRACE_MS + 2_000);
  });
});
