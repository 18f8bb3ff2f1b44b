/**
 * The CLI's progress line: the handler's progress events (`shared/progress.ts`) drawn as
 * one spinner line on stderr, only when stderr is a terminal (never in CI, a pipe or a
 * file, so RESULT on stdout and scripts reading stderr stay clean). The line appears
 * once a task has run {@link SHOW_AFTER_MS} ms (quick verbs draw nothing and never load
 * the spinner library) and is cleared when the last task ends, before RESULT is printed.
 *
 * The line is drawn by yocto-spinner (npm; one dependency, yoctocolors, which execa
 * already brings): it redraws in place, hides the cursor while spinning, and keeps other
 * writes to stdout/stderr (trace lines) above the spinner. It is loaded on first use.
 */
import type { ProgressEvent, ProgressSink } from '../shared/progress';

/** A task shorter than this (ms) is never drawn. */
export const SHOW_AFTER_MS = 300;
/** How often the elapsed times on the line are refreshed (ms). */
const REFRESH_MS = 100;

/** What the renderer needs of the stream: a terminal's stderr (tty.WriteStream). */
type TermStream = NodeJS.WritableStream & { isTTY?: boolean; columns?: number };

interface Spinner {
  text: string;
  start(): unknown;
  stop(): unknown;
}

const loadSpinner = (stream: TermStream): Spinner =>
  // yocto-spinner is ESM-only: Node ≥ 20.19 requires it as a module namespace.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  (require('yocto-spinner') as typeof import('yocto-spinner')).default({ stream: stream as NodeJS.WriteStream, handleSignals: false });

/** 1536 → "1.5 KiB" (binary units, as zfs and qemu-img print sizes). */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i += 1;
  }
  return i === 0 ? `${n} B` : `${n.toFixed(1)} ${units[i]}`;
}

/** 1234 → "1.2s", 75000 → "1m15s". */
export function formatElapsed(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  return `${Math.floor(ms / 60_000)}m${String(Math.floor((ms % 60_000) / 1000)).padStart(2, '0')}s`;
}

/** One task as the line shows it, `elapsedMs` being its live elapsed time. */
export function describeTask(e: ProgressEvent, elapsedMs: number): string {
  const took = formatElapsed(elapsedMs);
  const note = e.text ? ` (${e.text})` : '';
  switch (e.unit) {
    case 'items':
      return `${e.label} ${e.done}${e.total ? `/${e.total}` : ''}${note} ${took}`;
    case 'percent':
      return `${e.label} ${Math.floor(e.done)}%${note} ${took}`;
    case 'bytes': {
      const rate = elapsedMs > 0 ? `, ${formatBytes(Math.round((e.done * 1000) / elapsedMs))}/s` : '';
      return `${e.label} ${formatBytes(e.done)}${e.total ? ` of ${formatBytes(e.total)}` : ''}${rate}${note} ${took}`;
    }
    case 'ms':
      return `${e.label}${note} ${took}${e.total ? ` (gives up at ${formatElapsed(e.total)})` : ''}`;
  }
}

/**
 * The sink that draws progress on `stream`, or undefined when it must draw nothing:
 * `stream` is not a terminal, TERM is dumb, or CI is set (as in CI runs).
 */
export function terminalProgress(stream: TermStream, env: Record<string, string | undefined> = process.env): ProgressSink | undefined {
  if (!stream.isTTY || env.TERM === 'dumb' || env.CI !== undefined) return undefined;
  // Open tasks in the order they started, with when (performance.now) each started.
  const open = new Map<number, { e: ProgressEvent; t0: number }>();
  let spinner: Spinner | undefined;
  let showTimer: NodeJS.Timeout | undefined;
  let refresh: NodeJS.Timeout | undefined;

  const line = () => {
    const now = performance.now();
    const parts = [...open.values()].map(({ e, t0 }) => describeTask(e, now - t0));
    const first = [...open.values()][0]?.e;
    const text = `${first ? `${first.verb}: ` : ''}${parts.join(' · ')}`;
    const width = Math.max(20, (stream.columns ?? 80) - 3);
    return text.length > width ? `${text.slice(0, width - 1)}…` : text;
  };
  const show = () => {
    showTimer = undefined;
    if (!open.size) return;
    spinner ??= loadSpinner(stream);
    spinner.text = line();
    spinner.start();
    refresh = setInterval(() => spinner && (spinner.text = line()), REFRESH_MS);
    refresh.unref();
  };
  const hide = () => {
    clearTimeout(showTimer);
    clearInterval(refresh);
    showTimer = refresh = undefined;
    spinner?.stop();
  };

  return (e) => {
    if (e.type === 'end') {
      open.delete(e.id);
      if (!open.size) hide();
      return;
    }
    const had = open.get(e.id);
    open.set(e.id, { e, t0: had?.t0 ?? performance.now() - e.elapsedMs });
    // The line is redrawn every REFRESH_MS, not per event (a byte stream sends many).
    if (!showTimer && !refresh) {
      showTimer = setTimeout(show, SHOW_AFTER_MS);
      showTimer.unref();
    }
  };
}
