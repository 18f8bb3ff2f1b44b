/**
 * The dispatcher: the only place that tokenizes a command, finds the verb, validates
 * every parameter, builds the verb's context, runs it, and maps what happens
 * (output or error) to the RexxJS result. Nothing here throws to the caller.
 */
import { cancelled, usageError } from './errors';
import { renderHelp } from './docs';
import { COMMON_PARAMS, coerceParams, resolveAliases, type ParamsSpec } from './params';
import { parseCommand, type ParsedCommand } from './parse';
import { poll } from './poll';
import { createProgress, NO_PROGRESS, RESERVED_VARS, type ProgressSink } from './progress';
import { fromError, fromOutput, stem, type RexxResult } from './result';
import { createEffects, type Clock, type Signals } from './effects';
import { AgentPool, qgaEffect, qmpEffect } from './qmp';
import { unixGetEffect } from './unix-http';
import { Runner, type RunnerOptions, type Run, type RunPipeline } from './runner';
import { findVerb, unavailableVerb, type AnyVerb, type Ctx, type HandlerTable, type VarsSpec, type VerbOutput } from './verb';

export { COMMON_PARAMS, findVerb };

export interface HandlerOptions {
  /** Environment for the commands and for defaults (default process.env). */
  env?: Record<string, string | undefined>;
  /** Where trace lines go (default stderr). */
  traceSink?: (line: string) => void;
  /**
   * Make the runner of one call (default `new Runner(o)`): a unit test passes a fake that
   * answers argv without running anything. It must record under `o.dryrun` like Runner.
   */
  runner?: (o: RunnerOptions) => CallRunner;
  /** The clock the verbs see (default the real one; a partial clock keeps the real readings it does not give). */
  clock?: Partial<Clock>;
  /** How the verbs signal processes (default process.kill). */
  signal?: Signals;
  /**
   * Where the progress of long work goes (see `progress.ts`; default nowhere): the CLI
   * passes its terminal line when stderr is a terminal, a test a recorder. Nothing is
   * reported under dryrun.
   */
  progress?: ProgressSink;
  /**
   * The AbortSignal that cancels the call starting now (asked once per call; undefined:
   * not cancellable). When it aborts, the call's runner ends every command it started
   * with its whole process group and starts no more, waits end, and the call returns
   * RC 130 (RC.cancelled) whatever the verb made of it. The prompt (cli/prompt.ts) gives
   * a fresh signal per line and aborts it on Ctrl-C.
   */
  cancel?: () => AbortSignal | undefined;
}

/** What the dispatcher needs of a runner for one call (see Runner). */
export interface CallRunner {
  run: Run;
  runPipeline: RunPipeline;
  log(line: string): void;
  /** Command lines recorded under dryrun, in order. */
  readonly planned: string[];
}

/** What RexxJS reads from METHODS: one entry per verb name and alias. */
export type Methods = Record<string, { description: string; params: string[] }>;

/** The RexxJS-facing function: `(command, variables?, sourceContext?) => Promise<RexxResult>`. */
export type AddressHandler = (command: unknown, variables?: unknown, sourceContext?: unknown) => Promise<RexxResult>;

/**
 * The `LET v = verb` call shape, `handler(verb, {params: '...'}, sourceContext)`: the
 * params string when the call has that shape, else undefined. Only for a bare verb word,
 * so a whole command whose script has one variable named `params` is not taken for it.
 */
function letParams(command: string, args: unknown): string | undefined {
  if (/\s/.test(command.trim()) || args === null || typeof args !== 'object' || Object.keys(args).length !== 1) return undefined;
  const params = (args as { params?: unknown }).params;
  return typeof params === 'string' ? params : undefined;
}

/**
 * RexxJS reads `x = NAME` (a bare symbol on the right of an assignment) as a parameterless
 * call of verb `name` whenever `name` is a METHODS key — even when the script has a
 * variable NAME, such as the SNAPSHOT or STATUS that verbs set. In REXX a variable is a
 * variable, so in that shape (`handler(name, {params: ''}, sourceContext)`) a variable of
 * that name (as written, or uppercase) wins and its value is handed back unchanged.
 */
