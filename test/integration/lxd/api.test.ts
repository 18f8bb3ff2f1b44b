/** The local LXD asked on its unix socket for reads (handlers/lxd/tool.ts query), on the real daemon. */
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler } from '../../../shared/dispatch';
import { table } from '../../../handlers/lxd';
import { cleanupInstances, okWith, requireLxd, uniq } from './lxd-test-env';

describe('LXD reads on the unix socket (real daemon)', () => {
  const name = uniq('api');
  beforeAll(async () => {
    await requireLxd();
    await execa('lxc', ['init', 'tiny', name], { stdin: 'ignore' }); // (lxc init reads a config from a stdin that is not a terminal)
  });
  afterAll(() => cleanupInstances([name]));

  it('info reads the instance with a GET on the socket, no lxc query, and says what lxc query says', async () => {
    const lines: string[] = [];
    const h = createHandler(table, { traceSink: (l) => lines.push(l) });
    const r = await okWith(h)(`config_get name=${name} trace=true`);
    expect(lines.some((l) => l.includes(`GET unix:/var/lib/lxd/unix.socket /1.0/instances/${name} [200]`))).toBe(true);
    expect(lines.some((l) => / lxc query /.test(l))).toBe(false);
    const raw = JSON.parse((await execa('lxc', ['query', `/1.0/instances/${name}`])).stdout);
    expect(r.rexxVariables.KEYS).toMatchObject({ 0: Object.keys(raw.config).length });
  });

  it('a missing instance is RC 3 and a socket nobody listens on RC 6, as through lxc', async () => {
    const h = createHandler(table);
    const r = await h(`info name=${uniq('none')}`);
    expect(r.errorCode).toBe(3);
    expect(r.errorMessage).toMatch(/not found/i);
    const down = createHandler(table, { env: { ...process.env, LXD_SOCKET: '/dev/null' } });
    const d = await down(`info name=${name}`);
    expect(d.errorCode).toBe(6);
  });
  // (No socket file: lxc is asked instead. lxc reads LXD_SOCKET too, so that is shown with
  // the fake lxc of the unit tests, test/helpers/fakebin.ts, not here.)
});
