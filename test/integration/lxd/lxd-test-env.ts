/** What the LXD integration tests share: the daemon check, unique names, cleanup. */
import { execa } from 'execa';
import { expect } from 'vitest';
import type { AddressHandler } from '../../../shared/dispatch';
import { RUN_ID } from '../../helpers/run-id';

/** Fail (not skip) with a clear message when the daemon from setup-host isn't up. */
export async function requireLxd(): Promise<void> {
  const r = await execa('lxc', ['query', '/1.0'], { reject: false, timeout: 10_000 });
  if (r.exitCode !== 0) {
    throw new Error(`LXD is not answering (${(r.stderr || r.message).trim()}): run "bash scripts/setup-host.sh" as root first`);
  }
  const img = await execa('lxc', ['query', '/1.0/images/aliases/tiny'], { reject: false });
  if (img.exitCode !== 0) throw new Error('image alias "tiny" is missing: run "bash scripts/setup-host.sh"');
}

let n = 0;
/** A name no other test or run uses: letters, digits, hyphens. */
export const uniq = (what: string) => `it-${what}-${RUN_ID}-${++n}`;

/** Delete instances if they exist (force), ignoring "not found". */
export async function cleanupInstances(names: string[]): Promise<void> {
  await Promise.all(names.map((name) => execa('lxc', ['delete', '--force', name], { reject: false })));
}

/** A caller of `h` that expects RC 0 (naming the command and its ERRORTEXT when not) and returns the result. */
export const okWith = (h: AddressHandler) => async (cmd: string) => {
  const r = await h(cmd);
  expect(r.errorCode, `${cmd}: ${r.errorMessage}`).toBe(0);
  return r;
};
