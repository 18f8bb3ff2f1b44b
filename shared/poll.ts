/**
 * The one poller: call a cheap probe until it returns a value, starting with a short
 * interval and backing off, until a deadline. Used for "wait until Running", "wait for
 * an IP", "wait until QMP answers", "wait until the OCI state is created", etc.
 */
import { timedOut } from './errors';

export interface PollOptions {
  /** Give up after this many ms (RC 5). */
  timeoutMs: number;
  /** First pause between probes in ms (default 10). */
  initialMs?: number;
  /** Longest pause between probes in ms (default 250). */
  maxMs?: number;
  /** Growth of the pause per probe (default 1.5). */
  factor?: number;
  /** What we were waiting for, for the RC 5 message, e.g. "web-1 to be Running". */
  what: string;
  /** Called after each probe that did not answer yet, with the ms waited so far (ctx.poll reports it as progress). */
  onWait?: (elapsedMs: number) => void;
}

export interface Polled<T> {
  value: T;
  /** ms from the start of polling to the probe that succeeded. */
  elapsedMs: number;
  /** How many times the probe ran. */
  probes: number;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Poll `probe` until it returns something other than `undefined`.
 * Throws AddressError kind `timedOut` (RC 5) at the deadline; errors thrown by the
 * probe (e.g. not found, daemon unavailable) propagate at once.
 */
export async function poll<T>(probe: () => Promise<T | undefined>, o: PollOptions): Promise<Polled<T>> {
  const start = performance.now();
  const deadline = start + o.timeoutMs;
  const maxMs = o.maxMs ?? 250;
  const factor = o.factor ?? 1.5;
  let pause = o.initialMs ?? 10;
  let probes = 0;
  // Set once a pause has been cut to the deadline: the probe after it is the last, even
  // when the timer fires a fraction of a ms early (libuv keeps loop time in whole ms).
  let last = false;
  for (;;) {
    probes += 1;
    const value = await probe();
    const now = performance.now();
    if (value !== undefined) return { value, elapsedMs: Math.round(now - start), probes };
    if (last || now >= deadline) {
      throw timedOut(`timed out after ${Math.round(o.timeoutMs)} ms waiting for ${o.what}`);
    }
    o.onWait?.(Math.round(now - start));
    const left = deadline - now;
    last = pause >= left;
    await sleep(Math.min(pause, left));
    pause = Math.min(maxMs, pause * factor);
  }
}

/**
 * Poll until `condition()` is true, like {@link poll}, but answer `false` at the deadline
 * instead of throwing RC 5: for waits whose caller decides what a timeout means
 * (e.g. "did QEMU exit within 2 s, else look closer").
 */
export async function pollUntil(condition: () => boolean | Promise<boolean>, o: Omit<PollOptions, 'what'>): Promise<boolean> {
  try {
    await poll(async () => ((await condition()) ? true : undefined), { ...o, what: 'a condition' });
    return true;
  } catch (e) {
    if ((e as { kind?: string }).kind === 'timedOut') return false;
    throw e;
  }
}

/**
 * Run `fn` over `items` with at most `concurrency` at a time, keeping order.
 * Every item runs even if some fail; each result says ok or carries its error.
 */
export async function mapLimit<I, O>(
  items: readonly I[],
  concurrency: number,
  fn: (item: I, index: number) => Promise<O>,
): Promise<Array<{ ok: true; value: O } | { ok: false; error: unknown }>> {
  const out: Array<{ ok: true; value: O } | { ok: false; error: unknown }> = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      try {
        out[i] = { ok: true, value: await fn(items[i]!, i) };
      } catch (error) {
        out[i] = { ok: false, error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  return out;
}

/**
 * `pr`, or RC 5 (timedOut: "WHAT took over MS ms") when it has not settled within `ms`:
 * for a read that may never answer (a path on a dead or wedged FUSE mount). The timer
 * is cleared when `pr` settles, so it never keeps a process alive.
 */
export function withDeadline<T>(pr: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    pr,
    new Promise<never>((_, rej) => {
      t = setTimeout(() => rej(timedOut(`${what} took over ${ms} ms (a dead or wedged mount?)`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}
