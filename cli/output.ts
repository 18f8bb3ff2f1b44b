/** What the CLI prints for a result, and the exit code of an RC: one place for the one-command mode and the prompt. */
import type { RexxResult } from '../shared/result';

export interface Io {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

/** The process exit status for an RC: 0–255 as is, a negative RC (an exec whose command never ran) as 256 + RC (-3 → 253), as a shell shows `exit -3`. */
export function exitCode(r: RexxResult): number {
  if (r.success) return 0;
  if (r.errorCode < 0) return Math.max(1, 256 + r.errorCode);
  return Math.min(255, Math.max(1, r.errorCode));
}

/** RESULT on `out` and ERRORTEXT on `err`, or the whole result as JSON. */
export function printResult(r: RexxResult, json: boolean, io: Io): void {
  if (json) {
    io.out.write(`${JSON.stringify(r, null, 2)}\n`);
    return;
  }
  if (r.output) io.out.write(r.output.endsWith('\n') ? r.output : `${r.output}\n`);
  if (!r.success && r.errorMessage) io.err.write(`${r.errorMessage}\n`);
}

/** One variable worth showing after a call: a scalar's text, or a stem's items in order. */
export type ShownVar = { name: string; value: string } | { name: string; items: string[] };

/**
 * The variables of a result worth showing in the interactive modes (the prompt and the
 * REXX session), in the order the verb set them: non-empty scalars (an object as JSON),
 * and stems (`NAME.0` > 0) with their items `NAME.1`…`NAME.n`. Empty values, empty stems
 * and the names in `skip` are left out. Each mode formats them its own way.
 */
export function shownVars(vars: Record<string, unknown>, skip: readonly string[] = []): ShownVar[] {
  const out: ShownVar[] = [];
  for (const [name, v] of Object.entries(vars)) {
    if (skip.includes(name) || v === '' || v === undefined || v === null) continue;
    if (typeof v === 'object' && Object.hasOwn(v, '0')) {
      const stem = v as Record<string, unknown>;
      const n = Number(stem['0']);
      if (n > 0) out.push({ name, items: Array.from({ length: n }, (_, i) => String(stem[String(i + 1)] ?? '')) });
    } else out.push({ name, value: typeof v === 'object' ? JSON.stringify(v) : String(v) });
  }
  return out;
}
