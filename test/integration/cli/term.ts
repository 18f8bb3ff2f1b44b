/** A CLI process on a real pseudo-terminal (@lydell/node-pty), for the prompt's tests. Needs `npm run build`. */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const pty = require('@lydell/node-pty') as typeof import('@lydell/node-pty');
const CLI = path.join(__dirname, '..', '..', '..', 'bin', 'rexx-address.js');

/** A number of seconds for `sleep N` that no other test or run uses (so pgrep finds only ours). */
export const sleepTag = (): string => `${40_000 + Math.floor(Math.random() * 50_000)}${process.pid % 1000}`;

/** The host pids of the processes `sleep TAG`, one per line, '' when none. */
export const sleeps = (tag: string): string => {
  try {
    // The sleeps themselves, not the shell or the runtime whose argv mention them.
    return execFileSync('pgrep', ['-f', `^sleep ${tag}$`], { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
};

/** One CLI process on a pseudo-terminal: what it printed so far, keys in, waits for text. */
export class Term {
  text = '';
  exit?: number;
  private readonly p: import('@lydell/node-pty').IPty;
  private readonly exited: Promise<number>;
  constructor(args: string[], env: Record<string, string>, o: { cwd?: string; cols?: number } = {}) {
    this.p = pty.spawn(process.execPath, [CLI, ...args], { name: 'xterm', cols: o.cols ?? 220, rows: 60, env, cwd: o.cwd });
    this.p.onData((d) => {
      this.text += d;
    });
    this.exited = new Promise((resolve) => this.p.onExit((e) => resolve((this.exit = e.exitCode))));
  }
  /** Text printed after `from` (an offset into `text`), without escape sequences. */
  plain(from = 0) {
    // eslint-disable-next-line no-control-regex
    return this.text.slice(from).replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
  }
  /** The CLI's pid. */
  get pid(): number {
    return this.p.pid;
  }
  write(keys: string) {
    this.p.write(keys);
  }
  /** Wait until the text after `from` matches `re` (or `ms` pass: then throw with the screen). */
  async waitFor(re: RegExp, from = 0, ms = 15_000): Promise<void> {
    const t0 = Date.now();
    while (!re.test(this.plain(from))) {
      if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${re}; screen:\n${this.plain(from)}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  /** Type `keys` and wait until `re` shows up after them (`screen`: at the end of all the text, for a line edited in place). */
  async type(keys: string, re: RegExp, o: { screen?: boolean } = {}): Promise<void> {
    const from = o.screen ? 0 : this.text.length;
    // A Tab in the same chunk as other keys is a paste to readline (a literal tab): send it alone.
    for (const part of keys.split(/(\t)/).filter(Boolean)) {
      this.write(part);
      await new Promise((r) => setTimeout(r, 150));
    }
    await this.waitFor(re, from);
  }
  async ended(ms = 10_000): Promise<number> {
    return Promise.race([this.exited, new Promise<number>((_, rej) => setTimeout(() => rej(new Error(`still running:\n${this.plain()}`)), ms))]);
  }
  kill(signal?: string) {
    if (this.exit === undefined) this.p.kill(signal);
  }
}

