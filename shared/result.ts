/**
 * The one mapping from a verb's output or error to the object RexxJS expects from an
 * ADDRESS handler (see ../shared/rexxjs-contract.md): `success`, `errorCode` (RC),
 * `errorMessage` (ERRORTEXT), `output` (RESULT) and `rexxVariables`.
 */
import { AddressError, RC } from './errors';
import type { VerbOutput } from './verb';

/** The object an ADDRESS handler returns to RexxJS. */
export interface RexxResult {
  success: boolean;
  /** The RC: 0 on success. */
  errorCode: number;
  /** ERRORTEXT on failure, '' on success. */
  errorMessage: string;
  /** RESULT. */
  output: string;
  /** Variables set in the script; always has ERRORTEXT ('' on success). */
  rexxVariables: Record<string, unknown>;
}

/** A REXX stem as RexxJS reads it: `{0: count, 1: first, ...}`. */
export function stem(values: readonly unknown[]): Record<number, unknown> {
  const s: Record<number, unknown> = { 0: values.length };
  values.forEach((v, i) => {
    s[i + 1] = v;
  });
  return s;
}

/** Map a verb's output to the RexxJS result. */
export function fromOutput(out: VerbOutput): RexxResult {
  const rc = out.rc ?? 0;
  const output = out.result ?? '';
  if (rc !== 0) {
    const errorMessage = out.errorText || `exit code ${rc}`;
    return {
      success: false,
      errorCode: rc,
      errorMessage,
      output,
      rexxVariables: { ...out.vars, ERRORTEXT: errorMessage },
    };
  }
  return { success: true, errorCode: 0, errorMessage: '', output, rexxVariables: { ...out.vars, ERRORTEXT: '' } };
}

/** Map anything thrown by a verb to the RexxJS result; never rethrows. */
export function fromError(e: unknown): RexxResult {
  if (e instanceof AddressError) {
    return {
      success: false,
      errorCode: e.rc,
      errorMessage: e.message,
      output: e.output,
      rexxVariables: { ...e.vars, ERRORTEXT: e.message },
    };
  }
  const message = `internal error: ${e instanceof Error ? e.message : String(e)}`;
  return { success: false, errorCode: RC.toolFailed, errorMessage: message, output: '', rexxVariables: { ERRORTEXT: message } };
}
