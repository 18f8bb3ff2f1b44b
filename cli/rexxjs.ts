/**
 * Finding and loading the RexxJS interpreter at run time. RexxJS is not on the npm
 * registry and none of its code is in this project: the session loads its parser and
 * interpreter (core/src/parser.js, core/src/interpreter.js of a copy of the
 * paul-hammant/RexxJS repository) from `--rexxjs DIR` or `REXXJS_HOME`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The RexxJS entry points the session uses, in library mode (see ../shared/rexxjs-contract.md). */
export interface RexxJs {
  /** The RexxJS repository folder they came from. */
  home: string;
  /** `parse(source)`: the parser's command list; throws on a syntax error. */
  parse(source: string): unknown[];
  /** `new RexxInterpreter(addressSender, options, outputHandler)`: one instance keeps variables, ADDRESS and REQUIREd libraries between runs. */
  RexxInterpreter: new (addressSender: unknown, options: object, output: RexxOutput) => RexxInterpreterLike;
}

/** Where SAY and the interpreter's own messages go (RexxJS's output-handler interface). */
export interface RexxOutput {
  write(text: string): void;
  writeLine(text: string): void;
  writeError(text: string): void;
  output(text: string): void;
}

/** What the session reads and calls on an interpreter instance. */
export interface RexxInterpreterLike {
  /** `run(commands, sourceText, filename)`: resolves `{exitCode, terminated}` after EXIT, else nothing useful; throws a REXX error. */
  run(commands: unknown[], source: string, filename: string): Promise<unknown>;
  registerAddressTarget(name: string, target: AddressTarget): void;
  /** The registered targets, by lowercase name (also filled by REQUIRE). */
  addressTargets: Map<string, AddressTarget>;
  /** The script's variables, by case-sensitive name. */
  variables: Map<string, unknown>;
  /** The current ADDRESS, lowercase ('default' when none). */
  address: string;
}

/** A registered ADDRESS target, as RexxJS's REQUIRE registers one (interpreter.js). */
export interface AddressTarget {
  handler: (...args: unknown[]) => unknown;
  methods: string[];
  metadata: { libraryName: string; libraryMetadata: object; exportName: string };
}

/** The file that marks a folder as a RexxJS repository. */
const MARK = path.join('core', 'src', 'interpreter.js');

/**
 * The RexxJS folder to use: `--rexxjs DIR` first, then `REXXJS_HOME`. Answers the folder, or
 * why there is none (the reason is one line, for `missingMessage`).
 */
export function findRexxJs(dir: string | undefined, env: NodeJS.ProcessEnv = process.env): { home: string } | { reason: string } {
  const [given, from] = dir ? [dir, '--rexxjs'] : [env.REXXJS_HOME, 'REXXJS_HOME'];
  if (!given) return { reason: 'REXXJS_HOME is not set and no --rexxjs DIR was given' };
  const home = path.resolve(given);
  if (!fs.existsSync(path.join(home, MARK))) return { reason: `${from}=${given} has no ${MARK}` };
  return { home };
}

/** What to print when RexxJS cannot be found: why, how to get it, and what works without it. */
export function missingMessage(reason: string): string {
  return [
    `rexx-address rexx: RexxJS not found (${reason}).`,
    'RexxJS is not on the npm registry. Get a copy of its repository and point at it:',
    '  git clone https://github.com/paul-hammant/RexxJS.git ~/RexxJS',
    '  export REXXJS_HOME=~/RexxJS          # or: rexx-address rexx --rexxjs ~/RexxJS',
    'Without RexxJS, the verb prompt works: rexx-address lxd (or zfs, qemu, lxcri).',
  ].join('\n');
}

/** Load the parser and the interpreter from a RexxJS folder (found by findRexxJs). */
export function loadRexxJs(home: string): RexxJs {
  const src = path.join(home, 'core', 'src');
  // Computed paths: the bundler leaves these to run time, so no RexxJS code is ever bundled.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { parse } = require(path.join(src, 'parser.js')) as { parse: RexxJs['parse'] };
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { RexxInterpreter } = require(path.join(src, 'interpreter.js')) as { RexxInterpreter: RexxJs['RexxInterpreter'] };
  return { home, parse, RexxInterpreter };
}
