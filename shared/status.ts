/**
 * What every handler's `status` verb shares: the variables REACHABLE and HANDLER_VERSION,
 * a RESULT whose first line is `handler VERSION`, and one answer for a backend that
 * does not answer: RC 6 (unavailable), REACHABLE=0, RESULT ending in `reachable no`.
 */
import { unavailable, type AddressError } from './errors';
import type { VerbOutput } from './verb';
import { packageVersion } from './version';

/** The first two variables of every status verb; `reachable` documents REACHABLE ("1 when the daemon answers, else 0"). */
export const statusVars = (reachable: string) => ({ REACHABLE: reachable, HANDLER_VERSION: 'this package version' }) as const;

/** A status verb's answer: RESULT `handler VERSION` then `lines`; `vars` plus REACHABLE=1 and HANDLER_VERSION. */
export function statusOutput(lines: string[], vars: Record<string, unknown>): VerbOutput {
  const version = packageVersion();
  return { result: [`handler ${version}`, ...lines].join('\n'), vars: { REACHABLE: 1, HANDLER_VERSION: version, ...vars } };
}

/**
 * RC 6 for a backend that does not answer: `message` as ERRORTEXT, REACHABLE=0 and
 * HANDLER_VERSION with `vars`, RESULT `handler VERSION`, `lines`, `reachable no`.
 */
export function unreachable(message: string, o: { lines?: string[]; vars?: Record<string, unknown>; cause?: unknown } = {}): AddressError {
  const version = packageVersion();
  return unavailable(message, {
    cause: o.cause,
    vars: { ...o.vars, REACHABLE: 0, HANDLER_VERSION: version },
    output: [`handler ${version}`, ...(o.lines ?? []), 'reachable no'].join('\n'),
  });
}
