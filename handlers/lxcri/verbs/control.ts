/**
 * Control of a running container, as users know it from runc and podman: `update` (its
 * memory, CPU and process limits: `<runtime> update`), `ps` (its processes:
 * `<runtime> ps --format json`, with command lines from /proc), `events` (its resource
 * figures and OOM events over a bounded time: `runc events`, or the cgroup files where
 * the runtime has no events command) and `logs` (what it printed: the output log that
 * run/create keep, tool.ts outputLog).
 */
import { notFound, refused, usageError } from '../../../shared/errors';
import { stem } from '../../../shared/result';
import { defineVerb } from '../../../shared/verb';
import { mustState } from '../container';
import { LIMIT_PARAMS, noLimits, readLimits, updateFlags } from '../limits';
import { NAME, RUNTIME } from '../params';
import { pickRuntime } from '../runtime';
import { cgroupStats, runcEvents, statsFromRunc, type Stats } from '../stats';
import { ociError } from '../errors';
import { outputLog, rtArgv, rtRun } from '../tool';

export const update = defineVerb({
  name: 'update',
  summary: 'change the memory, CPU and process limits of a running container (runtime update)',
  params: { ...NAME, ...LIMIT_PARAMS, ...RUNTIME },
  positional: ['name'],
  examples: ['update name=web memory=256M cpus=1.5 pids_limit=200'],
  vars: { MEMORY: 'the memory limit set, bytes', CPU_QUOTA: 'the CFS quota set, µs per 100 000 µs period', PIDS_LIMIT: 'the process limit set' },
  async run(p, ctx) {
    const l = readLimits(p);
    if (noLimits(l)) throw usageError('update: give at least one of memory=, cpus=, pids_limit=');
    const rt = await pickRuntime(ctx, p.runtime);
    await rtRun(ctx, rt, ['update', ...updateFlags(l), p.name], { timeoutMs: 30_000 });
    return { result: p.name, vars: { MEMORY: l.memory ?? '', CPU_QUOTA: l.cpuQuota ?? '', PIDS_LIMIT: l.pidsLimit ?? '' } };
  },
});

/** The command line of host process `pid` (/proc/PID/cmdline words joined by spaces; [comm] for a kernel thread or zombie, '' when gone). */
function commandLine(ctx: { fs: { readText(p: string): string | undefined } }, pid: number): string {
  try {
    const words = (ctx.fs.readText(`/proc/${pid}/cmdline`) ?? '').split('\0').filter(Boolean);
    if (words.length) return words.join(' ');
    const comm = ctx.fs.readText(`/proc/${pid}/comm`)?.trim();
    return comm ? `[${comm}]` : '';
  } catch {
    return ''; // exited meanwhile
  }
}

export const ps = defineVerb({
  name: 'ps',
  summary: 'the processes of a container (runtime ps --format json): stems PIDS (host pids) and COMMANDS (their command lines, from /proc); none when it is stopped',
  params: { ...NAME, ...RUNTIME },
  positional: ['name'],
  vars: { PIDS: { stem: 'host pid of each process' }, COMMANDS: { stem: 'its command line' } },
  async run(p, ctx) {
    const rt = await pickRuntime(ctx, p.runtime);
    // A stopped container has no processes (crun 1.8's ps crashes on one: SIGSEGV).
    if ((await mustState(ctx, rt, p.name)).status === 'stopped') return { result: '', vars: { PIDS: stem([]), COMMANDS: stem([]) } };
    const r = await rtRun(ctx, rt, ['ps', '--format=json', p.name], { readOnly: true, timeoutMs: 10_000 });
    const pids = ((JSON.parse(r.stdout || '[]') as unknown[]) ?? []).map(Number).filter((n) => n > 0).sort((a, b) => a - b);
    const cmds = pids.map((pid) => commandLine(ctx, pid));
    return { result: pids.map((pid, i) => `${pid} ${cmds[i]}`).join('\n'), vars: { PIDS: stem(pids), COMMANDS: stem(cmds) } };
  },
});

/** The REXX variables of {@link Stats}. */
const statsVars = (s: Stats) => ({
  MEMORY_USAGE: s.memoryUsage,
  MEMORY_LIMIT: s.memoryLimit,
  MEMORY_MAX: s.memoryMax,
  MEMORY_FAILCNT: s.memoryFailcnt,
  CPU_NS: s.cpuNs,
  PIDS: s.pids,
  PIDS_LIMIT: s.pidsLimit,
});

