/**
 * A fake runner for unit tests of argument building and of failures the real tool
 * can't be made to produce: passed to `createHandler(table, { runner })`, it answers
 * each argv from a function instead of running anything, records every call, and
 * records under dryrun exactly as the real Runner does (so COMMANDS is the same).
 */
import type { CallRunner } from '../../shared/dispatch';
import { argvLine, type RunOptions, type RunResult, type RunnerOptions } from '../../shared/runner';

/** What the fake answers for one argv (default: exit 0, no output). */
export interface FakeReply {
  exitCode?: number;
  stdout?: string;
  stderr?: string;
  /** The binary is not installed (ENOENT). */
  missing?: boolean;
  timedOut?: boolean;
}

export interface FakeRunner {
  /** The factory to pass as `createHandler(table, { runner })`. */
  runner: (o: RunnerOptions) => CallRunner;
  /** Every argv that was run (not those only recorded under dryrun), in order. */
  calls: string[][];
  /** The options of each call, in the same order. */
  options: RunOptions[];
  /** The lead line (FirstStage.lead) each deferred pipeline's first stage wrote ahead of its stream, keyed by the argv (in `calls`) of the pipeline's last stage, the receiving end that reads it. */
  leads: Map<string[], string>;
}

/** A runner answering each argv with `reply(argv)` (undefined: exit 0, no output). */
export function fakeRunner(reply: (argv: string[], opts: RunOptions) => FakeReply | undefined = () => undefined): FakeRunner {
  const calls: string[][] = [];
  const options: RunOptions[] = [];
  const leads = new Map<string[], string>();
  const answer = (argv: string[], opts: RunOptions, record = true): RunResult => {
    if (record) {
      calls.push(argv);
      options.push(opts);
    }
    const r = reply(argv, opts) ?? {};
    const exitCode = r.missing || r.timedOut ? null : (r.exitCode ?? 0);
    return {
      argv, ok: exitCode === 0, exitCode, signal: r.timedOut ? 'SIGKILL' : null, timedOut: Boolean(r.timedOut),
      missing: Boolean(r.missing), stdout: r.stdout ?? '', stderr: r.stderr ?? (r.missing ? `spawn ${argv[0]} ENOENT` : ''), durationMs: 0,
    };
  };
  const runner = (o: RunnerOptions): CallRunner => {
    const planned: string[] = [];
    const record = (argv: string[]): RunResult => {
      planned.push(argvLine(argv));
      return { argv, ok: true, exitCode: 0, signal: null, timedOut: false, missing: false, stdout: '', stderr: '', durationMs: 0, dryrun: true };
    };
    return {
      planned,
      log: (line) => (o.trace ? o.traceSink?.(line) : undefined),
      run: async (argv, opts = {}) => (o.dryrun && !opts.readOnly ? record(argv) : answer(argv, opts)),
      runPipeline: async (later, opts = {}) => {
        // A deferred first stage (RunOptions.first): the stages after it answer at once (the
        // last one's stdout reaches onStdout before the first stage is known, as a receiving
        // end's first words do), and a failure among them ends the pipeline there; then the
        // line as it is once known, recorded in pipeline order. Called off, nothing more ran.
        const early = opts.first && !(o.dryrun && !opts.readOnly) ? later.map((a) => answer(a, opts, false)) : undefined;
        if (early) {
          if (early.at(-1)!.stdout) opts.onStdout?.(early.at(-1)!.stdout);
          const failed = early.find((r) => !r.ok);
          if (failed) {
            later.forEach((a) => (calls.push(a), options.push(opts)));
            return { ...failed, argv: later.flat() };
          }
        }
        const first = opts.first ? await opts.first.catch(() => undefined) : undefined;
        const head = first === undefined || Array.isArray(first) ? first : first.argv;
        if (first && !Array.isArray(first) && first.lead !== undefined) leads.set(later.at(-1)!, first.lead);
        if (opts.first && !head) {
          later.forEach((a) => (calls.push(a), options.push(opts)));
          return { argv: later.flat(), ok: false, exitCode: null, signal: null, timedOut: false, missing: false, stdout: '', stderr: '', durationMs: 0, skipped: true };
        }
        const argvs = head ? [head, ...later] : later;
        const flat = argvs.flatMap((a, i) => (i === 0 ? a : ['|', ...a]));
        if (o.dryrun && !opts.readOnly) return record(flat);
        const results = early ? [answer(head!, opts), ...later.map((a, i) => (calls.push(a), options.push(opts), early[i]!))] : argvs.map((a) => answer(a, opts));
        const failed = results.find((r) => !r.ok) ?? results[results.length - 1]!;
        return { ...failed, argv: flat, stdout: results[results.length - 1]!.stdout };
      },
    };
  };
  return { runner, calls, options, leads };
}
