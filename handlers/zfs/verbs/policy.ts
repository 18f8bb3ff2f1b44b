/**
 * Retention policies in sanoid's model (the logic is ../policy.ts): `policy_set`,
 * `policy_get`, `policy_list`, `policy_remove` keep a policy as `org.rexxjs:policy-*`
 * user properties on the dataset; `autosnap` takes the snapshots that are due,
 * `autoprune` destroys the ones past the counts (never held, cloned, base or
 * not-yet-replicated ones), `check_snapshots` is sanoid's --monitor-snapshots, and
 * `schedule` / `unschedule` write / remove the cron.d entry that runs autosnap then
 * autoprune.
 */
import { AddressError, usageError } from '../../../shared/errors';
import { mapLimit } from '../../../shared/poll';
import { stem } from '../../../shared/result';
import { defineVerb, type Ctx } from '../../../shared/verb';
import { NAME, POOL, zfsDatasetName } from '../params';
import { destroyDataset } from '../dataset';
import {
  CRIT_FACTOR,
  cronEntry,
  cronFile,
  dueSnapshots,
  freshness,
  governing,
  groupsOf,
  listPolicies,
  MAX_COUNT,
  nagios,
  PERIODS,
  policyLine,
  pruneSelection,
  readOrigins,
  readPolicy,
  readSnapshots,
  readTree,
  readView,
  removePolicy,
  scopeMissing,
  setPolicy,
  WARN_FACTOR,
  type Period,
  type View,
} from '../policy';
import { snapshot } from '../snapshot';
import { fullName } from '../tool';

const count = (period: Period) => ({ type: 'int', min: 0, max: MAX_COUNT, doc: `${period} snapshots to keep (0: none taken or kept; not given: unchanged, 0 on a new policy)` }) as const;

const COUNTS = {
  hourly: count('hourly'),
  daily: count('daily'),
  weekly: count('weekly'),
  monthly: count('monthly'),
  yearly: count('yearly'),
} as const;

/** name= and pool= of the verbs that work on every policied dataset in a scope. */
const SCOPE = {
  name: { type: 'string', rule: zfsDatasetName, doc: 'only the policied datasets at or under this dataset (full, or relative to pool=); default: every one in pool=, or in every pool' },
  pool: { ...POOL.pool, doc: 'only this pool (default: every imported pool, unless name= is given)' },
} as const;

/** The root a scoped verb reads: name= (joined to pool=), else pool=, else undefined (every pool). */
const scopeOf = (ctx: Ctx, p: { name?: string; pool?: string }) => (p.name ? fullName(ctx, p.pool, p.name) : p.pool);

/** concurrency= of autosnap and autoprune. */
const CONCURRENCY = {
  concurrency: { type: 'int', min: 1, max: 16, default: 4, doc: 'zfs snapshot / zfs destroy commands run at once (each on a different snapshot; 1: one after another)' },
} as const;

/** readView for a scope; RC 3 when name=/pool= does not exist. */
const view = (ctx: Ctx, root: string | undefined): Promise<View> => readView(ctx, root).catch((e) => scopeMissing(e, root));

const POLICY_VARS = {
  HOURLY: 'hourly snapshots kept', DAILY: 'daily snapshots kept', WEEKLY: 'weekly snapshots kept',
  MONTHLY: 'monthly snapshots kept', YEARLY: 'yearly snapshots kept', RECURSIVE: 'true when the policy covers the descendants (zfs snapshot -r)',
} as const;

const policyVars = (p: { counts: Record<Period, number>; recursive: boolean }) => ({
  HOURLY: p.counts.hourly, DAILY: p.counts.daily, WEEKLY: p.counts.weekly, MONTHLY: p.counts.monthly, YEARLY: p.counts.yearly, RECURSIVE: String(p.recursive),
});

export const policySet = defineVerb({
  name: 'policy_set',
  summary: 'set the retention policy of a dataset (sanoid\'s model): how many hourly/daily/weekly/monthly/yearly autosnaps to keep, kept as org.rexxjs:policy-* user properties in the pool; periods not given keep their value (0 on a new policy); RC 3 when the dataset is missing',
  params: {
    ...NAME,
    ...COUNTS,
    recursive: { type: 'bool', doc: 'true: autosnap takes zfs snapshot -r and autoprune prunes the descendants too (not given: unchanged, false on a new policy)' },
    ...POOL,
  },
  positional: ['name'],
  examples: ['policy_set name=web hourly=36 daily=30 weekly=8 monthly=3 yearly=0', 'policy_set name=containers daily=7 recursive=true'],
  vars: POLICY_VARS,
  async run(p, ctx) {
    const counts: Partial<Record<Period, number>> = {};
    for (const k of PERIODS) if (p[k] !== undefined) counts[k] = p[k];
    if (!Object.keys(counts).length && p.recursive === undefined) throw usageError(`policy_set: give at least one of ${PERIODS.map((k) => `${k}=`).join(', ')} recursive=`);
    const pol = await setPolicy(ctx, fullName(ctx, p.pool, p.name), counts, p.recursive);
    return { result: `${pol.dataset} ${policyLine(pol)}`, vars: policyVars(pol) };
  },
});

