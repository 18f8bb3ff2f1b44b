/**
 * QEMU's migration stream, as save_state / restore_state / migrate use it (QEMU 7.2,
 * docs/devel/migration.rst; qapi/migration.json): QMP `migrate` sends the VM's device
 * and RAM state to a URI, `migrate-incoming` on a QEMU started with `-incoming defer`
 * receives it, `query-migrate` reports the progress and the outcome.
 *
 * A saved state goes to a file through a compressor, never through QEMU's `exec:` URI
 * (a shell line QEMU would run): QEMU writes to a unix socket on which
 * `socat -u UNIX-LISTEN:SOCK STDOUT` listens, piped (ctx.runPipeline, argv only) into
 * `lz4` / `zstd` writing the file, or `dd of=FILE`. Restoring pipes the decompressed file
 * into `socat -u STDIN UNIX-CONNECT:SOCK`, the socket the incoming QEMU listens on.
 */
import * as path from 'node:path';
import { toolFailed, usageError } from '../../shared/errors';
import type { ProgressTask } from '../../shared/progress';
import type { Qmp } from '../../shared/qmp';
import type { RunResult } from '../../shared/runner';
import type { Ctx } from '../../shared/verb';

export const COMPRESSORS = ['lz4', 'zstd', 'none'] as const;
export type Compress = (typeof COMPRESSORS)[number];

/** The memory file of a saved state, by compressor. */
export const MEMORY_FILE: Record<Compress, string> = { lz4: 'memory.lz4', zstd: 'memory.zst', none: 'memory.raw' };

/** What `query-migrate` answers (the fields used here; times in ms, sizes in bytes). */
export interface MigrateInfo {
  status: string;
  'total-time'?: number;
  downtime?: number;
  'setup-time'?: number;
  'error-desc'?: string;
  ram?: { transferred?: number; total?: number; remaining?: number };
}

/**
 * A path socat may be given in an address (`UNIX-LISTEN:PATH`): socat reads ':' ',' '!'
 * and brackets as its own syntax, so only plain characters pass (RC 2 otherwise).
 */
export function socatPath(p: string): string {
  if (!/^\/[A-Za-z0-9/_.+-]+$/.test(p)) throw usageError(`${p}: the migration socket path must be made of letters, digits and / _ . + - (socat reads other characters as its syntax): use a plainer REXX_QEMU_DIR`);
  return p;
}

/** The compressor stage writing `file` from stdin (lz4 -1 / zstd -1: fast levels), or dd for none. */
function writer(c: Compress, file: string): string[] {
  if (c === 'lz4') return ['lz4', '-q', '-1', '-', file];
  if (c === 'zstd') return ['zstd', '-q', '-1', '-o', file];
  return ['dd', `of=${file}`, 'bs=1M', 'status=none'];
}

/**
 * Start listening on `sock` and writing what arrives, compressed, into `file`; resolves
 * once the socket is there, to the stream's end (a RunResult: not ok when a stage failed).
 */
export async function listenInto(ctx: Ctx, sock: string, file: string, c: Compress, timeoutMs: number): Promise<{ done: Promise<RunResult>; abort(): Promise<void> }> {
  ctx.fs.remove(sock);
  const done = ctx.runPipeline([['socat', '-u', `UNIX-LISTEN:${socatPath(sock)}`, 'STDOUT'], writer(c, file)], { timeoutMs });
  let ended: RunResult | undefined;
  void done.then((r) => (ended = r));
  await ctx.poll(
    async () => {
      if (ended) throw toolFailed(`the state writer ended before QEMU connected: ${ended.stderr || `exit ${ended.exitCode}`}`);
      return ctx.fs.exists(sock) ? true : undefined;
    },
    { timeoutMs: 10_000, initialMs: 5, maxMs: 50, what: `socat to listen on ${sock}` },
  );
  return {
    done,
    // When QEMU never connected (its migrate failed first), the listener would wait out
    // its timeout: an empty connection ends it (end of file), then it is awaited.
    async abort() {
      if (!ended) await ctx.run(['socat', '-u', 'OPEN:/dev/null', `UNIX-CONNECT:${sock}`], { timeoutMs: 5_000 });
      await done;
    },
  };
}

/** Feed `file` (decompressed) into the unix socket `sock` an incoming QEMU listens on. */
export function feedFrom(ctx: Ctx, file: string, c: Compress, sock: string, timeoutMs: number): Promise<RunResult> {
  const connect = ['socat', '-u', 'STDIN', `UNIX-CONNECT:${socatPath(sock)}`];
  if (c === 'none') return ctx.run(connect, { inputFile: file, timeoutMs });
  return ctx.runPipeline([[c, '-q', '-d', '-c', file], connect], { timeoutMs });
}

/**
 * Poll `query-migrate` on `q` until the migration completed (its info) or failed /
 * was cancelled (RC 1 with QEMU's error-desc); RC 5 at the deadline. Under dryrun it
 * answers at once with a planned `completed`.
 */
export async function awaitMigration(ctx: Ctx, q: Qmp, timeoutMs: number, what: string): Promise<MigrateInfo> {
  // Bytes sent of the RAM QEMU reports, as the stream goes (ctx.progress).
  const task = ctx.progress(what, { unit: 'bytes' });
  try {
    return await pollMigration(ctx, q, timeoutMs, what, task);
  } finally {
    task.end();
  }
}

async function pollMigration(ctx: Ctx, q: Qmp, timeoutMs: number, what: string, task: ProgressTask): Promise<MigrateInfo> {
  const r = await ctx.poll(
    async () => {
      const info = await q.execute<MigrateInfo>('query-migrate');
      if (info.ram?.transferred) task.set(info.ram.transferred);
      if (info.status === 'completed') return info;
      if (info.status === 'failed' || info.status === 'cancelled') throw toolFailed(`${what}: QMP query-migrate says ${info.status}${info['error-desc'] ? `: ${info['error-desc']}` : ''}`);
      return undefined;
    },
    { timeoutMs, initialMs: 5, maxMs: 20, what },
  );
  return r.value ?? { status: 'completed' };
}

/** The name of the block node the guest's disk writes to now (disk0, or the overlay save_state put over it). */
export async function activeDiskNode(q: Qmp): Promise<string> {
  const blocks = await q.execute<Array<{ inserted?: { 'node-name'?: string } }>>('query-block');
  const node = blocks.map((b) => b.inserted?.['node-name'] ?? '').find((n) => n === 'disk0' || n.startsWith('disk0-'));
  if (!node) throw toolFailed('QMP query-block: no disk0 node (the VM was not started by this handler?)');
  return node;
}

/** The path of a socket in the VM's folder, its length checked (a unix socket path has at most 107 bytes). */
export function vmSocket(dir: string, name: string): string {
  const p = path.join(dir, name);
  if (p.length > 107) throw usageError(`the socket path ${p} is longer than 107 bytes: use a shorter VM name or REXX_QEMU_DIR`);
  return socatPath(p);
}
