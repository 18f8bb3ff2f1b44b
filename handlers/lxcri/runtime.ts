/**
 * Which OCI runtime the LXCRI verbs drive: the runtimes `runtime=auto` tries, the
 * `Runtime` they resolve to (name, `--root` state directory, and for crun on a hybrid
 * cgroup host the private mount namespace wrapper), the auto choice kept in the handler
 * instance's cache, and where this handler keeps its state on the host. Running it is
 * tool.ts; container state is container.ts.
 */
import { unavailable, usageError } from '../../shared/errors';
import type { Ctx } from '../../shared/verb';

/** Runtimes in the order `runtime=auto` tries them. */
export const RUNTIMES = ['proxmox-lxcri', 'lxcri', 'crun', 'runc'] as const;
export type RuntimeName = (typeof RUNTIMES)[number];

/**
 * crun 1.8 refuses a hybrid cgroup v1+v2 layout ("cgroups in hybrid mode not
 * supported"). Inside its own mount namespace with the cgroup2 mount removed it falls
 * back to cgroup v1. This fixed script (no user text in it; crun's arguments arrive as
 * "$@") does that umount and execs crun; the namespace is per call, so ZFS datasets
 * mounted later are still seen.
 */
export const CRUN_HYBRID_SCRIPT = 'umount /sys/fs/cgroup/unified 2>/dev/null; exec crun "$@"';

/** True when /sys/fs/cgroup is v1 with a cgroup2 mount at /sys/fs/cgroup/unified (text of /proc/self/mountinfo). Pure. */
export function hybridCgroups(mountinfo: string): boolean {
  return mountinfo.split('\n').some((l) => / \/sys\/fs\/cgroup\/unified .* - cgroup2 /.test(l));
}

/** {@link hybridCgroups} of this host (false when /proc/self/mountinfo can't be read). */
export const hostHybridCgroups = (ctx: Pick<Ctx, 'fs'>): boolean => hybridCgroups(ctx.fs.readText('/proc/self/mountinfo') ?? '');

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

/** State directory for images and CRIU checkpoints: env REXX_OCI_DIR, default /var/lib/rexx-address/oci. */
export const ociDir = (ctx: Pick<Ctx, 'env'>) => ctx.env.REXX_OCI_DIR || '/var/lib/rexx-address/oci';

/** Where the auto choice is kept in `ctx.cache` (per handler instance), per PATH. */
const cacheKey = (env: Record<string, string | undefined>) => `lxcri:runtime:${env.PATH ?? ''}`;

/**
 * Resolve `runtime=` (auto = env REXX_OCI_RUNTIME, else the first of RUNTIMES whose
 * `--version` answers and that works directly here — crun on hybrid cgroups is only
 * used when asked for by name). The auto choice is kept per handler instance and PATH
 * (`ctx.cache`).
 * RC 6 when none (or the named one) is installed.
 */
export async function pickRuntime(ctx: Ctx, wanted: string | undefined): Promise<Runtime> {
  const env = ctx.env;
  const name = wanted && wanted !== 'auto' ? wanted : env.REXX_OCI_RUNTIME || 'auto';
  const make = (n: RuntimeName): Runtime => ({
    name: n,
    root: `${rootParent(env)}/${n}`,
    wrapper: n === 'crun' && hostHybridCgroups(ctx) ? ['unshare', '-m', '--propagation', 'private', '--', 'sh', '-c', CRUN_HYBRID_SCRIPT, 'crun'] : [],
  });
  if (name !== 'auto') {
    if (!(RUNTIMES as readonly string[]).includes(name)) throw usageError(`runtime=${JSON.stringify(name)} is not one of auto, ${RUNTIMES.join(', ')}`);
    return make(name as RuntimeName);
  }
  const key = cacheKey(env);
  const hit = ctx.cache.get(key) as RuntimeName | undefined;
  if (hit) return make(hit);
  for (const n of RUNTIMES) {
    if (n === 'crun' && hostHybridCgroups(ctx)) continue;
    const r = await ctx.run([n, '--version'], { readOnly: true, timeoutMs: 5000 });
    if (r.ok) {
      ctx.cache.set(key, n);
      return make(n);
    }
  }
  throw unavailable(`no OCI runtime found (tried ${RUNTIMES.join(', ')}; run scripts/setup-host.sh)`);
}
