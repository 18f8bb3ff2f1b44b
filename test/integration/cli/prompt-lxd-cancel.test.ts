/**
 * Ctrl-C at the verb prompt during an LXD exec, on the real LXD: the command and what it
 * started in the instance (a foreground and a background sleep; LXD forwards the signal
 * only to the first process) are all gone, from the host's process table and from the
 * instance's `ps`; RC 130; the prompt carries on. Needs `npm run build` and the image tiny.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { table } from '../../../handlers/lxd';
import { createHandler } from '../../../shared/dispatch';
import { RUN_ID } from '../../helpers/run-id';
import { cleanupInstances, requireLxd, uniq } from '../lxd/lxd-test-env';
import { sleepTag, sleeps, Term } from './term';

const NAME = uniq('pty');
const h = createHandler(table);
let tmp: string;

beforeAll(async () => {
  await requireLxd();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-pty-lxd-'));
  const r = await h(`create name=${NAME} image=tiny`);
  expect(r.errorCode, r.errorMessage).toBe(0);
  const s = await h(`start name=${NAME}`);
  expect(s.errorCode, s.errorMessage).toBe(0);
});
afterAll(async () => {
  await cleanupInstances([NAME]);
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

it('Ctrl-C during lxc exec of two sleeps (one in the background): RC 130, none left in the instance', async () => {
  const tag = sleepTag();
  const t = new Term(['lxd'], { ...(process.env as Record<string, string>), REXX_ADDRESS_HISTORY: `${tmp}/history`, TERM: 'xterm' });
  try {
    await t.waitFor(/lxd> $/);
    const from = t.text.length;
    t.write(`exec name=${NAME} command="sleep ${tag} & sleep ${tag}; wait"\r`);
    const t0 = Date.now();
    while (sleeps(tag).split('\n').filter(Boolean).length < 2) {
      if (Date.now() - t0 > 15_000) throw new Error(`the sleeps never started:\n${t.plain(from)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const c0 = Date.now();
    t.write('\x03');
    await t.waitFor(/RC=130\r?\n[\s\S]*lxd> $/, from, 5_000);
    expect(Date.now() - c0).toBeLessThan(3_000);
    while (sleeps(tag) && Date.now() - c0 < 3_000) await new Promise((r) => setTimeout(r, 50));
    expect(sleeps(tag)).toBe('');
    const ps = await h(`exec name=${NAME} command=ps`);
    expect(ps.errorCode).toBe(0);
    expect(ps.output).not.toContain(`sleep ${tag}`);
    await t.type(`info name=${NAME}\r`, /RC=0/);
  } finally {
    t.kill();
  }
});
