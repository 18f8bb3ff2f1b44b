/**
 * Retention policies in sanoid's model, kept in ZFS itself as user properties on the
 * dataset (like the base registry, registry.ts), so a policy lives in the pool and
 * survives restarts and reimports:
 *
 * - `org.rexxjs:policy-hourly`, `-daily`, `-weekly`, `-monthly`, `-yearly`: how many
 *   snapshots of that period to keep (a whole number; 0: none taken, none kept);
 * - `org.rexxjs:policy-recursive`: `on` (autosnap takes `zfs snapshot -r`, autoprune
 *   prunes the descendants' autosnaps with the same counts) or `off`.
 *
 * A dataset "has a policy" when these are set locally on it (children only inherit them,
 * which is ignored). Snapshots are named `autosnap_YYYY-MM-DD_HH:MM:SS_PERIOD` in UTC
 * (sanoid's format); a snapshot's time is the time in its name (what autosnap decided,
 * from ctx.clock), never parsed from anything else, so a test's clock drives it all.
 *
 * Reads: listing snapshots is what costs (zfs-fuse lists about 2,000 a second, and
 * prints nothing before it has them all), so autosnap and autoprune read the
 * filesystems first without one snapshot ({@link readTree}: `zfs list -t
 * filesystem,volume` and `zfs get -s local` of their names), then only the policied
 * (autoprune: governed) datasets' snapshots, a group of datasets at a time
 * ({@link readSnapshots}), so one group's read runs while another group's `zfs
 * snapshot`/`zfs destroy` wait for their transaction groups. autoprune adds one
 * `zfs list -o name,origin -t filesystem,volume` of the pools for the clones.
 * check_snapshots reads everything with ONE `zfs get -H -p … -r ROOT` ({@link readView}).
 * The selection functions below are pure.
 *
 * Replication marker: the handler has no separate one yet. `replicate` snapshots the
 * source as `repl-<unix seconds>` and sends it, and destroys that snapshot when the send
 * fails, so the newest `repl-*` snapshot of a dataset is the newest replicated one.
 * autoprune never destroys an autosnap newer (higher createtxg) than it; a dataset
 * without any `repl-*` snapshot has never been replicated and has no such limit.
 */
import { isReason, notFound } from '../../shared/errors';
import type { Ctx } from '../../shared/verb';
import { PROPS as REGISTRY_PROPS } from './registry';
import { rows, zfs } from './tool';

/** The periods of a policy, shortest first. */
export const PERIODS = ['hourly', 'daily', 'weekly', 'monthly', 'yearly'] as const;
export type Period = (typeof PERIODS)[number];

/** The user properties of a policy (namespace `org.rexxjs:`, as the base registry's). */
export const POLICY_PROPS = {
  hourly: 'org.rexxjs:policy-hourly',
  daily: 'org.rexxjs:policy-daily',
  weekly: 'org.rexxjs:policy-weekly',
  monthly: 'org.rexxjs:policy-monthly',
  yearly: 'org.rexxjs:policy-yearly',
  recursive: 'org.rexxjs:policy-recursive',
} as const;

const ALL_POLICY_PROPS = Object.values(POLICY_PROPS);

/** The largest count a policy keeps per period (policy_set refuses more with RC 2). */
export const MAX_COUNT = 100_000;

/** A dataset's policy: how many snapshots of each period to keep, and whether it covers the descendants. */
export interface Policy {
  /** Full dataset name. */
  dataset: string;
  counts: Record<Period, number>;
  recursive: boolean;
}

/** The nominal length of each period, ms (month 31 days, year 366 days: the longest ones, so check_snapshots never warns early). */
export const PERIOD_MS: Record<Period, number> = {
  hourly: 3_600_000,
  daily: 86_400_000,
  weekly: 7 * 86_400_000,
  monthly: 31 * 86_400_000,
  yearly: 366 * 86_400_000,
};

/** check_snapshots: the newest snapshot of a period older than this many periods is WARNING… */
export const WARN_FACTOR = 1.5;
/** …and older than this many (or none at all) CRITICAL. */
export const CRIT_FACTOR = 2;

/**
 * The start of the period containing `nowMs` (Unix epoch ms), in UTC: the hour, the day
 * (00:00), the ISO week (Monday 00:00), the month (the 1st) or the year (1 January).
 */
