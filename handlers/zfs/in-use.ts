/**
 * Who is using a ZFS filesystem, asked before anything that unmounts it (destroy,
 * unmount, rename, rollback, a mountpoint change, pool_destroy, the remount after a
 * receive) — for the verbs and for ADDRESS LXCRI and QEMU through dataset.ts. A FUSE
 * unmount of a dataset that ZFS still finds busy makes zfs-fuse loop in sync(2) for ever
 * and hangs every mount on the host (host-notes, "The zfs-fuse wedge"), so a dataset in
 * use is refused with RC 7 naming its users instead of being unmounted.
 *
 * A user is any of, for the dataset or any dataset below it:
 * - a live OCI container (runc `state.json` or crun `status` under the project's runtime
 *   roots: env REXX_OCI_ROOT or /run/rexx-address, and /run/runc, /run/crun) whose rootfs
 *   or bundle is on, or contains, one of its mountpoints, or whose mount namespace holds it;
 * - a process in another mount namespace that holds one of its mounts (read from
 *   /proc/PID/mountinfo, one process per namespace: in-kernel text, never the FUSE mount);
 * - a process whose root, cwd, executable, open file or mapping is on one of its mounts,
 *   as `fuser -m -M MOUNTPOINT...` (psmisc) reports it — run through the shared runner
 *   with a 10 s timeout, so a dead or wedged mount cannot hang the check.
 * Only /proc and the runtimes' state files are read here (through ctx.fs); nothing
 * touches the dataset's own files.
 */
import * as path from 'node:path';
import type { z } from 'zod';
import { lazySchema } from '../../shared/schema';
import type { Files } from '../../shared/effects';
import { refused, timedOut, toolFailed, unavailable } from '../../shared/errors';
import { stem } from '../../shared/result';
import type { Ctx } from '../../shared/verb';

/** One user of a dataset: a process, and the container it belongs to when known. */
export interface Holder {
  pid: number;
  /** Its command line (first 80 characters), else its comm. */
  command: string;
  /** `RUNTIME/ID` of the OCI container whose process this is. */
  container?: string;
}

/** One line of /proc/PID/mountinfo (proc(5)): where it is mounted, what, which filesystem type. */
export interface MountEntry {
  mountpoint: string;
  source: string;
  fstype: string;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
const unescapeOctal = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** Parse /proc/PID/mountinfo text (proc(5): fields, optional fields, "-", fstype, source, options). */
export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    const dash = f.indexOf('-', 6);
    if (f.length < 10 || dash < 0) continue;
    out.push({ mountpoint: unescapeOctal(f[4]!), fstype: f[dash + 1] ?? '', source: unescapeOctal(f[dash + 2] ?? '') });
  }
  return out;
}

/** True when `name` is `dataset` or a dataset below it. */
const inTree = (name: string, dataset: string) => name === dataset || name.startsWith(`${dataset}/`);
/** A ZFS mount of one of `datasets` (zfs-fuse mounts are `fuse.zfs`, OpenZFS ones `zfs`). */
const holdsAny = (m: MountEntry, datasets: string[]) => (m.fstype === 'zfs' || m.fstype === 'fuse.zfs') && datasets.some((d) => inTree(m.source, d));
/** One path is the other or lies below it. */
const overlaps = (a: string, b: string) => a === b || a.startsWith(`${b === '/' ? '' : b}/`) || b.startsWith(`${a === '/' ? '' : a}/`);

/** `f`'s text, or undefined when it cannot be read (gone, not ours to read). */
const read = (fs: Files, f: string): string | undefined => {
  try {
    return fs.readText(f);
  } catch {
    return undefined;
  }
};

/** The mounts, in this process's mount namespace, of `datasets` and the datasets below them. */
function mountsOf(fs: Files, datasets: string[]): MountEntry[] {
  return parseMountinfo(read(fs, '/proc/self/mountinfo') ?? '').filter((m) => holdsAny(m, datasets));
}

/** Start time of a process in clock ticks (field 22 of /proc/PID/stat), or undefined when it is gone. */
function startTime(fs: Files, pid: number): number | undefined {
  const s = read(fs, `/proc/${pid}/stat`);
  if (!s) return undefined;
  return Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[19]);
}

