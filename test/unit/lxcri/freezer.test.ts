/**
 * freezer.ts: which cgroup freezer a runc checkpoint writes (the one runc recorded in
 * state.json, only under /sys/fs/cgroup/), and the words it writes and reads back, on
 * cgroup v1 and v2 (an in-memory file table stands in for the host's files).
 */
import { describe, expect, it } from 'vitest';
import { freeze, freezerOf, hasProcesses, isFrozen, thaw } from '../../../handlers/lxcri/freezer';
import type { Runtime } from '../../../handlers/lxcri/runtime';

const rt: Runtime = { name: 'runc', root: '/run/rexx/runc', wrapper: [] };
function host(files: Record<string, string>) {
  const fs = {
    readText: (p: string) => files[p],
    exists: (p: string) => p in files,
    writeText: (p: string, t: string | Buffer) => ((files[p] = String(t)), true),
  };
  const poll = async <T>(probe: () => Promise<T | undefined>, o: { timeoutMs: number }) => {
    for (let i = 0; i < 5; i++) {
      const v = await probe();
      if (v !== undefined) return { value: v, elapsedMs: 0, probes: i + 1 };
    }
    throw new Error(`timed out after ${o.timeoutMs} ms`);
  };
  return { ctx: { fs, poll } as never, files };
}
const state = (paths: Record<string, string>) => JSON.stringify({ cgroup_paths: paths });

describe('cgroup freezer of a runc container (fake host files)', () => {
  it('v1: freezer.state from cgroup_paths.freezer; FROZEN, read back (FREEZING first), THAWED', async () => {
    const cg = '/sys/fs/cgroup/freezer/web';
    const { ctx, files } = host({ [`${rt.root}/web/state.json`]: state({ freezer: cg, '': '/sys/fs/cgroup/unified/web' }), [`${cg}/freezer.state`]: 'THAWED\n', [`${cg}/cgroup.procs`]: '42\n' });
    const f = freezerOf(ctx, rt, 'web')!;
    expect(f).toEqual({ control: `${cg}/freezer.state`, status: `${cg}/freezer.state`, procs: `${cg}/cgroup.procs`, v2: false });
    expect(hasProcesses(ctx, f)).toBe(true);
    expect(isFrozen(ctx, f)).toBe(false);
    await freeze(ctx, f, 1000, 'web');
    expect(files[f.control]).toBe('FROZEN');
    expect(isFrozen(ctx, f)).toBe(true);
    thaw(ctx, f);
    expect(files[f.control]).toBe('THAWED');
  });

  it('v2: cgroup.freeze 1/0, frozen when cgroup.events says frozen 1; a freeze that never completes is thawed again and fails', async () => {
    const cg = '/sys/fs/cgroup/web';
    const { ctx, files } = host({ [`${rt.root}/web/state.json`]: state({ '': cg }), [`${cg}/cgroup.freeze`]: '0', [`${cg}/cgroup.events`]: 'populated 1\nfrozen 0\n', [`${cg}/cgroup.procs`]: '' });
    const f = freezerOf(ctx, rt, 'web')!;
    expect(f.v2).toBe(true);
    expect(hasProcesses(ctx, f)).toBe(false);
    await expect(freeze(ctx, f, 50, 'web')).rejects.toThrow(/timed out/);
    expect(files[f.control]).toBe('0');
    files[`${cg}/cgroup.events`] = 'populated 1\nfrozen 1\n';
    await freeze(ctx, f, 50, 'web');
    expect(files[f.control]).toBe('1');
  });

  it('none for another runtime, no state, or a recorded path outside /sys/fs/cgroup (or with ..)', () => {
    for (const p of ['/etc', '/sys/fs/cgroup/../../etc', '/sys/fs/cgroup/freezer/../../../etc']) {
      const { ctx } = host({ [`${rt.root}/web/state.json`]: state({ freezer: p }), [`${p}/freezer.state`]: 'THAWED' });
      expect(freezerOf(ctx, rt, 'web'), p).toBeUndefined();
    }
    expect(freezerOf(host({}).ctx, rt, 'web')).toBeUndefined();
    expect(freezerOf(host({ [`${rt.root}/web/state.json`]: '{not json' }).ctx, rt, 'web')).toBeUndefined();
    expect(freezerOf(host({}).ctx, { ...rt, name: 'crun' }, 'web')).toBeUndefined();
  });
});
