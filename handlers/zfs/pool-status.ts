/**
 * `zpool status POOL` read into values: the pool's state, the scrub line and every device
 * of the config tree. Written against zfs-fuse 0.7's output (captured in
 * test/fixtures/zpool-status/); OpenZFS prints the same config tree, and its "scan:" line
 * is read like zfs-fuse's "scrub:" line.
 *
 * zfs-fuse's scrub line is one of (libzfs format strings):
 *   scrub: none requested
 *   scrub: scrub in progress for 0h0m, 12.34% done, 0h1m to go
 *   scrub: scrub completed after 0h0m with 0 errors on DATE   (also "scrub stopped", "resilver completed")
 */
import type { Ctx } from '../../shared/verb';
import { zpool } from './tool';

export interface PoolDevice {
  /** The device path, or the vdev group (mirror-0, raidz2-0); for a missing device the path it "was". */
  name: string;
  /** ONLINE, DEGRADED, FAULTED, UNAVAIL, OFFLINE, REMOVED … */
  state: string;
  /** 'data' for the pool's vdevs, 'log', 'cache' or 'spare' for those sections. */
  role: 'data' | 'log' | 'cache' | 'spare';
  /** true for a mirror/raidz group, false for a leaf device. */
  group: boolean;
  /** zpool's note after the counters ("corrupted data", "was /var/tmp/b.img"), else ''. */
  note: string;
}

export type ScrubState = 'none' | 'in progress' | 'completed' | 'stopped';

export interface PoolStatusInfo {
  pool: string;
  /** The "state:" line (ONLINE, DEGRADED, FAULTED, UNAVAIL). */
  state: string;
  scrub: { state: ScrubState; kind: 'scrub' | 'resilver' | ''; errors: number; percent: number; line: string };
  devices: PoolDevice[];
}

const GROUP = /^(?:mirror|raidz\d?|draid\d?|replacing|spare)-\d+$/;
const SECTIONS: Record<string, PoolDevice['role']> = { logs: 'log', cache: 'cache', spares: 'spare' };

/** Parse the text of one pool's `zpool status`. */
export function parsePoolStatus(text: string): PoolStatusInfo {
  const lines = text.split('\n');
  const field = (k: string) => lines.find((l) => new RegExp(`^\\s*${k}:`).test(l))?.replace(new RegExp(`^\\s*${k}:\\s*`), '').trim() ?? '';
  const pool = field('pool');
  const scrubLine = field('scrub') || field('scan');
  const devices: PoolDevice[] = [];
  const start = lines.findIndex((l) => /^\s*NAME\s+STATE\s+READ\s+WRITE\s+CKSUM/.test(l));
  let role: PoolDevice['role'] = 'data';
  if (start >= 0) {
    for (const raw of lines.slice(start + 1)) {
      if (!raw.trim()) {
        if (devices.length) break;
        continue;
      }
      if (/^\S/.test(raw)) break; // "errors:" and the like end the tree
      const f = raw.trim().split(/\s+/);
      const [name, state] = f;
      if (!name) continue;
      if (SECTIONS[name] && (!state || !/^[A-Z]+$/.test(state))) {
        role = SECTIONS[name]!;
        continue;
      }
      if (name === pool && role === 'data' && !devices.length) continue; // the pool's own row
      const note = f.slice(5).join(' ');
      const was = /^was (\S+)/.exec(note)?.[1];
      devices.push({ name: was ?? name, state: state ?? '', role, group: GROUP.test(name), note });
    }
  }
  return { pool, state: field('state'), scrub: parseScrub(scrubLine), devices };
}

/** The scrub (or resilver) line, after "scrub:" / "scan:". */
export function parseScrub(line: string): PoolStatusInfo['scrub'] {
  const kind = /^(scrub|resilver)/.exec(line)?.[1] as 'scrub' | 'resilver' | undefined;
  const errors = Number(/with (\d+) errors/.exec(line)?.[1] ?? 0);
  const percent = Number(/([\d.]+)% done/.exec(line)?.[1] ?? (/(completed|repaired)/.test(line) ? 100 : 0));
  let state: ScrubState = 'none';
  if (/in progress/.test(line)) state = 'in progress';
  else if (/completed|repaired/.test(line)) state = 'completed';
  else if (/stopped|canceled/.test(line)) state = 'stopped';
  return { state, kind: kind ?? '', errors, percent, line };
}

/** Run `zpool status POOL` and parse it. */
export async function poolStatusInfo(ctx: Ctx, pool: string): Promise<PoolStatusInfo> {
  const r = await zpool(ctx, ['status', pool], { readOnly: true });
  return parsePoolStatus(r.stdout);
}

/** The devices (leaves and groups) not ONLINE, as "NAME STATE (note)". */
export const badDevices = (s: PoolStatusInfo): string[] =>
  s.devices.filter((d) => d.state !== 'ONLINE').map((d) => `${d.name} ${d.state}${d.note && !d.note.startsWith('was ') ? ` (${d.note})` : ''}`);
