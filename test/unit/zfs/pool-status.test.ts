/** parsePoolStatus on `zpool status` output captured from zfs-fuse 0.7 (test/fixtures/zpool-status/). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { badDevices, parsePoolStatus, parseScrub } from '../../../handlers/zfs/pool-status';

const fixture = (f: string) => fs.readFileSync(path.join(__dirname, '../../fixtures/zpool-status', f), 'utf8');

describe('zpool status parser (captured zfs-fuse output)', () => {
  it('a mirror with a log device, scrubbed: groups, leaves and the log section', () => {
    const s = parsePoolStatus(fixture('mirror-log-scrubbed.txt'));
    expect(s.pool).toBe('probem');
    expect(s.state).toBe('ONLINE');
    expect(s.scrub).toMatchObject({ state: 'completed', kind: 'scrub', errors: 0, percent: 100 });
    expect(s.devices.map((d) => [d.name, d.state, d.role, d.group])).toEqual([
      ['mirror-0', 'ONLINE', 'data', true],
      ['/var/tmp/probe1.img', 'ONLINE', 'data', false],
      ['/var/tmp/probe2.img', 'ONLINE', 'data', false],
      ['/var/tmp/probe3.img', 'ONLINE', 'log', false],
    ]);
    expect(badDevices(s)).toEqual([]);
  });

  it('a removed mirror leg after export/import: DEGRADED, the leg UNAVAIL under the path it was', () => {
    const s = parsePoolStatus(fixture('degraded-removed.txt'));
    expect(s.state).toBe('DEGRADED');
    expect(s.scrub.state).toBe('none');
    expect(s.devices.map((d) => [d.name, d.state])).toEqual([
      ['mirror-0', 'DEGRADED'],
      ['/var/tmp/probe1.img', 'ONLINE'],
      ['/var/tmp/probe2.img', 'UNAVAIL'],
    ]);
    expect(badDevices(s)).toEqual(['mirror-0 DEGRADED', '/var/tmp/probe2.img UNAVAIL']);
  });

  it('a leg whose label was zeroed: zfs-fuse keeps the pool ONLINE, the leg is UNAVAIL (corrupted data)', () => {
    const s = parsePoolStatus(fixture('unlabelled-leg.txt'));
    expect(s.state).toBe('ONLINE');
    expect(badDevices(s)).toEqual(['/var/tmp/probe2.img UNAVAIL (corrupted data)']);
  });

  it.each([
    ['none requested', 'none', 0, 0],
    ['scrub in progress for 0h0m, 12.34% done, 0h1m to go', 'in progress', 0, 12.34],
    ['scrub completed after 0h0m with 3 errors on Mon Nov 30 01:38:47 2026', 'completed', 3, 100],
    ['scrub stopped after 0h0m with 0 errors on Mon Nov 30 01:38:47 2026', 'stopped', 0, 0],
    ['resilver completed after 0h0m with 0 errors on Mon Nov 30 01:38:47 2026', 'completed', 0, 100],
  ])('scrub line %j (zfs-fuse libzfs formats)', (line, state, errors, percent) => {
    expect(parseScrub(line)).toMatchObject({ state, errors, percent });
  });
});
