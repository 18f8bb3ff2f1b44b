/**
 * A read of a daemon's REST API over its unix socket (HTTP/1.1 GET, no TLS): the LXD
 * API at /var/lib/lxd/unix.socket, which `lxc query PATH` reads too. Asking the socket
 * directly costs about 2 ms here, where starting `lxc query` costs about 40 ms; so a
 * verb that looks before it acts (is the instance a base? is it stopped?) no longer
 * pays a second process for the look. Reads only: everything that changes state still
 * goes through the tool's own command (the runner), so dryrun records it.
 */
import * as http from 'node:http';
import { timedOut } from './errors';

/** The answer of {@link unixGet}: the HTTP status, the body as text (utf8), and the headers (names in lower case). */
export interface UnixGetAnswer {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/**
 * `GET urlPath` from the HTTP server on unix socket `socket`. Rejects with RC 5
 * (timedOut) when there is no whole answer within `timeoutMs` ms; with the socket's own
 * error (an `Error` with `code` ENOENT, ECONNREFUSED, EACCES …) when it cannot connect.
 */
export function unixGet(socket: string, urlPath: string, timeoutMs: number): Promise<UnixGetAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath: socket, path: urlPath, agent: false, headers: { host: 'unix.socket' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(timedOut(`GET ${urlPath} on ${socket} took over ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** {@link unixGet} as a verb sees it (`ctx.get`): the same, with a trace line per read. */
export type UnixGetEffect = (socket: string, urlPath: string, timeoutMs: number) => Promise<UnixGetAnswer>;

/** The `ctx.get` of one call: {@link unixGet}, with `log` (the runner's trace) told `+ MSms GET unix:SOCKET PATH [status]` (a read: it runs under dryrun too). */
export function unixGetEffect(log: (line: string) => void): UnixGetEffect {
  return async (socket, urlPath, timeoutMs) => {
    const t0 = performance.now();
    let status = 'failed';
    try {
      const r = await unixGet(socket, urlPath, timeoutMs);
      status = String(r.status);
      return r;
    } finally {
      log(`+ ${Math.round((performance.now() - t0) * 10) / 10}ms GET unix:${socket} ${urlPath} [${status}]`);
    }
  };
}
