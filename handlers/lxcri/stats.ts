/**
 * A container's resource figures for `events`: from `runc events` (JSON lines of type
 * stats and oom, runc's libcontainer types) or, for a runtime without an `events`
 * command (crun 1.8), from the cgroup files of its init process (cgroup v1:
 * memory.usage_in_bytes, memory.limit_in_bytes, memory.max_usage_in_bytes,
 * memory.failcnt, memory.oom_control's oom_kill, pids.current, pids.max, cpuacct.usage;
 * cgroup v2: memory.current, memory.max, memory.peak, memory.events, pids.*, cpu.stat),
 * read through ctx.fs. One shape for both, {@link Stats}.
 */
import type { Ctx } from '../../shared/verb';

/** What `events` reports. Sizes in bytes, CPU in ns; 'max' for no limit, '' when not known. */
export interface Stats {
  memoryUsage: number | '';
  memoryLimit: number | 'max' | '';
  memoryMax: number | '';
  memoryFailcnt: number | '';
  cpuNs: number | '';
  pids: number | '';
  pidsLimit: number | 'max' | '';
}

/** A limit as the kernel writes "none": a huge number (v1: 2^63 rounded to pages) or "max" (v2). */
const limit = (v: number | string | undefined): number | 'max' | '' => {
  if (v === undefined || v === '') return '';
  if (v === 'max') return 'max';
  const n = Number(v);
  if (!Number.isFinite(n)) return '';
  return n >= 2 ** 53 || n === 0 ? 'max' : n;
};
const num = (v: unknown): number | '' => (typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v.trim()) : '');

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});

/** {@link Stats} of one `runc events` stats record's `data` (libcontainer types.Stats). Pure. */
export function statsFromRunc(data: unknown): Stats {
  const d = obj(data);
  const mem = obj(obj(d.memory).usage);
  const pids = obj(d.pids);
  return {
    memoryUsage: num(mem.usage),
    memoryLimit: limit(num(mem.limit) === '' ? undefined : (mem.limit as number)),
    memoryMax: num(mem.max),
    memoryFailcnt: num(mem.failcnt),
    cpuNs: num(obj(obj(d.cpu).usage).total),
    pids: num(pids.current),
    // runc leaves out a zero (no) pids limit.
    pidsLimit: num(pids.current) === '' ? '' : limit(num(pids.limit) === '' ? 0 : (pids.limit as number)),
  };
}

/** The event lines of `runc events` output: each JSON line's type and data (lines that are not JSON are skipped). Pure. */
export function runcEvents(stdout: string): Array<{ type: string; data: unknown }> {
  const out: Array<{ type: string; data: unknown }> = [];
  for (const l of stdout.split('\n')) {
    if (!l.trim()) continue;
    try {
      const e = JSON.parse(l) as { type?: unknown; data?: unknown };
      if (typeof e.type === 'string') out.push({ type: e.type, data: e.data });
    } catch {
      /* a partial last line cut by the duration's end */
    }
  }
  return out;
}

/** Where each cgroup controller of process `pid` is on this host: controller → folder. v2 (unified) under key ''. */
function cgroupDirs(ctx: Pick<Ctx, 'fs'>, pid: number): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of (ctx.fs.readText(`/proc/${pid}/cgroup`) ?? '').split('\n')) {
    const [, controllers, where] = /^\d+:([^:]*):(.*)$/.exec(line) ?? [];
    if (controllers === undefined || where === undefined) continue;
    if (controllers === '') {
      m.set('', `/sys/fs/cgroup${where === '/' ? '' : where}`);
      continue;
    }
    for (const c of controllers.split(',')) m.set(c, `/sys/fs/cgroup/${controllers}${where === '/' ? '' : where}`);
  }
  return m;
}

const read = (ctx: Pick<Ctx, 'fs'>, file: string): string | undefined => {
  try {
    return ctx.fs.readText(file)?.trim();
  } catch {
    return undefined;
  }
};
/** `key value` lines (memory.events, cpu.stat, memory.oom_control) → the value of `key`. */
const field = (text: string | undefined, key: string): number | '' => num(new RegExp(`^${key} (\\d+)$`, 'm').exec(text ?? '')?.[1]);

/**
 * {@link Stats} and the OOM-kill counter of the cgroups of host process `pid` (the
 * container's init), read from the cgroup files. cgroup v1 controllers when mounted
 * (a hybrid host), else v2.
 */
export function cgroupStats(ctx: Pick<Ctx, 'fs'>, pid: number): { stats: Stats; oomKills: number | '' } {
  const dirs = cgroupDirs(ctx, pid);
  const v1 = (c: string) => (dirs.has(c) && ctx.fs.exists(dirs.get(c)!) ? dirs.get(c) : undefined);
  const mem = v1('memory');
  const pids = v1('pids');
  const cpu = v1('cpuacct');
  const u = dirs.get('') ?? '';
  const r = (dir: string | undefined, f: string) => (dir ? read(ctx, `${dir}/${f}`) : undefined);
  const stats: Stats = {
    memoryUsage: num(mem ? r(mem, 'memory.usage_in_bytes') : r(u, 'memory.current')),
    memoryLimit: limit(mem ? r(mem, 'memory.limit_in_bytes') : r(u, 'memory.max')),
    memoryMax: num(mem ? r(mem, 'memory.max_usage_in_bytes') : r(u, 'memory.peak')),
    memoryFailcnt: mem ? num(r(mem, 'memory.failcnt')) : field(r(u, 'memory.events'), 'max'),
    cpuNs: cpu ? num(r(cpu, 'cpuacct.usage')) : ((us) => (us === '' ? '' : us * 1000))(field(r(u, 'cpu.stat'), 'usage_usec')),
    pids: num(r(pids ?? u, 'pids.current')),
    pidsLimit: limit(r(pids ?? u, 'pids.max')),
  };
  const oomKills = mem ? field(r(mem, 'memory.oom_control'), 'oom_kill') : field(r(u, 'memory.events'), 'oom_kill');
  return { stats, oomKills };
}
