/**
 * The one way any handler runs an external command: execa with an argument array
 * (never a shell string, never `shell: true`, never sudo), a timeout, captured
 * stdout/stderr/exit code. A failure is returned as a RunResult, never thrown.
 *
 * Cancellation: a runner given `signal` (an AbortSignal) starts every command in its
 * own process group (setsid), and when the signal aborts it ends each group it started
 * (first the command's RunOptions.onCancel, for work that runs outside the group; then
 * SIGINT; then SIGKILL after CANCEL_GRACE_MS) and starts nothing more: a later command
 * returns at once, failed, with `cancelled: true`.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Options } from 'execa';

/**
 * execa, loaded on the first command: a call that runs nothing (help, usage errors,
 * dryrun) does not pay for reading it (most of a CLI start-up).
 */
const execa = (file: string, args: readonly string[], options: Options) =>
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  (require('execa') as typeof import('execa')).execa(file, args, options);
import { argvLine } from './parse';

/** What running one command produced, success or not. */
export interface RunResult {
  /** The exact argument vector that was (or would have been) run. */
  argv: string[];
  /** exit code 0, not killed, not timed out. */
  ok: boolean;
  /** Exit code, or null when the process was killed or never started. */
  exitCode: number | null;
  /** Signal that ended the process, if any (e.g. SIGTERM after a timeout). */
  signal: string | null;
  timedOut: boolean;
  /** The binary could not be started (ENOENT/EACCES): backend unavailable. */
  missing: boolean;
  stdout: string;
  stderr: string;
  /** Wall-clock duration in ms. */
  durationMs: number;
  /** True when dryrun recorded the command instead of running it. */
  dryrun?: boolean;
  /** True when the runner's signal aborted: the command was ended (its process group), or never started. */
  cancelled?: boolean;
  /** runPipeline with `countBytes` or `onBytes` only: bytes the first stage wrote into the pipe (the stream's size). */
  bytes?: number;
  /** runPipeline with `first` only: it resolved to undefined, so no first stage ran (the stages started early were ended). */
  skipped?: boolean;
  /** `run` with `stopWhen`: it said enough, and the command was ended (SIGTERM); ok is true then. */
  stopped?: boolean;
}

export interface RunOptions {
  /** Kill the command after this many ms (default 60 000). */
  timeoutMs?: number;
  /** Text written to the command's stdin. */
  input?: string;
  /** A file to use as stdin. */
  inputFile?: string;
  /** Where stdout/stderr go: captured (default) or ignored (for daemons that keep fds open). */
  stdio?: 'pipe' | 'ignore';
  /** Extra environment variables (merged over the runner's environment). */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** A query that changes nothing: it still runs under dryrun so later argv are exact. */
  readOnly?: boolean;
  /**
   * Called with each piece of stdout (utf8) as it arrives, for a tool that reports its
   * own progress there (`qemu-img convert -p`); the whole stdout is still returned.
   * Not called under dryrun (nothing runs). With `runPipeline`, the last stage's stdout:
   * with `first`, also while the first stage is not yet known (a receiving end that
   * answers a question before the stream comes, see {@link FirstStage}).
   */
  onStdout?: (text: string) => void;
  /**
   * `run` only: called with all stdout so far each time more arrives; when it returns true
   * the command is ended (SIGTERM), and the result is ok with `stopped` (for a command that
   * runs until told to stop, as `lxc monitor` does, read until what was waited for came).
   */
  stopWhen?: (stdout: string) => boolean;
  /**
   * `runPipeline` only: called with the running total of bytes the first stage has
   * written into the second (`zfs send | zfs receive`), for a byte count and rate; a tool
   * that prints no progress of its own (zfs-fuse's `zfs send` has no -v) still gets one.
   */
  onBytes?: (total: number) => void;
  /** `runPipeline` only: fill `bytes` with the stream's size (implied by `onBytes`); see runPipeline for how it is counted. */
  countBytes?: boolean;
  /**
   * `runPipeline` only: the first stage, when it is known only later. `argvs` are then the
   * stages after it, and they start at once (a receiving end whose start-up is slow, as an
   * ssh connection is, gets ready while the caller still decides what to send); the first
   * stage starts when this resolves to its argv. When it resolves to undefined (or
   * rejects), or a stage started early has already failed, no first stage starts: nothing
   * was written into the others, which are ended (SIGKILL; they read end of file). The
   * result is then `skipped` (ok false), or that stage's failure. Under dryrun only the
   * whole line is recorded, once the first stage is known; nothing starts early.
   * A stage started early that ends before the first stage is known ends the wait: the
   * result is then its own (the caller learns of it through this promise, not by waiting
   * for a decision that may never come).
   */
  first?: Promise<string[] | FirstStage | undefined>;
  /**
   * Called when the call is cancelled while this command runs, before its process group
   * is ended: for a command whose work runs outside that group (a guest command that a
   * daemon started, as `lxc exec`'s), to end that work while it can still be found.
   */
  onCancel?: () => void;
  /**
   * `run` only: called when `timeoutMs` runs out, just before the command is killed, for
   * the same kind of clean-up as `onCancel` (work a daemon runs outside the command's
   * process group, which killing the client does not reach). The result then says
   * `timedOut`, even when that clean-up made the command end by itself first.
   */
  onTimeout?: () => void;
}

