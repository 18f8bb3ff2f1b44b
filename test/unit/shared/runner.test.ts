/** The runner (shared/runner.ts) with real harmless binaries, and the poller (shared/poll.ts). */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { AddressError } from '../../../shared/errors';
import { mapLimit, poll, sleep } from '../../../shared/poll';
import { argvLine, Runner, type FirstStage } from '../../../shared/runner';

describe('Runner.run', () => {
  const r = new Runner();

  it('captures stdout, exit code 0 and ok', async () => {
    const res = await r.run(['/bin/echo', 'hello', 'a b']);
    expect(res).toMatchObject({ ok: true, exitCode: 0, signal: null, timedOut: false, missing: false, stdout: 'hello a b', stderr: '' });
    expect(res.argv).toEqual(['/bin/echo', 'hello', 'a b']);
    expect(res.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('a non-zero exit is returned, not thrown, with stderr', async () => {
    const res = await r.run(['/bin/sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(res).toMatchObject({ ok: false, exitCode: 3, timedOut: false, missing: false, stdout: 'out', stderr: 'err' });
  });

  it('arguments are passed as argv, never through a shell', async () => {
    const res = await r.run(['/bin/echo', '$HOME', '`id`', '$(id)', ';', '|', '*']);
    expect(res.stdout).toBe('$HOME `id` $(id) ; | *');
  });

  it('a timeout kills the command quickly and says timedOut', async () => {
    // sleep 30 would exceed vitest's 5 s test timeout: finishing at all proves it was killed.
    const res = await r.run(['sleep', '30'], { timeoutMs: 200 });
    expect(res.timedOut).toBe(true);
    expect(res.ok).toBe(false);
    expect(res.exitCode).toBeNull();
  });

  it('a missing binary is missing: true (not thrown)', async () => {
    const res = await r.run(['/nonexistent/rexx-no-such-binary', 'x']);
    expect(res).toMatchObject({ ok: false, missing: true, exitCode: null });
    const res2 = await r.run(['rexx-no-such-binary-on-path']);
    expect(res2.missing).toBe(true);
    expect(res2.stderr).not.toBe('');
  });

  it('a non-executable file counts as missing (EACCES)', async () => {
    const f = path.join(os.tmpdir(), `rexx-noexec-${process.pid}`);
    fs.writeFileSync(f, '#!/bin/sh\necho hi\n', { mode: 0o644 });
    try {
      expect((await r.run([f])).missing).toBe(true);
    } finally {
      fs.rmSync(f, { force: true });
    }
  });

  it('input, cwd and env reach the command', async () => {
    expect((await r.run(['cat'], { input: 'from stdin' })).stdout).toBe('from stdin');
    expect((await r.run(['pwd'], { cwd: '/tmp' })).stdout).toBe('/tmp');
    expect((await r.run(['/bin/sh', '-c', 'echo $REXX_T'], { env: { REXX_T: 'val' } })).stdout).toBe('val');
  });

  it('inputFile is used as stdin', async () => {
    const f = path.join(os.tmpdir(), `rexx-input-${process.pid}`);
    fs.writeFileSync(f, 'file text');
    try {
      expect((await r.run(['cat'], { inputFile: f })).stdout).toBe('file text');
    } finally {
      fs.rmSync(f, { force: true });
    }
  });

  it('the runner env replaces process.env (no leaking)', async () => {
    const only = new Runner({ env: { PATH: process.env.PATH, ONLY: '1' } });
    const res = await only.run(['env']);
    expect(res.stdout.split('\n').sort()).toEqual([`ONLY=1`, `PATH=${process.env.PATH}`].sort());
  });

  it("stdio: 'ignore' discards output", async () => {
    const res = await r.run(['/bin/echo', 'x'], { stdio: 'ignore' });
    expect(res.ok).toBe(true);
    expect(res.stdout).toBe('');
  });

  it('refuses an empty argv or a NUL byte (a programming error: throws)', async () => {
    await expect(r.run([])).rejects.toThrow(/empty argv/);
    await expect(r.run([''])).rejects.toThrow(/empty argv/);
    await expect(r.run(['/bin/echo', 'a\0b'])).rejects.toThrow(/NUL/);
  });

  it('trace lines go to the sink with the ms and a status for failures', async () => {
    const lines: string[] = [];
    const t = new Runner({ trace: true, traceSink: (l) => lines.push(l) });
    await t.run(['/bin/echo', 'a b']);
    await t.run(['/bin/sh', '-c', 'exit 3']);
    await t.run(['sleep', '5'], { timeoutMs: 100 });
    await t.run(['rexx-no-such-binary']);
    expect(lines[0]).toMatch(/^\+ \d+(\.\d+)?ms \/bin\/echo 'a b'$/);
    expect(lines[1]).toMatch(/^\+ \d+(\.\d+)?ms \/bin\/sh -c 'exit 3' \[exit 3\]$/);
    expect(lines[2]).toMatch(/\[timed out\]$/);
    expect(lines[3]).toMatch(/\[missing\]$/);
  });

  it('no trace lines without trace', async () => {
    const lines: string[] = [];
    await new Runner({ traceSink: (l) => lines.push(l) }).run(['/bin/echo']);
    expect(lines).toEqual([]);
  });

  it('dryrun records mutating commands and runs readOnly ones', async () => {
    const d = new Runner({ dryrun: true });
    const rec = await d.run(['rexx-no-such-binary', 'a b', "it's"]);
    expect(rec).toMatchObject({ ok: true, dryrun: true, exitCode: 0 });
    const q = await d.run(['/bin/echo', 'q'], { readOnly: true });
    expect(q.stdout).toBe('q');
    expect(d.planned).toEqual([`rexx-no-such-binary 'a b' 'it'\\''s'`]);
  });
});

describe('Runner.runPipeline', () => {
  const r = new Runner();

  it('printf | tr works without a shell', async () => {
    const res = await r.runPipeline([['printf', '%s\\n', 'hello', 'world'], ['tr', 'a-z', 'A-Z']]);
    expect(res.ok).toBe(true);
    expect(res.stdout).toBe('HELLO\nWORLD');
    expect(res.argv).toEqual(['printf', '%s\\n', 'hello', 'world', '|', 'tr', 'a-z', 'A-Z']);
  });

  it('onBytes gets the running total the first stage has written into the next, and bytes the whole; onStdout gets stdout as it comes', async () => {
    const totals: number[] = [];
    const res = await r.runPipeline([['head', '-c', '300000', '/dev/urandom'], ['wc', '-c']], { onBytes: (n) => void totals.push(n) });
    expect(res.stdout.trim()).toBe('300000');
    expect(totals.at(-1)).toBe(300000);
    expect(totals).toEqual([...totals].sort((a, b) => a - b));
    expect(res.bytes).toBe(300000);
    let seen = '';
    const one = await r.run(['printf', 'a\\rb'], { onStdout: (t) => void (seen += t) });
    expect(seen).toBe('a\rb');
    expect(one.stdout).toBe('a\rb');
  });

  it('each stage writes straight into the next (one socket pair between them, no copy through this process), and bytes is only there when asked for', async () => {
    const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-pipe-')), 'w');
    // The writer notes its stdout's inode; the reader asks ss (iproute2) for the peer of its stdin.
    const res = await r.runPipeline([
      ['sh', '-c', `readlink /proc/$$/fd/1 | tr -dc 0-9 > ${f}; head -c 100000 /dev/zero; sleep 0.3`],
      ['sh', '-c', 'i=$(readlink /proc/$$/fd/0 | tr -dc 0-9); ss -xaH | awk -v i="$i" \'$6 == i { print $8 }\'; cat >/dev/null'],
    ]);
    expect(res.ok).toBe(true);
    expect(res.stdout).toMatch(/^\d+$/);
    expect(res.stdout).toBe(fs.readFileSync(f, 'utf8'));
    expect(res.bytes).toBeUndefined();
  });

  it('countBytes without pv on PATH: the first link is relayed through this process and counted there', async () => {
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-nopv-'));
    for (const t of ['head', 'wc']) fs.symlinkSync(`/usr/bin/${t}`, path.join(bin, t));
    const bare = new Runner({ env: { PATH: bin } });
    const res = await bare.runPipeline([['head', '-c', '123457', '/dev/zero'], ['wc', '-c']], { countBytes: true });
    expect(res).toMatchObject({ ok: true, stdout: '123457', bytes: 123457 });
  });

  it('onTimeout runs just before a timeout kills the command, and the result says timedOut even when the clean-up ended it first', async () => {
    let called = 0;
    const slow = await r.run(['sleep', '5'], { timeoutMs: 300, onTimeout: () => void called++ });
    expect(called).toBe(1);
    expect(slow.timedOut).toBe(true);
    // A clean-up that kills the command itself (as LXD exec's kills what runs in the instance).
    let pid = 0;
    const sub = r.run(['sh', '-c', 'echo $$ > /tmp/rexx-ontimeout-pid; exec sleep 5'], { timeoutMs: 400, onTimeout: () => process.kill(pid, 'SIGKILL') });
    await new Promise((ok) => setTimeout(ok, 150));
    pid = Number(require('node:fs').readFileSync('/tmp/rexx-ontimeout-pid', 'utf8'));
    const res = await sub;
    expect(res.timedOut).toBe(true);
    const quick = await r.run(['true'], { timeoutMs: 300, onTimeout: () => void called++ });
    expect(quick.ok).toBe(true);
    await new Promise((ok) => setTimeout(ok, 400));
    expect(called).toBe(1);
  });

  it('three stages', async () => {
    const res = await r.runPipeline([['printf', 'b\\na\\nc\\n'], ['sort'], ['head', '-n', '2']]);
    expect(res.stdout).toBe('a\nb');
  });

  it('input goes to the first stage', async () => {
    expect((await r.runPipeline([['cat'], ['tr', 'x', 'y']], { input: 'xxx' })).stdout).toBe('yyy');
  });

  it('a failing first stage is reported', async () => {
    const res = await r.runPipeline([['/bin/sh', '-c', 'echo bad >&2; exit 4'], ['cat']]);
    expect(res.ok).toBe(false);
    expect(res.exitCode).toBe(4);
    expect(res.stderr).toBe('bad');
  });

  it('a failing last stage is reported', async () => {
    const res = await r.runPipeline([['/bin/echo', 'x'], ['/bin/sh', '-c', 'cat >/dev/null; exit 5']]);
    expect(res).toMatchObject({ ok: false, exitCode: 5 });
  });

  it('a later stage that fails stops the earlier ones at once instead of leaving them blocked until the timeout', async () => {
    // `yes` never ends by itself: before the fix it blocked on the full pipe for the whole 20 s.
    const t0 = performance.now();
    const res = await r.runPipeline([['yes'], ['/bin/sh', '-c', 'echo cannot write >&2; exit 3']], { timeoutMs: 20_000 });
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(res).toMatchObject({ ok: false, exitCode: 3, timedOut: false, stderr: 'cannot write' });
    const missing = await r.runPipeline([['yes'], ['rexx-no-such-binary']], { timeoutMs: 20_000 });
    expect(missing).toMatchObject({ ok: false, missing: true, timedOut: false });
  });

  it('a missing stage binary is missing: true', async () => {
    const res = await r.runPipeline([['/bin/echo', 'x'], ['rexx-no-such-binary']]);
    expect(res.ok).toBe(false);
    expect(res.missing).toBe(true);
  });

  it('dryrun records the pipeline as one line', async () => {
    const d = new Runner({ dryrun: true });
    await d.runPipeline([['zfs', 'send', 'a@b'], ['zfs', 'recv', 'c']]);
    expect(d.planned).toEqual(["zfs send a@b '|' zfs recv c"]);
  });
});

describe('Runner.run with stopWhen (a command that runs until told to stop)', () => {
  it('ends the command (SIGTERM) once stdout says enough; the result is ok and stopped, with the stdout read', async () => {
    const t0 = performance.now();
    const r = await new Runner().run(['sh', '-c', 'i=0; while :; do i=$((i+1)); echo "tick $i"; sleep 0.05; done'], { timeoutMs: 20_000, stopWhen: (out) => out.includes('tick 3\n') });
    expect(performance.now() - t0).toBeLessThan(10_000);
    expect(r).toMatchObject({ ok: true, stopped: true, timedOut: false });
    expect(r.stdout).toContain('tick 3');
  });

  it('not said before timeoutMs: a timeout as usual', async () => {
    const r = await new Runner().run(['sh', '-c', 'echo a; exec sleep 5'], { timeoutMs: 300, stopWhen: () => false });
    expect(r).toMatchObject({ ok: false, timedOut: true });
    expect(r.stopped).toBeUndefined();
  });
});

describe('Runner.runPipeline with a deferred first stage (first=)', () => {
  const r = new Runner();
  const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-first-'));

  it('the later stages start at once; the first joins them when known, and bytes and the line are the whole pipeline\'s', async () => {
    const dir = tmp();
    let decide!: (a: string[] | undefined) => void;
    const first = new Promise<string[] | undefined>((ok) => (decide = ok));
    // The last stage marks that it started, then reads what the first one writes.
    const run = r.runPipeline([['sh', '-c', `touch ${dir}/started; wc -c`]], { first, countBytes: true });
    for (let i = 0; i < 100 && !fs.existsSync(`${dir}/started`); i++) await sleep(20);
    expect(fs.existsSync(`${dir}/started`)).toBe(true);
    decide(['head', '-c', '70000', '/dev/zero']);
    const res = await run;
    expect(res).toMatchObject({ ok: true, bytes: 70000 });
    expect(res.stdout.trim()).toBe('70000');
    expect(res.argv.slice(0, 4)).toEqual(['head', '-c', '70000', '/dev/zero']);
  });

  it('called off (undefined): the started stages are ended having read nothing, and the result is skipped', async () => {
    const dir = tmp();
    const t0 = performance.now();
    const run = r.runPipeline([['sh', '-c', `touch ${dir}/started; cat > ${dir}/got; exec sleep 30`]], { first: sleep(300).then(() => undefined), timeoutMs: 20_000 });
    const res = await run;
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(res).toMatchObject({ ok: false, skipped: true, bytes: 0 });
    expect(fs.existsSync(`${dir}/started`)).toBe(true);
    expect(fs.readFileSync(`${dir}/got`, 'utf8')).toBe('');
  });

  it('a later stage that failed before the first was known: the first never starts, and that failure is the result', async () => {
    const dir = tmp();
    const res = await r.runPipeline([['sh', '-c', 'echo no route >&2; exit 255']], { first: sleep(300).then(() => ['sh', '-c', `touch ${dir}/ran`]) });
    expect(res).toMatchObject({ ok: false, exitCode: 255, stderr: 'no route' });
    expect(fs.existsSync(`${dir}/ran`)).toBe(false);
  });

  it('a later stage that ends before the first is known ends the wait: its result at once, though the decision never comes', async () => {
    const t0 = performance.now();
    const res = await r.runPipeline([['sh', '-c', 'echo bye; exit 4']], { first: new Promise<undefined>(() => undefined), timeoutMs: 20_000 });
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(res).toMatchObject({ ok: false, exitCode: 4, stdout: 'bye', bytes: 0 });
  });

  it('onStdout hears the last stage before the first is known; a lead line goes ahead of the stream (a receiving end that answers, then chooses)', async () => {
    let decide!: (a: FirstStage | undefined) => void;
    const first = new Promise<FirstStage | undefined>((ok) => (decide = ok));
    let heard = '';
    const run = r.runPipeline([['sh', '-c', 'echo ready; IFS= read -r go; echo "chose $go"; wc -c']], {
      first,
      countBytes: true,
      onStdout: (t) => {
        heard += t;
        if (heard.includes('ready\n')) decide({ argv: ['head', '-c', '1000', '/dev/zero'], lead: 'incremental\n' });
      },
    });
    const res = await run;
    expect(res).toMatchObject({ ok: true, bytes: 1000 });
    expect(res.stdout.split('\n').map((l) => l.trim())).toEqual(['ready', 'chose incremental', '1000']);
  });

  it('past timeoutMs the whole pipeline is killed and the result says timedOut, also for a stage started early whose stdin was handed over', async () => {
    const first = sleep(300).then(() => ({ argv: ['head', '-c', '10000000', '/dev/zero'], lead: 'go\n' }));
    const t0 = performance.now();
    const res = await r.runPipeline([['sh', '-c', 'echo ready; read l; exec sleep 30']], { first, countBytes: true, timeoutMs: 1500 });
    expect(performance.now() - t0).toBeLessThan(10_000);
    expect(res).toMatchObject({ ok: false, timedOut: true });
    const plain = await r.runPipeline([['head', '-c', '10000000', '/dev/zero'], ['sh', '-c', 'read l; exec sleep 30']], { timeoutMs: 1000 });
    expect(plain).toMatchObject({ ok: false, timedOut: true });
  });

  it('dryrun starts nothing early and records the whole line once the first stage is known (nothing when called off)', async () => {
    const d = new Runner({ dryrun: true });
    await d.runPipeline([['zfs', 'recv', 'c']], { first: Promise.resolve(['zfs', 'send', 'a@b']) });
    await d.runPipeline([['zfs', 'recv', 'd']], { first: Promise.resolve(undefined) });
    expect(d.planned).toEqual(["zfs send a@b '|' zfs recv c"]);
  });
});

describe('argvLine', () => {
  it.each([
    [['lxc', 'init', 'tiny', 'x'], 'lxc init tiny x'],
    [['a', 'b c'], "a 'b c'"],
    [['a', ''], "a ''"],
    [['a', '$HOME'], "a '$HOME'"],
    [['a', "it's"], "a 'it'\\''s'"],
    [['k=v', 'a@b:c/d.e,f%g+h'], 'k=v a@b:c/d.e,f%g+h'],
  ])('%j → %s', (argv, line) => expect(argvLine(argv)).toBe(line));
});

describe('poll', () => {
  it('returns the first defined value with elapsed ms and probe count', async () => {
    let n = 0;
    const r = await poll(async () => (++n >= 3 ? `v${n}` : undefined), { timeoutMs: 5000, what: 'x' });
    expect(r.value).toBe('v3');
    expect(r.probes).toBe(3);
    expect(r.elapsedMs).toBeGreaterThanOrEqual(0);
  });

  it('a falsy but defined value (0, "", false, null) counts as done', async () => {
    for (const v of [0, '', false, null]) expect((await poll(async () => v, { timeoutMs: 100, what: 'x' })).value).toBe(v);
  });

  /** Run `f` with setTimeout answering at once; returns the pauses (ms) it asked for. */
  async function pausesAskedBy(f: () => Promise<unknown>): Promise<number[]> {
    const real = globalThis.setTimeout;
    const asked: number[] = [];
    const spy = vi.spyOn(globalThis, 'setTimeout').mockImplementation(((fn: () => void, ms?: number) => {
      asked.push(ms ?? 0);
      return real(fn, 0);
    }) as typeof setTimeout);
    try {
      await f();
    } finally {
      spy.mockRestore();
    }
    return asked;
  }

  it('backs off from initialMs by factor up to maxMs (the pauses it asks for)', async () => {
    let n = 0;
    const asked = await pausesAskedBy(async () => {
      const r = await poll(async () => (++n === 8 ? 'ok' : undefined), { timeoutMs: 60_000, initialMs: 10, factor: 2, maxMs: 100, what: 'x' });
      expect(r.probes).toBe(8);
    });
    expect(asked).toEqual([10, 20, 40, 80, 100, 100, 100]);
  });

  it('defaults: 10 ms, growing by 1.5, capped at 250 ms', async () => {
    let n = 0;
    const asked = await pausesAskedBy(() => poll(async () => (++n === 12 ? 'ok' : undefined), { timeoutMs: 600_000, what: 'x' }));
    expect(asked[0]).toBe(10);
    expect(asked[1]).toBe(15);
    expect(asked[2]).toBe(22.5);
    expect(Math.max(...asked)).toBe(250);
    expect(asked.slice(-2)).toEqual([250, 250]);
  });

  it('timeout → AddressError RC 5 naming what it waited for', async () => {
    const e = await poll(async () => undefined, { timeoutMs: 50, what: 'web-1 to be Running' }).catch((x) => x);
    expect(e).toBeInstanceOf(AddressError);
    expect(e.rc).toBe(5);
    expect(e.message).toBe('timed out after 50 ms waiting for web-1 to be Running');
  });

  it('does not sleep past the deadline', async () => {
    let probes = 0;
    // a 10 s pause would exceed vitest's 5 s test timeout
    await poll(async () => { probes++; return undefined; }, { timeoutMs: 100, initialMs: 10_000, what: 'x' }).catch(() => {});
    expect(probes).toBe(2); // one probe, one pause cut to the deadline, the last probe
  });

  it('an error thrown by the probe propagates at once', async () => {
    let probes = 0;
    await expect(poll(async () => { probes++; throw new Error('gone'); }, { timeoutMs: 5000, what: 'x' })).rejects.toThrow('gone');
    expect(probes).toBe(1);
  });
});

describe('mapLimit', () => {
  it('keeps order even when later items finish first', async () => {
    const out = await mapLimit([50, 10, 30, 0], 4, async (ms, i) => {
      await sleep(ms);
      return `${i}:${ms}`;
    });
    expect(out).toEqual([
      { ok: true, value: '0:50' },
      { ok: true, value: '1:10' },
      { ok: true, value: '2:30' },
      { ok: true, value: '3:0' },
    ]);
  });

  it.each([1, 2, 3, 8])('never runs more than %d at once, and reaches the limit', async (limit) => {
    let active = 0;
    let peak = 0;
    const items = Array.from({ length: 10 }, (_, i) => i);
    await mapLimit(items, limit, async () => {
      active++;
      peak = Math.max(peak, active);
      await sleep(5);
      active--;
    });
    expect(peak).toBe(Math.min(limit, items.length));
  });

  it('every item runs even if some fail; errors are carried, not thrown', async () => {
    const ran: number[] = [];
    const out = await mapLimit([1, 2, 3], 1, async (n) => {
      ran.push(n);
      if (n === 2) throw new Error('two');
      return n;
    });
    expect(ran).toEqual([1, 2, 3]);
    expect(out[0]).toEqual({ ok: true, value: 1 });
    expect(out[1]).toMatchObject({ ok: false });
    expect((out[1] as { error: Error }).error.message).toBe('two');
    expect(out[2]).toEqual({ ok: true, value: 3 });
  });

  it('empty input and a concurrency of 0 still work', async () => {
    expect(await mapLimit([], 4, async () => 1)).toEqual([]);
    expect(await mapLimit([1, 2], 0, async (n) => n * 2)).toEqual([
      { ok: true, value: 2 },
      { ok: true, value: 4 },
    ]);
  });
});
