/**
 * The OCI runtime CLI as the LXCRI verbs use it. Every runtime here speaks the
 * runtime-spec command line (`create`, `start`, `state`, `kill`, `delete`, …), so the
 * verbs build one argv and this module prefixes the binary, its `--root` state
 * directory and, for crun on a hybrid cgroup host, a private mount namespace.
 */
import * as fs from 'node:fs';
import { classify, notFound, unavailable, usageError, type Classifier } from '../../shared/errors';
import type { RunOptions, RunResult } from '../../shared/runner';
import type { Ctx } from '../../shared/verb';

/** Runtimes in the order `runtime=auto` tries them. */
export const RUNTIMES = ['proxmox-lxcri', 'lxcri', 'crun', 'runc'] as const;
export type RuntimeName = (typeof RUNTIMES)[number];

/** Messages of runc 1.1, crun 1.8 and lxcri mapped to the RC table. */
export const OCI_ERRORS: Classifier = {
  patterns: [
    ['exists', /already exists|container with given ID already exists|container with id exists/i],
    ['notFound', /container does not exist|does not exist|error opening file `[^`]*\/status`|no such container/i],
    ['refused', /cannot delete container .* that is not stopped|is not stopped|cannot start an already running|not paused|not running|container is paused/i],
    ['timedOut', /timed out|timeout/i],
  ],
};

/**
 * crun 1.8 refuses a hybrid cgroup v1+v2 layout ("cgroups in hybrid mode not
 * supported"). Inside its own mount namespace with the cgroup2 mount removed it falls
 * back to cgroup v1. This fixed script (no user text in it; crun's arguments arrive as
 * "$@") does that umount and execs crun; the namespace is per call, so ZFS datasets
 * mounted later are still seen.
 */
export const CRUN_HYBRID_SCRIPT = 'umount /sys/fs/cgroup/unified 2>/dev/null; exec crun "$@"';

/** True when /sys/fs/cgroup is v1 with a cgroup2 mount at /sys/fs/cgroup/unified (from /proc/self/mountinfo). */
export function hybridCgroups(mountinfo?: string): boolean {
  let text = mountinfo;
  if (text === undefined) {
    try {
      text = fs.readFileSync('/proc/self/mountinfo', 'utf8');
    } catch {
      return false;
    }
  }
  return text.split('\n').some((l) => / \/sys\/fs\/cgroup\/unified .* - cgroup2 /.test(l));
}

/** A chosen runtime: its name and the argv prefix every call starts with. */
export interface Runtime {
  name: RuntimeName;
  /** State directory given as `--root` (one per runtime, env REXX_OCI_ROOT overrides the parent). */
  root: string;
  /** Everything before the runtime's global options: [] or the crun namespace wrapper. */
  wrapper: string[];
}

/** Parent of the per-runtime state directories: env REXX_OCI_ROOT, default /run/rexx-address. */
export const rootParent = (env: Record<string, string | undefined>) => env.REXX_OCI_ROOT || '/run/rexx-address';

const cache = new Map<string, RuntimeName>();

/** Forget the cached auto choice (tests). */
export const resetRuntimeCache = () => cache.clear();

/**
 * Resolve `runtime=` (auto = env REXX_OCI_RUNTIME, else the first of RUNTIMES whose
 * `--version` answers and that works directly here — crun on hybrid cgroups is only
 * used when asked for by name). The auto choice is cached per process and PATH.
 * RC 6 when none (or the named one) is installed.
 */
export async function pickRuntime(ctx: Ctx, wanted: string | undefined): Promise<Runtime> {
  const env = ctx.env;
  const name = wanted && wanted !== 'auto' ? wanted : env.REXX_OCI_RUNTIME || 'auto';
  const make = (n: RuntimeName): Runtime => ({
    name: n,
    root: `${rootParent(env)}/${n}`,
    wrapper: n === 'crun' && hybridCgroups() ? ['unshare', '-m', '--propagation', 'private', '--', 'sh', '-c', CRUN_HYBRID_SCRIPT, 'crun'] : [],
  });
  if (name !== 'auto') {
    if (!(RUNTIMES as readonly string[]).includes(name)) throw usageError(`runtime=${JSON.stringify(name)} is not one of auto, ${RUNTIMES.join(', ')}`);
    return make(name as RuntimeName);
  }
  const key = env.PATH ?? '';
  const hit = cache.get(key);
  if (hit) return make(hit);
  for (const n of RUNTIMES) {
    if (n === 'crun' && hybridCgroups()) continue;
    const r = await ctx.run([n, '--version'], { readOnly: true, timeoutMs: 5000 });
    if (r.ok) {
      cache.set(key, n);
      return make(n);
    }
  }
  throw unavailable(`no OCI runtime found (tried ${RUNTIMES.join(', ')}; run scripts/setup-host.sh)`);
}

/** The full argv for `<runtime> --root ROOT ARGS` (with the crun wrapper when needed). */
export function rtArgv(rt: Runtime, args: string[], globals: string[] = []): string[] {
  const bin = rt.wrapper.length ? [...rt.wrapper] : [rt.name];
  return [...bin, '--root', rt.root, ...globals, ...args];
}

/** Run the runtime; throws the classified AddressError when it fails. */
export async function rtRun(ctx: Ctx, rt: Runtime, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await ctx.run(rtArgv(rt, args), opts);
  if (!r.ok) throw classify(r, OCI_ERRORS);
  return r;
}

/**
 * Run a detaching command (`run -d`, `create`): the container inherits the runtime's
 * stdio, so output is not piped (execa would wait for the container); the runtime's
 * own messages go to `--log ROOT/ID.log` (JSON lines) and are read back on failure.
 */
export async function rtDetached(ctx: Ctx, rt: Runtime, id: string, args: string[], timeoutMs: number): Promise<RunResult> {
  const log = `${rt.root}/${id}.log`;
  if (!ctx.dryrun) {
    fs.mkdirSync(rt.root, { recursive: true });
    fs.writeFileSync(log, '');
  }
  const r = await ctx.run(rtArgv(rt, args, ['--log', log, '--log-format', 'json']), { stdio: 'ignore', timeoutMs });
  if (!r.ok) {
    let stderr = '';
    try {
      stderr = fs
        .readFileSync(log, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => {
          try {
            return String((JSON.parse(l) as { msg?: unknown }).msg ?? l);
          } catch {
            return l;
          }
        })
        .join('\n');
    } catch {
      /* no log: keep the exit code message */
    }
    throw classify({ ...r, stderr }, OCI_ERRORS);
  }
  return r;
}

/** `state` JSON (runtime-spec): status is creating | created | running | stopped (runc adds paused). */
export interface OciState {
  id: string;
  pid: number;
  status: string;
  bundle: string;
  rootfs?: string;
  created?: string;
  annotations?: Record<string, string>;
}

/** `<runtime> state ID`, or undefined when the container does not exist (a read: runs under dryrun). */
export async function getState(ctx: Ctx, rt: Runtime, id: string): Promise<OciState | undefined> {
  try {
    const r = await rtRun(ctx, rt, ['state', id], { readOnly: true, timeoutMs: 10_000 });
    return JSON.parse(r.stdout) as OciState;
  } catch (e) {
    if ((e as { kind?: string }).kind === 'notFound') return undefined;
    throw e;
  }
}

/** Like getState, RC 3 when missing. */
export async function mustState(ctx: Ctx, rt: Runtime, id: string): Promise<OciState> {
  const s = await getState(ctx, rt, id);
  if (!s) throw notFound(`container ${id} not found (${rt.name} --root ${rt.root})`);
  return s;
}

/** Wait through the shared poller until the container's status is one of `statuses`. */
export async function waitState(ctx: Ctx, rt: Runtime, id: string, statuses: string[], timeoutMs: number) {
  return ctx.poll(
    async () => {
      const s = await mustState(ctx, rt, id);
      return statuses.includes(s.status) ? s : undefined;
    },
    { timeoutMs, what: `container ${id} to be ${statuses.join(' or ')}` },
  );
}

/**
 * After `run -d` / `create` with `--pid-file FILE`: wait (shared poller) until the pid
 * file names a live process — then the status is `expect` (running after run, created
 * after create) without spawning `<runtime> state` (~8 ms); if that process is gone,
 * `<runtime> state` says what it is (e.g. stopped).
 */
export async function waitPidOrState(ctx: Ctx, rt: Runtime, id: string, pidFile: string, expect: string, timeoutMs: number) {
  return ctx.poll(
    async () => {
      let pid = 0;
      try {
        pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
      } catch {
        return undefined;
      }
      if (!pid) return undefined;
      try {
        process.kill(pid, 0);
        return { status: expect, pid };
      } catch {
        return { status: (await mustState(ctx, rt, id)).status, pid };
      }
    },
    { timeoutMs, what: `container ${id} to be ${expect}` },
  );
}

/** `run -d --pid-file ROOT/ID.pid --bundle B ID`, then waitPidOrState for running: the one way every verb starts a container. */
export async function runDetached(ctx: Ctx, rt: Runtime, id: string, bundle: string, timeoutMs: number, verb: 'run' | 'create' = 'run') {
  const pidFile = `${rt.root}/${id}.pid`;
  if (!ctx.dryrun) fs.rmSync(pidFile, { force: true });
  const args = verb === 'run' ? ['run', '-d', '--pid-file', pidFile, '--bundle', bundle, id] : ['create', '--pid-file', pidFile, '--bundle', bundle, id];
  await rtDetached(ctx, rt, id, args, timeoutMs);
  return (await waitPidOrState(ctx, rt, id, pidFile, verb === 'run' ? 'running' : 'created', timeoutMs)).value;
}