/**
 * A deferred first stage ({@link RunOptions.first}) with a `lead`: text written into the
 * next stage's stdin before the first stage's output, for a receiving end that reads one
 * line to choose what it runs on the rest (replicate's remote script). Not counted in
 * `bytes`.
 */
export interface FirstStage {
  argv: string[];
  lead?: string;
}

export interface RunnerOptions {
  /** Record mutating commands instead of running them. */
  dryrun?: boolean;
  /** Print each argv and its duration in ms to stderr. */
  trace?: boolean;
  /** Base environment for every command (default: process.env). */
  env?: Record<string, string | undefined>;
  /** Default timeout in ms for commands that don't give one (default 60 000). */
  defaultTimeoutMs?: number;
  /** Where trace lines go (default process.stderr). */
  traceSink?: (line: string) => void;
  /**
   * Cancels the call: when it aborts, every command this runner started is ended with
   * its whole process group, and no further command starts (see the file comment).
   * Without it commands stay in the caller's process group, as a shell's children do.
   */
  signal?: AbortSignal;
}

/** A function that runs one argv; handlers receive it through their context. */
export type Run = (argv: string[], opts?: RunOptions) => Promise<RunResult>;
/** Runs argv[0] | argv[1] | ... with both ends as argument arrays, no shell. */
export type RunPipeline = (argvs: string[][], opts?: RunOptions) => Promise<RunResult>;

export const DEFAULT_TIMEOUT_MS = 60_000;

/** After a cancel, how long a process group has to end on SIGINT before it gets SIGKILL (ms). */
export const CANCEL_GRACE_MS = 1_000;

/** How long before a command's timeout its `onTimeout` clean-up runs (ms). */
export const TIMEOUT_CLEANUP_LEAD_MS = 50;

export { argvLine };

/** A runner bound to one verb call: it knows dryrun/trace and records what it ran. */
export class Runner {
  /** Every command line recorded under dryrun, in order. */
  readonly planned: string[] = [];
  readonly dryrun: boolean;
  readonly trace: boolean;
  private readonly env: Record<string, string | undefined>;
  /** Is pv on PATH (see byteCounter); undefined until first asked. */
  private pv: boolean | undefined;
  private readonly defaultTimeoutMs: number;
  private readonly sink: (line: string) => void;
  private readonly signal?: AbortSignal;
  /** Process group ids (the leaders' pids) of the commands running now, when cancellable, with their onCancel. */
  private readonly groups = new Map<number, (() => void) | undefined>();

  constructor(o: RunnerOptions = {}) {
    this.signal = o.signal;
    o.signal?.addEventListener('abort', () => this.endGroups(), { once: true });
    this.dryrun = o.dryrun ?? false;
    this.trace = o.trace ?? false;
    this.env = o.env ?? process.env;
    this.defaultTimeoutMs = o.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.sink = o.traceSink ?? ((l) => process.stderr.write(`${l}\n`));
  }

  /** Write a diagnostic line to the trace sink when trace is on. */
  log = (line: string): void => {
    if (this.trace) this.sink(line);
  };

