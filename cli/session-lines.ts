/**
 * The REXX session's terminal: every keystroke-level concern is here, behind
 * `readLines`, so the shared line editor (cli/line-editor.ts) can replace Node's
 * readline without touching the session.
 *
 * On a terminal: the prompt comes from `promptFor()` before each line; Ctrl-C clears
 * the typed line (yielding `{ interrupt: true }` so the session drops a half-typed block);
 * Ctrl-D on an empty line ends the iteration after printing a newline. While the session
 * runs what a line asked for (between a yield and the next `next()`), the terminal is
 * back in cooked mode, so Ctrl-C reaches the foreground process group as in a shell:
 * the tool the handler is running gets SIGINT, and this process ignores it. RexxJS has
 * no way to stop a running script, so a second Ctrl-C during the same run ends the whole
 * session with status 130 (for a wait that no tool's death ends).
 * On a pipe: plain lines, no prompts, no echo.
 */
import * as readline from 'node:readline';

/** One thing the user did at the prompt: a line, or Ctrl-C. */
export type LineEvent = { line: string } | { interrupt: true };

/** Where the reader reads and echoes (default the process's stdin and stdout). */
export interface LineIo {
  input: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  output: NodeJS.WritableStream;
}

/** Read lines from `io.input` as an async iterator; `promptFor()` gives the prompt of each line. */
export async function* readLines(
  promptFor: () => string,
  io: LineIo = { input: process.stdin, output: process.stdout },
): AsyncGenerator<LineEvent> {
  const tty = Boolean(io.input.isTTY);
  const rl = readline.createInterface({ input: io.input, output: tty ? io.output : undefined, terminal: tty });
  const queue: LineEvent[] = [];
  let closed = false;
  let wake: (() => void) | undefined;
  const push = (e?: LineEvent) => {
    if (e) queue.push(e);
    wake?.();
  };
  rl.on('line', (line) => push({ line }));
  rl.on('close', () => {
    closed = true;
    push();
  });
  rl.on('SIGINT', () => {
    // Ctrl-C at the prompt: show it, forget the typed text, and let the session decide.
    io.output.write('^C\n');
    (rl as unknown as { line: string }).line = '';
    push({ interrupt: true });
  });
  let interrupts = 0;
  const onSigint = () => {
    if (++interrupts < 2) return;
    io.output.write('\ninterrupted twice while running: ending the session\n');
    process.exit(130);
  };
  try {
    for (;;) {
      if (queue.length === 0 && !closed) {
        if (tty) {
          rl.setPrompt(promptFor());
          rl.prompt();
        }
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
      const e = queue.shift();
      if (!e) {
        if (tty) io.output.write('\n');
        return;
      }
      if (!tty) {
        yield e;
        continue;
      }
      // Cooked mode while the session works: the terminal turns Ctrl-C into SIGINT for the foreground group.
      rl.pause();
      io.input.setRawMode?.(false);
      interrupts = 0;
      process.on('SIGINT', onSigint);
      try {
        yield e;
      } finally {
        process.off('SIGINT', onSigint);
        io.input.setRawMode?.(true);
        rl.resume();
      }
    }
  } finally {
    rl.close();
  }
}
