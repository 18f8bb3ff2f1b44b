/**
 * Driving a verb with an injected fake runner (test/helpers/fake-runner.ts), not fake
 * binaries on PATH: createHandler(table, { runner }) is the seam every unit test can use.
 */
import { describe, expect, it } from 'vitest';
import { createHandler } from '../../../shared/dispatch';
import { table as lxd } from '../../../handlers/lxd';
import { fakeRunner } from '../../helpers/fake-runner';

const env = { REXX_ADDRESS_STRICT_VARS: '1', PATH: '/nonexistent' };

describe('a verb driven by an injected fake runner (fake runner: nothing runs)', () => {
  it('create runs the one lxc init argv the verb builds, with no binary on PATH', async () => {
    const f = fakeRunner();
    const h = createHandler(lxd, { env, runner: f.runner });
    const r = await h('create name=web image=tiny memory=256MiB');
    expect(r.errorCode, r.errorMessage).toBe(0);
    expect(f.calls).toEqual([['lxc', 'init', 'tiny', 'web', '--config', 'limits.memory=256MiB']]);
  });

  it("a failure the fake gives is classified by the handler (LXD 'already exists' → RC 4)", async () => {
    const f = fakeRunner(() => ({ exitCode: 1, stderr: 'Error: Failed creating instance record: Instance "web" already exists' }));
    const r = await createHandler(lxd, { env, runner: f.runner })('create name=web image=tiny');
    expect(r.errorCode).toBe(4);
  });

  it('under dryrun the fake records exactly as the real runner does', async () => {
    const f = fakeRunner();
    const r = await createHandler(lxd, { env, runner: f.runner })('create name=web image=tiny dryrun=true');
    expect(r.rexxVariables.COMMANDS).toEqual({ 0: 1, 1: 'lxc init tiny web' });
    expect(f.calls).toEqual([]);
  });
});
