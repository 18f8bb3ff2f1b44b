/**
 * `rexx-address rexx` (alias `repl`): an interactive REXX session on the real RexxJS
 * interpreter, loaded at run time from `--rexxjs DIR` or `REXXJS_HOME` (cli/rexxjs.ts).
 *
 * Every line, or block (cli/rexx-blocks.ts: DO … END, SELECT … END, IF … THEN … ENDIF,
 * heredocs), is parsed by RexxJS's `parse` and run by ONE `RexxInterpreter` instance, so
 * variables, ADDRESS and REQUIREd libraries persist from one input to the next. The four
 * handlers are registered in-process before the first line, as `REQUIRE
 * "cwd:dist/address-<t>.js"` would register them, so `ADDRESS ZFS` works at once (each
 * target's bundle is loaded when that ADDRESS is first used).
 * After an input whose commands reached a handler, RC and the variables the last command
 * set are shown on one or two lines (`:vars on|off`).
 * Ctrl-C while an input runs cancels its commands as at the verb prompt (RC 130, the
 * command's process groups and what it started in a guest are ended); a second one in
 * the same run ends the session (cli/session-lines.ts).
 *
 * Exit status: `EXIT n` ends the session with n (as the shell reads it: n & 255, so -3 is
 * 253); Ctrl-D or the end of piped input ends it with 0; 6 when RexxJS cannot be found
 * (the message says how to get it; the verb prompt, `rexx-address TARGET`, works without
 * it); 2 for a usage error.
 */
import type { RexxResult } from '../shared/result';
import type { TargetModule } from './main';
import { TARGETS } from './main';
import { shownVars } from './output';
import { terminalProgress } from './progress';
import { readyToRun } from './rexx-blocks';
import { addressTargetMeta } from './rexx-meta';
import { findRexxJs, loadRexxJs, missingMessage, type AddressTarget, type RexxInterpreterLike, type RexxJs, type RexxOutput } from './rexxjs';
import { readLines, type LineEvent } from './session-lines';
import { packageVersion } from '../shared/version';

/** Exit status when RexxJS is missing: RC 6 of the RC table, "backend unavailable". */
export const EXIT_NO_REXXJS = 6;

export const SESSION_USAGE = `usage: rexx-address rexx [--rexxjs DIR]     (alias: rexx-address repl)
An interactive REXX session on RexxJS (found through --rexxjs DIR or REXXJS_HOME).
ADDRESS LXD, ZFS, QEMU and LXCRI are registered. Blocks (DO/SELECT … END, heredocs)
continue on a "...>" prompt. :vars on|off shows RC and variables after a command;
:help; Ctrl-C clears the line; Ctrl-D (or EXIT n) ends the session.`;

const HELP = `  Each input runs in one interpreter: variables, ADDRESS and REQUIRE persist.
  ADDRESS ZFS   then   "list"          run a verb; RC and its variables are shown
  DO i = 1 TO 3 … END, SELECT … END, <<EOT … EOT   continue until closed
  IF … THEN DO … END                    waits for an optional ELSE: press Enter to run it
  :vars on|off   show or hide RC and variables    :help   this text
  Ctrl-C clears the line (or the block); while a command runs it interrupts the tool
  Ctrl-D or EXIT [n] ends the session`;

interface Io {
  out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  err: NodeJS.WritableStream;
}

/** What the session needs to start: the RexxJS folder and the terminal (tests pass their own lines). */
export interface SessionOptions {
  rexx: RexxJs;
  io: Io;
  /** Load one target's table and handler factory (the CLI's loader). */
  load: (target: string) => TargetModule;
  /** Show RC and variables after a command (default: when stdout is a terminal). */
  showVars?: boolean;
  /** The input (default readLines on stdin). */
  lines?: (promptFor: () => string) => AsyncIterable<LineEvent>;
}

/** The last handler call of one input, and how many there were. */
interface Calls {
  count: number;
  last?: unknown;
}

const WRAPPED = Symbol('rexx-address.session.wrapped');

/**
 * `rexx-address rexx [--rexxjs DIR]`: resolves to the exit status (see the module comment).
 * `load` is the CLI's target loader (bundles, or the compiled tree in tests).
 */
