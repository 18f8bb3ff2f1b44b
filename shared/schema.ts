/**
 * zod, loaded when a state file is first read or written, not when a handler loads:
 * zod is the larger part of a handler bundle, and `--help`, usage errors and most
 * verbs never touch a state file. A schema is declared with {@link lazySchema} and
 * called to get it: `const VmDef = lazySchema((z) => z.object({...}))`, then
 * `ctx.state.read(file, VmDef())`; its type is `Infer<typeof VmDef>`.
 */
import type { z as Z } from 'zod';

/** The zod namespace, loaded on first use. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const zod = (): typeof Z => (require('zod') as { z: typeof Z }).z;

/** A schema built once, on first call (a pure value: the same for every handler and call). */
export function lazySchema<S extends Z.ZodType>(build: (z: typeof Z) => S): () => S {
  let schema: S | undefined;
  return () => (schema ??= build(zod()));
}

/** The type a lazy schema validates: `Infer<typeof VmDef>`. */
export type Infer<L extends () => Z.ZodType> = Z.infer<ReturnType<L>>;
