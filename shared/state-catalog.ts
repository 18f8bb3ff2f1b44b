/**
 * The state catalog: saved whole states of one target (a QEMU VM's RAM, devices and
 * disk; an LXCRI container's CRIU checkpoint), one directory per entry,
 * `<catalog>/<id>/snapshot.json` beside the entry's own files. Backend-neutral, so one
 * reading (`listEntries`) serves every backend that keeps its states here.
 *
 * An entry is `Creating` from the moment its directory is claimed (O_EXCL on
 * snapshot.json) until its files are complete; then `Ready`. A failure marks it
 * `Invalid` (with `reason`), and an entry left `Creating` by a process that is gone
 * (killed mid-save) reads as `Invalid` too: never half-Ready. Each entry names its
 * `parent` (the entry its files build on: a QEMU disk overlay's backing image, a CRIU
 * pre-dump), so the entries form chains, and {@link pruneSelection} never removes an
 * entry that a kept one, or the target's current state, depends on.
 *
 * Every write goes through ctx.state: validated (zod), atomic, and a transition holds
 * the file's lock.
 */
import * as path from 'node:path';
import { alreadyExists, notFound, refused } from './errors';
import { regexRule } from './names';
import { stem } from './result';
import { lazySchema, type Infer } from './schema';
import { createUnderFreeName, epochName } from './snapshot-names';
import type { Ctx } from './verb';

/** The metadata file of every entry. */
export const CATALOG_FILE = 'snapshot.json';

/** An entry id: a directory name (`state-<unix seconds>[-N]` by default). */
export const stateId = regexRule(
  'state id',
  /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/,
  'letters, digits, "_", ".", "-", at most 63, starting with a letter or digit',
  (v) => (v.includes('..') ? 'must not contain ".."' : undefined),
);

export const ENTRY_STATES = ['Creating', 'Ready', 'Invalid'] as const;
export type EntryState = (typeof ENTRY_STATES)[number];

/** snapshot.json, version 1. `data` is the backend's own (it validates it with its own schema). */
export const StateEntrySchema = lazySchema((z) => z.object({
  version: z.literal(1),
  id: z.string().refine((v) => !stateId.check(v), 'not a valid state id'),
  /** Which backend wrote it: 'qemu' (save_state), 'lxcri' (checkpoint). */
  kind: z.string().min(1),
  /** The VM or container it is a state of. */
  target: z.string().min(1),
  /** ISO 8601. */
  created: z.string(),
  /** Bytes on disk of the entry's own files (0 until Ready). */
  size: z.number().int().min(0),
  state: z.enum(ENTRY_STATES),
  /** The id of the entry this one builds on, or ''. */
  parent: z.string(),
  /** Why it is Invalid ('' otherwise). */
  reason: z.string().default(''),
  /** The process writing a Creating entry: gone → the entry reads as Invalid. */
  pid: z.number().int().min(0).default(0),
  data: z.record(z.string(), z.unknown()).default({}),
}));
export type StateEntry = Infer<typeof StateEntrySchema>;

type Host = Pick<Ctx, 'fs' | 'state' | 'signal'>;

/** The directory of entry `id`. */
export const entryDir = (catalog: string, id: string) => path.join(catalog, id);
const entryFile = (catalog: string, id: string) => path.join(catalog, id, CATALOG_FILE);
const repair = (dir: string) => `remove that saved state (rm -r ${dir}) or move it out of ${path.dirname(dir)}`;

/** A Creating entry whose writer is gone reads as Invalid. */
function settled(ctx: Host, e: StateEntry): StateEntry {
  if (e.state !== 'Creating' || (e.pid > 0 && ctx.signal.alive(e.pid))) return e;
  return { ...e, state: 'Invalid', reason: e.reason || `interrupted: the process that was writing it (pid ${e.pid}) is gone` };
}

/** Entry `id`, or undefined; RC 1 (CorruptStateError) when its snapshot.json is corrupt. */
export function readEntry(ctx: Host, catalog: string, id: string): StateEntry | undefined {
  const e = ctx.state.read(entryFile(catalog, id), StateEntrySchema(), repair(entryDir(catalog, id)));
  return e && settled(ctx, e);
}

/** Entry `id`, RC 3 when there is none; RC 7 when `ready` and it is not Ready. */
export function mustEntry(ctx: Host, catalog: string, id: string, o: { ready?: boolean } = {}): StateEntry {
  const e = readEntry(ctx, catalog, id);
  if (!e) throw notFound(`saved state ${id} not found (no ${entryFile(catalog, id)})`);
  if (o.ready && e.state !== 'Ready') throw refused(`saved state ${id} is ${e.state}${e.reason ? ` (${e.reason})` : ''}: only a Ready one can be used`);
  return e;
}

/** Every entry of the catalog, oldest first (by created, then id). Directories without snapshot.json are left out. */
export function listEntries(ctx: Host, catalog: string): StateEntry[] {
  return ctx.fs
    .list(catalog)
    .filter((id) => !stateId.check(id))
    .flatMap((id) => {
      const e = readEntry(ctx, catalog, id);
      return e ? [e] : [];
    })
    .sort((a, b) => a.created.localeCompare(b.created) || a.id.localeCompare(b.id));
}