export async function runSession(args: string[], io: Io, load: (target: string) => TargetModule, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let dir: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--help' || a === '-h') {
      io.out.write(`${SESSION_USAGE}\n`);
      return 0;
    }
    if (a === '--rexxjs' && args[i + 1]) dir = args[++i];
    else if (a.startsWith('--rexxjs=')) dir = a.slice('--rexxjs='.length);
    else {
      io.err.write(`rexx-address rexx: unexpected argument '${a}'\n${SESSION_USAGE}\n`);
      return 2;
    }
  }
  const found = findRexxJs(dir, env);
  if ('reason' in found) {
    io.err.write(`${missingMessage(found.reason)}\n`);
    return EXIT_NO_REXXJS;
  }
  let rexx: RexxJs;
  try {
    rexx = loadRexxJs(found.home);
  } catch (e) {
    io.err.write(`${missingMessage(`loading it from ${found.home} failed: ${(e as Error).message}`)}\n`);
    return EXIT_NO_REXXJS;
  }
  return session({ rexx, io, load });
}

/** Run the session until Ctrl-D, the end of input, or EXIT; resolves to the exit status. */
export async function session(opts: SessionOptions): Promise<number> {
  const { rexx, io } = opts;
  const tty = Boolean(io.out.isTTY);
  let showVars = opts.showVars ?? tty;
  const output: RexxOutput = {
    write: (t) => io.out.write(t),
    writeLine: (t) => io.out.write(`${t}\n`),
    output: (t) => io.out.write(`${t}\n`),
    writeError: (t) => io.err.write(`${t}\n`),
  };
  const interp: RexxInterpreterLike = new rexx.RexxInterpreter(noSuchTarget(() => [...interp.addressTargets.keys()]), {}, output);
  const calls: Calls = { count: 0 };
  const version = packageVersion();
  // The input running now can be cancelled: Ctrl-C (SIGINT, the terminal is in cooked mode
  // while an input runs) aborts it, so the command running ends with its process groups and
  // what it started in a guest (HandlerOptions.cancel), RC 130, and the input's later
  // commands start nothing. RexxJS itself carries on to the input's end.
  let running: AbortController | undefined;
  const cancel = () => running?.signal;
  const onInt = () => running?.abort();
  for (const t of TARGETS) interp.registerAddressTarget(t, lazyTarget(t, opts.load, version, cancel));
  watchTargets(interp, calls);
  if (tty) {
    io.out.write(`REXX session on RexxJS (${rexx.home}). ADDRESS ${TARGETS.map((t) => t.toUpperCase()).join(', ')} are ready.\n`);
    io.out.write(':help for help, Ctrl-D to quit.\n');
  }
  let pending: string[] = [];
  const promptFor = () => (pending.length ? '...> ' : interp.address && interp.address !== 'default' ? `rexx ${interp.address.toUpperCase()}> ` : 'rexx> ');
  const lines = (opts.lines ?? ((p) => readLines(p)))(promptFor);
  for await (const e of lines) {
    if ('interrupt' in e) {
      pending = [];
      continue;
    }
    if (pending.length === 0) {
      const cmd = e.line.trim();
      if (cmd === '') continue;
      if (cmd.startsWith(':')) {
        const m = /^:vars\s+(on|off)$/i.exec(cmd);
        if (m) showVars = m[1]!.toLowerCase() === 'on';
        else if (/^:(help|\?)$/i.test(cmd)) io.out.write(`${HELP}\n`);
        else io.err.write(`unknown session command '${cmd}' (:vars on|off, :help)\n`);
        continue;
      }
    }
    pending.push(e.line);
    if (!readyToRun(pending)) continue;
    const source = pending.join('\n');
    pending = [];
    running = new AbortController();
    process.on('SIGINT', onInt);
    let exit: number | undefined;
    try {
      exit = await runInput(rexx, interp, source, io);
    } finally {
      process.off('SIGINT', onInt);
      running = undefined;
    }
    watchTargets(interp, calls);
    if (calls.count > 0 && showVars) io.out.write(summarize(calls, interp.variables.get('RC'), io.out.columns ?? 100));
    calls.count = 0;
    calls.last = undefined;
    if (exit !== undefined) return exit & 255;
  }
  return 0;
}

/** Parse and run one input; resolves to the EXIT code when the input ran EXIT. Errors are printed, never thrown. */
async function runInput(rexx: RexxJs, interp: RexxInterpreterLike, source: string, io: Io): Promise<number | undefined> {
  let commands: unknown[];
  try {
    commands = rexx.parse(source);
  } catch (e) {
    io.err.write(`syntax error: ${(e as Error).message}\n`);
    return undefined;
  }
  try {
    const r = (await interp.run(commands, source, '<session>')) as { terminated?: boolean; exitCode?: unknown; type?: string } | null;
    if (r && r.terminated && (r.type === undefined || r.type === 'EXIT')) return Number(r.exitCode ?? 0) || 0;
  } catch (e) {
    io.err.write(`${(e as Error).message}\n`);
  }
  return undefined;
}