function shadowingVariable(command: unknown, args: unknown, sourceContext: unknown): { value: unknown } | undefined {
  if (typeof command !== 'string' || letParams(command, args) !== '') return undefined;
  const vars = (sourceContext as { interpreter?: { variables?: unknown } } | null | undefined)?.interpreter?.variables;
  if (!(vars instanceof Map)) return undefined;
  for (const k of [command.trim(), command.trim().toUpperCase()]) if (vars.has(k)) return { value: vars.get(k) };
  return undefined;
}

/** METHODS for RexxJS, generated from the table. */
export function methodsOf(table: HandlerTable): Methods {
  const m: Methods = {};
  for (const v of table.verbs) {
    for (const n of [v.name, ...(v.aliases ?? [])]) m[n] = { description: v.summary, params: Object.keys(v.params) };
  }
  m.help = { description: 'list the verbs, or describe one: help VERB', params: ['verb'] };
  return m;
}

/** Build the handler function for a table. */
export function createHandler(table: HandlerTable, opts: HandlerOptions = {}): AddressHandler {
  const env = opts.env ?? process.env;
  const strict = env.REXX_ADDRESS_STRICT_VARS === '1';
  // What this handler instance learns once (installed runtime, KVM verdict) lives here.
  const cache = new Map<string, unknown>();
  // Guest agent sessions kept open between this instance's calls (idle-bounded, unref'd).
  const agents = new AgentPool();
  return async (command, variables, sourceContext) => {
    const shadowed = shadowingVariable(command, variables, sourceContext);
    if (shadowed) return shadowed.value as RexxResult;
    let verb: AnyVerb | undefined;
    let r: RexxResult;
    const call: CallFacts = {};
    const abort = opts.cancel?.();
    const started = performance.now();
    try {
      // The verb is known before the rest parses, so even a malformed exec line gets -2.
      if (typeof command === 'string') verb = findVerb(table, command.trim().split(/\s/, 1)[0] ?? '');
      const parsed = toParsed(table, command, variables, sourceContext);
      verb = findVerb(table, parsed.verb);
      r = await dispatchParsed(table, parsed, env, opts, { cache, agents }, sourceContext, call, abort);
    } catch (e) {
      r = fromError(e);
      if (verb?.exitStatus && r.errorCode > 0) r = { ...r, errorCode: -r.errorCode };
    }
    if (abort?.aborted) r = cancelledResult(r, performance.now() - started);
    return withProgressVar(withDeclaredVars(table, verb, r, strict), call);
  };
}

/** What the dispatcher learns of a call while running it and needs after it (a long verb's progress=VAR). */
interface CallFacts {
  progressVar?: string;
  dryrun?: boolean;
}

/**
 * progress=VAR of a long verb: 1 when the call succeeded, '' when it failed or was a
 * dryrun, like every variable a call sets. Mid-call fractions go to the interpreter
 * directly (see {@link interpreterVariable}).
 */
function withProgressVar(r: RexxResult, call: CallFacts): RexxResult {
  if (!call.progressVar) return r;
  return { ...r, rexxVariables: { ...r.rexxVariables, [call.progressVar]: r.success && !call.dryrun ? 1 : '' } };
}

/**
 * A setter of the script's variable `name` while the command runs, when RexxJS passed
 * its interpreter (sourceContext.interpreter.variables, a Map): no REXX line runs during
 * the call, so only JavaScript holding the interpreter (an embedding host) sees these
 * values; the script reads the final one.
 */
function interpreterVariable(sourceContext: unknown, name: string): ((v: number) => void) | undefined {
  const vars = (sourceContext as { interpreter?: { variables?: unknown } } | null | undefined)?.interpreter?.variables;
  return vars instanceof Map ? (v) => void vars.set(name, v) : undefined;
}

/** A call whose signal aborted: RC 130 whatever the verb made of it, its own message kept after ours. */
function cancelledResult(r: RexxResult, ms: number): RexxResult {
  // The verb's own message, unless it only repeats that a command was cancelled.
  const why = r.success || /cancelled/.test(r.errorMessage) || !r.errorMessage ? '' : ` (the verb said: ${r.errorMessage})`;
  const e = fromError(cancelled(`cancelled after ${Math.round(ms)} ms; every command it started was ended${why}`));
  return { ...e, output: r.output };
}

