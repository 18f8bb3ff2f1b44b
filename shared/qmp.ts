/**
 * A minimal QMP client (QEMU Machine Protocol, docs/interop/qmp-spec in QEMU): JSON
 * objects, one per line, over the VM's unix socket. On connect QEMU sends a greeting;
 * the client answers `qmp_capabilities`, then sends one command at a time and reads
 * until that command's `return` or `error`, keeping every event (`SHUTDOWN`, `STOP`,
 * `RESUME`, `JOB_STATUS_CHANGE` …) it sees on the way.
 *
 * Every call has a deadline: a QMP that does not answer in time is RC 5; a socket
 * that is missing or that nobody listens on is RC 6 (unavailable: QEMU is not there);
 * one that closes under us (the VM died) is RC 1. QEMU serves one
 * QMP client per socket at a time, so each verb connects, works, and closes.
 *
 * The QEMU guest agent (QGA, qemu-ga in the guest, docs/interop/qemu-ga-ref) speaks the
 * same framing over the VM's virtio-serial chardev socket, with three differences
 * {@link Qmp.connectAgent} handles: no greeting and no capabilities; nothing answers
 * until qemu-ga runs in the guest (a request written earlier waits in the channel); and
 * replies to a previous client's requests may still be queued. So the session starts
 * with `guest-sync-delimited` and a fresh random id, and reads until the reply that
 * returns that id (qemu-ga puts a 0xFF byte before it, which the line reader drops).
 * A handler instance keeps its agent sessions open between calls ({@link AgentPool}).
 */
import * as net from 'node:net';
import { AddressError, isReason, timedOut, toolFailed, unavailable } from './errors';

/** One QMP event as QEMU sends it. */
export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

/** Default deadline for one QMP exchange, in ms. */
export const QMP_TIMEOUT_MS = 10_000;

type Msg = Record<string, unknown>;

