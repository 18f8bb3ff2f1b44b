/**
 * Multi-step work that either completes or is undone: each step that changed something
 * brings the step that undoes it; on a failure the undo steps run newest first and the
 * error says what was undone, or what could not be (so the state left behind is named).
 * Used by the ZFS registry and dataset operations and by LXD register_base.
 */
import { AddressError } from './errors';

/** One step that undoes a step already done (what: for the message when it fails). */
export interface Undo {
  what: string;
  run: () => Promise<unknown>;
}

/**
 * Run `undo` last-first after `error` stopped a multi-step operation, and return the
 * error to throw: the original kind and RC, its message followed by what was undone, or
 * by each undo that failed (so the state left behind is named).
 */
export async function undoAll(undo: Undo[], error: unknown): Promise<AddressError> {
  if (error instanceof AddressError && error.kind === 'unavailable' && undo.length) {
    // Every undo would wait out its own timeout on a daemon that does not answer.
    return new AddressError('unavailable', `${error.message}; nothing was undone (the backend is not answering): after set-up, check ${undo.map((u) => u.what.replace(/^\S+ /, '')).join(', ')}`, { cause: error });
  }
  const failed: string[] = [];
  for (const u of [...undo].reverse()) {
    try {
      await u.run();
    } catch (e) {
      failed.push(`${u.what}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  const e = error instanceof AddressError ? error : new AddressError('toolFailed', error instanceof Error ? error.message : String(error), { cause: error });
  if (!undo.length) return e;
  const note = failed.length ? `; NOT undone — ${failed.join('; ')}` : `; undone: ${undo.map((u) => u.what).join(', ')}`;
  return new AddressError(e.kind, `${e.message}${note}`, { cause: e, vars: e.vars, output: e.output, reason: e.reason });
}

/** One step of {@link allOrNothing}: what it does, and how to undo it once done. */
export interface Step {
  run: () => Promise<unknown>;
  undo?: Undo;
}

/** Run `steps` in order; when one fails, undo the ones done (undoAll) and throw what that returns. */
export async function allOrNothing(steps: Step[]): Promise<void> {
  const done: Undo[] = [];
  try {
    for (const s of steps) {
      await s.run();
      if (s.undo) done.push(s.undo);
    }
  } catch (e) {
    throw await undoAll(done, e);
  }
}