/** The command line of a process (80 characters at most), else its comm, else "?". */
function commandOf(fs: Files, pid: number): string {
  const cmd = (read(fs, `/proc/${pid}/cmdline`) ?? '').split('\0').filter(Boolean).join(' ');
  const text = cmd || (read(fs, `/proc/${pid}/comm`) ?? '').trim() || '?';
  return text.length > 80 ? `${text.slice(0, 79)}…` : text;
}

const RuncState = lazySchema((z) => z.object({
  init_process_pid: z.number(),
  init_process_start: z.number().optional(),
  config: z.object({ rootfs: z.string(), labels: z.array(z.string()).nullish() }),
}));
const CrunStatus = lazySchema((z) => z.object({
  pid: z.number(),
  'process-start-time': z.number().optional(),
  rootfs: z.string().optional(),
  bundle: z.string().optional(),
}));

/** A container a runtime keeps state for: its init process and its paths. */
interface ContainerRecord {
  name: string;
  pid: number;
  start?: number;
  paths: string[];
}

/**
 * Containers under the project's runtime roots (env REXX_OCI_ROOT or /run/rexx-address,
 * one folder per runtime) and the runtimes' default roots /run/runc and /run/crun.
 */
function containerRecords(fs: Files, env: Record<string, string | undefined>): ContainerRecord[] {
  const parents = [...new Set([env.REXX_OCI_ROOT || '/run/rexx-address', '/run/rexx-address'])];
  const roots: Array<{ runtime: string; dir: string }> = [
    { runtime: 'runc', dir: '/run/runc' },
    { runtime: 'crun', dir: '/run/crun' },
  ];
  for (const p of parents) for (const rt of list(fs, p)) roots.push({ runtime: rt, dir: path.join(p, rt) });
  const out: ContainerRecord[] = [];
  for (const { runtime, dir } of roots) {
    for (const id of list(fs, dir)) {
      const name = `${runtime}/${id}`;
      const runc = parseJson(read(fs, path.join(dir, id, 'state.json')), RuncState());
      if (runc) {
        const bundle = runc.config.labels?.find((l) => l.startsWith('bundle='))?.slice('bundle='.length);
        out.push({ name, pid: runc.init_process_pid, start: runc.init_process_start, paths: [runc.config.rootfs, ...(bundle ? [bundle] : [])] });
        continue;
      }
      const crun = parseJson(read(fs, path.join(dir, id, 'status')), CrunStatus());
      if (crun) out.push({ name, pid: crun.pid, start: crun['process-start-time'], paths: [crun.rootfs, crun.bundle].filter((x): x is string => !!x) });
    }
  }
  return out;
}

/** The entries of a folder; [] when it cannot be read. */
function list(fs: Files, dir: string): string[] {
  try {
    return fs.list(dir);
  } catch {
    return [];
  }
}

