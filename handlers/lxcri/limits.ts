/**
 * Resource limits of a container, given as `memory=`, `cpus=`, `pids_limit=` by `spec`
 * (written into config.json) and `update` (applied to a running container): one reading
 * of the parameters and the two forms the runtimes take — runtime-spec
 * `linux.resources` (config-linux.md "Control groups") and the flags `runc update` and
 * `crun update` both accept (`--memory`, `--cpu-quota`, `--cpu-period`, `--pids-limit`).
 */
import { toBytes } from '../../shared/size';
import { cpuCount, memorySize } from './names';

/** The CFS period a `cpus=` limit is expressed in (µs; runc's and the kernel's default, 100 ms). */
export const CPU_PERIOD_US = 100_000;

/** The limits a call asks for; absent = unchanged. */
export interface Limits {
  /** Memory limit in bytes. */
  memory?: number;
  /** CFS quota in µs per {@link CPU_PERIOD_US} (cpus × period). */
  cpuQuota?: number;
  /** Maximum number of processes (pids cgroup). */
  pidsLimit?: number;
}

/** Parameter specs of the limits (spec and update). */
export const LIMIT_PARAMS = {
  memory: { type: 'string', rule: memorySize, doc: 'memory limit (64M, 1G; binary units; a bare number is bytes)' },
  cpus: { type: 'string', rule: cpuCount, doc: 'CPU limit in CPUs (0.5 = half of one CPU): a CFS quota over a 100 ms period' },
  pids_limit: { type: 'int', min: 1, max: 4_194_304, doc: 'most processes the container may have at once' },
} as const;

/** The {@link Limits} of validated `memory=`, `cpus=`, `pids_limit=` values. */
export function readLimits(p: { memory?: string; cpus?: string; pids_limit?: number }): Limits {
  const l: Limits = {};
  if (p.memory !== undefined) l.memory = toBytes(p.memory);
  if (p.cpus !== undefined) l.cpuQuota = Math.round(Number(p.cpus) * CPU_PERIOD_US);
  if (p.pids_limit !== undefined) l.pidsLimit = p.pids_limit;
  return l;
}

/** True when no limit is given. */
export const noLimits = (l: Limits) => l.memory === undefined && l.cpuQuota === undefined && l.pidsLimit === undefined;

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});

/** `linux.resources` of `config` with the limits set (runtime-spec config-linux.md); pure. */
export function withResources(resources: unknown, l: Limits): Json {
  const r = { ...obj(resources) };
  if (l.memory !== undefined) r.memory = { ...obj(r.memory), limit: l.memory };
  if (l.cpuQuota !== undefined) r.cpu = { ...obj(r.cpu), quota: l.cpuQuota, period: CPU_PERIOD_US };
  if (l.pidsLimit !== undefined) r.pids = { ...obj(r.pids), limit: l.pidsLimit };
  return r;
}

/** The `update` flags for the limits, in the `--flag=VALUE` form both runc 1.1 and crun 1.8 parse. */
export function updateFlags(l: Limits): string[] {
  const out: string[] = [];
  if (l.memory !== undefined) out.push(`--memory=${l.memory}`);
  if (l.cpuQuota !== undefined) out.push(`--cpu-quota=${l.cpuQuota}`, `--cpu-period=${CPU_PERIOD_US}`);
  if (l.pidsLimit !== undefined) out.push(`--pids-limit=${l.pidsLimit}`);
  return out;
}
