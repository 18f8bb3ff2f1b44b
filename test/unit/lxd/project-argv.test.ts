/**
 * project= of every LXD verb: `lxc --project P …`, and for `lxc query` (which refuses
 * --project) `project=P` on the API path; applied in one place (tool.ts inProjectArgv),
 * checked on the pure function and through the handler against a fake `lxc` on PATH.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { table } from '../../../handlers/lxd';
import { inProjectArgv } from '../../../handlers/lxd/tool';
import { createHandler } from '../../../shared/dispatch';
import type { ParamSpec } from '../../../shared/params';
import { fakeBin, type FakeBin } from '../../helpers/fakebin';

const fakes: FakeBin[] = [];
afterEach(() => {
  while (fakes.length) fakes.pop()!.cleanup();
});

describe('inProjectArgv', () => {
  it.each([
    [['lxc', 'start', 'web'], ['lxc', '--project', 'p', 'start', 'web']],
    [['incus', 'file', 'push', '-', 'web/etc/motd'], ['incus', '--project', 'p', 'file', 'push', '-', 'web/etc/motd']],
    [['lxc', 'query', '/1.0/instances?recursion=1'], ['lxc', 'query', '/1.0/instances?recursion=1&project=p']],
    [['lxc', 'query', 'r:/1.0/instances/web'], ['lxc', 'query', 'r:/1.0/instances/web?project=p']],
    [['lxc', 'query', '--wait', '-X', 'PUT', '/1.0/instances/web/state', '-d', '{"action":"freeze"}'], ['lxc', 'query', '--wait', '-X', 'PUT', '/1.0/instances/web/state?project=p', '-d', '{"action":"freeze"}']],
    [['lxc', 'query', '/1.0/instances?project=q'], ['lxc', 'query', '/1.0/instances?project=q']],
    [['install', '-d', '-m', '0755', '/tmp/x'], ['install', '-d', '-m', '0755', '/tmp/x']],
  ])('%j', (argv, want) => {
    expect(inProjectArgv(argv, 'p')).toEqual(want);
  });

  it('without a project, argv as it is', () => {
    expect(inProjectArgv(['lxc', 'start', 'web'], undefined)).toEqual(['lxc', 'start', 'web']);
  });
});

describe('project= through the handler (fake binary)', () => {
  const withLxc = () => {
    const fake = fakeBin({ lxc: {} });
    fakes.push(fake);
    return { h: createHandler(table, { env: fake.env }), calls: () => fake.calls().map((c) => c.slice(1)) };
  };

  it.each([
    ['start name=web wait=none project=p', [['--project', 'p', 'start', 'web']]],
    ['start name=web wait=none remote=r project=p', [['--project', 'p', 'start', 'r:web']]],
    ['profile_delete name=small project=p', [['--project', 'p', 'profile', 'delete', 'small']]],
    ['volume_create pool=default volume=v1 project=p', [['--project', 'p', 'storage', 'volume', 'create', 'default', 'v1']]],
    ['freeze name=web project=p', [['query', '--wait', '-X', 'PUT', '/1.0/instances/web/state?project=p', '-d', '{"action":"freeze","timeout":-1}']]],
  ])('%s', async (cmd, want) => {
    const { h, calls } = withLxc();
    const r = await h(cmd);
    expect(r.errorMessage).toBe('');
    expect(calls()).toEqual(want);
  });

  it('every LXD verb has project= with the LXD name rule', () => {
    for (const v of table.verbs) {
      const p = (v.params as Record<string, ParamSpec>).project;
      expect(p, `${v.name} has no project=`).toBeDefined();
      expect(p!.rule?.label, v.name).toBe('name');
    }
  });
});
