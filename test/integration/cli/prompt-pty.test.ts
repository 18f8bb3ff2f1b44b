/**
 * The verb prompt through a real pseudo-terminal (@lydell/node-pty), on the real runc:
 * the built CLI (bin/rexx-address.js → dist/cli.js) is spawned as a user would run it,
 * keys are typed, and the screen text and the host's process table are checked. Tab
 * completes a verb, a key and a real container name; Ctrl-C during `exec ... sleep`
 * ends the command (no sleep left on the host) with RC 130 and the prompt comes back;
 * Ctrl-C on a typed line clears it; Ctrl-D prints a newline and exits with the last RC;
 * history persists to its file and Up recalls a line of an earlier session.
 * Needs `npm run build`, runc and busybox.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { table } from '../../../handlers/lxcri';
import { createHandler, type AddressHandler } from '../../../shared/dispatch';
import { busyboxRootfs, deleteAllRunc, requireTools } from '../../helpers/lxcri-env';
import { RUN_ID } from '../../helpers/run-id';
import { sleepTag, sleeps, Term } from './term';

const P = `ptyp${RUN_ID}`;
const ID = `${P}-box`;
let tmp: string;
let env: Record<string, string>;
let h: AddressHandler;

/** Open a prompt for lxcri and wait for it. */
async function prompt(): Promise<Term> {
  const t = new Term(['lxcri'], env);
  await t.waitFor(/lxcri> $/);
  return t;
}

beforeAll(async () => {
  requireTools(['runc', 'busybox'], false);
  if (!fs.existsSync(path.join(__dirname, '..', '..', '..', 'dist', 'cli.js'))) throw new Error('dist/cli.js is missing: npm run build');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-pty-'));
  env = {
    ...(process.env as Record<string, string>),
    REXX_OCI_DIR: `${tmp}/oci`,
    REXX_OCI_ROOT: `${tmp}/run`,
    REXX_OCI_RUNTIME: 'runc',
    REXX_ADDRESS_HISTORY: `${tmp}/history`,
    TERM: 'xterm',
  };
  h = createHandler(table, { env });
  const b = `${tmp}/${ID}`;
  busyboxRootfs(`${b}/rootfs`);
  expect((await h(`spec bundle=${b} arg=/bin/busybox arg=sleep arg=1000 readonly=false runtime=runc`)).errorCode).toBe(0);
  const r = await h(`run name=${ID} bundle=${b} zfs=false runtime=runc`);
  expect(r.errorCode, r.errorMessage).toBe(0);
});
afterAll(() => {
  if (!tmp) return;
  deleteAllRunc(`${tmp}/run/runc`);
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('the verb prompt on a pseudo-terminal', () => {
  it('Tab completes a verb, then a key, then lists real container names', async () => {
    const t = await prompt();
    try {
      const screen = { screen: true };
      await t.type('execu\t', /lxcri> execute $/, screen);
      await t.type('na\t', /lxcri> execute name=$/, screen);
      // One container matches the prefix: readline completes it at once (listed by the handler's own list verb).
      await t.type(`${P}\t`, new RegExp(`lxcri> execute name=${ID} $`), screen);
      await t.type('\x15image_l\t', /lxcri> image_list $/, screen);
      await t.type('\x15list status=\t\t', /status=created\s+status=paused\s+status=running\s+status=stopped/);
    } finally {
      t.kill();
    }
  });

  it('Ctrl-C during exec of two long sleeps (one in the background): RC 130 within seconds, both gone from the host, the prompt is back', async () => {
    const tag = sleepTag();
    const t = await prompt();
    try {
      const from = t.text.length;
      t.write(`exec name=${ID} command="sleep ${tag} & sleep ${tag}; wait"\r`);
      const t0 = Date.now();
      while (sleeps(tag).split('\n').filter(Boolean).length < 2) {
        if (Date.now() - t0 > 10_000) throw new Error(`the sleep never started:\n${t.plain(from)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const c0 = Date.now();
      t.write('\x03');
      await t.waitFor(/RC=130\r?\n[\s\S]*lxcri> $/, from, 5_000);
      expect(Date.now() - c0).toBeLessThan(3_000);
      expect(t.plain(from)).toMatch(/cancelled after \d+ ms/);
      // Both sleeps go: the one in the foreground, and the one in the background, which
      // ignores SIGINT (an async command of a non-interactive shell) and gets SIGKILL.
      while (sleeps(tag) && Date.now() - c0 < 3_000) await new Promise((r) => setTimeout(r, 50));
      expect(sleeps(tag)).toBe('');
      // The prompt still works, and the container is still there.
      await t.type(`state name=${ID}\r`, /RC=0/);
    } finally {
      t.kill();
    }
  });

  it('SIGTERM to the prompt while a command runs: the command ends too, exit 143', async () => {
    const tag = sleepTag();
    const t = await prompt();
    try {
      t.write(`exec name=${ID} command="sleep ${tag} & sleep ${tag}; wait"\r`);
      const t0 = Date.now();
      while (sleeps(tag).split('\n').filter(Boolean).length < 2) {
        if (Date.now() - t0 > 10_000) throw new Error(`the sleep never started:\n${t.plain()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      process.kill(t.pid, 'SIGTERM');
      expect(await t.ended()).toBe(143);
      expect(sleeps(tag)).toBe('');
    } finally {
      t.kill();
    }
  });

  it('Ctrl-C on a typed line clears it (no exit); on an empty line it prints how to quit', async () => {
    const t = await prompt();
    try {
      await t.type('bogus_verb_typed', /bogus_verb_typed$/);
      await t.type('\x03', /\^C\r?\n.*lxcri> $/);
      await t.type('\x03', /Ctrl-D or "exit" to quit/);
      await t.type('status\r', /RC=0/);
      expect(t.plain()).not.toMatch(/unknown verb/);
      expect(t.exit).toBeUndefined();
    } finally {
      t.kill();
    }
  });

  it('Ctrl-D prints a newline and exits with the last RC; history persists and Up recalls it in a new session', async () => {
    const t = await prompt();
    const line = `exec name=${ID} command="exit 3"`;
    await t.type(`${line}\r`, /RC=3[\s\S]*lxcri> $/);
    const from = t.text.length;
    t.write('\x04');
    expect(await t.ended()).toBe(3);
    expect(t.text.slice(from)).toMatch(/^\r?\n/);
    expect(fs.readFileSync(`${tmp}/history`, 'utf8').split('\n')).toContain(line);

    const t2 = await prompt();
    try {
      await t2.type('\x1b[A', new RegExp(`lxcri> ${line.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`));
      await t2.type('\r', /RC=3/);
      await t2.type('exit\r', /\n/);
      expect(await t2.ended()).toBe(3);
    } finally {
      t2.kill();
    }
  });
});
