/**
 * `rexx-address rexx` through a real pseudo-terminal (@lydell/node-pty), on the real
 * RexxJS interpreter and the real zfs-fuse. RexxJS is not on the npm registry, so this
 * runs only when REXXJS_HOME points at a copy of its repository (like
 * test/integration/rexxjs); needs `npm run build` (it runs bin/rexx-address.js).
 */
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanupInstances, requireLxd, uniq } from '../lxd/lxd-test-env';

const home = process.env.REXXJS_HOME;
const root = path.join(__dirname, '..', '..', '..');
const cli = path.join(root, 'bin', 'rexx-address.js');

interface Pty {
  write(data: string): void;
  kill(signal?: string): void;
  onData(cb: (d: string) => void): void;
  onExit(cb: (e: { exitCode: number }) => void): void;
}

/** A session on a pty: everything it printed (escape sequences removed), and waits on it. */
function start(args: string[] = []) {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { spawn } = require('@lydell/node-pty') as { spawn: (file: string, args: string[], o: object) => Pty };
  const p = spawn(process.execPath, [cli, 'rexx', ...args], {
    name: 'xterm',
    cols: 120,
    rows: 40,
    cwd: root,
    env: { ...process.env, REXXJS_HOME: home },
  });
  let text = '';
  let exit: number | undefined;
  p.onData((d) => (text += d.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '')));
  p.onExit((e) => (exit = e.exitCode));
  const s = {
    p,
    get text() {
      return text;
    },
    get exit() {
      return exit;
    },
    /** Resolve once the output after `from` matches `re`, with what came after `from`. */
    async until(re: RegExp, from = 0, ms = 60_000): Promise<string> {
      const deadline = Date.now() + ms;
      while (!re.test(text.slice(from))) {
        if (exit !== undefined || Date.now() > deadline) throw new Error(`no ${re} in session output (exit ${exit}):\n${text.slice(from)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      return text.slice(from);
    },
    /** Type one line and wait for the next prompt; the output of that line. */
    async line(l: string, prompt = /(rexx( [A-Z]+)?|\.\.\.)> $/): Promise<string> {
      const from = text.length;
      p.write(`${l}\r`);
      const out = await s.until(new RegExp(`[\\s\\S]*\\n${prompt.source}`), from);
      return out;
    },
  };
  sessions.push(s);
  return s;
}

const sessions: ReturnType<typeof start>[] = [];
afterEach(() => {
  for (const s of sessions.splice(0)) if (s.exit === undefined) s.p.kill();
});

describe.skipIf(!home)('rexx-address rexx through a pseudo-terminal (REXXJS_HOME)', () => {
  it('variables persist across lines, a DO block runs, SAY prints, Ctrl-D exits 0 with a newline', async () => {
    const s = start();
    await s.until(/ADDRESS LXD, ZFS, QEMU, LXCRI are ready[\s\S]*rexx> $/);
    await s.line('n = 3');
    expect(await s.line('SAY "n is" n')).toContain('n is 3');
    // A block: continuation prompts until END, then it runs as one input.
    expect(await s.line('total = 0')).not.toContain('error');
    expect(await s.line('DO i = 1 TO n')).toMatch(/\.\.\.> $/);
    expect(await s.line('  total = total + i')).toMatch(/\.\.\.> $/);
    expect(await s.line('END')).toMatch(/rexx> $/);
    expect(await s.line('SAY "total" total')).toContain('total 6');
    // IF … THEN DO … END waits for an optional ELSE; an empty line runs it.
    expect(await s.line('IF total > 5 THEN DO')).toMatch(/\.\.\.> $/);
    expect(await s.line('  SAY "big"')).toMatch(/\.\.\.> $/);
    expect(await s.line('END')).toMatch(/\.\.\.> $/);
    expect(await s.line('ELSE DO')).toMatch(/\.\.\.> $/);
    expect(await s.line('  SAY "small"')).toMatch(/\.\.\.> $/);
    const out = await s.line('END');
    expect(out).toContain('big');
    expect(out).not.toContain('small');
    const from = s.text.length;
    s.p.write('\x04');
    await s.until(/\n$/, from, 10_000);
    for (let i = 0; i < 100 && s.exit === undefined; i++) await new Promise((r) => setTimeout(r, 50));
    expect(s.exit).toBe(0);
  });

  it('ADDRESS ZFS then a real verb: RC and the variables it set are shown; :vars off hides them; a failure shows its RC and ERRORTEXT', async () => {
    const s = start();
    await s.until(/rexx> $/);
    expect(await s.line('ADDRESS ZFS')).toMatch(/rexx ZFS> $/);
    const status = await s.line('"status"');
    expect(status).toMatch(/RC=0 RESULT='handler \d/);
    expect(status).toMatch(/REACHABLE=1 HANDLER_VERSION=\d/);
    expect(status).toMatch(/POOLS\.0=\d+ \[/);
    // The variables are the interpreter's own: a later line reads them.
    expect(await s.line('SAY "reachable" REACHABLE "pool" DEFAULT_POOL')).toMatch(/reachable 1 pool \S+/);
    // {{var}} is replaced by the interpreter, as for a REQUIREd shim (same metadata).
    await s.line('ds = STRIP(DEFAULT_POOL)');
    expect(await s.line('"get name={{ds}} property=mountpoint"')).toMatch(/RC=0 RESULT=\/\S+\n\s+PROPERTIES\.0=1 \[mountpoint\]/);
    const missing = await s.line('"get name=rexxpool/no-such-session-ds-' + process.pid + '"');
    expect(missing).toMatch(/RC=3 ERRORTEXT='/);
    await s.line(':vars off');
    expect(await s.line('"status"')).not.toContain('RC=');
    expect(await s.line('SAY "rc" RC')).toContain('rc 0');
    await s.line(':vars on');
    // REQUIRE of the shim replaces the registered target; its calls are still shown.
    expect(await s.line('REQUIRE "cwd:dist/address-zfs.js"')).not.toMatch(/error|Could not/i);
    expect(await s.line('"status"')).toMatch(/RC=0 RESULT='handler/);
    // A heredoc continues until its delimiter and reaches the handler.
    expect(await s.line('ADDRESS ZFS <<EOT')).toMatch(/\.\.\.> $/);
    expect(await s.line('status')).toMatch(/\.\.\.> $/);
    expect(await s.line('EOT')).toMatch(/RC=0 RESULT='handler/);
    s.p.write('EXIT 4\r');
    for (let i = 0; i < 200 && s.exit === undefined; i++) await new Promise((r) => setTimeout(r, 50));
    expect(s.exit).toBe(4);
  });

  it('Ctrl-C clears a half-typed line and drops an open block, and the session goes on', async () => {
    const s = start();
    await s.until(/rexx> $/);
    let from = s.text.length;
    s.p.write('SAY "never typed out"');
    await s.until(/never typed out"$/, from);
    s.p.write('\x03');
    await s.until(/\^C\nrexx> $/, from);
    expect(await s.line('DO i = 1 TO 2')).toMatch(/\.\.\.> $/);
    from = s.text.length;
    s.p.write('\x03');
    await s.until(/\^C\nrexx> $/, from);
    const out = await s.line('SAY "after" 1');
    expect(out).toContain('after 1');
    expect(s.text).not.toMatch(/never typed out\n/);
  });

  it('Ctrl-C while a command runs interrupts that command (lxc exec of sleep 60 in a real container) and the session goes on; a second Ctrl-C in one run ends the session (130)', async () => {
    await requireLxd();
    const name = uniq('session');
    try {
      const s = start();
      await s.until(/rexx> $/);
      await s.line('ADDRESS LXD');
      expect(await s.line(`"create name=${name} image=tiny"`)).toMatch(/RC=0/);
      expect(await s.line(`"start name=${name}"`)).toMatch(/RC=0/);
      const from = s.text.length;
      const t0 = Date.now();
      s.p.write(`"exec name=${name} command='sleep 60'"\r`);
      await new Promise((r) => setTimeout(r, 2_000));
      s.p.write('\x03');
      const out = await s.until(/RC=\d+[\s\S]*rexx LXD> $/, from, 30_000);
      expect(Date.now() - t0).toBeLessThan(30_000);
      // The guest's sleep died of SIGINT: exit status 130, as a shell reports it.
      expect(out).toMatch(/RC=130/);
      expect(await s.line('SAY "still here" RC')).toContain('still here 130');
      // A command that outlives Ctrl-C (the guest's shell traps it): a second Ctrl-C in the
      // same run ends the session with 130, since RexxJS cannot stop a running script.
      const before = s.text.length;
      s.p.write(`"exec name=${name} command='trap : INT; sleep 60'"\r`);
      await new Promise((r) => setTimeout(r, 2_000));
      s.p.write('\x03');
      await new Promise((r) => setTimeout(r, 1_000));
      expect(s.exit).toBeUndefined();
      s.p.write('\x03');
      await s.until(/interrupted twice while running: ending the session/, before, 10_000).catch(() => '');
      for (let i = 0; i < 200 && s.exit === undefined; i++) await new Promise((r) => setTimeout(r, 50));
      expect(s.text.slice(before)).toContain('interrupted twice while running: ending the session');
      expect(s.exit).toBe(130);
    } finally {
      await cleanupInstances([name]);
    }
  });
});
