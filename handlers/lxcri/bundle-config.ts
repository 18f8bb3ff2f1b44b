/**
 * A bundle's `config.json` (runtime-spec): read it, and patch `process.*` (args, env,
 * cwd, terminal), the hostname and a read-only rootfs — what `spec` and
 * `bundle_from_image` write after `<runtime> spec` / `umoci unpack` made the file.
 */
import * as path from 'node:path';
import { toolFailed } from '../../shared/errors';
import type { Ctx } from '../../shared/verb';

/** What {@link patchProcess} may set. */
export interface ProcessPatch {
  args?: string[];
  env?: string[];
  cwd?: string;
  terminal?: boolean;
  hostname?: string;
  readonly?: boolean;
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

/**
 * Rewrite `BUNDLE/config.json` with {@link patchProcess} applied (2-space JSON and a
 * newline). Throws (RC 1) when the file is missing or not JSON: call it after the tool
 * that writes the file.
 */
export function patchConfig(ctx: Pick<Ctx, 'fs'>, bundle: string, o: ProcessPatch): string {
  const file = configFile(bundle);
  const text = ctx.fs.readText(file);
  if (text === undefined) throw toolFailed(`${file} was not written`);
  const c = JSON.parse(text) as Record<string, unknown>;
  ctx.fs.writeText(file, `${JSON.stringify(patchProcess(c, o), null, 2)}\n`);
  return file;
}