  /** Run one command. See {@link RunResult}; never throws for a failing command. */
  run: Run = async (argv, opts = {}) => {
    checkArgv(argv);
    if (this.dryrun && !opts.readOnly) return this.record(argv);
    if (this.signal?.aborted) return this.refused(argv);
    const started = performance.now();
    const sub = execa(argv[0]!, argv.slice(1), this.execaOptions(opts));
    if (opts.onStdout) sub.stdout?.on('data', (chunk: Buffer | string) => opts.onStdout!(String(chunk)));
    let stopped = false;
    if (opts.stopWhen) {
      let seen = '';
      sub.stdout?.on('data', (chunk: Buffer | string) => {
        seen += String(chunk);
        if (!stopped && opts.stopWhen!(seen)) {
          stopped = true;
          sub.kill('SIGTERM');
        }
      });
    }
    let expired = false;
    const timeoutMs = opts.timeoutMs ?? this.defaultTimeoutMs;
    // Run the clean-up a moment before execa kills the client, while what the daemon runs can still be found.
    const timer = opts.onTimeout && Number.isFinite(timeoutMs)
      ? setTimeout(() => {
          expired = true;
          try {
            opts.onTimeout!();
          } catch (e) {
            this.log(`+ timeout clean-up failed: ${e instanceof Error ? e.message : String(e)}`);
          }
        }, Math.max(0, timeoutMs - TIMEOUT_CLEANUP_LEAD_MS))
      : undefined;
    let r;
    try {
      r = await this.tracked(sub, opts.onCancel);
    } finally {
      clearTimeout(timer);
    }
    const res = this.finish(argv, r, started);
    if (stopped && !res.timedOut) return { ...res, ok: true, stopped: true };
    return expired && !res.ok && !res.timedOut ? { ...res, timedOut: true } : res;
  };

