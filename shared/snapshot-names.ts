/**
 * Default snapshot and checkpoint names, the same in every handler:
 * `PREFIX-<unix seconds>`, and when that is taken (a second call in the same second,
 * or a parallel one) `PREFIX-<unix seconds>-2`, `-3`, … The backend itself decides
 * what is taken: the create is tried and retried on "already exists", so two parallel
 * calls can never pick the same name.
 */
import { AddressError, alreadyExists } from './errors';

/** `PREFIX-<unix seconds>` for the time `nowMs` (epoch ms: a verb passes ctx.clock.now()). */
export const epochName = (prefix: string, nowMs: number): string => `${prefix}-${Math.floor(nowMs / 1000)}`;

/** How many names `createUnderFreeName` tries before it gives up with RC 4. */
const MAX_TRIES = 100;

/**
 * Create something under `base`, or `base-2`, `base-3`, … when the backend answers
 * "already exists" (an AddressError of kind `exists`, RC 4). Any other failure is
 * thrown at once. Resolves to the name that was created and what `create` returned.
 */
export async function createUnderFreeName<T>(base: string, create: (name: string) => Promise<T>): Promise<{ name: string; value: T }> {
  for (let i = 1; i <= MAX_TRIES; i++) {
    const name = i === 1 ? base : `${base}-${i}`;
    try {
      return { name, value: await create(name) };
    } catch (e) {
      if (!(e instanceof AddressError && e.kind === 'exists')) throw e;
    }
  }
  throw alreadyExists(`${base} and ${base}-2 … ${base}-${MAX_TRIES} all exist`);
}