/** A connected, negotiated QMP session. */
export class Qmp {
  /** Events seen since connecting, oldest first. */
  readonly events: QmpEvent[] = [];
  private buf = '';
  private queue: Msg[] = [];
  private waiter: (() => void) | undefined;
  private closed: Error | undefined;
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(private readonly sock: net.Socket, private readonly path: string, private readonly label = 'QMP') {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      this.buf += d;
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        // qemu-ga's guest-sync-delimited reply starts with a raw 0xFF byte (utf8: U+FFFD).
        const line = this.buf.slice(0, nl).replace(/^[\s\uFFFD\u00FF]+/, '').trim();
        this.buf = this.buf.slice(nl + 1);
        if (!line) continue;
        try {
          const m = JSON.parse(line) as Msg;
          if (typeof m.event === 'string') this.events.push(m as unknown as QmpEvent);
          this.queue.push(m);
        } catch {
          /* not JSON: ignore the line */
        }
      }
      this.wake();
    });
    const end = (why: string) => {
      this.closed ??= new Error(why);
      this.wake();
    };
    sock.on('error', (e) => end(`${label} socket error: ${e.message}`));
    sock.on('close', () => end(`${label} socket closed by QEMU`));
  }

  /**
   * Connect to `path`, read the greeting and negotiate capabilities within `timeoutMs`.
   * Throws RC 6 (socket missing or refused: QEMU is not there), RC 1 (another socket error) or RC 5 (no greeting).
   */
  static async connect(path: string, timeoutMs = QMP_TIMEOUT_MS): Promise<Qmp> {
    const q = new Qmp(await Qmp.open(path, timeoutMs, 'QMP'), path);
    try {
      const greeting = await q.next((m) => 'QMP' in m, timeoutMs, 'the QMP greeting');
      if (!greeting) throw toolFailed(`QMP ${path}: no greeting`);
      await q.execute('qmp_capabilities', undefined, timeoutMs);
    } catch (e) {
      q.close();
      throw e;
    }
    return q;
  }

  /**
   * Connect to a guest agent's socket (`-chardev socket,...,id=qga0` on a virtserialport
   * named org.qemu.guest_agent.0) and synchronise: `guest-sync-delimited` with a random
   * id, then read until the reply returning that id, dropping anything queued before it.
   * RC 6 when the socket is missing (QEMU is not running), RC 5 when the agent does not
   * answer within `timeoutMs` (qemu-ga not started yet, or not installed in the guest).
   */
  static async connectAgent(path: string, timeoutMs = QMP_TIMEOUT_MS): Promise<Qmp> {
    const q = new Qmp(await Qmp.open(path, timeoutMs, 'QGA'), path, 'QGA');
    try {
      const id = Math.floor(Math.random() * 2 ** 31);
      const back = await q.execute<number>('guest-sync-delimited', { id }, timeoutMs);
      if (back !== id) throw toolFailed(`QGA ${path}: guest-sync-delimited returned ${JSON.stringify(back)}, not ${id}`);
    } catch (e) {
      q.close();
      if (isReason(e, 'timedOut')) throw timedOut(`QGA ${path}: the guest agent did not answer within ${Math.round(timeoutMs)} ms (qemu-ga not running in the guest yet, or not installed)`);
      throw e;
    }
    return q;
  }

  /** A connected socket, or RC 6 (missing or refused), RC 1 (other error), RC 5 (no connection in time). */
  private static open(path: string, timeoutMs: number, label: string): Promise<net.Socket> {
    return new Promise<net.Socket>((resolve, reject) => {
      const s = net.createConnection({ path });
      const t = setTimeout(() => {
        s.destroy();
        reject(timedOut(`${label} ${path}: no connection within ${Math.round(timeoutMs)} ms`));
      }, timeoutMs);
      s.once('connect', () => {
        clearTimeout(t);
        resolve(s);
      });
      s.once('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(t);
        // No socket, or nobody listening on it: QEMU is not there (RC 6), not a QMP failure.
        if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED') reject(unavailable(`${label} ${path}: no QEMU is listening (${e.code}): the VM is not running`, { cause: e }));
        else reject(toolFailed(`${label} ${path}: ${e.message}`, { cause: e }));
      });
    });
  }

  /**
   * Run one command and resolve to its `return` value. A QMP `error` reply is RC 1
   * with QEMU's `desc`; no reply in `timeoutMs` is RC 5; the socket closing is RC 1.
   */
  execute<T = unknown>(command: string, args?: Record<string, unknown>, timeoutMs = QMP_TIMEOUT_MS): Promise<T> {
    const run = async (): Promise<T> => {
      const id = `rexx-${Math.random().toString(36).slice(2)}`;
      this.sock.write(`${JSON.stringify(args ? { execute: command, arguments: args, id } : { execute: command, id })}\n`);
      const reply = await this.next((m) => m.id === id, timeoutMs, `the reply to ${command}`);
      if (reply.error) {
        const err = reply.error as { class?: string; desc?: string };
        throw toolFailed(`${this.label} ${command}: ${err.desc ?? 'error'} (${err.class ?? 'GenericError'})`);
      }
      return reply.return as T;
    };
    const p = this.chain.then(run, run);
    this.chain = p.catch(() => undefined);
    return p;
  }

  /** Wait until an event named `name` arrives (or was already seen); RC 5 at the deadline. */
  async waitEvent(name: string, timeoutMs: number): Promise<QmpEvent> {
    const seen = this.events.find((e) => e.event === name);
    if (seen) return seen;
    const m = await this.next((x) => x.event === name, timeoutMs, `the ${name} event`);
    return m as unknown as QmpEvent;
  }

  /** True once the socket has closed (QEMU exited or dropped us). */
  get isClosed(): boolean {
    return this.closed !== undefined;
  }

  close(): void {
    this.sock.destroy();
  }

  /** Whether an open session keeps the process alive (an idle kept agent session must not: AgentPool). */
  hold(on: boolean): void {
    if (on) this.sock.ref();
    else this.sock.unref();
  }

  /** The next queued message matching `pred`, waiting up to `timeoutMs`. */
  private async next(pred: (m: Msg) => boolean, timeoutMs: number, what: string): Promise<Msg> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.queue.findIndex(pred);
      if (i >= 0) return this.queue.splice(i, 1)[0]!;
      if (this.closed) throw new AddressError('toolFailed', `${this.label} ${this.path}: ${this.closed.message} while waiting for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw timedOut(`${this.label} ${this.path}: no answer within ${Math.round(timeoutMs)} ms waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.waiter = undefined;
    }
  }

  private wake(): void {
    this.waiter?.();
  }
}

/** Connect, run `fn`, always close. */
export async function withQmp<T>(path: string, fn: (q: Qmp) => Promise<T>, timeoutMs = QMP_TIMEOUT_MS): Promise<T> {
  const q = await Qmp.connect(path, timeoutMs);
  try {
    return await fn(q);
  } finally {
    q.close();
  }
}

/**
 * The QMP effect a verb gets on its context: {@link withQmp}, and under dryrun a
 * session whose queries (`query-*`) are real but whose other commands do nothing
 * (resolving to `{}`, logged as `# would qmp ...`) and whose waited-for events arrive at once.
 */
export type QmpEffect = <T>(socket: string, fn: (q: Qmp) => Promise<T>, timeoutMs?: number) => Promise<T>;

export function qmpEffect(dryrun: boolean, log: (line: string) => void): QmpEffect {
  return sessionEffect(dryrun, log, withQmp, 'qmp', (c) => c.startsWith('query-'));
}

/** Connect to a guest agent socket ({@link Qmp.connectAgent}), run `fn`, always close. */
export async function withAgent<T>(path: string, fn: (q: Qmp) => Promise<T>, timeoutMs = QMP_TIMEOUT_MS): Promise<T> {
  const q = await Qmp.connectAgent(path, timeoutMs);
  try {
    return await fn(q);
  } finally {
    q.close();
  }
}

