import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unixGet, unixGetEffect } from '../../../shared/unix-http';

describe('unixGet (a real HTTP server on a unix socket)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-unixget-'));
  const socket = path.join(dir, 'api.socket');
  const server = http.createServer((req, res) => {
    if (req.url === '/slow') return; // never answers
    res.writeHead(req.url === '/missing' ? 404 : 200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ type: req.url === '/missing' ? 'error' : 'sync', path: req.url, error: 'Instance not found' }));
  });
  beforeAll(() => new Promise<void>((ok) => server.listen(socket, ok)));
  afterAll(() => {
    server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('answers with the status and the whole body', async () => {
    const r = await unixGet(socket, '/1.0/instances?recursion=1', 5000);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ path: '/1.0/instances?recursion=1' });
    expect((await unixGet(socket, '/missing', 5000)).status).toBe(404);
  });

  it('no answer within the time is RC 5; no socket file rejects with ENOENT; the effect traces each read', async () => {
    await expect(unixGet(socket, '/slow', 200)).rejects.toMatchObject({ rc: 5 });
    await expect(unixGet(path.join(dir, 'none.socket'), '/1.0', 1000)).rejects.toMatchObject({ code: 'ENOENT' });
    const lines: string[] = [];
    await unixGetEffect((l) => lines.push(l))(socket, '/1.0', 5000);
    expect(lines).toEqual([expect.stringMatching(/^\+ [\d.]+ms GET unix:\S+api\.socket \/1\.0 \[200\]$/)]);
  });
});