/**
 * One target as RexxJS's REQUIRE registers it (handler, METHODS keys, the shim's metadata),
 * its bundle loaded on first use: RexxJS reads `methods` and `metadata` only when that
 * ADDRESS is the current one, so the session starts without loading the four bundles
 * (each brings its own execa and zod).
 */
function lazyTarget(t: string, load: (target: string) => TargetModule, version: string, cancel: () => AbortSignal | undefined): AddressTarget {
  let loaded: { handler: AddressTarget['handler']; methods: string[]; meta: object } | undefined;
  const get = () => {
    if (!loaded) {
      const m = load(t);
      loaded = { handler: m.createHandler(m.table, { progress: terminalProgress(process.stderr), cancel }) as AddressTarget['handler'], methods: Object.keys(m.methodsOf(m.table)), meta: addressTargetMeta(m.table, version) };
    }
    return loaded;
  };
  return {
    handler: (...args: unknown[]) => get().handler(...args),
    get methods() {
      return get().methods;
    },
    metadata: {
      libraryName: `rexx-address:${t}`,
      exportName: `ADDRESS_${t.toUpperCase()}_HANDLER`,
      get libraryMetadata() {
        return get().meta;
      },
    },
  };
}

/** RexxJS's address sender, reached for an ADDRESS no handler is registered for. */
function noSuchTarget(known: () => string[]) {
  return {
    send: async (address: string) => {
      throw new Error(`no ADDRESS ${address.toUpperCase()} in this session (registered: ${known().map((t) => t.toUpperCase()).join(', ')}); REQUIRE its library first`);
    },
  };
}

/**
 * Count and keep the last result of every call to a registered handler: ours, and any a
 * REQUIRE registered since the last input.
 */
function watchTargets(interp: RexxInterpreterLike, calls: Calls) {
  for (const target of interp.addressTargets.values()) {
    const h = target.handler as AddressTarget['handler'] & { [WRAPPED]?: true };
    if (typeof h !== 'function' || h[WRAPPED]) continue;
    const wrapped = async (...args: unknown[]) => {
      const r = await h(...args);
      calls.count++;
      calls.last = r;
      return r;
    };
    (wrapped as typeof h)[WRAPPED] = true;
    target.handler = wrapped;
  }
}

/**
 * RC and the variables the last command set, compactly: `RC=0 RESULT='…'` then the
 * non-blank variables (a stem as `NAME.0=N [first, second, third, …]`), wrapped to `width`
 * columns. Values are cut at 60 characters.
 */
export function summarize(calls: { count: number; last?: unknown }, rc: unknown, width = 100): string {
  const r = (calls.last && typeof calls.last === 'object' ? calls.last : {}) as Partial<RexxResult>;
  const head = [`RC=${rc ?? (r.success ? 0 : (r.errorCode ?? ''))}`];
  if (calls.count > 1) head.push(`(last of ${calls.count} commands)`);
  if (r.success === false && r.errorMessage) head.push(`ERRORTEXT=${quote(r.errorMessage)}`);
  if (typeof r.output === 'string' && r.output !== '') {
    const lines = r.output.replace(/\n$/, '').split('\n');
    head.push(`RESULT=${quote(lines[0]!)}${lines.length > 1 ? ` (+${lines.length - 1} lines)` : ''}`);
  }
  const parts = shownVars(r.rexxVariables ?? {}, ['RC', 'RESULT', 'ERRORTEXT']).map((v) => {
    if (!('items' in v)) return `${v.name}=${quote(v.value)}`;
    const n = v.items.length;
    return `${v.name}.0=${n} [${v.items.slice(0, 3).map((i) => short(i, 30)).join(', ')}${n > 3 ? ', …' : ''}]`;
  });
  return `${head.join(' ')}\n${wrap(parts, width)}`;
}

const short = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
/** A value as REXX would write it when it needs quotes (inner quotes doubled), cut at 60 characters. */
const quote = (s: string) => {
  const v = short(s.replace(/\n/g, ' '), 60);
  return /^[^\s'"]+$/.test(v) ? v : `'${v.replace(/'/g, "''")}'`;
};

function wrap(parts: string[], width: number): string {
  let out = '';
  let line = '';
  for (const p of parts) {
    if (line && line.length + 1 + p.length > width) {
      out += `${line}\n`;
      line = '';
    }
    line = line ? `${line} ${p}` : `  ${p}`;
  }
  return line ? `${out}${line}\n` : out;
}
