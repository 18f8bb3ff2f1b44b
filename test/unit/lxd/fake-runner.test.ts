/**
 * LXD verbs driven by an injected fake runner and clock (test/helpers/fake-runner.ts):
 * answers the real lxc cannot be made to give on demand (busy, already, a shutdown that
 * runs out of time), with no binary on PATH and no real waiting.
 */
import { describe, expect, it } from 'vitest';
import { createHandler } from '../../../shared/dispatch';
import type { Clock } from '../../../shared/effects';
import { table } from '../../../handlers/lxd';
import { fakeRunner, type FakeReply } from '../../helpers/fake-runner';

const env = { REXX_ADDRESS_STRICT_VARS: '1', PATH: '/nonexistent' };

/** A clock whose sleep only moves its own time on: the busy retry's 30 s pass at once. */
function fakeClock(): Clock & { slept: number[] } {
  let t = 1_000_000;
  const slept: number[] = [];
  return { slept, now: () => t, sleep: async (ms) => void (slept.push(ms), (t += ms)) };
}

const BUSY: FakeReply = { exitCode: 1, stderr: 'Error: Instance is busy running a "snapshot" operation' };

describe('LXD verbs with an injected fake runner', () => {
  it('a busy instance is asked again, with back-off, until LXD takes the call (fake runner)', async () => {
    let n = 0;
    const f = fakeRunner(() => (++n <= 3 ? BUSY : undefined));
    const clock = fakeClock();
    const r = await createHandler(table, { env, runner: f.runner, clock })('snapshot web s1');
    expect(r.errorCode, r.errorMessage).toBe(0);
    expect(f.calls).toEqual(Array(4).fill(['lxc', 'snapshot', 'web', 's1']));
    expect(clock.slept).toEqual([20, 30, 45]);
  });

  it('start wait=agent on a VM (fake runner: LXD VMs need KVM, which this host lacks): polls the state until LXD reports processes from the lxd-agent', async () => {
    let probes = 0;
    const f = fakeRunner((argv) => {
      const a = argv.join(' ');
      if (a === 'lxc query /1.0/instances/vm1') return { stdout: JSON.stringify({ name: 'vm1', status: 'Stopped', status_code: 102, type: 'virtual-machine', config: {}, expanded_devices: {} }) };
      if (a === 'lxc query /1.0/instances/vm1/state') return { stdout: JSON.stringify({ status: 'Running', pid: 9, processes: ++probes < 3 ? -1 : 12, network: null }) };
      return undefined;
    });
    const r = await createHandler(table, { env, runner: f.runner, clock: fakeClock() })('start vm1 wait=agent');
    expect(r.errorCode, r.errorMessage).toBe(0);
    expect(probes).toBe(3);
    expect(f.calls.filter((c) => c[1] === 'start')).toEqual([['lxc', 'start', 'vm1']]);
  });

  it('still busy after 30 s is RC 1 with lxc\'s message (fake runner)', async () => {
    const f = fakeRunner(() => BUSY);
    const clock = fakeClock();
    const r = await createHandler(table, { env, runner: f.runner, clock })('snapshot web s1');
    expect(r.errorCode).toBe(1);
    expect(r.errorMessage).toBe(BUSY.stderr);
    const waited = clock.slept.reduce((a, b) => a + b, 0);
    expect(waited).toBeLessThanOrEqual(30_000);
    expect(waited).toBeGreaterThan(29_000);
    expect(f.calls.length).toBe(clock.slept.length + 1);
  });

  it('a snapshot record count mismatch (canonical/lxd#11407) is retried like busy (fake runner)', async () => {
    let n = 0;
    const f = fakeRunner(() => (++n === 1 ? { exitCode: 1, stderr: "Error: Snapshot record count doesn't match instance snapshot volume record count" } : undefined));
    const r = await createHandler(table, { env, runner: f.runner, clock: fakeClock() })('snapshot web s1');
    expect(r.errorCode, r.errorMessage).toBe(0);
    expect(f.calls.length).toBe(2);
  });

  it('stop of a stopped instance is RC 0, restart of one stays RC 1 (fake runner)', async () => {
    const f = fakeRunner(() => ({ exitCode: 1, stderr: 'Error: The instance is already stopped' }));
    const h = createHandler(table, { env, runner: f.runner });
    expect((await h('stop web')).rexxVariables).toMatchObject({ STATUS: 'Stopped' });
    expect((await h('restart web')).errorCode).toBe(1);
  });

  it('a clean stop that runs out of time is RC 5 with the state it was left in (fake runner)', async () => {
    const f = fakeRunner((argv) =>
      argv[1] === 'stop'
        ? { exitCode: 1, stderr: 'Error: Failed shutting down instance, status is "Running": shutting down the container failed' }
        : { stdout: JSON.stringify({ name: 'web', status: 'Running', status_code: 103, type: 'container', config: {}, profiles: [], created_at: '' }) },
    );
    const r = await createHandler(table, { env, runner: f.runner })('stop web timeout=2s');
    expect(r.errorCode).toBe(5);
    expect(r.errorMessage).toMatch(/did not shut down within 2000 ms and is still Running/);
    expect(r.rexxVariables.STATUS).toBe('Running');
    expect(f.calls).toEqual([['lxc', 'stop', 'web', '--timeout', '2'], ['lxc', 'query', '/1.0/instances/web']]);
  });

  it('register_base image= creates the instance with the lxc init argv of create (fake runner)', async () => {
    const inst = JSON.stringify({ name: 'web', status: 'Stopped', status_code: 102, type: 'container', config: {}, profiles: ['p1'], created_at: '' });
    const f = fakeRunner((argv) => (argv[1] !== 'query' ? undefined : { stdout: argv[2]!.endsWith('/snapshots') ? '[]' : inst }));
    const h = createHandler(table, { env, runner: f.runner });
    const opts = 'profile=p1 storage=fast memory=256MiB cpus=2 config=user.a=1';
    expect((await h(`create name=web image=tiny ${opts}`)).errorCode).toBe(0);
    expect((await h(`register_base name=web image=tiny ${opts}`)).errorCode).toBe(0);
    const inits = f.calls.filter((c) => c[1] === 'init');
    expect(inits).toEqual(Array(2).fill(['lxc', 'init', 'tiny', 'web', '--profile', 'p1', '--storage', 'fast', '--config', 'limits.memory=256MiB', '--config', 'limits.cpu=2', '--config', 'user.a=1']));
  });

  it('exec in a stopped instance never ran: RC -1, not an "already" refusal (fake runner)', async () => {
    const f = fakeRunner(() => ({ exitCode: 1, stderr: 'Error: Instance is not running' }));
    const r = await createHandler(table, { env, runner: f.runner })('exec web hostname');
    expect(r.errorCode).toBe(-1);
  });
});
