/**
 * The base-image registry every backend offers with the same four verbs:
 * `register_base` once, `clone_from_base` by copy-on-write (count=N in parallel),
 * `list_bases`, `unregister_base`. Each backend keeps the registry in the backend
 * itself (LXD `user.*` keys, ZFS user properties, a JSON file beside a qcow2), so a
 * base registered by one process is found by the next; this module holds what is
 * common: the naming of N clones, running them in parallel, and the result shape.
 */
import { AddressError, usageError } from './errors';
import { checkName, type NameRule } from './names';
import { mapLimit } from './poll';
import { stem } from './result';
import type { Ctx, VerbOutput } from './verb';

/** The fixed snapshot every base's clones are made from, in every backend (LXD, ZFS, QEMU zvols). */
export const BASE_SNAPSHOT = 'rexx-base';

/** What list_bases reports for one base. */
export interface BaseInfo {
  /** The base's name (instance, dataset, disk). */
  name: string;
  /** The fixed snapshot (or image) clones are made from. */
  snapshot: string;
  /** When it was registered (ISO 8601), if known. */
  created?: string;
  /** Free-form description given at registration. */
  description?: string;
}

/** Parameters shared by clone_from_base in every handler. */
export const CLONE_PARAMS = {
  base: { type: 'string', required: true, complete: 'bases', doc: 'the registered base to clone from' },
  count: { type: 'int', default: 1, min: 1, max: 100, doc: 'how many clones: count=N makes NAME-1 … NAME-N in parallel' },
  concurrency: { type: 'int', default: 4, min: 1, max: 32, doc: 'at most this many clones are made at once' },
} as const;

/** register_base's description=, the same in every handler; the limit fits an LXD config value, a ZFS user property and one argv word. */
export const DESCRIPTION_PARAM = {
  description: { type: 'string', free: true, maxBytes: 4096, doc: 'free text kept with the base' },
} as const;

/** The variables clone_from_base sets in every handler. */
export const CLONE_VARS = {
  CLONES: { stem: 'the clones made (also when some failed)' },
  CLONE_MS: 'wall time of all the clones, in ms',
} as const;

/** The variables list_bases sets in every handler. */
export const BASES_VARS = {
  BASES: { stem: 'the registered bases, by name' },
  BASE_SNAPSHOTS: { stem: 'the snapshot (or image) each base is cloned from' },
} as const;

/** count=1 → [name]; count=N → [name-1 … name-N], each checked against the backend's rule. */
export function cloneNames(name: string, count: number, rule: NameRule, key = 'name'): string[] {
  const names = count === 1 ? [name] : Array.from({ length: count }, (_, i) => `${name}-${i + 1}`);
  for (const n of names) {
    const why = checkName(rule, key, n);
    if (why) throw usageError(`clone_from_base: ${why}`);
  }
  return names;
}

/**
 * Make each clone with `cloneOne`, at most `concurrency` at a time, and report:
 * RESULT = the clone names one per line; CLONES stem; CLONE_MS = total wall time in ms.
 * Progress: one task "clones" of unit items (k of N, noting each name as it ends).
 * If any clone fails, the call fails with the first error's RC and a message naming
 * every failed clone; the clones that succeeded are kept and listed in CLONES.
 */
export async function cloneAll(
  ctx: Pick<Ctx, 'progress'>,
  names: string[],
  concurrency: number,
  cloneOne: (name: string) => Promise<void>,
): Promise<VerbOutput> {
  const t0 = performance.now();
  const task = ctx.progress('clones', { total: names.length, unit: 'items' });
  const results = await mapLimit(names, concurrency, async (name) => {
    let ok = false;
    try {
      await cloneOne(name);
      ok = true;
    } finally {
      task.note(`${name} ${ok ? 'made' : 'failed'}`);
      task.tick();
    }
  });
  task.end();
  const ms = Math.round(performance.now() - t0);
  const made = names.filter((_, i) => results[i]!.ok);
  const vars = { CLONES: stem(made), CLONE_MS: ms };
  const failures = results.flatMap((r, i) => (r.ok ? [] : [{ name: names[i]!, error: r.error }]));
  if (failures.length) {
    const first = failures[0]!.error;
    const msg = failures.map((f) => `${f.name}: ${f.error instanceof Error ? f.error.message : String(f.error)}`).join('; ');
    const kind = first instanceof AddressError ? first.kind : 'toolFailed';
    throw new AddressError(kind, `clone_from_base: ${failures.length} of ${names.length} failed — ${msg}`, {
      vars,
      output: made.join('\n'),
      cause: first,
    });
  }
  return { result: made.join('\n'), vars };
}

/** The list_bases output: RESULT one base per line ("name snapshot created"), stem BASES. */
export function basesOutput(bases: BaseInfo[]): VerbOutput {
  const sorted = [...bases].sort((a, b) => a.name.localeCompare(b.name));
  return {
    result: sorted.map((b) => [b.name, b.snapshot, b.created ?? ''].join(' ').trim()).join('\n'),
    vars: {
      BASES: stem(sorted.map((b) => b.name)),
      BASE_SNAPSHOTS: stem(sorted.map((b) => b.snapshot)),
    },
  };
}