  /**
   * Run a pipeline `a | b | ...` of argv arrays; the result is the last command's, failures
   * of any stage reported. Stages are joined as a shell joins them: each one's stdout is
   * handed to the next as its stdin (the OS carries the stream; this process holds no end
   * of it, so a reader that ends gives its writer EPIPE, as in a shell). Relaying the
   * stream through Node instead cost 0.6 s of CPU per 200 MB here, taken from the tools.
   * With `countBytes` (or `onBytes`) the stream's size comes from `pv -n -b` (Debian pv)
   * as a stage after the first, when it is installed; else the first link is relayed
   * through this process and counted there.
   */
  runPipeline: RunPipeline = async (argvs, opts = {}) => {
    argvs.forEach(checkArgv);
    const flat = (all: string[][]) => all.flatMap((a, i) => (i === 0 ? a : ['|', ...a]));
    const decided = opts.first?.then(
      (a): FirstStage | undefined => (a === undefined ? undefined : Array.isArray(a) ? { argv: a } : a),
      () => undefined,
    );
    if (this.dryrun && !opts.readOnly) {
      if (!decided) return this.record(flat(argvs));
      const head = await decided;
      return head ? this.record(flat([head.argv, ...argvs])) : this.skip(argvs);
    }
    if (this.signal?.aborted) return this.refused(flat(argvs));
    const started = performance.now();
    // (no execa timeout per stage: the deadline below is the pipeline's one timeout)
    const base: Options = { ...this.execaOptions(opts), timeout: undefined };
    const counting = opts.countBytes === true || opts.onBytes !== undefined;
    const counter = counting ? this.byteCounter() : undefined;
    type Stage = ReturnType<typeof execa>;
    const stages: Stage[] = [];
    // One deadline for the whole pipeline, not execa's per stage (that one starts with each
    // stage, and execa does not call a stage whose stdin was handed over timed out): when it
    // passes, every stage still running is killed and the result says timedOut.
    const timeoutMs = opts.timeoutMs ?? this.defaultTimeoutMs;
    let expired = false;
    const deadline = Number.isFinite(timeoutMs)
      ? setTimeout(() => {
          for (const s of stages) {
            if (s.exitCode === null && s.signalCode === null) {
              expired = true;
              s.kill('SIGKILL');
            }
          }
        }, timeoutMs)
      : undefined;
    // A stage still running at the deadline was killed: the pipeline did not complete, whatever its stages' results say.
    const timedOutIfExpired = (res: RunResult): RunResult => (expired && !res.timedOut ? { ...res, ok: false, timedOut: true } : res);
    const go = async (): Promise<RunResult> => {
      // Each stage's end (its process group tracked for a cancel from the moment it starts),
      // in pipeline order, with the counter in it when there is one.
      const ends: Array<Promise<any>> = [];
      const stoppedByUs = new Set<Stage>();
      const watched = new Set<Stage>();
      const settled: Array<Promise<unknown>> = [];
      let tailFailed = false;
      let bytes = 0;
      /**
       * Start `a` at index `at` of the pipeline. `from`: the stdout of the stage before,
       * handed over as this one's stdin, or 'pipe' (this process writes it); `to`: the stdin
       * of a stage started earlier, handed over as this one's stdout. What is handed over is
       * closed here at once (the child has its own copy); execa calls that a premature close
       * of the stages on either side, which is no failure of theirs (see handedOver).
       */
      const start = (a: string[], at: number, o: { from?: Stage['stdout'] | 'pipe'; to?: Stage['stdin']; last?: boolean } = {}) => {
        const s = execa(a[0]!, a.slice(1), {
          ...(o.last ? base : { ...base, buffer: { stdout: false } }),
          ...(o.from !== undefined ? { input: undefined, inputFile: undefined, stdin: o.from as 'pipe' } : {}),
          ...(o.to ? { stdout: o.to as unknown as 'pipe' } : {}),
        });
        stages.splice(at, 0, s);
        ends.splice(at, 0, this.tracked(s).then(handedOver));
        if (o.from && o.from !== 'pipe') o.from.destroy();
        o.to?.destroy();
        return s;
      };
      // A stage that fails reads nothing more, and a stage before it might wait on a full
      // pipe (a tool that stops writing but does not exit): kill those, as a shell's SIGPIPE would.
      const watch = (s: Stage) => {
        if (watched.has(s)) return;
        watched.add(s);
        settled.push(
          ends[stages.indexOf(s)]!.then((r) => {
            if (!r.failed) return;
            tailFailed = true;
            for (const up of stages.slice(0, stages.indexOf(s))) {
              if (up.exitCode === null && up.signalCode === null) {
                stoppedByUs.add(up);
                up.kill('SIGKILL');
              }
            }
          }),
        );
      };
      const relayInto = (s: Stage, into: NonNullable<Stage['stdin']>) => {
        s.stdout!.pipe(into);
        s.stdout!.on('data', (c: Buffer) => {
          bytes += c.length;
          opts.onBytes?.(bytes);
        });
      };
      let head: string[] | undefined;
      let pv: Stage | undefined;
      const tail = () => stages[stages.length - 1]!;
      if (decided) {
        // The later stages first; the first joins them once it is known. The one right
        // after it reads from this process until then (it may be given a lead line).
        argvs.forEach((a, k) => start(a, k, { from: k === 0 ? 'pipe' : stages[k - 1]!.stdout, last: k === argvs.length - 1 }));
        stages.forEach(watch);
        if (opts.onStdout) tail().stdout?.on('data', (chunk: Buffer | string) => opts.onStdout!(String(chunk)));
        // Until the first stage is known, or an early stage ends by itself (then nothing more can be decided).
        const early = [...ends];
        const first = await Promise.race([decided, Promise.race(early).then(() => 'ended' as const)]);
        const lead = first === 'ended' ? undefined : first?.lead;
        head = first === 'ended' ? undefined : first?.argv;
        if (first === 'ended') {
          for (const s of stages) if (s.exitCode === null && s.signalCode === null) s.kill('SIGKILL');
          const ended = await Promise.all(early);
          await Promise.all(settled);
          const failed = ended.find((r) => r.failed) ?? ended[ended.length - 1]!;
          return { ...this.finish(flat(argvs), failed, started), stdout: String(ended[ended.length - 1]!.stdout ?? ''), bytes: 0 };
        }
        if (head) checkArgv(head);
        if (!head || tailFailed || this.signal?.aborted) {
          // End of file for the receiving stage (and anything it started), and the stages killed.
          stages[0]!.stdin?.destroy();
          for (const s of stages) if (s.exitCode === null && s.signalCode === null) s.kill('SIGKILL');
          const ended = await Promise.all(early);
          await Promise.all(settled);
          const failed = head ? ended.find((r) => r.failed) : undefined;
          if (failed) return { ...this.finish(flat([head!, ...argvs]), failed, started), bytes: 0 };
          return this.skip(argvs);
        }
        const into = stages[0]!.stdin!;
        // The lead is in the pipe before any byte of the stream can be.
        if (lead) await new Promise<void>((ok) => into.write(lead, () => ok()));
        if (counting && !counter) relayInto(start(head, 0), into);
        else if (counter) pv = start(counter, 1, { from: start(head, 0).stdout, to: into });
        else start(head, 0, { to: into });
      } else {
        argvs.forEach((a, i) => {
          const last = i === argvs.length - 1;
          if (i === 0) return void start(a, 0, { last });
          if (i === 1 && counting && !counter) return void relayInto(stages[0]!, start(a, stages.length, { from: 'pipe', last }).stdin!);
          if (i === 1 && counter) pv = start(counter, stages.length, { from: stages[0]!.stdout });
          start(a, stages.length, { from: tail().stdout, last });
        });
        if (opts.onStdout) tail().stdout?.on('data', (chunk: Buffer | string) => opts.onStdout!(String(chunk)));
      }
      if (pv) {
        let text = '';
        pv.stderr?.on('data', (c: Buffer | string) => {
          text = (text + String(c)).slice(-100);
          const n = lastCount(text);
          if (n !== undefined && n !== bytes) opts.onBytes?.((bytes = n));
        });
      }
      stages.slice(1).forEach(watch);
      const all = await Promise.all(ends);
      await Promise.all(settled);
      const last = all[all.length - 1]!;
      // (execa strips the final newline)
      if (pv) bytes = lastCount(`${String(all[stages.indexOf(pv)]!.stderr ?? '')}\n`) ?? bytes;
      // With reject:false every stage resolves; the first stage that failed by itself (not
      // one killed above because a later one failed) is the one to report.
      // A writer whose reader ended gets a broken pipe; that reader's failure is the one to report.
      const own = all.filter((r, i) => r.failed && !stoppedByUs.has(stages[i]!));
      const failed = own.find((r) => !brokenPipe(r)) ?? own[0] ?? all.find((r) => r.failed) ?? last;
      const res = this.finish(flat(head ? [head, ...argvs] : argvs), failed, started);
      return { ...res, stdout: String(last.stdout ?? ''), ...(counting ? { bytes } : {}) };
    };
    try {
      return timedOutIfExpired(await go());
    } finally {
      clearTimeout(deadline);
    }
  };

