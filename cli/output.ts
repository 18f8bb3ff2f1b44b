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
