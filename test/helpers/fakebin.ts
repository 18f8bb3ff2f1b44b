/**
 * Fake binaries for unit tests of argument building and of failures the real tool
 * can't be made to produce: each named command is a tiny script that appends its argv
 * (one JSON line) to a log and exits with a chosen code and output. Tests point the
 * handler's PATH at the folder, so nothing real runs.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { quote } from 'shell-quote';

export interface FakeBin {
  dir: string;
  log: string;
  /** Every recorded argv, in order (argv[0] is the command's name). */
  calls(): string[][];
  /** PATH that finds the fakes first (then the system tools the scripts need), and LXD_SOCKET where there is none. */
  env: Record<string, string>;
  cleanup(): void;
}

export interface FakeAnswer {
  /** Exit code (default 0). */
  exit?: number;
  stdout?: string;
  stderr?: string;
}

export interface FakeSpec extends FakeAnswer {
  /** Other answers for calls whose argv, joined by spaces, contains `match` (the first that matches wins). */
  when?: Array<FakeAnswer & { match: string }>;
}

/** `s` as one sh word (shell-quote, as the handlers quote ssh command lines). */
const shWord = (s: string) => quote([s]);

/** sh lines that print an answer and exit with its code. */
const answerLines = (a: FakeAnswer) =>
  `printf '%s' ${shWord(a.stdout ?? '')}; printf '%s' ${shWord(a.stderr ?? '')} >&2; exit ${Math.trunc(a.exit ?? 0)}`;

/**
 * Create fake commands; `specs` maps a command name to what it prints and returns.
 * Each fake is a POSIX sh script (dash starts in ~1 ms, node in ~40: thousands of unit
 * tests spawn these). It appends its call to the log as NUL-separated fields — the
 * argument count, the command's name, then each argument (an argument can hold any
 * byte but NUL) — in one printf.
 */
export function fakeBin(specs: Record<string, FakeSpec>): FakeBin {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-fakebin-'));
  const log = path.join(dir, 'calls.log');
  for (const [name, s] of Object.entries(specs)) {
    const script = [
      '#!/bin/sh',
      `printf '%s\\0' "$#" ${shWord(name)} "$@" >> ${shWord(log)}`,
      // matched against the arguments joined by spaces, as String.includes would
      'line="$*"',
      'case "$line" in',
      ...(s.when ?? []).map((w) => `  *${shWord(w.match)}*) ${answerLines(w)} ;;`),
      'esac',
      answerLines(s),
      '',
    ].join('\n');
    fs.writeFileSync(path.join(dir, name), script, { mode: 0o755 });
  }
  return {
    dir,
    log,
    calls: () => parseCalls(fs.existsSync(log) ? fs.readFileSync(log) : Buffer.alloc(0)),
    // No LXD socket there: ADDRESS LXD's reads (tool.ts query) then go to the fake lxc too.
    env: { PATH: `${dir}:${process.env.PATH ?? '/usr/bin:/bin'}`, LXD_SOCKET: path.join(dir, 'no-lxd.socket') },
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/** The calls in a fake's log: per call, NUL-terminated fields — count N, the name, then N arguments. */
function parseCalls(buf: Buffer): string[][] {
  const fields = buf.toString('utf8').split('\0');
  fields.pop(); // after the last NUL
  const calls: string[][] = [];
  for (let i = 0; i < fields.length; ) {
    const n = Number(fields[i]);
    if (!Number.isInteger(n) || n < 0 || i + 2 + n > fields.length) throw new Error(`fake binary log ${buf.length} bytes: malformed at field ${i}`);
    calls.push(fields.slice(i + 1, i + 2 + n));
    i += 2 + n;
  }
  return calls;
}