export const policyGet = defineVerb({
  name: 'policy_get',
  summary: 'the retention policy set on a dataset (RESULT: hourly=N daily=N weekly=N monthly=N yearly=N recursive=B); RC 3 when it has none or is missing',
  params: { ...NAME, ...POOL },
  positional: ['name'],
  examples: ['policy_get name=web'],
  vars: POLICY_VARS,
  async run(p, ctx) {
    const name = fullName(ctx, p.pool, p.name);
    const pol = await readPolicy(ctx, name);
    if (!pol) throw new AddressError('notFound', `${name} has no retention policy (policy_set name=${name} hourly=... sets one)`, { reason: 'notFound' });
    return { result: policyLine(pol), vars: policyVars(pol) };
  },
});

export const policyList = defineVerb({
  name: 'policy_list',
  summary: 'every dataset with a retention policy (one zfs get): RESULT one line per dataset, DATASETS stem',
  params: { ...SCOPE },
  examples: ['policy_list', 'policy_list pool=rexxpool'],
  vars: { DATASETS: { stem: 'datasets with a policy set on them' } },
  async run(p, ctx) {
    const root = scopeOf(ctx, p);
    const pols = await listPolicies(ctx, root).catch((e) => scopeMissing(e, root));
    return { result: pols.map((x) => `${x.dataset} ${policyLine(x)}`).join('\n'), vars: { DATASETS: stem(pols.map((x) => x.dataset)) } };
  },
});

export const policyRemove = defineVerb({
  name: 'policy_remove',
  summary: 'remove the retention policy of a dataset (zfs inherit of each org.rexxjs:policy-* property); its snapshots stay; RC 3 when it has none',
  params: { ...NAME, ...POOL },
  positional: ['name'],
  examples: ['policy_remove name=web'],
  vars: {},
  async run(p, ctx) {
    const pol = await removePolicy(ctx, fullName(ctx, p.pool, p.name));
    return { result: `${pol.dataset} ${policyLine(pol)}` };
  },
});

/** How many groups autosnap/autoprune cut the datasets into: one with concurrency=1 (one read, then the writes), else two per worker. */
const groupCount = (concurrency: number) => (concurrency === 1 ? 1 : concurrency * 2);

/** One write of autosnap/autoprune: its snapshot's full name, and the error when it failed. */
interface Outcome { name: string; error?: unknown }

/**
 * The work of autosnap and autoprune, a group of datasets at a time: up to `concurrency`
 * groups read their snapshots at once (one `zfs list` each), and each group's writes go
 * into one queue that runs `concurrency` of them at once, so the reads of later groups
 * overlap the writes of earlier ones and the writes never wait for a read they do not
 * need (zfs takes them in turn; a `zfs snapshot` mostly waits for its transaction
 * group). The outcomes come back in the datasets' order; a group whose read failed fails
 * as a whole, the others go on.
 */