export function periodStart(period: Period, nowMs: number): number {
  const d = new Date(nowMs);
  const y = d.getUTCFullYear(), m = d.getUTCMonth(), day = d.getUTCDate();
  switch (period) {
    case 'hourly':
      return Date.UTC(y, m, day, d.getUTCHours());
    case 'daily':
      return Date.UTC(y, m, day);
    case 'weekly':
      return Date.UTC(y, m, day - ((d.getUTCDay() + 6) % 7));
    case 'monthly':
      return Date.UTC(y, m, 1);
    case 'yearly':
      return Date.UTC(y, 0, 1);
  }
}

/** The autosnap short name for `period` taken at `nowMs`: `autosnap_2026-11-29_18:00:00_hourly` (UTC, whole seconds). */
export function autosnapName(period: Period, nowMs: number): string {
  const iso = new Date(nowMs).toISOString();
  return `autosnap_${iso.slice(0, 10)}_${iso.slice(11, 19)}_${period}`;
}

const AUTOSNAP = /^autosnap_(\d{4}-\d{2}-\d{2})_(\d{2}:\d{2}:\d{2})_(hourly|daily|weekly|monthly|yearly)$/;

/** The period and time (epoch ms) of an autosnap short name, or undefined for any other name. */
export function parseAutosnap(short: string): { period: Period; timeMs: number } | undefined {
  const m = AUTOSNAP.exec(short);
  if (!m) return undefined;
  const timeMs = Date.parse(`${m[1]}T${m[2]}Z`);
  return Number.isNaN(timeMs) ? undefined : { period: m[3] as Period, timeMs };
}

/** One snapshot as the view holds it. */
export interface SnapRow {
  /** Full name `dataset@short`. */
  name: string;
  dataset: string;
  short: string;
  createtxg: number;
  /** Holds (`userrefs`). */
  userrefs: number;
  /** Its period and time when it is an autosnap. */
  auto?: { period: Period; timeMs: number };
}

/** What one `zfs get -r` says about the pools in scope (see {@link readView}). */
export interface View {
  /** Datasets with a local policy, in zfs's order (parents before children). */
  policies: Policy[];
  /** Every filesystem and volume seen. */
  datasets: string[];
  /** Snapshots by dataset, oldest first (createtxg). */
  snapshots: Map<string, SnapRow[]>;
  /** Snapshots that are the origin of a clone. */
  origins: Set<string>;
  /** Base snapshots of registered bases (full names). */
  baseSnapshots: Set<string>;
}

/** A user property as `zfs get` shows it: `-` when unset. */
const set = (v: string | undefined) => v !== undefined && v !== '-' && v !== '';

/** A count read back from the pool: a whole number 0..MAX_COUNT, else undefined (a hand-set value that is not one). */
const count = (v: string | undefined): number | undefined => (set(v) && /^\d{1,6}$/.test(v!) && Number(v) <= MAX_COUNT ? Number(v) : undefined);

/** The policy in a dataset's local properties, or undefined when none is set locally. */
function policyOf(ctx: Ctx, dataset: string, local: Record<string, string>): Policy | undefined {
  if (!ALL_POLICY_PROPS.some((k) => set(local[k]))) return undefined;
  const counts = {} as Record<Period, number>;
  for (const p of PERIODS) {
    const raw = local[POLICY_PROPS[p]];
    const c = count(raw);
    if (set(raw) && c === undefined) ctx.log(`policy: ${dataset} ${POLICY_PROPS[p]}=${raw} is not a count; taken as 0`);
    counts[p] = c ?? 0;
  }
  return { dataset, counts, recursive: local[POLICY_PROPS.recursive] === 'on' };
}

/**
 * Everything check_snapshots needs (and autosnap, autoprune but the clones) from ONE read:
 * `zfs get -H -p -o name,property,value,source createtxg,userrefs,<policy props>,org.rexxjs:base-snapshot -r [ROOT]`
 * (every pool when `root` is omitted). `origins` is left empty: {@link readOrigins} fills
 * it. RC 3 when `root` does not exist.
 */
