/**
 * The one terminal line editor of the interactive modes (the verb prompt, cli/prompt.ts;
 * the REXX session): Node's readline (built in) in terminal mode, with
 *
 * - a prompt, and a continuation prompt for the next line of an unfinished block;
 * - history kept across sessions in a file (`~/.rexx_address_history`, env
 *   REXX_ADDRESS_HISTORY overrides it), the newest HISTORY_SIZE lines, appended under the
 *   file's lock and written atomically, so several prompts at once lose no line;
 * - an async completer (Tab), which readline calls with the text left of the cursor;
 * - Ctrl-C as in a shell: it never ends the program; `read()` answers `interrupt` with
 *   the text that was typed (now cleared), and the caller re-prompts;
 * - Ctrl-D on an empty line: a newline is printed and `read()` answers `eof`.
 *
 * While the caller runs a command, `suspend()` hands the terminal back in cooked mode, so
 * Ctrl-C is a SIGINT to this process (the caller cancels the command on it) and typed
 * text waits for the next `read()`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { withLock, writeFileAtomic } from '../shared/state-file';

/** How many history lines are kept, in memory and in the file. */
export const HISTORY_SIZE = 1000;

/** The history file: env REXX_ADDRESS_HISTORY, else `~/.rexx_address_history`. */
export const historyPath = (env: Record<string, string | undefined> = process.env): string =>
  env.REXX_ADDRESS_HISTORY || path.join(os.homedir(), '.rexx_address_history');

/** Tab: the text left of the cursor → the candidates and the part of it they replace (readline's completer result). */
export type Completer = (left: string) => Promise<[string[], string]>;

export interface LineEditorOptions {
  /** The prompt, e.g. `lxd> `. */
  prompt: string;
  /** The prompt of a continuation line (`read({ continuation: true })`), default `... `. */
  continuationPrompt?: string;
  /** History file; '' keeps no history (default {@link historyPath}). */
  historyFile?: string;
  completer?: Completer;
  input?: NodeJS.ReadStream;
  output?: NodeJS.WriteStream;
}

/** What one `read()` got: a line (Enter), an interrupt (Ctrl-C; `typed` was on the line), or the end (Ctrl-D on an empty line, or input closed). */
export type ReadResult = { type: 'line'; line: string } | { type: 'interrupt'; typed: string } | { type: 'eof' };

/** A line editor on a terminal; one `read()` at a time. */
export class LineEditor {
  private readonly rl: readline.Interface;
  private readonly input: NodeJS.ReadStream;
  private readonly output: NodeJS.WriteStream;
  private readonly historyFile: string;
  private readonly prompt: string;
  private readonly continuationPrompt: string;
  private pending?: (r: ReadResult) => void;
  private closed = false;

  constructor(o: LineEditorOptions) {
    this.input = o.input ?? process.stdin;
    this.output = o.output ?? process.stdout;
    this.prompt = o.prompt;
    this.continuationPrompt = o.continuationPrompt ?? '... ';
    this.historyFile = o.historyFile ?? historyPath();
    const complete = o.completer;
    this.rl = readline.createInterface({
      input: this.input,
      output: this.output,
      terminal: true,
      historySize: HISTORY_SIZE,
      removeHistoryDuplicates: true,
      // readline keeps history newest first.
      history: readHistory(this.historyFile).reverse(),
      tabSize: 4,
      ...(complete
        ? {
            completer: (left: string, cb: (err: Error | null, r: [string[], string]) => void) => {
              complete(left).then((r) => cb(null, r), () => cb(null, [[], left]));
            },
          }
        : {}),
    });
    this.rl.on('line', (line) => this.answer({ type: 'line', line }));
    this.rl.on('SIGINT', () => {
      const typed = this.rl.line;
      this.output.write('^C\n');
      // Start the next read on an empty line (readline keeps `line` and `cursor` otherwise).
      Object.assign(this.rl, { line: '', cursor: 0 });
      this.answer({ type: 'interrupt', typed });
    });
    this.rl.on('close', () => {
      this.closed = true;
      this.output.write('\n');
      this.answer({ type: 'eof' });
    });
    this.rl.pause();
  }

  /** Show the prompt (`o.prompt`, else the continuation prompt when asked, else the prompt) and wait for a line, an interrupt or the end. */
  read(o: { continuation?: boolean; prompt?: string } = {}): Promise<ReadResult> {
    if (this.closed) return Promise.resolve({ type: 'eof' });
    return new Promise((resolve) => {
      this.pending = resolve;
      if (this.input.isTTY) this.input.setRawMode(true);
      this.rl.setPrompt(o.prompt ?? (o.continuation ? this.continuationPrompt : this.prompt));
      this.rl.prompt();
    });
  }

  /**
   * Between reads, while a command runs: the terminal in cooked mode, so Ctrl-C is a SIGINT
   * to this process group (handle `process.on('SIGINT')`) and typed text waits for the next read.
   */
  suspend(): void {
    this.rl.pause();
    if (this.input.isTTY && !this.closed) this.input.setRawMode(false);
  }

  /** Add `line` to the history file (readline already has it in memory); best effort, never throws. */
  async remember(line: string): Promise<void> {
    if (!this.historyFile || !line.trim()) return;
    await appendHistory(this.historyFile, line).catch(() => undefined);
  }

  close(): void {
    if (this.closed) return;
    this.rl.removeAllListeners('close');
    this.closed = true;
    this.rl.close();
  }

  private answer(r: ReadResult): void {
    const p = this.pending;
    this.pending = undefined;
    if (r.type !== 'interrupt') this.rl.pause();
    p?.(r);
  }
}

/** The lines of a history file, oldest first ([] when it does not exist or cannot be read). */
export function readHistory(file: string): string[] {
  if (!file) return [];
  try {
    return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').slice(-HISTORY_SIZE);
  } catch {
    return [];
  }
}

/**
 * Append `line` to a history file under its lock (shared/state-file withLock) and write
 * it atomically, keeping the newest HISTORY_SIZE lines: parallel prompts lose no line.
 * A line with a newline in it is kept as its first line only (one entry per line).
 */
export async function appendHistory(file: string, line: string): Promise<void> {
  const entry = line.split('\n', 1)[0]!;
  await withLock(file, () => {
    const lines = [...readHistory(file), entry].slice(-HISTORY_SIZE);
    writeFileAtomic(file, `${lines.join('\n')}\n`, 0o600);
  }, 5_000);
}
