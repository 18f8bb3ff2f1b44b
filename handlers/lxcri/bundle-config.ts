/**
 * A bundle's `config.json` (runtime-spec): read it, and patch `process.*` (args, env,
 * cwd, terminal, user, capabilities), the hostname, a read-only rootfs, bind mounts,
 * resource limits and the network namespace — what `spec` and `bundle_from_image`
 * write after `<runtime> spec` / `umoci unpack` made the file.
 */
import * as path from 'node:path';
import { toolFailed } from '../../shared/errors';
import type { Ctx } from '../../shared/verb';
import { withResources, type Limits } from './limits';
import { CAPABILITIES } from './names';

/** What {@link patchProcess} may set. */
export interface ProcessPatch {
  args?: string[];
  env?: string[];
  cwd?: string;
  terminal?: boolean;
  hostname?: string;
  readonly?: boolean;
  /** Bind mounts `SRC:DST[:ro|rw]` (names.ts bindMountSpec), added to `mounts` as rbind (ro: also ro). */
  mounts?: string[];
  /** Resource limits, into `linux.resources`. */
  limits?: Limits;
  /** `UID:GID` of the process (names.ts uidGid). */
  user?: string;
  /** none: a network namespace of its own (only lo); host: no network namespace (the host's). */
  network?: 'host' | 'none';
  /** Capabilities added to the process's sets (ALL = every one in names.ts CAPABILITIES). */
  capAdd?: string[];
  /** Capabilities removed from every set (ALL = all of them); applied after capAdd. */
  capDrop?: string[];
}

/** The capability sets runtime-spec knows (config.md "process.capabilities"). */
const CAP_SETS = ['bounding', 'effective', 'permitted', 'inheritable', 'ambient'] as const;

/** The sets a cap_add= always goes into (capabilities(7): what the process may use). */
const BASE_SETS = new Set(['bounding', 'effective', 'permitted']);

/**
 * process.capabilities with `add` put into bounding, effective, permitted and every other
 * set the config already has (ambient, as `runc spec` writes it, so a non-root user=
 * keeps them), then `drop` removed from every set; ALL stands for every capability. Pure.
 */
export function patchCapabilities(caps: unknown, add: string[], drop: string[]): Record<string, string[]> {
  const every = (l: string[]) => (l.includes('ALL') ? [...CAPABILITIES] : l);
  const cur = (caps ?? {}) as Record<string, string[] | undefined>;
  const out: Record<string, string[]> = {};
  for (const set of CAP_SETS) {
    const had = cur[set];
    if (had === undefined && !(add.length && BASE_SETS.has(set))) continue;
    const list = [...(had ?? [])];
    for (const c of every(add)) if (!list.includes(c)) list.push(c);
    const gone = every(drop);
    out[set] = list.filter((c) => !gone.includes(c));
  }
  return out;
}

/** A runtime-spec mount entry for `SRC:DST[:ro|rw]` (an rbind; private propagation). Pure. */
export function bindMount(spec: string): { destination: string; type: string; source: string; options: string[] } {
  const [source, destination, mode] = spec.split(':') as [string, string, string | undefined];
  return { destination, type: 'bind', source, options: ['rbind', 'rprivate', ...(mode === 'ro' ? ['ro'] : [])] };
}

/** Patch process.* of a runtime-spec config object (pure, unit-tested). */
export function patchProcess(config: Record<string, unknown>, o: ProcessPatch): Record<string, unknown> {
  const proc = { ...((config.process as Record<string, unknown>) ?? {}) };
  if (o.args?.length) proc.args = o.args;
  if (o.env?.length) {
    const keep = ((proc.env as string[]) ?? []).filter((e) => !o.env!.some((n) => n.split('=')[0] === e.split('=')[0]));
    proc.env = [...keep, ...o.env];
  }
  if (o.cwd) proc.cwd = o.cwd;
  if (o.terminal !== undefined) proc.terminal = o.terminal;
  const out: Record<string, unknown> = { ...config, process: proc };
  if (o.hostname) out.hostname = o.hostname;
  if (o.readonly !== undefined) out.root = { ...((config.root as object) ?? { path: 'rootfs' }), readonly: o.readonly };
  if (o.user) {
    const [uid, gid] = o.user.split(':').map(Number);
    proc.user = { ...((proc.user as object) ?? {}), uid, gid };
  }
  if (o.capAdd?.length || o.capDrop?.length) proc.capabilities = patchCapabilities(proc.capabilities, o.capAdd ?? [], o.capDrop ?? []);
  if (o.mounts?.length) out.mounts = [...((config.mounts as unknown[]) ?? []), ...o.mounts.map(bindMount)];
  if ((o.limits && Object.keys(o.limits).length) || o.network) {
    const linux = { ...((config.linux as Record<string, unknown>) ?? {}) };
    if (o.limits && Object.keys(o.limits).length) linux.resources = withResources(linux.resources, o.limits);
    if (o.network) {
      const ns = ((linux.namespaces as Array<{ type: string }>) ?? []).filter((n) => n.type !== 'network');
      linux.namespaces = o.network === 'none' ? [...ns, { type: 'network' }] : ns;
    }
    out.linux = linux;
  }
  return out;
}

/** `BUNDLE/config.json`. */
export const configFile = (bundle: string) => path.join(bundle, 'config.json');

/** The parsed JSON of `file`, or undefined when it is missing, unreadable (a folder …) or not JSON. */
export function readJson(ctx: Pick<Ctx, 'fs'>, file: string): unknown {
  try {
    const text = ctx.fs.readText(file);
    return text === undefined ? undefined : (JSON.parse(text) as unknown);
  } catch {
    return undefined;
  }
}

/** True when `file` is JSON with an `ociVersion`: a runtime config that spec force=true may replace. */
export function isOciConfig(ctx: Pick<Ctx, 'fs'>, file: string): boolean {
  return typeof (readJson(ctx, file) as { ociVersion?: unknown } | undefined)?.ociVersion === 'string';
}

/** The config object in `file` (a runtime's freshly written config.json); RC 1 when it is missing or not JSON. */
export function readConfig(ctx: Pick<Ctx, 'fs'>, file: string): Record<string, unknown> {
  const c = readJson(ctx, file);
  if (c === undefined || c === null || typeof c !== 'object') throw toolFailed(`${file} was not written, or is not JSON`);
  return c as Record<string, unknown>;
}

/** Write a config object as `file` (2-space JSON and a newline), atomically: a reader sees the old file or the new one. */
export function writeConfig(ctx: Pick<Ctx, 'fs'>, file: string, config: unknown): void {
  ctx.fs.writeText(file, `${JSON.stringify(config, null, 2)}\n`, { atomic: true });
}

/**
 * Rewrite `BUNDLE/config.json` with {@link patchProcess} applied. Throws (RC 1) when the
 * file is missing or not JSON: call it after the tool that writes the file.
 */
export function patchConfig(ctx: Pick<Ctx, 'fs'>, bundle: string, o: ProcessPatch): string {
  const file = configFile(bundle);
  writeConfig(ctx, file, patchProcess(readConfig(ctx, file), o));
  return file;
}