export async function readView(ctx: Ctx, root?: string): Promise<View> {
  const props = ['createtxg', 'userrefs', ...ALL_POLICY_PROPS, REGISTRY_PROPS.baseSnapshot];
  const r = await zfs(ctx, ['get', '-H', '-p', '-o', 'name,property,value,source', props.join(','), '-r', ...(root ? [root] : [])], { readOnly: true });
  const local = new Map<string, Record<string, string>>();
  const snaps = new Map<string, Map<string, Record<string, string>>>();
  const datasets: string[] = [];
  for (const [n, k, v, source] of rows(r.stdout)) {
    if (!n || !k) continue;
    const at = n.indexOf('@');
    if (at >= 0) {
      const ds = n.slice(0, at);
      const m = snaps.get(ds) ?? new Map<string, Record<string, string>>();
      m.set(n, { ...m.get(n), [k]: v ?? '' });
      snaps.set(ds, m);
      continue;
    }
    if (!local.has(n)) {
      local.set(n, {});
      datasets.push(n);
    }
    if (source === 'local') local.get(n)![k] = v ?? '';
  }
  const snapshots = new Map<string, SnapRow[]>();
  for (const [ds, m] of snaps) {
    snapshots.set(
      ds,
      [...m.entries()]
        .map(([name, p]) => {
          const short = name.slice(ds.length + 1);
          return { name, dataset: ds, short, createtxg: Number(p.createtxg) || 0, userrefs: Number(p.userrefs) || 0, auto: parseAutosnap(short) };
        })
        .sort((a, b) => a.createtxg - b.createtxg),
    );
  }
  return { ...ownSettings(ctx, datasets, local), datasets, snapshots, origins: new Set() };
}

/** The policies and registered base snapshots in the datasets' local properties. */
function ownSettings(ctx: Ctx, datasets: string[], local: Map<string, Record<string, string>>): Pick<View, 'policies' | 'baseSnapshots'> {
  const baseSnapshots = new Set<string>();
  const policies: Policy[] = [];
  for (const ds of datasets) {
    const own = local.get(ds)!;
    const b = own[REGISTRY_PROPS.baseSnapshot];
    if (set(b)) baseSnapshots.add(`${ds}@${b}`);
    const p = policyOf(ctx, ds, own);
    if (p) policies.push(p);
  }
  return { policies, baseSnapshots };
}

/**
 * The datasets in scope and what is set locally on them, without listing one snapshot
 * (zfs-fuse lists about 2,000 snapshots a second, while the filesystems of a pool come
 * in tens of ms): `zfs list -H -o name -t filesystem,volume -r [ROOT]`, then
 * `zfs get -H -p -o name,property,value,source -s local <policy props>,org.rexxjs:base-snapshot NAME…`
 * (names given, no -r: still no snapshot; 500 names a call). A View whose `snapshots` is
 * empty: {@link readSnapshots} fills it for the datasets that need it. RC 3 when `root`
 * does not exist.
 */
export async function readTree(ctx: Ctx, root?: string): Promise<View> {
  const r = await zfs(ctx, ['list', '-H', '-o', 'name', '-t', 'filesystem,volume', '-r', ...(root ? [root] : [])], { readOnly: true });
  const datasets = r.stdout.split('\n').filter(Boolean);
  const local = new Map<string, Record<string, string>>(datasets.map((d) => [d, {}]));
  const props = [...ALL_POLICY_PROPS, REGISTRY_PROPS.baseSnapshot].join(',');
  for (let i = 0; i < datasets.length; i += 500) {
    const g = await zfs(ctx, ['get', '-H', '-p', '-o', 'name,property,value,source', '-s', 'local', props, ...datasets.slice(i, i + 500)], { readOnly: true });
    for (const [n, k, v, source] of rows(g.stdout)) {
      const own = n ? local.get(n) : undefined;
      if (own && k && source === 'local') own[k] = v ?? '';
    }
  }
  return { ...ownSettings(ctx, datasets, local), datasets, snapshots: new Map(), origins: new Set() };
}

/**
 * The snapshots of `datasets` (their own, not their descendants'), oldest first:
 * `zfs list -H -o name,createtxg,userrefs -t snapshot -d 1 DATASET…` (zfs-fuse's `zfs
 * list` has no -p; both are plain counts). Its cost grows with the number of those
 * snapshots; autosnap and autoprune read them a few datasets at a time, each group's
 * writes overlapping the next group's read.
 */
export async function readSnapshots(ctx: Ctx, datasets: string[]): Promise<Map<string, SnapRow[]>> {
  const out = new Map<string, SnapRow[]>(datasets.map((d) => [d, []]));
  if (!datasets.length) return out;
  const r = await zfs(ctx, ['list', '-H', '-o', 'name,createtxg,userrefs', '-t', 'snapshot', '-d', '1', ...datasets], { readOnly: true });
  for (const [name, txg, refs] of rows(r.stdout)) {
    const at = name?.indexOf('@') ?? -1;
    if (!name || at < 0) continue;
    const ds = name.slice(0, at);
    const short = name.slice(at + 1);
    out.get(ds)?.push({ name, dataset: ds, short, createtxg: Number(txg) || 0, userrefs: Number(refs) || 0, auto: parseAutosnap(short) });
  }
  for (const l of out.values()) l.sort((a, b) => a.createtxg - b.createtxg);
  return out;
}

