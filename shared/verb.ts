/**
 * A handler is a table of verbs: each verb is data (name, aliases, typed params,
 * summary, examples) plus a run function that receives validated params and a
 * context carrying its dependencies (runner, poller, environment).
 */
import type { Effects } from './effects';
import type { NameRule } from './names';
import type { ParamsOf, ParamsSpec } from './params';
import type { Polled, PollOptions } from './poll';
import { LONG_PARAMS, LONG_VARS, type ProgressEffect } from './progress';
import type { QgaEffect, QmpEffect } from './qmp';
import type { Run, RunPipeline } from './runner';
import type { UnixGetEffect } from './unix-http';

/** What a verb's run function returns; the dispatcher maps it to the RexxJS result. */
export interface VerbOutput {
  /** Becomes RESULT. */
  result?: string;
  /** REXX variables to set (stems as `{0: n, 1: ...}` objects, see `stem()`); only those the verb declares. */
  vars?: Record<string, unknown>;
  /** Non-zero makes the call fail with this RC (used by exec for the command's exit code). */
  rc?: number;
  /** ERRORTEXT when rc is non-zero. */
  errorText?: string;
}

/**
 * Everything a verb may use from the outside world: commands (`run`, `runPipeline`),
 * waiting (`poll`), host files (`fs`), the handler's state files (`state`), the QMP
 * socket (`qmp`), the clock, signals, and `effect` for a step whose outcome later steps
 * use (see `effects.ts`). Each one knows dryrun, so a verb never asks whether it is one.
 */
export interface Ctx extends Effects {
  /** Run one command (under dryrun: recorded in COMMANDS, unless `readOnly`). */
  run: Run;
  runPipeline: RunPipeline;
  /**
   * Report progress of long work (see `progress.ts`): `ctx.progress(label, {total, unit})`
   * gives a task to tick, set, note and end. Reports nothing under dryrun or when nobody
   * listens. Every `ctx.poll` is reported as a task of unit ms ("waiting for WHAT").
   */
  progress: ProgressEffect;
  /** The shared poller; under dryrun it returns at once with `undefined` as value. */
  poll<T>(probe: () => Promise<T | undefined>, o: PollOptions): Promise<Polled<T | undefined>>;
  /** Connect to a QMP socket, run `fn`, close (under dryrun only `query-*` commands reach QEMU). */
  qmp: QmpEffect;
  /**
   * Run `fn` on a QEMU guest agent session (connected and synced with
   * `guest-sync-delimited`; the handler instance keeps it open for the next call, a
   * bounded idle time: shared/qmp.ts AgentPool); `qga.drop(socket)` closes the kept one.
   * Under dryrun only reading `guest-*` commands reach the agent.
   */
  qga: QgaEffect;
  /**
   * Read a daemon's REST API over its unix socket (shared/unix-http.ts), for a verb that
   * would otherwise start the tool's client just to look (`lxc query`). Absent when the
   * handler was given a fake runner (a unit test): the verb then asks the tool.
   */
  get?: UnixGetEffect;
  /**
   * Process-wide facts this handler instance has learnt (which runtime is installed, is
   * KVM usable): kept for the handler's lifetime, so a new handler (a test) starts clean.
   */
  cache: Map<string, unknown>;
  trace: boolean;
  /** Environment the handler was created with (defaults to process.env). */
  env: Record<string, string | undefined>;
  /** Write a diagnostic line to stderr when trace is on. */
  log(line: string): void;
  /** The handler table being dispatched (for help and status). */
  table: HandlerTable;
}

/**
 * The REXX variables a verb sets, by name (uppercase): a string documents a plain
 * variable, `{ stem: doc }` a stem (`NAME.0` the count). The dispatcher sets every
 * declared variable on every call — to '' (a stem to count 0) whenever the verb fails or
 * does not give it a value — so a script never reads a value left by an earlier call.
 */
export type VarsSpec = Record<string, string | { stem: string }>;