function parseJson<S extends z.ZodType>(text: string | undefined, schema: S): z.output<S> | undefined {
  if (!text) return undefined;
  try {
    const r = schema.safeParse(JSON.parse(text));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The mount namespace of a process: the identity (device:inode) of the namespace
 * /proc/PID/ns/mnt leads to — the number readlink shows as `mnt:[4026531841]`;
 * undefined when the process is gone or not ours to read.
 */
function mountNamespace(fs: Files, pid: number | 'self'): string | undefined {
  try {
    const st = fs.stat(`/proc/${pid}/ns/mnt`);
    return st && `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}

/** Every process's mount namespace (mountNamespace), grouped. */
function namespaces(fs: Files): Map<string, number[]> {
  const by = new Map<string, number[]>();
  const pids = list(fs, '/proc').filter((e) => /^\d+$/.test(e)).map(Number).sort((a, b) => a - b);
  for (const pid of pids) {
    const ns = mountNamespace(fs, pid);
    if (ns === undefined) continue; // gone, or not ours to read
    by.set(ns, [...(by.get(ns) ?? []), pid]);
  }
  return by;
}

/**
 * Everyone using `datasets` or a dataset below them (see the file comment), containers
 * first. RC 6 when `fuser` (psmisc) is missing, RC 5 when it does not answer in 10 s.
 */
export async function holdersOf(ctx: Ctx, datasets: string[]): Promise<Holder[]> {
  const fsets = datasets.filter((d) => !d.includes('@'));
  if (!fsets.length) return [];
  const fs = ctx.fs;
  const holders = new Map<number, Holder>();
  const mine = mountsOf(fs, fsets).map((m) => m.mountpoint);
  const nsHolds = (pid: number) => parseMountinfo(read(fs, `/proc/${pid}/mountinfo`) ?? '').some((m) => holdsAny(m, fsets));

  for (const c of containerRecords(fs, ctx.env)) {
    const now = startTime(fs, c.pid);
    if (now === undefined || (c.start !== undefined && now !== c.start)) continue; // not running
    if (mine.some((m) => c.paths.some((p) => overlaps(m, path.resolve(p)))) || nsHolds(c.pid)) {
      holders.set(c.pid, { pid: c.pid, command: commandOf(fs, c.pid), container: c.name });
    }
  }

  const self = mountNamespace(fs, 'self') ?? ''; // '': no /proc, nothing more to learn from it
  for (const [ns, pids] of namespaces(fs)) {
    if (ns === self) continue;
    const reader = pids.find((p) => read(fs, `/proc/${p}/mountinfo`) !== undefined);
    if (reader === undefined || !nsHolds(reader)) continue;
    for (const pid of pids.slice(0, 10)) if (!holders.has(pid)) holders.set(pid, { pid, command: commandOf(fs, pid) });
  }

  if (mine.length) {
    // -M: only if each name is a mountpoint, so a mount that went away in between can
    // never widen the question to the filesystem below it (every process on the host).
    const r = await ctx.run(['fuser', '-m', '-M', ...mine], { readOnly: true, timeoutMs: 10_000 });
    if (r.missing) throw unavailable('fuser (Debian package psmisc) is needed to tell whether a dataset is in use before unmounting it; run scripts/setup-host.sh');
    if (r.timedOut) throw timedOut(`fuser -m ${mine.join(' ')} did not answer in 10 s: a mount may be dead or wedged (scripts/setup-host.sh repairs dead mounts)`);
    // Exit 1 with no pids: nobody uses it. The pids are on stdout, names and access letters on stderr.
    if (!r.ok && r.exitCode !== 1) throw toolFailed(`fuser -m ${mine.join(' ')} failed: ${r.stderr.trim().split('\n').pop()}`);
    for (const tok of r.stdout.split(/\s+/)) {
      if (!/^\d+$/.test(tok)) continue;
      const pid = Number(tok);
      if (!holders.has(pid)) holders.set(pid, { pid, command: commandOf(fs, pid) });
    }
  }
  return [...holders.values()].sort((a, b) => Number(!a.container) - Number(!b.container) || a.pid - b.pid);
}

/** One holder as ERRORTEXT and the IN_USE_BY stem show it: `container runc/web (pid 42: sleep 1000)`. */
export const describeHolder = (h: Holder) => (h.container ? `container ${h.container} (pid ${h.pid}: ${h.command})` : `pid ${h.pid} (${h.command})`);

/**
 * Refuse (RC 7, stem IN_USE_BY naming each container and process with its pid and
 * command) when `datasets` or any dataset below them is in use (see holdersOf);
 * `action` starts the message ("destroy", "unmount", ...). Snapshots are skipped.
 */
export async function requireNotInUse(ctx: Ctx, datasets: string[], action: string): Promise<void> {
  const holders = await holdersOf(ctx, datasets);
  if (!holders.length) return;
  const who = holders.map(describeHolder);
  const shown = who.length > 5 ? `${who.slice(0, 5).join(', ')} and ${who.length - 5} more` : who.join(', ');
  throw refused(
    `${action}: ${datasets.join(', ')} is in use by ${shown}; stop them first (delete the container, end the process). ` +
      'A dataset in use is never unmounted: a FUSE unmount of a busy dataset can hang zfs-fuse and every mount with it',
    { vars: { IN_USE_BY: stem(who), IN_USE_PIDS: stem(holders.map((h) => h.pid)) } },
  );
}

/**
 * The variables a refusal to touch a dataset in use (requireNotInUse) or a registered
 * base's snapshot (registry.refuseBaseSnapshots) sets: any verb of ADDRESS ZFS, and of
 * the handlers that reuse its client (LXCRI), may answer with them.
 */
export const REFUSAL_VARS = {
  IN_USE_BY: { stem: 'on RC 7 for a dataset in use: who uses it, e.g. "container runc/web (pid 42: sleep 1000)" or "pid 42 (vim)"' },
  IN_USE_PIDS: { stem: 'on RC 7 for a dataset in use: their pids' },
  BASES: { stem: 'on RC 7 for a registered base\'s snapshot or dataset: the bases in the way' },
} as const;