/**
 * `datasets` (in zfs's order) cut into about `n` groups, for reading one group's
 * snapshots while another group's writes run. Datasets with the same `unit` key stay in
 * one group (autosnap: a policied dataset under a recursive policy goes with its
 * ancestor, whose due snapshots decide its own), in the order of their first dataset.
 */
export function groupsOf(datasets: string[], n: number, unit: (ds: string) => string = (ds) => ds): string[][] {
  const units = new Map<string, string[]>();
  for (const d of datasets) {
    const k = unit(d);
    units.set(k, [...(units.get(k) ?? []), d]);
  }
  const size = Math.max(1, Math.ceil(datasets.length / Math.max(1, n)));
  const out: string[][] = [];
  for (const u of units.values()) {
    const last = out[out.length - 1];
    if (last && last.length + u.length <= size) last.push(...u);
    else out.push([...u]);
  }
  return out;
}

/**
 * The snapshots clones were made from, anywhere in the pools of `datasets` (a clone may
 * live outside the policied tree): one `zfs list -H -o name,origin -t filesystem,volume -r POOL…`
 * (no snapshots listed, so it does not grow with their number).
 */
export async function readOrigins(ctx: Ctx, datasets: string[]): Promise<Set<string>> {
  const pools = [...new Set(datasets.map((d) => d.split('/')[0]!))];
  const r = await zfs(ctx, ['list', '-H', '-o', 'name,origin', '-t', 'filesystem,volume', '-r', ...pools], { readOnly: true });
  return new Set(rows(r.stdout).map(([, o]) => o ?? '').filter((o) => o.includes('@')));
}

/** The local policy of one dataset (one `zfs get` of the policy properties), or undefined. RC 3 when the dataset does not exist. */
export async function readPolicy(ctx: Ctx, dataset: string): Promise<Policy | undefined> {
  const r = await zfs(ctx, ['get', '-H', '-p', '-o', 'name,property,value,source', ALL_POLICY_PROPS.join(','), dataset], { readOnly: true });
  const own: Record<string, string> = {};
  for (const [n, k, v, source] of rows(r.stdout)) if (n === dataset && source === 'local') own[k!] = v ?? '';
  return policyOf(ctx, dataset, own);
}

/**
 * Every dataset with a local policy at or under `root` (every pool when omitted), from one
 * `zfs get -H -p -o name,property,value,source -s local <policy props> -r [ROOT]`.
 */
export async function listPolicies(ctx: Ctx, root?: string): Promise<Policy[]> {
  const r = await zfs(ctx, ['get', '-H', '-p', '-o', 'name,property,value,source', '-s', 'local', ALL_POLICY_PROPS.join(','), '-r', ...(root ? [root] : [])], { readOnly: true });
  const by = new Map<string, Record<string, string>>();
  for (const [n, k, v, source] of rows(r.stdout)) if (n && !n.includes('@') && source === 'local') by.set(n, { ...by.get(n), [k!]: v ?? '' });
  return [...by.entries()].map(([ds, own]) => policyOf(ctx, ds, own)).filter((p): p is Policy => !!p);
}

/**
 * Set the policy of `dataset`: the periods given in `counts` (and `recursive` when
 * given); a period or recursive= not given keeps its value, or becomes 0 / off on a
 * dataset without a policy. One `zfs set` per property (zfs-fuse takes one at a time).
 * RC 3 when the dataset does not exist. Returns the policy now in force.
 */
export async function setPolicy(ctx: Ctx, dataset: string, counts: Partial<Record<Period, number>>, recursive?: boolean): Promise<Policy> {
  const cur = await readPolicy(ctx, dataset);
  const next: Policy = {
    dataset,
    counts: Object.fromEntries(PERIODS.map((p) => [p, counts[p] ?? cur?.counts[p] ?? 0])) as Record<Period, number>,
    recursive: recursive ?? cur?.recursive ?? false,
  };
  for (const p of PERIODS) {
    if (counts[p] !== undefined || !cur) await zfs(ctx, ['set', `${POLICY_PROPS[p]}=${next.counts[p]}`, dataset]);
  }
  if (recursive !== undefined || !cur) await zfs(ctx, ['set', `${POLICY_PROPS.recursive}=${next.recursive ? 'on' : 'off'}`, dataset]);
  return next;
}

