/**
 * The QMP client against a fake QMP server on a unix socket: greeting and capability
 * negotiation, one command at a time matched by id, events kept, QMP errors → RC 1,
 * silence → RC 5, a socket that closes or is missing → RC 1 (never a hang). Also the
 * small pure helpers: sizes, qcow2 header backing names, serial cleanup.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AddressError } from '../../../shared/errors';
import { createEffects } from '../../../shared/effects';
import { Qmp, withQmp } from '../../../shared/qmp';
import { toBytes } from '../../../shared/size';
import { qcow2Backing } from '../../../handlers/qemu/registry';
import { cleanSerial } from '../../../handlers/qemu/state';

type Reply = (cmd: { execute: string; id?: string; arguments?: unknown }, sock: net.Socket) => void;
const servers: net.Server[] = [];
const dirs: string[] = [];
afterEach(() => {
  servers.splice(0).forEach((s) => s.close());
  dirs.splice(0).forEach((d) => fs.rmSync(d, { recursive: true, force: true }));
});

/** A fake QEMU: greets, answers qmp_capabilities, then calls `reply` for each command. */
function fakeQmp(reply: Reply, greet = true): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-qmp-'));
  dirs.push(d);
  const sock = path.join(d, 'qmp.sock');
  const srv = net.createServer((s) => {
    if (greet) s.write('{"QMP": {"version": {"qemu": {"major": 7}}, "capabilities": ["oob"]}}\r\n');
    let buf = '';
    s.on('data', (b) => {
      buf += b.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const cmd = JSON.parse(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        if (cmd.execute === 'qmp_capabilities') s.write(`{"return": {}, "id": ${JSON.stringify(cmd.id)}}\r\n`);
        else reply(cmd, s);
      }
    });
  });
  srv.listen(sock);
  servers.push(srv);
  return sock;
}
const rcOf = async (p: Promise<unknown>) => p.then(() => 0, (e) => (e instanceof AddressError ? e.rc : -1));

describe('QMP client', () => {
  it('negotiates, runs commands matched by id, and keeps events', async () => {
    const sock = fakeQmp((c, s) => {
      if (c.execute === 'stop') s.write('{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "STOP"}\r\n');
      s.write(`{"return": {"status": "${c.execute === 'stop' ? 'paused' : 'running'}"}, "id": ${JSON.stringify(c.id)}}\r\n`);
    });
    await withQmp(sock, async (q) => {
      expect(await q.execute('query-status')).toEqual({ status: 'running' });
      await q.execute('stop');
      expect((await q.waitEvent('STOP', 100)).event).toBe('STOP');
      expect(q.events.map((e) => e.event)).toEqual(['STOP']);
    });
  });

  it('a QMP error reply is RC 1 with QEMU\'s desc', async () => {
    const sock = fakeQmp((c, s) => s.write(`{"error": {"class": "GenericError", "desc": "No snapshot named 'x'"}, "id": ${JSON.stringify(c.id)}}\n`));
    const q = await Qmp.connect(sock);
    await expect(q.execute('snapshot-load')).rejects.toMatchObject({ rc: 1, message: expect.stringMatching(/No snapshot named 'x'/) });
    q.close();
  });

  it('no reply in time is RC 5; no greeting is RC 5', async () => {
    const sock = fakeQmp(() => undefined);
    const q = await Qmp.connect(sock);
    expect(await rcOf(q.execute('query-status', undefined, 100))).toBe(5);
    q.close();
    expect(await rcOf(Qmp.connect(fakeQmp(() => undefined, false), 100))).toBe(5);
  });

  it('the socket closing under a command (QEMU died) is RC 1; a missing socket is RC 6 (unavailable: QEMU is not there, issue 14)', async () => {
    const sock = fakeQmp((_c, s) => s.destroy());
    const q = await Qmp.connect(sock);
    expect(await rcOf(q.execute('query-status', undefined, 5000))).toBe(1);
    expect(q.isClosed).toBe(true);
    expect(await rcOf(Qmp.connect('/nonexistent/qmp.sock'))).toBe(6);
  });

  it('commands on one session run one at a time, in order', async () => {
    const seen: string[] = [];
    const sock = fakeQmp((c, s) => {
      seen.push(c.execute);
      setTimeout(() => s.write(`{"return": "${c.execute}", "id": ${JSON.stringify(c.id)}}\n`), c.execute === 'a' ? 30 : 0);
    });
    await withQmp(sock, async (q) => {
      const [a, b] = await Promise.all([q.execute('a'), q.execute('b')]);
      expect([a, b]).toEqual(['a', 'b']);
    });
    expect(seen).toEqual(['a', 'b']);
  });
});

describe('helpers', () => {
  it('toBytes reads binary units and refuses junk', () => {
    expect(toBytes('1024')).toBe(1024);
    expect(toBytes('512M')).toBe(512 * 2 ** 20);
    expect(toBytes('512MiB')).toBe(512 * 2 ** 20);
    expect(toBytes('2GB')).toBe(2 * 2 ** 30);
    expect(toBytes('256', 'M')).toBe(256 * 2 ** 20);
    expect(() => toBytes('1X')).toThrow(AddressError);
  });

  it('qcow2Backing reads the backing name from a qcow2 header', () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-q2-'));
    dirs.push(d);
    const name = 'base.qcow2';
    const h = Buffer.alloc(512);
    h.writeUInt32BE(0x514649fb, 0);
    h.writeBigUInt64BE(200n, 8);
    h.writeUInt32BE(name.length, 16);
    h.write(name, 200);
    fs.writeFileSync(path.join(d, 'c.qcow2'), h);
    const host = createEffects({ dryrun: false, log: () => undefined });
    expect(qcow2Backing(host, path.join(d, 'c.qcow2'))).toBe(path.join(d, name));
    fs.writeFileSync(path.join(d, 'raw.img'), Buffer.alloc(512));
    expect(qcow2Backing(host, path.join(d, 'raw.img'))).toBeUndefined();
  });

  it('cleanSerial drops escape sequences and carriage returns', () => {
    expect(cleanSerial('\x1bc\x1b[?7l\x1b[2JSeaBIOS\r\nREXX-GUEST-READY\r\nrexx-guest# \x1b[6n')).toBe('SeaBIOS\nREXX-GUEST-READY\nrexx-guest# ');
  });
});