/** Variables every call sets: COMMANDS is dryrun's list of command lines (count 0 otherwise). */
const COMMON_VARS: VarsSpec = { COMMANDS: { stem: 'dryrun=true: the command lines it would run' } };
const blank = (spec: VarsSpec[string]) => (typeof spec === 'string' ? '' : stem([]));

/**
 * Give every variable the verb declares a value on every call: what the verb returned,
 * else '' (a stem: count 0), so nothing from an earlier call survives a failure or a
 * shorter answer. With env REXX_ADDRESS_STRICT_VARS=1 (the test suites) a variable the
 * verb returns without declaring it is an internal error, so the declarations stay true.
 */
function withDeclaredVars(table: HandlerTable, verb: AnyVerb | undefined, r: RexxResult, strict: boolean): RexxResult {
  const declared: VarsSpec = { ...(verb ? (table.vars ?? {}) : {}), ...(verb?.vars ?? {}), ...COMMON_VARS };
  const given = r.rexxVariables;
  if (strict && verb) {
    const undeclared = Object.keys(given).filter((k) => k !== 'ERRORTEXT' && !Object.hasOwn(declared, k));
    if (undeclared.length) return fromError(new Error(`${verb.name} set undeclared variables ${undeclared.join(', ')}`));
  }
  const vars: Record<string, unknown> = {};
  for (const [k, spec] of Object.entries(declared)) vars[k] = Object.hasOwn(given, k) ? given[k] : blank(spec);
  return { ...r, rexxVariables: { ...vars, ...given } };
}

/** Turn the call shapes RexxJS uses into a parsed command (see rexxjs-contract.md). */
function toParsed(table: HandlerTable, command: unknown, args: unknown, sourceContext: unknown): ParsedCommand {
  if (typeof command !== 'string') throw usageError(`expected a command string, got ${typeof command}`);
  const isObj = args !== null && typeof args === 'object' && !Array.isArray(args);
  const params = letParams(command, args);
  if (params !== undefined) return parseCommand(`${command} ${params}`);
  // A function call while the address is active → handler(name, {named args}), no sourceContext.
  if (isObj && sourceContext === undefined && !/\s/.test(command.trim()) && findVerb(table, command.trim())) {
    return fromNamedArgs(command.trim(), args as Record<string, unknown>);
  }
  return parseCommand(command);
}

function fromNamedArgs(verb: string, args: Record<string, unknown>): ParsedCommand {
  const params = new Map<string, string[]>();
  const positional: string[] = [];
  for (const [k, v] of Object.entries(args)) {
    if (v === undefined || v === null) continue;
    const values = Array.isArray(v) ? v.map(String) : typeof v === 'object' ? undefined : [String(v)];
    if (!values) throw usageError(`${verb}: argument '${k}' is an object; pass strings, numbers or booleans`);
    if (values.some((x) => x.includes('\0'))) throw usageError(`${verb}: argument '${k}' contains a NUL byte`);
    if (k === 'value' || /^arg\d+$/.test(k)) positional.push(...values);
    else params.set(k.toLowerCase(), [...(params.get(k.toLowerCase()) ?? []), ...values]);
  }
  return { verb: verb.toLowerCase(), params, positional };
}