export const events = defineVerb({
  name: 'events',
  summary: 'resource figures and OOM events of a container over duration= (runc events; cgroup files for crun, which has none): memory, CPU, pids, OOM count',
  params: {
    ...NAME,
    duration: { type: 'duration', default: 5_000, doc: 'how long to watch (0 = one reading now)' },
    ...RUNTIME,
  },
  positional: ['name'],
  examples: ['events name=web duration=10s'],
  vars: {
    MEMORY_USAGE: 'memory in use at the end, bytes',
    MEMORY_LIMIT: "its memory limit, bytes ('max' when none)",
    MEMORY_MAX: 'most memory used so far, bytes',
    MEMORY_FAILCNT: 'times the memory limit was hit',
    CPU_NS: 'CPU time used so far, ns',
    PIDS: 'processes now',
    PIDS_LIMIT: "its process limit ('max' when none)",
    OOM: 'OOM events (processes killed for memory) during duration=',
    SAMPLES: 'how many readings were taken',
    SOURCE: 'where the figures come from: runc events, or cgroup files',
    EVENTS: { stem: 'the type of each event seen, in order (stats, oom)' },
  },
  async run(p, ctx) {
    const rt = await pickRuntime(ctx, p.runtime);
    if (rt.name === 'runc') {
      const types: string[] = [];
      let last: unknown;
      let oom = 0;
      if (p.duration > 0) {
        // A stats line every interval and an oom line when one happens, until the runner's timeout ends it.
        const interval = Math.max(100, Math.min(1000, Math.floor(p.duration / 2)));
        const r = await ctx.run(rtArgv(rt, ['events', `--interval=${interval}ms`, p.name]), { readOnly: true, timeoutMs: p.duration });
        if (!r.ok && !r.timedOut) throw ociError(r);
        for (const e of runcEvents(r.stdout)) {
          types.push(e.type);
          if (e.type === 'stats') last = e.data;
          if (e.type === 'oom') oom++;
        }
      }
      if (last === undefined) {
        const r = await rtRun(ctx, rt, ['events', '--stats', p.name], { readOnly: true, timeoutMs: 10_000 });
        const ev = runcEvents(r.stdout).find((e) => e.type === 'stats');
        types.push('stats');
        last = ev?.data;
      }
      const s = statsFromRunc(last);
      return {
        result: statsLine(s, oom),
        vars: { ...statsVars(s), OOM: oom, SAMPLES: types.filter((t) => t === 'stats').length, SOURCE: 'runc events', EVENTS: stem(types) },
      };
    }
    // crun 1.8 and lxcri have no `events`: the cgroup files of the container's init, at the start and the end.
    const st = await mustState(ctx, rt, p.name);
    if (st.status === 'stopped') throw refused(`container ${p.name} is not running (stopped): it has no cgroup to read`);
    const pid = st.pid;
    const first = cgroupStats(ctx, pid);
    let end = first;
    if (p.duration > 0) {
      await ctx.clock.sleep(p.duration);
      end = cgroupStats(ctx, pid);
    }
    const oom = typeof first.oomKills === 'number' && typeof end.oomKills === 'number' ? end.oomKills - first.oomKills : 0;
    const types = ['stats', ...Array.from({ length: oom }, () => 'oom'), ...(p.duration > 0 ? ['stats'] : [])];
    return {
      result: statsLine(end.stats, oom),
      vars: { ...statsVars(end.stats), OOM: oom, SAMPLES: p.duration > 0 ? 2 : 1, SOURCE: 'cgroup files', EVENTS: stem(types) },
    };
  },
});

const statsLine = (s: Stats, oom: number) =>
  `memory ${s.memoryUsage} of ${s.memoryLimit} (max ${s.memoryMax}, failcnt ${s.memoryFailcnt}) cpu_ns ${s.cpuNs} pids ${s.pids} of ${s.pidsLimit} oom ${oom}`;

/** The most of an output log `logs` gives without tail= (bytes, from its end). */
const LOGS_MAX_BYTES = 64 * 2 ** 20;

export const logs = defineVerb({
  name: 'logs',
  summary: "what a container printed (stdout and stderr, in order): the output log run/create keep in the runtime root; tail=N for the last N lines",
  params: {
    ...NAME,
    tail: { type: 'int', min: 0, default: 0, doc: 'only the last N lines (0 = all, up to the last 64 MiB)' },
    ...RUNTIME,
  },
  positional: ['name'],
  examples: ['logs name=web tail=20'],
  vars: { LINES: { stem: 'the lines' }, LOG: 'the log file read' },
  async run(p, ctx) {
    const rt = await pickRuntime(ctx, p.runtime);
    const file = outputLog(rt, p.name);
    // Enough of its end for tail=N lines of up to 4 KiB each (at most 16 MiB), or its last 64 MiB.
    const buf = ctx.fs.readTail(file, p.tail ? Math.min(16 * 2 ** 20, (p.tail + 1) * 4096) : LOGS_MAX_BYTES);
    if (buf === undefined) {
      await mustState(ctx, rt, p.name); // RC 3 for a container that is not there
      throw notFound(`container ${p.name} has no output log (${file}): only run and create of this handler keep one`);
    }
    let lines = buf.toString('utf8').split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    if (p.tail) lines = lines.slice(-p.tail);
    return { result: lines.join('\n'), vars: { LINES: stem(lines), LOG: file } };
  },
});
