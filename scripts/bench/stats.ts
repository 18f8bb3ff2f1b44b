/**
 * What every benchmark in scripts/bench shares: timing (ms from `performance.now()`),
 * the median, the table cell and ratio formats, and the call wrapper that stops a run
 * at the first failed handler call. Not a test: nothing here asserts a time.
 */
import type { AddressHandler } from '../../shared/dispatch';

/** The median of `xs` (ms or any unit; the mean of the middle two for an even count); `xs` is not changed. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** ms since `t0` (a `performance.now()` reading). */
export const ms = (t0: number): number => performance.now() - t0;

/** ms that `fn` took, awaited when it returns a promise. */
export async function timed(fn: () => unknown): Promise<number> {
  const t0 = performance.now();
  await fn();
  return ms(t0);
}

/** A table cell: ms with one decimal, right-aligned to `width` characters. */
export const fmt = (x: number, width = 8): string => x.toFixed(1).padStart(width);

/** `a / b` with two decimals (e.g. "1.04"), for "handler vs raw" columns. */
export const ratio = (a: number, b: number): string => (a / b).toFixed(2);

/** `h` as a function that returns the result of a successful call and throws "CMD: RC n message" otherwise. */
export function strict(h: AddressHandler): (cmd: string) => ReturnType<AddressHandler> {
  return async (cmd) => {
    const r = await h(cmd);
    if (!r.success) throw new Error(`${cmd}: RC ${r.errorCode} ${r.errorMessage}`);
    return r;
  };
}