  /** `pv -n -b` (the stream's size in bytes on stderr: every 0.5 s and at its end) when pv is on PATH, else undefined; looked up once per runner. */
  private byteCounter(): string[] | undefined {
    if (this.pv === undefined) {
      const dirs = String(this.env.PATH ?? '').split(':').filter(Boolean);
      this.pv = dirs.some((d) => {
        try {
          fs.accessSync(path.join(d, 'pv'), fs.constants.X_OK);
          return true;
        } catch {
          return false;
        }
      });
    }
    return this.pv ? ['pv', '-n', '-b', '-i', '0.5'] : undefined;
  }

  private execaOptions(opts: RunOptions): Options {
    const stdio = opts.stdio === 'ignore' ? ('ignore' as const) : ('pipe' as const);
    return {
      reject: false,
      shell: false,
      timeout: opts.timeoutMs ?? this.defaultTimeoutMs,
      killSignal: 'SIGKILL' as const,
      forceKillAfterDelay: false as const,
      input: opts.input,
      inputFile: opts.inputFile,
      stdin: opts.input !== undefined || opts.inputFile !== undefined ? undefined : ('ignore' as const),
      stdout: stdio,
      stderr: stdio,
      env: { ...this.env, ...opts.env },
      extendEnv: false,
      cwd: opts.cwd,
      // Its own process group, so a cancel can end the command and everything it started.
      detached: this.signal !== undefined,
      stripFinalNewline: true,
      encoding: 'utf8' as const,
      maxBuffer: 256 * 1024 * 1024,
    };
  }

  /** Keep a started command's process group in `groups` until it ends. */
  private async tracked<T>(sub: Promise<T> & { pid?: number }, onCancel?: () => void): Promise<T> {
    const pid = this.signal ? sub.pid : undefined;
    if (pid !== undefined) this.groups.set(pid, onCancel);
    try {
      return await sub;
    } finally {
      if (pid !== undefined) this.groups.delete(pid);
    }
  }

