/**
 * The one error family of every handler, and the RC each kind returns.
 *
 * Verbs throw these; only the dispatcher catches them and builds the RexxJS
 * result (see `result.ts`), so an operational failure is always *returned* to the
 * script as RC / ERRORTEXT and never aborts it.
 */
import type { RunResult } from './runner';

/** What went wrong, in the words of the RC table. */
export type ErrorKind =
  | 'toolFailed'
  | 'usage'
  | 'notFound'
  | 'exists'
  | 'timedOut'
  | 'unavailable'
  | 'refused'
  | 'cancelled';

/**
 * The RC table shared by all handlers (`exec` verbs return the command's own exit
 * code instead).
 */
export const RC: Readonly<Record<'ok' | ErrorKind, number>> = {
  ok: 0,
  toolFailed: 1,
  usage: 2,
  notFound: 3,
  exists: 4,
  timedOut: 5,
  unavailable: 6,
  refused: 7,
  cancelled: 130,
};

/** One line per RC, for `help`, `--help` and the README. */
export const RC_DOCS: ReadonlyArray<[number, string]> = [
  [RC.ok, 'ok'],
  [RC.toolFailed, 'the tool failed (ERRORTEXT has its message)'],
  [RC.usage, 'usage: unknown verb or key, missing or invalid value; nothing was run'],
  [RC.notFound, 'not found (instance, dataset, snapshot, base, image, VM, container)'],
  [RC.exists, 'already exists'],
  [RC.timedOut, 'timed out (the command or the wait for a state)'],
  [RC.unavailable, 'backend unavailable: binary missing or daemon not answering'],
  [RC.refused, 'refused for safety (e.g. deleting a registered base without force=true)'],
  [RC.cancelled, "cancelled (Ctrl-C at the prompt, or the caller's abort signal): the command running was ended with its whole process group and nothing more started; as a shell reports SIGINT (128 + 2), for exec verbs too"],
];

/**
 * What a handler's errors.ts may say of a failed tool call, beyond the RC kinds: `busy`
 * (in use right now: a retry may succeed) and `already` (it is already in the state the
 * verb asked for). Each reports the RC of {@link REASON_RC_KIND} unless the verb handles it.
 */
export type Reason = ErrorKind | 'busy' | 'already';

/** The RC kind a reason reports when the verb lets it through: busy and already are refusals (RC 7). */
export const REASON_RC_KIND: Readonly<Record<Reason, ErrorKind>> = {
  toolFailed: 'toolFailed', usage: 'usage', notFound: 'notFound', exists: 'exists', timedOut: 'timedOut',
  unavailable: 'unavailable', refused: 'refused', busy: 'refused', already: 'refused', cancelled: 'cancelled',
};

/** An error that maps to one RC; `cause` keeps the tool's result when there is one. */
export class AddressError extends Error {
  readonly kind: ErrorKind;
  /** What the handler's classifier decided (the kind, or busy/already); verbs branch on this, never on message text. */
  readonly reason: Reason;
  readonly rc: number;
  /** REXX variables to return alongside the failure (e.g. DEPENDENTS stem). */
  readonly vars: Record<string, unknown>;
  /** Text for RESULT alongside the failure, when there is something useful to show. */
  readonly output: string;

  constructor(
    kind: ErrorKind,
    message: string,
    opts: { cause?: unknown; vars?: Record<string, unknown>; output?: string; reason?: Reason } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'AddressError';
    this.kind = kind;
    this.reason = opts.reason ?? kind;
    this.rc = RC[kind];
    this.vars = opts.vars ?? {};
    this.output = opts.output ?? '';
  }
}

type Opts = ConstructorParameters<typeof AddressError>[2];
export const usageError = (m: string, o?: Opts) => new AddressError('usage', m, o);
export const notFound = (m: string, o?: Opts) => new AddressError('notFound', m, o);
export const alreadyExists = (m: string, o?: Opts) => new AddressError('exists', m, o);
export const timedOut = (m: string, o?: Opts) => new AddressError('timedOut', m, o);
export const unavailable = (m: string, o?: Opts) => new AddressError('unavailable', m, o);
export const refused = (m: string, o?: Opts) => new AddressError('refused', m, o);
export const toolFailed = (m: string, o?: Opts) => new AddressError('toolFailed', m, o);
export const cancelled = (m: string, o?: Opts) => new AddressError('cancelled', m, o);

/** The tool's own message from a failed run: its stderr, else stdout, first lines. */
export function toolMessage(r: RunResult): string {
  const text = (r.stderr || r.stdout || '').trim();
  if (text) return text.split('\n').slice(0, 20).join('\n');
  if (r.timedOut) return `${r.argv[0]} timed out after ${Math.round(r.durationMs)} ms`;
  if (r.signal) return `${r.argv[0]} was killed by ${r.signal}`;
  return `${r.argv[0]} exited with code ${r.exitCode}`;
}

/**
 * A classifier turns a failed tool result into an AddressError of the right kind.
 * Each handler supplies patterns for its tool's messages; the generic parts (binary
 * missing, timeout) are handled here once.
 */
export interface Classifier {
  /**
   * Ordered [reason, pattern, kind?] triples matched against the tool's stderr+stdout. The
   * RC is that of `kind` when given (a `busy` the verbs handle but which, when they do not,
   * stays the tool failure RC 1 it always was), else {@link REASON_RC_KIND} of the reason.
   */
  patterns: ReadonlyArray<readonly [Reason, RegExp, ErrorKind?]>;
}

/** True when `e` is an AddressError that its classifier gave `reason` (or one of them). */
export const isReason = (e: unknown, ...reasons: Reason[]): e is AddressError => e instanceof AddressError && reasons.includes(e.reason);

/** Build the AddressError for a failed run using the handler's classifier. */
export function classify(r: RunResult, c: Classifier): AddressError {
  const msg = toolMessage(r);
  if (r.missing) {
    return unavailable(`${r.argv[0]} is not installed or not on PATH (run scripts/setup-host.sh)`, {
      cause: r,
    });
  }
  if (r.cancelled) return cancelled(`${r.argv.slice(0, 3).join(' ')} was cancelled after ${Math.round(r.durationMs)} ms`, { cause: r });
  if (r.timedOut) return timedOut(`${r.argv.slice(0, 3).join(' ')} timed out after ${Math.round(r.durationMs)} ms`, { cause: r });
  const text = `${r.stderr}\n${r.stdout}`;
  for (const [reason, re, kind] of c.patterns) if (re.test(text)) return new AddressError(kind ?? REASON_RC_KIND[reason], msg, { cause: r, reason });
  return toolFailed(msg, { cause: r });
}
