/**
 * Progress of long work (`ctx.progress`): a verb names a task, says how much there is,
 * and reports what is done; the dispatcher hands the events to the sink the handler was
 * created with (`HandlerOptions.progress`): the CLI's terminal line (`cli/progress.ts`),
 * a test's recorder, or nothing (the default, and always under dryrun).
 *
 * ```ts
 * const t = ctx.progress('clones', { total: names.length, unit: 'items' });
 * ... t.tick() after each one ...
 * t.end();
 * ```
 *
 * A verb declared `long: true` (see `shared/verb.ts`) also sets ELAPSED_MS and takes
 * `progress=VAR`, the REXX variable that gets the fraction done (see {@link LONG_PARAMS}).
 */
import { regexRule } from './names';

/**
 * What a task counts: items (clones k of N), bytes (a stream; the renderer shows a rate),
 * ms (a wait: `done` is the time waited, `total` the timeout) or percent (a tool that
 * prints only a percentage, as `qemu-img convert -p`: total 100).
 */
export type ProgressUnit = 'items' | 'bytes' | 'ms' | 'percent';

/** One progress report. Every task gives one `start`, any number of `update`/`note`, and one `end`. */
export interface ProgressEvent {
  type: 'start' | 'update' | 'note' | 'end';
  /** The task, unique within one handler call (a call may run several, e.g. a wait inside each clone). */
  id: number;
  /** The ADDRESS target ('lxd') and the verb being run ('clone_from_base'). */
  target: string;
  verb: string;
  /** What the task is, e.g. "clones", "waiting for web-1 to be Running". */
  label: string;
  unit: ProgressUnit;
  /** How much there is, in `unit`, when known. */
  total?: number;
  /** How much is done, in `unit`. */
  done: number;
  /** The latest `note(text)` of the task, if any (e.g. the item just finished). */
  text?: string;
  /** ms since the task started (monotonic clock of the call). */
  elapsedMs: number;
}

/** Where a handler's progress events go (`HandlerOptions.progress`). Must not throw; it is called synchronously. */
export type ProgressSink = (e: ProgressEvent) => void;

/** One task's reporter. Calls after `end()` are ignored. */
export interface ProgressTask {
  /** `n` more done (default 1). */
  tick(n?: number): void;
  /** `done` is now this much (in the task's unit). */
  set(done: number): void;
  /** A short text about the current step ("web-3 made"). */
  note(text: string): void;
  /** The task is over (done or failed); the renderer clears its line. */
  end(): void;
}

/** `ctx.progress(label, {total, unit})`: start a task; see {@link ProgressTask}. */
export type ProgressEffect = (label: string, o: { total?: number; unit: ProgressUnit }) => ProgressTask;

const NOOP_TASK: ProgressTask = { tick() {}, set() {}, note() {}, end() {} };

/** The effect when nobody listens (no sink, no progress=VAR) and under dryrun: reports nothing. */
export const NO_PROGRESS: ProgressEffect = () => NOOP_TASK;

/** The progress of one call: the effect the verb uses, and `endAll` the dispatcher calls when the verb returns or throws. */
export interface CallProgress {
  progress: ProgressEffect;
  /** End every task still open (a verb that threw may not have ended its own). */
  endAll(): void;
}

/**
 * The progress effect of one call. Events go to `sink`; `onFraction` (progress=VAR)
 * gets done/total (0..1) of the latest counted task whose unit is not ms (a wait has no
 * "fraction done").
 */
export function createProgress(o: {
  target: string;
  verb: string;
  monotonic: () => number;
  sink?: ProgressSink;
  onFraction?: (fraction: number) => void;
}): CallProgress {
  let nextId = 1;
  const open = new Set<() => void>();
  const progress: ProgressEffect = (label, { total, unit }) => {
    const id = nextId++;
    const t0 = o.monotonic();
    let done = 0;
    let text: string | undefined;
    let ended = false;
    const emit = (type: ProgressEvent['type']) => {
      o.sink?.({ type, id, target: o.target, verb: o.verb, label, unit, total, done, text, elapsedMs: Math.round(o.monotonic() - t0) });
      if (o.onFraction && total && unit !== 'ms' && type !== 'end') o.onFraction(Math.min(1, Math.max(0, done / total)));
    };
    const end = () => {
      if (ended) return;
      ended = true;
      open.delete(end);
      emit('end');
    };
    open.add(end);
    emit('start');
    return {
      tick: (n = 1) => {
        if (ended) return;
        done += n;
        emit('update');
      },
      set: (d) => {
        if (ended) return;
        done = d;
        emit('update');
      },
      note: (t) => {
        if (ended) return;
        text = t;
        emit('note');
      },
      end,
    };
  };
  return { progress, endAll: () => [...open].forEach((end) => end()) };
}

/**
 * A REXX variable name for progress=VAR: a simple symbol (letters, digits, "_"; not a
 * stem, which RexxJS keeps as an object). RexxJS names are case-sensitive: the
 * variable is set as written.
 */
export const rexxSymbol = regexRule('REXX variable name', /^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'a REXX symbol: a letter or "_", then letters, digits or "_" (at most 64)');

/** The parameter every long verb takes (see `Verb.long`). */
export const LONG_PARAMS = {
  progress: {
    type: 'string',
    rule: rexxSymbol,
    doc: 'name of a REXX variable that gets the fraction done (0 to 1): 1 when the call succeeds, blank when it fails; mid-call values are visible only to JavaScript holding the interpreter (see Progress in the README)',
  },
} as const;

/** The variable every long verb sets (see `Verb.long`). */
export const LONG_VARS = { ELAPSED_MS: 'wall time of the call, in ms' } as const;

/** Variables progress=VAR may not name: those RexxJS sets for every command, which VAR would overwrite. */
export const RESERVED_VARS = ['RC', 'RESULT', 'ERRORTEXT'] as const;