  /** The cancel: SIGINT to every process group running now, SIGKILL to those still there after CANCEL_GRACE_MS. */
  private endGroups(): void {
    const groups = [...this.groups.keys()];
    for (const onCancel of this.groups.values()) {
      try {
        onCancel?.();
      } catch (e) {
        this.log(`+ cancel clean-up failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    const send = (sig: NodeJS.Signals) => {
      for (const g of groups) {
        try {
          process.kill(-g, sig);
        } catch {
          /* the group has ended (ESRCH) */
        }
      }
    };
    send('SIGINT');
    if (groups.length) setTimeout(() => send('SIGKILL'), CANCEL_GRACE_MS).unref();
  }

  /** A pipeline whose deferred first stage was called off: nothing was written, nothing to report. */
  private skip(argvs: string[][]): RunResult {
    this.log(`+ not started (no first stage): ${argvs.map((a) => argvLine(a)).join(' | ')}`);
    return {
      argv: argvs.flat(), ok: false, exitCode: null, signal: null, timedOut: false, missing: false,
      stdout: '', stderr: 'the first stage was called off', durationMs: 0, skipped: true, bytes: 0,
    };
  }

  /** A command asked for after the cancel: not started. */
  private refused(argv: string[]): RunResult {
    this.log(`+ cancelled, not run: ${argvLine(argv)}`);
    return {
      argv, ok: false, exitCode: null, signal: 'SIGINT', timedOut: false, missing: false,
      stdout: '', stderr: 'cancelled before it started', durationMs: 0, cancelled: true,
    };
  }

  private record(argv: string[]): RunResult {
    this.planned.push(argvLine(argv));
    return {
      argv, ok: true, exitCode: 0, signal: null, timedOut: false, missing: false,
      stdout: '', stderr: '', durationMs: 0, dryrun: true,
    };
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private finish(argv: string[], r: any, started: number): RunResult {
    const durationMs = Math.round((performance.now() - started) * 10) / 10;
    const code: string | undefined = r.code ?? r.cause?.code;
    const missing = r.exitCode === undefined && (code === 'ENOENT' || code === 'EACCES');
    const res: RunResult = {
      argv,
      ok: !r.failed,
      exitCode: r.exitCode ?? null,
      signal: r.signal ?? null,
      timedOut: Boolean(r.timedOut),
      missing,
      stdout: typeof r.stdout === 'string' ? r.stdout : '',
      // execa gives stderr '' when the binary could not be started: say why instead.
      stderr: missing ? String(r.shortMessage || r.stderr || '') : typeof r.stderr === 'string' ? r.stderr : '',
      durationMs,
    };
    if (this.signal?.aborted && r.failed) res.cancelled = true;
    if (this.trace) {
      const status = res.ok ? '' : ` [${res.timedOut ? 'timed out' : res.missing ? 'missing' : `exit ${res.exitCode ?? res.signal}`}]`;
      this.sink(`+ ${durationMs}ms ${argvLine(argv)}${status}`);
    }
    return res;
  }
}

/** Refuse an argv that could never be right (empty, NUL bytes): a programming error. */
function checkArgv(argv: readonly string[]): void {
  if (argv.length === 0 || !argv[0]) throw new Error('runner: empty argv');
  for (const a of argv) {
    if (typeof a !== 'string') throw new Error(`runner: non-string argument in ${JSON.stringify(argv)}`);
    if (a.includes('\0')) throw new Error('runner: NUL byte in an argument');
  }
}

/** The last whole number line of `pv -n -b`'s output (bytes so far), if any. */
function lastCount(text: string): number | undefined {
  const m = /(?:^|\n)(\d+)\n$/.exec(text.slice(0, text.lastIndexOf('\n') + 1));
  return m ? Number(m[1]) : undefined;
}

/** A stage that ended because what it wrote into was closed (SIGPIPE, EPIPE; ECONNRESET, as the stdio socket pairs of Node's children give it). */
function brokenPipe(r: any): boolean {
  return r.signal === 'SIGPIPE' || /broken pipe|connection reset by peer/i.test(String(r.stderr ?? ''));
}

/**
 * The result of a pipeline stage whose stdin or stdout this process handed to its
 * neighbour and closed: execa reports that as a premature close even when the stage did
 * all its work; the stage's own exit (status, signal, timeout) decides.
 */
function handedOver(r: any): any {
  const code = r.code ?? r.cause?.code;
  if (code !== 'ERR_STREAM_PREMATURE_CLOSE') return r;
  return { ...r, code: undefined, cause: undefined, failed: !(r.exitCode === 0 && !r.signal && !r.timedOut) };
}