/** How long a kept guest agent session may sit unused before it is closed, in ms (AgentPool). */
export const AGENT_IDLE_MS = 2_000;

/**
 * Guest agent sessions kept open per socket, for one handler instance (createHandler
 * makes one): back-to-back calls on a VM's agent reuse the synced session instead of
 * reconnecting, since qemu-ga sleeps ~100 ms after a client hangs up (qga/main.c) and
 * the next connect waits for it. A session is closed after `idleMs` unused (the
 * chardev serves one client at a time: another process's agent call waits at most that
 * long), when a call on it fails with a timeout or the socket closed (the next call
 * reconnects), and by {@link drop} (stop, delete, shutdown). An idle session never keeps
 * the process alive (its socket and timer are unref'd). Calls on one socket at the same
 * time share the session (QMP replies are matched by id).
 */
export class AgentPool {
  private readonly sessions = new Map<string, { q: Promise<Qmp>; users: number; timer?: ReturnType<typeof setTimeout> }>();

  constructor(private readonly idleMs = AGENT_IDLE_MS) {}

  /** Run `fn` on the session of `path` (connected and synced within `timeoutMs` when there is none). */
  async use<T>(path: string, fn: (q: Qmp) => Promise<T>, timeoutMs = QMP_TIMEOUT_MS): Promise<T> {
    let s = this.sessions.get(path);
    if (s && s.users === 0 && (await s.q.catch(() => undefined))?.isClosed) {
      this.drop(path);
      s = undefined;
    }
    if (!s) {
      s = { q: Qmp.connectAgent(path, timeoutMs), users: 0 };
      this.sessions.set(path, s);
    }
    const mine = s;
    clearTimeout(mine.timer);
    mine.users++;
    let q: Qmp | undefined;
    try {
      q = await mine.q;
      q.hold(true);
      return await fn(q);
    } catch (e) {
      // A broken or late session is not reused: the next call connects afresh.
      if (!q || q.isClosed || isReason(e, 'timedOut')) this.forget(path, mine);
      throw e;
    } finally {
      mine.users--;
      if (mine.users === 0 && this.sessions.get(path) === mine) {
        q?.hold(false);
        mine.timer = setTimeout(() => this.forget(path, mine), this.idleMs);
        mine.timer.unref?.();
      }
    }
  }

  /** Close the kept session of `path`, if any (its QEMU stops or goes away). */
  drop(path: string): void {
    const s = this.sessions.get(path);
    if (s) this.forget(path, s);
  }

  /** Close every kept session. */
  dropAll(): void {
    for (const path of [...this.sessions.keys()]) this.drop(path);
  }

  private forget(path: string, s: { q: Promise<Qmp>; timer?: ReturnType<typeof setTimeout> }): void {
    clearTimeout(s.timer);
    if (this.sessions.get(path) === s) this.sessions.delete(path);
    s.q.then((q) => q.close(), () => undefined);
  }
}

/** Guest agent commands that only read (qga/qapi-schema.json): under dryrun they still reach the agent. */
export const QGA_READS = /^guest-(?:ping|info|sync|sync-delimited|get-[a-z-]+|network-get-interfaces|exec-status|fsfreeze-status)$/;

/**
 * The guest agent effect a verb gets on its context (`ctx.qga`): {@link withAgent}, or
 * the handler instance's {@link AgentPool} when given (sessions kept open), and
 * under dryrun a session whose reading commands ({@link QGA_READS}) are real and whose
 * other commands (guest-exec, guest-file-*, guest-shutdown …) do nothing (resolving to
 * `{}`, logged as `# would qga ...`).
 */
export function qgaEffect(dryrun: boolean, log: (line: string) => void, pool?: AgentPool): QgaEffect {
  const effect: QgaEffect = sessionEffect(dryrun, log, pool ? (sock, fn, t) => pool.use(sock, fn, t) : withAgent, 'qga', (c) => QGA_READS.test(c));
  effect.drop = (sock) => pool?.drop(sock);
  return effect;
}

/** ctx.qga: the agent effect, and `drop(socket)` to close a session the handler keeps ({@link AgentPool}). */
export type QgaEffect = QmpEffect & { drop?: (socket: string) => void };

function sessionEffect(dryrun: boolean, log: (line: string) => void, connect: QmpEffect, label: string, reads: (command: string) => boolean): QmpEffect {
  if (!dryrun) return connect;
  return (socket, fn, timeoutMs) =>
    connect(socket, (q) => {
      const planned = Object.create(q) as Qmp;
      planned.execute = (<T>(command: string, args?: Record<string, unknown>, t?: number): Promise<T> => {
        if (reads(command)) return q.execute<T>(command, args, t);
        log(`# would ${label} ${socket} ${JSON.stringify(args ? { execute: command, arguments: args } : { execute: command })}`);
        return Promise.resolve({} as T);
      }) as Qmp['execute'];
      planned.waitEvent = async (name: string) => ({ event: name });
      return fn(planned);
    }, timeoutMs);
}