/**
 * Claim a new entry in state Creating under a free id (`PREFIX-<unix seconds>[-N]`,
 * or exactly `id` when given: RC 4 when it exists), written by this process.
 */
export async function createEntry(
  ctx: Host & Pick<Ctx, 'clock'>,
  catalog: string,
  e: { kind: string; target: string; parent: string; data?: Record<string, unknown> },
  o: { id?: string; prefix?: string; pid: number },
): Promise<StateEntry> {
  const now = ctx.clock.now();
  const make = async (id: string): Promise<StateEntry> => {
    const entry: StateEntry = {
      version: 1, id, kind: e.kind, target: e.target, created: new Date(now).toISOString(), size: 0,
      state: 'Creating', parent: e.parent, reason: '', pid: o.pid, data: e.data ?? {},
    };
    if (ctx.fs.exists(entryDir(catalog, id)) || !ctx.state.create(entryFile(catalog, id), entry)) throw alreadyExists(`saved state ${id} already exists`);
    return entry;
  };
  if (o.id) return make(o.id);
  return (await createUnderFreeName(epochName(o.prefix ?? 'state', now), make)).value;
}

/** Allowed transitions: Creating → Ready | Invalid, Ready → Invalid (its files were found broken). */
const NEXT: Record<EntryState, EntryState[]> = { Creating: ['Ready', 'Invalid'], Ready: ['Invalid'], Invalid: [] };

/**
 * Move entry `id` to state `to` (with `patch`: size, data, reason), under the file's lock;
 * RC 7 when the transition is not allowed (an Invalid entry never becomes Ready).
 */
export async function transition(ctx: Host, catalog: string, id: string, to: EntryState, patch: Partial<Pick<StateEntry, 'size' | 'data' | 'reason'>> = {}): Promise<StateEntry> {
  const file = entryFile(catalog, id);
  const out = await ctx.state.update(file, StateEntrySchema(), (cur) => {
    if (!cur) throw notFound(`saved state ${id} is gone (no ${file})`);
    if (!NEXT[cur.state].includes(to)) throw refused(`saved state ${id} is ${cur.state}; it cannot become ${to}`);
    return { ...cur, ...patch, data: { ...cur.data, ...patch.data }, state: to, pid: to === 'Creating' ? cur.pid : 0 };
  }, repair(entryDir(catalog, id)));
  return out;
}

/** Mark entry `id` Invalid with `why`, never throwing (for a failure path that already has an error to report). */
export async function markInvalid(ctx: Host, catalog: string, id: string, why: string): Promise<void> {
  await transition(ctx, catalog, id, 'Invalid', { reason: why }).catch(() => undefined);
}

/** The ids `id` depends on (its parent, the parent's parent ...), nearest first. */
export function ancestors(entries: readonly StateEntry[], id: string): string[] {
  const byId = new Map(entries.map((e) => [e.id, e]));
  const out: string[] = [];
  for (let p = byId.get(id)?.parent; p && !out.includes(p); p = byId.get(p)?.parent) out.push(p);
  return out;
}

/**
 * What `prune keep=N` removes: every entry except the newest `keep` Ready ones, the
 * entries in `pinned` (the target's current state builds on them), everything those
 * depend on (ancestors), and Creating entries still being written. Oldest first.
 */
export function pruneSelection(oldestFirst: readonly StateEntry[], keep: number, pinned: readonly string[] = []): StateEntry[] {
  const ready = oldestFirst.filter((e) => e.state === 'Ready');
  const kept = new Set([...ready.slice(Math.max(0, ready.length - keep)).map((e) => e.id), ...pinned]);
  for (const id of [...kept]) for (const a of ancestors(oldestFirst, id)) kept.add(a);
  return oldestFirst.filter((e) => !kept.has(e.id) && e.state !== 'Creating');
}

/** The variables every `list_states` sets (QEMU's saved states, LXCRI's checkpoints): stems, oldest first. */
export const STATE_LIST_VARS = {
  IDS: { stem: 'state ids' },
  STATES: { stem: 'Creating, Ready or Invalid' },
  PARENTS: { stem: 'the state each builds on, or empty' },
  SIZES: { stem: 'bytes on disk' },
  CREATED: { stem: 'ISO 8601' },
} as const;

/** `list_states`'s RESULT lines (`id state parent|- size created`) and {@link STATE_LIST_VARS}, from entries oldest first. */
export function stateListOutput(es: ReadonlyArray<Pick<StateEntry, 'id' | 'state' | 'parent' | 'size' | 'created'>>) {
  return {
    result: es.map((e) => `${e.id} ${e.state} ${e.parent || '-'} ${e.size} ${e.created}`).join('\n'),
    vars: { IDS: stem(es.map((e) => e.id)), STATES: stem(es.map((e) => e.state)), PARENTS: stem(es.map((e) => e.parent)), SIZES: stem(es.map((e) => e.size)), CREATED: stem(es.map((e) => e.created)) },
  };
}
