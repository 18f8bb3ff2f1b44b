/**
 * The REXX session's terminal: every keystroke-level concern is here, behind
 * `readLines`, on the shared line editor (cli/line-editor.ts).
 *
 * On a terminal: the prompt comes from `promptFor()` before each line; Ctrl-C clears
 * the typed line (yielding `{ interrupt: true }` so the session drops a half-typed block);
 * Ctrl-D on an empty line ends the iteration after printing a newline. While the session
 * runs what a line asked for (between a yield and the next `next()`), the terminal is
 * back in cooked mode, so Ctrl-C is a SIGINT to this process: the session (cli/session.ts)
 * cancels the running input's commands on it. RexxJS has no way to stop a running script,
 * so a second Ctrl-C during the same run ends the whole session with status 130 (for a
 * script busy in REXX itself, with no command to cancel).
 * On a pipe: plain lines, no prompts, no echo.
 */
import * as readline from 'node:readline';
import { LineEditor } from './line-editor';

/** One thing the user did at the prompt: a line, or Ctrl-C. */
export type LineEvent = { line: string } | { interrupt: true };

/** Where the reader reads and echoes (default the process's stdin and stdout). */
export interface LineIo {
  input: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  output: NodeJS.WritableStream;
}

/**
 * Read lines from `io.input` as an async iterator; `promptFor()` gives the prompt of each
 * line. On a terminal this is the shared line editor (cli/line-editor.ts: history across
 * sessions in `~/.rexx_address_history`, Ctrl-C and Ctrl-D as in the verb prompt).
 */
export async function* readLines(
  promptFor: () => string,
  io: LineIo = { input: process.stdin, output: process.stdout },
): AsyncGenerator<LineEvent> {
  if (!io.input.isTTY) {
    for await (const line of readline.createInterface({ input: io.input, terminal: false })) yield { line };
    return;
  }
  const editor = new LineEditor({ prompt: '', input: io.input as NodeJS.ReadStream, output: io.output as NodeJS.WriteStream });
  let interrupts = 0;
  const onSigint = () => {
    if (++interrupts < 2) return;
    io.output.write('\ninterrupted twice while running: ending the session\n');
    process.exit(130);
  };
  try {
    for (;;) {
      const r = await editor.read({ prompt: promptFor() });
      if (r.type === 'eof') return;
      if (r.type === 'interrupt') {
        yield { interrupt: true };
        continue;
      }
      void editor.remember(r.line);
      // Cooked mode while the session works: the terminal turns Ctrl-C into SIGINT for the foreground group.
      editor.suspend();
      interrupts = 0;
      process.on('SIGINT', onSigint);
      try {
        yield { line: r.line };
      } finally {
        process.off('SIGINT', onSigint);
      }
    }
  } finally {
    editor.close();
  }
}
