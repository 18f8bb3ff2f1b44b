/**
 * The effects a verb gets on ctx (shared/effects.ts, shared/qmp.ts): real ones change
 * the host; under dryrun reads are real, and writes, signals, non-query QMP commands
 * and ctx.effect steps do nothing (each written to the trace as "# would ...").
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { z } from 'zod';
import { afterEach, describe, expect, it } from 'vitest';
import { createEffects } from '../../../shared/effects';
import { qmpEffect } from '../../../shared/qmp';

const dirs: string[] = [];
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-effects-'));
  dirs.push(d);
  return d;
};
afterEach(() => dirs.splice(0).forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

const Count = z.object({ n: z.number() });

describe('real effects', () => {
  it('write, read, link (never replacing), rename, remove', async () => {
    const d = tmp();
    const e = createEffects({ dryrun: false, log: () => undefined });
    expect(e.fs.writeText(`${d}/a/f`, 'one', { atomic: true })).toBe(true);
    expect(e.fs.readText(`${d}/a/f`)).toBe('one');
    expect(e.fs.writeText(`${d}/a/f`, 'two', { exclusive: true })).toBe(false);
    expect(e.fs.link(`${d}/a/f`, `${d}/a/g`)).toBe(true);
    expect(e.fs.link(`${d}/a/f`, `${d}/a/g`)).toBe(false);
    e.fs.rename(`${d}/a/g`, `${d}/a/h`);
    expect(e.fs.list(`${d}/a`)).toEqual(['f', 'h']);
    expect(e.fs.readHead(`${d}/a/f`, 2)?.toString()).toBe('on');
    expect(e.fs.readTail(`${d}/a/f`, 2)?.toString()).toBe('ne');
    e.fs.remove(`${d}/a`);
    expect(e.fs.exists(`${d}/a`)).toBe(false);
    expect(e.fs.readText(`${d}/a/f`)).toBeUndefined();
    expect(e.fs.list(`${d}/a`)).toEqual([]);
    expect(await e.state.update(`${d}/s.json`, Count, (c) => ({ n: (c?.n ?? 0) + 1 }))).toEqual({ n: 1 });
    expect(e.state.read(`${d}/s.json`, Count)).toEqual({ n: 1 });
    expect(await e.effect(() => 'ran', 'planned')).toBe('ran');
  });

  it('symlink replaces what is at the path in one step; a dangling link reads as missing; dryrun makes none', () => {
    const d = tmp();
    const e = createEffects({ dryrun: false, log: () => undefined });
    fs.writeFileSync(`${d}/t1`, 'one');
    fs.writeFileSync(`${d}/p`, 'old file');
    e.fs.symlink('t1', `${d}/p`);
    expect(e.fs.readlink(`${d}/p`)).toBe('t1');
    expect(e.fs.readText(`${d}/p`)).toBe('one');
    e.fs.symlink('t2', `${d}/p`);
    expect(e.fs.readText(`${d}/p`)).toBeUndefined();
    expect(fs.readdirSync(d).sort()).toEqual(['p', 't1']);
    const lines: string[] = [];
    createEffects({ dryrun: true, log: (l) => lines.push(l) }).fs.symlink('t1', `${d}/q`);
    expect(fs.existsSync(`${d}/q`)).toBe(false);
    expect(lines).toEqual([`# would ln -sfn t1 ${d}/q`]);
  });
});

describe('dryrun effects', () => {
  it('read for real, write nothing, and say what they would do', async () => {
    const d = tmp();
    fs.writeFileSync(`${d}/keep`, 'kept');
    fs.writeFileSync(`${d}/s.json`, '{"n": 5}');
    const lines: string[] = [];
    const e = createEffects({ dryrun: true, log: (l) => lines.push(l) });
    expect(e.fs.readText(`${d}/keep`)).toBe('kept');
    expect(e.fs.writeText(`${d}/new`, 'x')).toBe(true);
    e.fs.mkdir(`${d}/dir`);
    e.fs.rename(`${d}/keep`, `${d}/moved`);
    expect(e.fs.link(`${d}/keep`, `${d}/linked`)).toBe(true);
    e.fs.remove(`${d}/keep`);
    e.state.write(`${d}/other.json`, { n: 1 });
    expect(e.state.create(`${d}/created.json`, { n: 1 })).toBe(true);
    // update sees the real value and returns what it would write
    expect(await e.state.update(`${d}/s.json`, Count, (c) => ({ n: (c?.n ?? 0) + 1 }))).toEqual({ n: 6 });
    e.state.remove(`${d}/s.json`);
    expect(await e.effect(() => 'ran', 'planned')).toBe('planned');
    expect(fs.readdirSync(d).sort()).toEqual(['keep', 's.json']);
    expect(fs.readFileSync(`${d}/s.json`, 'utf8')).toBe('{"n": 5}');
    expect(lines.every((l) => l.startsWith('# would '))).toBe(true);
    expect(lines).toContain(`# would rm -rf ${d}/keep`);
    expect(lines).toContain(`# would write ${d}/s.json`);
  });

  it('send no signal', async () => {
    const child = spawn('sleep', ['30']);
    try {
      const dry = createEffects({ dryrun: true, log: () => undefined });
      expect(dry.signal.kill(child.pid!, 'SIGKILL')).toBe(true);
      expect(dry.signal.alive(child.pid!)).toBe(true);
      const real = createEffects({ dryrun: false, log: () => undefined });
      expect(real.signal.kill(child.pid!, 'SIGKILL')).toBe(true);
      await new Promise((r) => child.once('exit', r));
      expect(real.signal.alive(child.pid!)).toBe(false);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('a partial test clock keeps the real readings it does not give', () => {
    const e = createEffects({ dryrun: false, log: () => undefined, clock: { now: () => 42 } });
    expect(e.clock.now()).toBe(42);
    expect(typeof e.clock.monotonic()).toBe('number');
  });

  it('QMP: queries reach QEMU, other commands do not', async () => {
    const d = tmp();
    const sock = path.join(d, 'qmp.sock');
    const seen: string[] = [];
    const srv = net.createServer((s) => {
      s.write('{"QMP": {"version": {}, "capabilities": []}}\r\n');
      let buf = '';
      s.on('data', (b) => {
        buf += b.toString();
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const cmd = JSON.parse(buf.slice(0, nl)) as { execute: string; id: string };
          buf = buf.slice(nl + 1);
          seen.push(cmd.execute);
          s.write(`${JSON.stringify({ return: cmd.execute === 'query-status' ? { status: 'running' } : {}, id: cmd.id })}\r\n`);
        }
      });
    });
    await new Promise<void>((r) => srv.listen(sock, r));
    try {
      const lines: string[] = [];
      const qmp = qmpEffect(true, (l) => lines.push(l));
      const status = await qmp(sock, async (q) => {
        await q.execute('stop');
        await q.waitEvent('STOP', 1000);
        return q.execute<{ status: string }>('query-status');
      });
      expect(status).toEqual({ status: 'running' });
      expect(seen).toEqual(['qmp_capabilities', 'query-status']);
      expect(lines).toEqual([`# would qmp ${sock} {"execute":"stop"}`]);
    } finally {
      srv.close();
    }
  });
});