async function dispatchParsed(
  table: HandlerTable,
  parsed: ParsedCommand,
  env: Record<string, string | undefined>,
  opts: HandlerOptions,
  instance: { cache: Map<string, unknown>; agents: AgentPool },
  sourceContext: unknown,
  call: CallFacts,
  abort?: AbortSignal,
): Promise<RexxResult> {
  if (parsed.verb === '' ) throw usageError(`no verb given — verbs: ${verbNames(table)}`);
  if (parsed.verb === 'help') {
    const which = parsed.params.get('verb')?.[0] ?? parsed.positional[0];
    if (which && !findVerb(table, which)) throw usageError(`help: unknown verb '${which}' — verbs: ${verbNames(table)}`);
    return fromOutput({ result: renderHelp(table, which) });
  }
  const verb = findVerb(table, parsed.verb);
  if (!verb) {
    const compat = unavailableVerb(table, parsed.verb);
    if (compat) throw usageError(`${parsed.verb} (a verb of RexxJS's own ADDRESS ${table.target.toUpperCase()}) is not available here: ${compat.note}`);
    throw usageError(`unknown verb '${parsed.verb}' for ADDRESS ${table.target.toUpperCase()} — verbs: ${verbNames(table)}`);
  }

  const spec: ParamsSpec = { ...verb.params, ...COMMON_PARAMS };
  const raw = new Map(parsed.params);
  const slots = [...(verb.positional ?? [])];
  for (const word of parsed.positional) {
    const key = word.toLowerCase();
    if (Object.hasOwn(spec, key) && spec[key]!.type === 'bool' && !raw.has(key)) raw.set(key, ['true']);
    else {
      const slot = slots.find((s) => !raw.has(s));
      if (!slot) throw usageError(`${verb.name}: unexpected word '${word}' — use key=value; valid keys: ${Object.keys(verb.params).join(', ')}`);
      raw.set(slot, [word]);
    }
  }
  const p = coerceParams(verb.name, spec, resolveAliases(verb.name, spec, raw));
  const trace = Boolean(p.trace) || env.REXX_ADDRESS_TRACE === '1';
  const dryrun = Boolean(p.dryrun);
  delete p.trace;
  delete p.dryrun;
  const progressVar = verb.long ? (p.progress as string | undefined) : undefined;
  delete p.progress;
  if (progressVar && [...RESERVED_VARS, ...Object.keys(verb.vars), ...Object.keys(table.vars ?? {}), 'COMMANDS'].includes(progressVar.toUpperCase())) {
    throw usageError(`${verb.name}: progress=${progressVar} would overwrite a variable the call sets itself; name another variable`);
  }
  Object.assign(call, { progressVar, dryrun });

  const ro: RunnerOptions = { dryrun, trace, env, traceSink: opts.traceSink, signal: abort };
  const runner = opts.runner ? opts.runner(ro) : new Runner(ro);
  const effects = createEffects({ dryrun, log: runner.log, clock: opts.clock, signal: opts.signal });
  const onFraction = progressVar ? interpreterVariable(sourceContext, progressVar) : undefined;
  const reporting = !dryrun && (opts.progress || onFraction)
    ? createProgress({ target: table.target, verb: verb.name, monotonic: effects.clock.monotonic, sink: opts.progress, onFraction })
    : undefined;
  const progress = reporting?.progress ?? NO_PROGRESS;
  const ctx: Ctx = {
    ...effects,
    run: runner.run,
    runPipeline: runner.runPipeline,
    progress,
    // A cancel ends a wait at its next probe.
    poll: async (probe, o) => {
      if (dryrun) return { value: undefined, elapsedMs: 0, probes: 0 };
      const task = progress(`waiting for ${o.what}`, { unit: 'ms', total: o.timeoutMs });
      try {
        const probeOrCancel = () => (abort?.aborted ? Promise.reject(cancelled(`cancelled while waiting for ${o.what}`)) : probe());
        return await poll(probeOrCancel, { ...o, onWait: (ms) => (task.set(ms), o.onWait?.(ms)) });
      } finally {
        task.end();
      }
    },
    qmp: qmpEffect(dryrun, runner.log),
    qga: qgaEffect(dryrun, runner.log, instance.agents),
    // A fake runner means nothing real is asked: then no socket reads either.
    ...(opts.runner ? {} : { get: unixGetEffect(runner.log) }),
    cache: instance.cache,
    trace,
    env,
    log: runner.log,
    table,
  };
  const t0 = effects.clock.monotonic();
  let out: VerbOutput;
  try {
    out = await verb.run(p as never, ctx);
  } finally {
    reporting?.endAll();
  }
  if (verb.long && !dryrun) out = { ...out, vars: { ...out.vars, ELAPSED_MS: Math.round(effects.clock.monotonic() - t0) } };
  if (dryrun) {
    return fromOutput({ result: runner.planned.join('\n'), vars: { ...(verb.dryrunVars ? out.vars : {}), COMMANDS: stem(runner.planned) } });
  }
  return fromOutput(out);
}

const verbNames = (t: HandlerTable) => [...t.verbs.map((v) => v.name), 'help'].join(', ');
