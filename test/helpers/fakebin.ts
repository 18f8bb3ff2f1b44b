/**
 * Fake binaries for unit tests of argument building and of failures the real tool
 * can't be made to produce: each named command is a tiny script that appends its argv
 * (one JSON line) to a log and exits with a chosen code and output. Tests point the
 * handler's PATH at the folder, so nothing real runs.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

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

/** Create fake commands; `specs` maps a command name to what it prints and returns. */
export function fakeBin(specs: Record<string, FakeSpec>): FakeBin {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-fakebin-'));
  const log = path.join(dir, 'calls.jsonl');
  for (const [name, s] of Object.entries(specs)) {
    const script = `#!/usr/bin/env node
const fs = require('fs');
fs.appendFileSync(${JSON.stringify(log)}, JSON.stringify([${JSON.stringify(name)}, ...process.argv.slice(2)]) + '\\n');
const line = process.argv.slice(2).join(' ');
const a = ${JSON.stringify(s.when ?? [])}.find((w) => line.includes(w.match)) || ${JSON.stringify({ stdout: s.stdout, stderr: s.stderr, exit: s.exit })};
process.stdout.write(a.stdout || '');
process.stderr.write(a.stderr || '');
process.exit(a.exit || 0);
`;
    fs.writeFileSync(path.join(dir, name), script, { mode: 0o755 });
  }
  return {
    dir,
    log,
    calls: () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : []),
    // No LXD socket there: ADDRESS LXD's reads (tool.ts query) then go to the fake lxc too.
    env: { PATH: `${dir}:${process.env.PATH ?? '/usr/bin:/bin'}`, LXD_SOCKET: path.join(dir, 'no-lxd.socket') },
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
