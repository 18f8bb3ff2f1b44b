/**
 * `rexx-address rexx` through a real pseudo-terminal (@lydell/node-pty), on the real
 * RexxJS interpreter and the real zfs-fuse. RexxJS is not on the npm registry, so this
 * runs only when REXXJS_HOME points at a copy of its repository (like
 * test/integration/rexxjs); needs `npm run build` (it runs bin/rexx-address.js).
 */
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanupInstances, requireLxd, uniq } from '../lxd/lxd-test-env';
import { sleepTag, sleeps, Term } from './term';

const home = process.env.REXXJS_HOME;
const root = path.join(__dirname, '..', '..', '..');

/** A session on a pty: everything it printed (escape sequences and CRs removed), and waits on it. */
function start(args: string[] = []) {
  const t = new Term(['rexx', ...args], { ...(process.env as Record<string, string>), REXXJS_HOME: home! }, { cwd: root, cols: 120 });
  const text = () => t.plain().replace(/\r/g, '');
  const s = {
    p: t,
    get text() {
      return text();
    },
    get exit() {
      return t.exit;
    },
    /** Resolve once the output after `from` matches `re`, with what came after `from`. */
    async until(re: RegExp, from = 0, ms = 60_000): Promise<string> {
      const deadline = Date.now() + ms;
      while (!re.test(text().slice(from))) {
        if (t.exit !== undefined || Date.now() > deadline) throw new Error(`no ${re} in session output (exit ${t.exit}):\n${text().slice(from)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      return text().slice(from);
    },
    /** Type one line and wait for the next prompt; the output of that line. */
    async line(l: string, prompt = /(rexx( [A-Z]+)?|\.\.\.)> $/): Promise<string> {
      const from = text().length;
      t.write(`${l}\r`);
      return s.until(new RegExp(`[\\s\\S]*\\n${prompt.source}`), from);
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
    await s.until(/ADDRESS LXD, ZFS, QEMU, LXCRI, INCUS are ready[\s\S]*rexx> $/);
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

  it('Ctrl-C while a command runs cancels it (lxc exec of two sleeps, one in the background, in a real container): RC 130, none left, the rest of that input starts nothing, and the session goes on', async () => {
    await requireLxd();
    const name = uniq('session');
    try {
      const s = start();
      await s.until(/rexx> $/);
      await s.line('ADDRESS LXD');
      expect(await s.line(`"create name=${name} image=tiny"`)).toMatch(/RC=0/);
      expect(await s.line(`"start name=${name}"`)).toMatch(/RC=0/);
      const tag = sleepTag();
      const from = s.text.length;
      // The guest's shell traps SIGINT, and LXD forwards a signal only to the first process:
      // only the cancel's kill of what the exec started ends both sleeps.
      // One input of three commands (a DO block: RexxJS has no ';' between statements).
      await s.line('DO once = 1 TO 1', /\.\.\.> $/);
      await s.line(`"exec name=${name} command='trap : INT; sleep ${tag} & sleep ${tag}; wait'"`, /\.\.\.> $/);
      await s.line(`"exec name=${name} command='touch /after'"`, /\.\.\.> $/);
      await s.line('SAY "after" RC', /\.\.\.> $/);
      s.p.write('END\r');
      const t0 = Date.now();
      while (sleeps(tag).split('\n').filter(Boolean).length < 2) {
        if (Date.now() - t0 > 15_000) throw new Error(`the sleeps never started:\n${s.text.slice(from)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      s.p.write('\x03');
      const out = await s.until(/after \d+[\s\S]*rexx LXD> $/, from, 15_000);
      expect(out).toContain('after 130');
      for (let i = 0; i < 60 && sleeps(tag); i++) await new Promise((r) => setTimeout(r, 50));
      expect(sleeps(tag)).toBe('');
      // The input's second command was cancelled before it ran.
      expect(await s.line(`"exec name=${name} command='test -e /after'"`)).toMatch(/RC=1\b/);
      expect(s.exit).toBeUndefined();
    } finally {
      await cleanupInstances([name]);
    }
  });
});