/** One verb of a handler. */
export interface Verb<S extends ParamsSpec = ParamsSpec> {
  name: string;
  aliases?: string[];
  /** One line for help and the README. */
  summary: string;
  params: S;
  /** Every REXX variable the verb may set (see {@link VarsSpec}); `{}` when none. */
  vars: VarsSpec;
  /**
   * An exec verb: RC is the guest command's own exit status (0–255) when it ran, and
   * the negative of the RC table code when it never ran or was killed (-3 not found,
   * -5 timed out, -6 unavailable, -2 usage, -1 anything else), as REXX hosts such as
   * TSO/E report a command that could not be run.
   */
  exitStatus?: boolean;
  /**
   * Under dryrun=true the dispatcher keeps this verb's variables (its stems then say what
   * would be done, e.g. autosnap's CREATED); otherwise only COMMANDS is set under dryrun.
   * Only for verbs whose variables are computed from reads, never from a write's answer.
   */
  dryrunVars?: boolean;
  /**
   * Work that can take more than about a second (clone_from_base, convert, start with a
   * wait, send/receive): {@link defineVerb} adds the `progress=VAR` parameter and the
   * ELAPSED_MS variable (`progress.ts`: LONG_PARAMS, LONG_VARS), and the dispatcher sets
   * ELAPSED_MS (ms of the whole call, from ctx.clock.monotonic) when the call succeeds.
   */
  long?: boolean;
  /** Bare words after the verb fill these keys in order (`start web-1` = `start name=web-1`). */
  positional?: Array<keyof S & string>;
  examples?: string[];
  run(p: ParamsOf<S>, ctx: Ctx): Promise<VerbOutput>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyVerb = Verb<any>;

/**
 * Declare a verb with its params typed from the spec. A `long: true` verb gets
 * `progress=` and ELAPSED_MS here, so METHODS, help, completion and the README tables,
 * which all read `params` and `vars`, show them (the dispatcher handles both).
 */
export function defineVerb<const S extends ParamsSpec>(v: Verb<S>): Verb<S> {
  if (!v.long) return v;
  return { ...v, params: { ...v.params, ...LONG_PARAMS }, vars: { ...v.vars, ...LONG_VARS } };
}

/**
 * One row of a handler's compatibility table with RexxJS's own handler of the same
 * name (paul-hammant/RexxJS, extras/addresses/): the original verbs and keys, what this
 * project offers for them, and how it differs. A row with `ours: ''` names verbs that
 * have no real implementation here: they are RC 2, with `note` saying what to use.
 */
export interface CompatRow {
  /** The original verb(s). */
  verbs: string[];
  /** The original's keys and defaults, as written there. */
  keys: string;
  /** This project's verb and keys ('' when there is none). */
  ours: string;
  /** Differences, or what to use instead. */
  note: string;
}

/** A handler: the table the dispatcher, METHODS, help, --help and README are made from. */
export interface HandlerTable {
  /** ADDRESS target name, lowercase: 'lxd', 'zfs', 'qemu', 'lxcri'. */
  target: string;
  /** One line about the handler. */
  summary: string;
  /** The external tool(s) it drives, for docs ("lxc (LXD 5.x client)"). */
  tools: string;
  verbs: AnyVerb[];
  /** Variables any verb of this handler may set (e.g. on a refusal raised by a shared helper); declared like Verb.vars. */
  vars?: VarsSpec;
  /** How scripts written for RexxJS's own handler of this name run here (README table; RC 2 for those without a real one). */
  compat?: CompatRow[];
  /**
   * For the prompt's Tab: per completion kind, the query verb of this table that lists
   * those names and the stem it sets them in. A param completes as a kind when its
   * `complete` names it, or when its naming rule is one of the kind's `rules`.
   */
  completers?: Record<string, { verb: string; stem: string; rules?: NameRule[] }>;
  /**
   * Another target whose handler this one is, registered under a second name (ADDRESS
   * INCUS is ADDRESS LXD driving incus): the README names it instead of repeating the verb
   * table, and it has no handlers/<target>/ modules of its own beyond index.ts and README.md.
   */
  sameAs?: string;
}

/** The compatibility row of an original verb that has no real implementation here, if `name` is one. */
export function unavailableVerb(table: HandlerTable, name: string): CompatRow | undefined {
  const n = name.toLowerCase();
  return table.compat?.find((r) => r.ours === '' && r.verbs.includes(n));
}

/** Find a verb by name or alias (case-insensitive). */
export function findVerb(table: HandlerTable, name: string): AnyVerb | undefined {
  const n = name.toLowerCase();
  return table.verbs.find((v) => v.name === n || v.aliases?.includes(n));
}