/** Remove the policy of `dataset` (`zfs inherit` of each property). RC 3 when it has none, or does not exist. */
export async function removePolicy(ctx: Ctx, dataset: string): Promise<Policy> {
  const cur = await readPolicy(ctx, dataset);
  if (!cur) throw notFound(`${dataset} has no retention policy`);
  for (const k of ALL_POLICY_PROPS) await zfs(ctx, ['inherit', k, dataset]);
  return cur;
}

/** A policy as one line: `hourly=36 daily=30 weekly=8 monthly=3 yearly=0 recursive=false`. */
export const policyLine = (p: Policy) => `${PERIODS.map((k) => `${k}=${p.counts[k]}`).join(' ')} recursive=${p.recursive}`;

/** One snapshot autosnap takes. */
export interface PlannedSnapshot {
  dataset: string;
  period: Period;
  /** Full name `dataset@autosnap_…`. */
  name: string;
  recursive: boolean;
}

/** The newest autosnap of `period` on `dataset`'s list, or undefined. */
const newestOf = (snaps: SnapRow[] | undefined, period: Period) =>
  (snaps ?? []).filter((s) => s.auto?.period === period).reduce<SnapRow | undefined>((a, s) => (!a || s.auto!.timeMs > a.auto!.timeMs || (s.auto!.timeMs === a.auto!.timeMs && s.createtxg > a.createtxg) ? s : a), undefined);

/**
 * The snapshots that are due at `nowMs`: for each policied dataset and each period with a
 * count > 0, one when the dataset has no autosnap of that period whose time is at or
 * after the period's start (periodStart). A dataset under a recursive policy that has its
 * own policy is skipped for a period its ancestor snapshots now (the ancestor's `-r`
 * makes the same name on it).
 */
export function dueSnapshots(view: View, nowMs: number): PlannedSnapshot[] {
  const out: PlannedSnapshot[] = [];
  for (const pol of view.policies) {
    for (const period of PERIODS) {
      if (pol.counts[period] <= 0) continue;
      const last = newestOf(view.snapshots.get(pol.dataset), period);
      if (last && last.auto!.timeMs >= periodStart(period, nowMs)) continue;
      const name = `${pol.dataset}@${autosnapName(period, nowMs)}`;
      if (out.some((o) => o.recursive && o.period === period && pol.dataset.startsWith(`${o.dataset}/`))) continue;
      out.push({ dataset: pol.dataset, period, name, recursive: pol.recursive });
    }
  }
  return out;
}

/** Why autoprune keeps a snapshot past the policy's count. */
export type Protection = 'holds' | 'clones' | 'base' | 'not replicated';

/** What autoprune decides: destroy these (oldest first per dataset), keep those for a reason. */
export interface PrunePlan {
  destroy: SnapRow[];
  protected: Array<{ snap: SnapRow; why: Protection }>;
}

/** The policy that governs `dataset`'s autosnaps: its own, else the nearest recursive ancestor's. */
export function governing(view: View, dataset: string): Policy | undefined {
  const own = view.policies.find((p) => p.dataset === dataset);
  if (own) return own;
  return view.policies
    .filter((p) => p.recursive && dataset.startsWith(`${p.dataset}/`))
    .sort((a, b) => b.dataset.length - a.dataset.length)[0];
}

/**
 * Which autosnaps to destroy: for every dataset governed by a policy (its own, or a
 * recursive ancestor's) and every period, all but the newest `count` autosnaps of that
 * period (by the time in their names). Of those, never one with holds (userrefs > 0),
 * one that is a clone's origin, a registered base's snapshot, or one newer (createtxg)
 * than the dataset's newest `repl-*` snapshot: those are `protected`.
 */
export function pruneSelection(view: View): PrunePlan {
  const plan: PrunePlan = { destroy: [], protected: [] };
  for (const ds of view.datasets) {
    const pol = governing(view, ds);
    const snaps = view.snapshots.get(ds);
    if (!pol || !snaps) continue;
    const repl = snaps.filter((s) => /^repl-\d+$/.test(s.short)).reduce((m, s) => Math.max(m, s.createtxg), -1);
    for (const period of PERIODS) {
      const newestFirst = snaps
        .filter((s) => s.auto?.period === period)
        .sort((a, b) => b.auto!.timeMs - a.auto!.timeMs || b.createtxg - a.createtxg);
      for (const s of newestFirst.slice(pol.counts[period]).reverse()) {
        const why: Protection | undefined =
          s.userrefs > 0 ? 'holds' : view.origins.has(s.name) ? 'clones' : view.baseSnapshots.has(s.name) ? 'base' : repl >= 0 && s.createtxg > repl ? 'not replicated' : undefined;
        if (why) plan.protected.push({ snap: s, why });
        else plan.destroy.push(s);
      }
    }
  }
  return plan;
}