async function byGroups(groups: string[][], concurrency: number, plan: (g: string[]) => Promise<Array<{ name: string; run: () => Promise<unknown> }>>): Promise<{ outcomes: Outcome[]; readError?: unknown }> {
  let active = 0;
  const waiting: Array<() => void> = [];
  const limited = async (fn: () => Promise<unknown>) => {
    while (active >= concurrency) await new Promise<void>((ok) => waiting.push(ok));
    active++;
    try {
      await fn();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
  const outs: Outcome[][] = groups.map(() => []);
  const writes: Array<Promise<void>> = [];
  const reads = await mapLimit(groups, concurrency, async (g, gi) => {
    const ws = await plan(g);
    outs[gi] = ws.map((w) => ({ name: w.name }));
    ws.forEach((w, k) =>
      writes.push(
        limited(w.run).catch((error) => {
          // One dataset's failure (removed meanwhile, pool full, a hold made since the read) does not stop the others.
          outs[gi]![k]!.error = error;
        }),
      ),
    );
  });
  await Promise.all(writes);
  const failedRead = reads.find((d) => !d.ok);
  return { outcomes: outs.flat(), readError: failedRead && !failedRead.ok ? failedRead.error : undefined };
}

/** The first failure of `outcomes` (or the failed read) as an AddressError, and the "NAME: message" lines of all of them. */
function failures(outcomes: Outcome[], readError: unknown): { first?: AddressError; lines: string[] } {
  const errs = [...outcomes.filter((o) => o.error !== undefined).map((o) => ({ what: o.name, e: o.error })), ...(readError !== undefined ? [{ what: 'reading snapshots', e: readError }] : [])];
  const e0 = errs[0]?.e;
  const first = e0 === undefined ? undefined : e0 instanceof AddressError ? e0 : new AddressError('toolFailed', String(e0));
  return { first, lines: errs.map((x) => `${x.what}: ${(x.e as Error).message ?? String(x.e)}`) };
}

export const autosnap = defineVerb({
  name: 'autosnap',
  summary: 'take the autosnaps that are due (autosnap_YYYY-MM-DD_HH:MM:SS_PERIOD, UTC) for every policied dataset: one per period with a count above 0 and no autosnap since the period began (hour, day, ISO week, month, year); zfs snapshot -r for a recursive policy; reads the filesystems once, then the policied datasets\' snapshots a group at a time while other groups\' snapshots are taken; CREATED stem; dryrun=true lists the snapshots it would take; RC 3 when name=/pool= is missing; a failed zfs snapshot does not stop the others (RC of the first failure, CREATED what was taken)',
  params: { ...SCOPE, ...CONCURRENCY },
  examples: ['autosnap', 'autosnap name=web dryrun=true'],
  dryrunVars: true,
  vars: { CREATED: { stem: 'snapshots taken (dryrun: would be), full names; a recursive one also on every descendant' } },
  async run(p, ctx) {
    const root = scopeOf(ctx, p);
    const tree = await readTree(ctx, root).catch((e) => scopeMissing(e, root));
    const now = ctx.clock.now();
    // A policied dataset under a recursive policy is decided with its (topmost) recursive ancestor.
    const unit = (ds: string) => tree.policies.find((q) => q.recursive && ds.startsWith(`${q.dataset}/`))?.dataset ?? ds;
    const groups = groupsOf(tree.policies.map((x) => x.dataset), groupCount(p.concurrency), unit);
    const { outcomes, readError } = await byGroups(groups, p.concurrency, async (g) => {
      const snapshots = await readSnapshots(ctx, g);
      const due = dueSnapshots({ ...tree, policies: tree.policies.filter((x) => g.includes(x.dataset)), snapshots }, now);
      return due.map((s) => ({ name: s.name, run: () => snapshot(ctx, s.dataset, s.name.slice(s.dataset.length + 1), { recursive: s.recursive }) }));
    });
    const created = outcomes.filter((o) => o.error === undefined).map((o) => o.name);
    const { first, lines } = failures(outcomes, readError);
    const vars = { CREATED: stem(created) };
    if (first) throw new AddressError(first.kind, `autosnap: ${lines.join('; ')} (taken: ${created.join(', ') || 'none'})`, { cause: first, vars, output: created.join('\n'), reason: first.reason });
    return { result: created.join('\n'), vars };
  },
});

export const autoprune = defineVerb({
  name: 'autoprune',
  summary: 'destroy the autosnaps past each policy\'s counts (newest kept), also on the descendants of a recursive policy; never one with holds or clones, a registered base\'s snapshot, or one newer than the newest replicated (repl-*) snapshot: those are PROTECTED; reads the filesystems (and their clones) once, then the snapshots a group of datasets at a time while other groups\' destroys run; DESTROYED, PROTECTED stems; dryrun=true lists the destroys; RC 3 when name=/pool= is missing; a failed zfs destroy does not stop the others (RC of the first failure, DESTROYED what went)',
  params: { ...SCOPE, ...CONCURRENCY },
  examples: ['autoprune', 'autoprune name=web dryrun=true'],
  dryrunVars: true,
  vars: {
    DESTROYED: { stem: 'snapshots destroyed (dryrun: would be), full names' },
    PROTECTED: { stem: 'snapshots past the count kept anyway: "NAME (holds|clones|base|not replicated)"' },
  },
  async run(p, ctx) {
    const root = scopeOf(ctx, p);
    const tree = await readTree(ctx, root).catch((e) => scopeMissing(e, root));
    const governed = tree.datasets.filter((d) => governing(tree, d));
    // The clones: the pools' filesystems (no snapshot listed), read once beside the first group's snapshots.
    const origins = governed.length ? readOrigins(ctx, tree.policies.map((x) => x.dataset)) : Promise.resolve(new Set<string>());
    origins.catch(() => undefined); // (awaited by every group; this only marks it handled)
    const prot = new Map<string, string[]>();
    const { outcomes, readError } = await byGroups(groupsOf(governed, groupCount(p.concurrency)), p.concurrency, async (g) => {
      const [snapshots, o] = await Promise.all([readSnapshots(ctx, g), origins]);
      const plan = pruneSelection({ ...tree, datasets: g, snapshots, origins: o });
      prot.set(g[0]!, plan.protected.map((x) => `${x.snap.name} (${x.why})`));
      return plan.destroy.map((s) => ({ name: s.name, run: () => destroyDataset(ctx, s.name) }));
    });
    const destroyed = outcomes.filter((o) => o.error === undefined).map((o) => o.name);
    // PROTECTED in the datasets' order, as DESTROYED.
    const protectedList = governed.flatMap((d) => prot.get(d) ?? []);
    const { first, lines } = failures(outcomes, readError);
    const vars = { DESTROYED: stem(destroyed), PROTECTED: stem(protectedList) };
    const result = [...destroyed.map((d) => `destroyed ${d}`), ...protectedList.map((x) => `protected ${x}`)].join('\n');
    if (first) throw new AddressError(first.kind, `autoprune: ${lines.join('; ')} (destroyed: ${destroyed.join(', ') || 'none'})`, { cause: first, vars, output: result, reason: first.reason });
    return { result, vars };
  },
});

export const checkSnapshots = defineVerb({
  name: 'check_snapshots',
  summary: `sanoid's --monitor-snapshots: for every policied dataset and period with a count above 0, the newest autosnap's age against the period (hour, day, 7 d, 31 d, 366 d): older than ${WARN_FACTOR}× is WARNING, older than ${CRIT_FACTOR}× or none CRITICAL. EXCEPTION to the RC table: RC 0/1/2 is the answer OK/WARNING/CRITICAL (Nagios), with the Nagios line (OK: …, WARNING: …, CRITICAL: …) in RESULT; a failure to read is RC 3/6 as usual`,
  params: { ...SCOPE },
  examples: ['check_snapshots', 'check_snapshots pool=rexxpool'],
  vars: {
    STATUS: 'OK, WARNING or CRITICAL',
    PROBLEMS: { stem: '"DATASET PERIOD has none" / "DATASET PERIOD is AGE old" for each period not OK' },
  },
  async run(p, ctx) {
    const findings = freshness(await view(ctx, scopeOf(ctx, p)), ctx.clock.now());
    const { rc, line } = nagios(findings);
    const problems = findings.filter((f) => f.status !== 'OK').map((f) => `${f.dataset} ${f.period} ${f.ageMs === undefined ? 'has none' : `is ${Math.round(f.ageMs / 1000)}s old`}`);
    const vars = { STATUS: line.slice(0, line.indexOf(':')), PROBLEMS: stem(problems) };
    return rc ? { rc, errorText: line, result: line, vars } : { result: line, vars };
  },
});

export const schedule = defineVerb({
  name: 'schedule',
  summary: 'write the cron.d entry (env REXX_ZFS_CRON_DIR, else /etc/cron.d; file rexx-address-zfs, written atomically) that runs `rexx-address zfs autosnap` then `rexx-address zfs autoprune` every every= minutes as root, with name=/pool= passed on; replaces an earlier entry; FILE',
  params: {
    ...SCOPE,
    every: { type: 'int', min: 1, max: 60, default: 15, doc: 'minutes between runs (1–59: */N; 60: on the hour)' },
  },
  examples: ['schedule', 'schedule pool=rexxpool every=5'],
  vars: { FILE: 'the cron file written (dryrun: would be)' },
  async run(p, ctx) {
    const scope = [...(p.name ? [`name=${fullName(ctx, p.pool, p.name)}`] : []), ...(p.pool ? [`pool=${p.pool}`] : [])];
    const file = cronFile(ctx);
    const text = cronEntry(p.every, scope);
    ctx.fs.writeText(file, text, { atomic: true, mode: 0o644 });
    return { result: text.trimEnd().split('\n').at(-1)!, vars: { FILE: file } };
  },
});

export const unschedule = defineVerb({
  name: 'unschedule',
  summary: 'remove the cron.d entry schedule wrote (RESULT says when there was none; RC 0 either way); FILE',
  params: { pool: { ...SCOPE.pool, doc: 'ignored (the one entry goes); accepted so schedule\'s words work here' } },
  examples: ['unschedule'],
  vars: { FILE: 'the cron file removed (empty when there was none)' },
  async run(_p, ctx) {
    const file = cronFile(ctx);
    if (!ctx.fs.exists(file)) return { result: `not scheduled: ${file} does not exist`, vars: { FILE: '' } };
    ctx.fs.remove(file);
    return { result: `removed ${file}`, vars: { FILE: file } };
  },
});