/** check_snapshots' finding for one dataset and period. */
export interface Freshness {
  dataset: string;
  period: Period;
  /** Age of the newest autosnap of the period, ms; undefined when there is none. */
  ageMs?: number;
  status: 'OK' | 'WARNING' | 'CRITICAL';
}

/**
 * sanoid's --monitor-snapshots: for every policied dataset and period with a count > 0,
 * the newest autosnap's age against the period's nominal length (PERIOD_MS): older than
 * WARN_FACTOR (1.5) periods is WARNING, older than CRIT_FACTOR (2) periods — or none at
 * all — CRITICAL.
 */
export function freshness(view: View, nowMs: number): Freshness[] {
  const out: Freshness[] = [];
  for (const pol of view.policies) {
    for (const period of PERIODS) {
      if (pol.counts[period] <= 0) continue;
      const last = newestOf(view.snapshots.get(pol.dataset), period);
      const ageMs = last ? Math.max(0, nowMs - last.auto!.timeMs) : undefined;
      const status = ageMs === undefined || ageMs > CRIT_FACTOR * PERIOD_MS[period] ? 'CRITICAL' : ageMs > WARN_FACTOR * PERIOD_MS[period] ? 'WARNING' : 'OK';
      out.push({ dataset: pol.dataset, period, ageMs, status });
    }
  }
  return out;
}

/** An age for humans: 45s, 90m, 36h, 12d. */
export function age(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s}s`;
  if (s < 2 * 3600) return `${Math.round(s / 60)}m`;
  if (s < 2 * 86400) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}

/**
 * The Nagios-style answer for `findings`: RC 0 `OK: …`, 1 `WARNING: …` or 2
 * `CRITICAL: …`, naming every dataset and period that is not OK.
 */
export function nagios(findings: Freshness[]): { rc: 0 | 1 | 2; line: string } {
  const bad = (st: Freshness['status']) =>
    findings.filter((f) => f.status === st).map((f) => `${f.dataset} ${f.period} ${f.ageMs === undefined ? 'has none' : `is ${age(f.ageMs)} old`}`);
  const crit = bad('CRITICAL'), warn = bad('WARNING');
  if (crit.length) return { rc: 2, line: `CRITICAL: ${[...crit, ...warn].join(', ')}` };
  if (warn.length) return { rc: 1, line: `WARNING: ${warn.join(', ')}` };
  const ds = new Set(findings.map((f) => f.dataset)).size;
  return { rc: 0, line: findings.length ? `OK: ${findings.length} snapshot periods on ${ds} datasets are fresh` : 'OK: no dataset has a policy with a count above 0' };
}

/** The cron file schedule writes: env REXX_ZFS_CRON_DIR (tests), else /etc/cron.d; the name `rexx-address-zfs` (cron.d skips names with dots). */
export const cronFile = (ctx: Pick<Ctx, 'env'>) => `${(ctx.env.REXX_ZFS_CRON_DIR || '/etc/cron.d').replace(/\/+$/, '')}/rexx-address-zfs`;

/**
 * The cron.d entry: every `everyMin` minutes, as root, `rexx-address zfs autosnap` then
 * `rexx-address zfs autoprune` (the same scope words after each; validated names only,
 * so the line holds no shell metacharacters). autoprune runs even when autosnap failed.
 */
export function cronEntry(everyMin: number, scope: string[]): string {
  const when = everyMin >= 60 ? '0 * * * *' : `*/${everyMin} * * * *`;
  const args = scope.length ? ` ${scope.join(' ')}` : '';
  return [
    '# ADDRESS ZFS retention (rexx-address zfs schedule; `unschedule` removes this file)',
    'SHELL=/bin/sh',
    'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    `${when} root rexx-address zfs autosnap${args}; rexx-address zfs autoprune${args}`,
    '',
  ].join('\n');
}

/** RC 3 for a missing name= (a pool or dataset), from a notFound read; anything else is rethrown. */
export function scopeMissing(e: unknown, root: string | undefined): never {
  if (isReason(e, 'notFound') && root) throw notFound(`${root} does not exist`, { cause: e });
  throw e;
}
