/**
 * Replication: `send` (to a file, or `zfs send | zfs receive` into another dataset or
 * pool, both ends argv, no shell), `receive` (from a file), `replicate` (snapshot now,
 * then send incrementally from the last common snapshot). `ssh=HOST` runs the
 * receiving end as `ssh HOST zfs receive …`; ssh joins the remote words with spaces
 * for the remote shell, which is safe only because every name was validated against
 * the ZFS naming rules (no spaces or shell characters can be in them).
 */
import * as fs from 'node:fs';
import { classify, refused, usageError, notFound, type Classifier } from '../../../shared/errors';
import { hostPath, sshHost } from '../../../shared/names';
import type { RunResult } from '../../../shared/runner';
import { defineVerb, type Ctx } from '../../../shared/verb';
import { NAME, OPT_SNAPSHOT, POOL, zfsDatasetName, zfsPoolName, zfsSnapshotName } from '../params';
import { destroyDataset, refreshMount } from '../dataset';
import { listSnapshots, snapshot } from '../snapshot';
import { fullName, rows, zfs, ZFS_ERRORS } from '../zfs';

/** ZFS messages plus ssh's own for the remote end. */
export const REPL_ERRORS: Classifier = {
  patterns: [
    ['unavailable', /ssh: connect to host|Could not resolve hostname|Permission denied \(|Host key verification failed|Connection refused|Connection timed out/i],
    ...ZFS_ERRORS.patterns,
  ],
};

const ok = (r: RunResult) => {
  if (!r.ok) throw classify(r, REPL_ERRORS);
  return r;
};

/** The argv that runs `zfs ARGS` on the receiving side (locally, or through ssh). */
export const remote = (ssh: string | undefined, args: string[]) => (ssh ? ['ssh', '-o', 'BatchMode=yes', ssh, 'zfs', ...args] : ['zfs', ...args]);

/** Short names of the target's snapshots, or undefined when the target does not exist. */
async function targetSnapshots(ctx: Ctx, target: string, ssh?: string): Promise<string[] | undefined> {
  const r = await ctx.run(remote(ssh, ['get', '-H', '-p', '-o', 'name,value', 'createtxg', '-d', '1', target]), { readOnly: true, timeoutMs: 60_000 });
  if (!r.ok) {
    const e = classify(r, REPL_ERRORS);
    if (e.kind === 'notFound') return undefined;
    throw e;
  }
  return rows(r.stdout)
    .map(([n, v]) => ({ n: n!, txg: Number(v) }))
    .filter((x) => x.n.startsWith(`${target}@`))
    .sort((a, b) => a.txg - b.txg)
    .map((x) => x.n.slice(target.length + 1));
}

export interface SendOutcome { mode: 'full' | 'incremental' | 'none'; from: string; snapshot: string; target: string }

/**
 * Send `source@snap` into `target` (local or over ssh): full when the target does not
 * exist, incremental (`-i @common`, received with `-F`) from the newest snapshot both
 * have, nothing when the target already has `snap`. A target without a common snapshot
 * is refused (RC 7) unless force=true (the target is destroyed, then a full stream sent).
 * On zfs-fuse a local target is remounted afterwards (see refreshMount).
 */
export async function sendInto(
  ctx: Ctx,
  source: string,
  snap: string,
  target: string,
  o: { ssh?: string; force?: boolean; timeoutMs?: number },
): Promise<SendOutcome> {
  const have = await targetSnapshots(ctx, target, o.ssh);
  const base: SendOutcome = { mode: 'none', from: '', snapshot: snap, target };
  if (have?.includes(snap)) return base;
  let send = ['zfs', 'send', `${source}@${snap}`];
  let recv = remote(o.ssh, ['receive', target]);
  if (have) {
    const srcSnaps = (await listSnapshots(ctx, source)).map((s) => s.snapshot);
    const upto = srcSnaps.indexOf(snap);
    const common = srcSnaps.slice(0, upto < 0 ? srcSnaps.length : upto).filter((s) => have.includes(s)).pop();
    if (common) {
      send = ['zfs', 'send', '-i', `${source}@${common}`, `${source}@${snap}`];
      base.mode = 'incremental';
      base.from = common;
      recv = remote(o.ssh, ['receive', '-F', target]);
    } else if (!o.force) {
      throw refused(`send: ${target} exists and has no snapshot in common with ${source}; give force=true to destroy it (and its snapshots) and send a full stream`);
    } else if (o.ssh) {
      ok(await ctx.run(remote(o.ssh, ['destroy', '-r', target]), { timeoutMs: 600_000 }));
    } else {
      await destroyDataset(ctx, target, { recursive: true });
    }
  }
  if (base.mode === 'none') base.mode = 'full';
  ok(await ctx.runPipeline([send, recv], { timeoutMs: o.timeoutMs ?? 3_600_000 }));
  if (!o.ssh) await refreshMount(ctx, target);
  return base;
}

const TARGET_PARAMS = {
  target: { type: 'string', rule: zfsDatasetName, doc: 'receiving dataset (full, or relative to target_pool=)' },
  target_pool: { type: 'string', rule: zfsPoolName, doc: 'pool target= is relative to (default: pool=)' },
  ssh: { type: 'string', rule: sshHost, doc: 'receive on this host: ssh [user@]HOST zfs receive … (key-based, BatchMode)' },
  force: { type: 'bool', default: false, doc: 'replace a target that shares no snapshot with the source: destroy it (-r), then send a full stream' },
  timeout: { type: 'duration', default: 3_600_000, doc: 'how long the transfer may take' },
} as const;

/** What send and replicate report. */
const SEND_VARS = {
  MODE: 'full or incremental',
  FROM: 'the snapshot an incremental started from',
  SNAPSHOT: 'the snapshot sent',
  TARGET: 'the receiving dataset (target=)',
  FILE: 'the stream file (file=)',
  BYTES: 'size of the stream file in bytes (file=)',
} as const;

const outVars = (o: SendOutcome) => ({ result: `${o.mode} ${o.from ? `${o.from}..` : ''}${o.snapshot} ${o.target}`.trim(), vars: { MODE: o.mode, FROM: o.from, SNAPSHOT: o.snapshot, TARGET: o.target } });

export const send = defineVerb({
  name: 'send',
  summary: 'send a snapshot (latest by default) to file= (full, or incremental with from=) or into target= (full, or incremental from the last common snapshot), optionally over ssh=',
  params: {
    ...NAME,
    ...OPT_SNAPSHOT,
    file: { type: 'string', rule: hostPath, doc: 'write the stream to this file' },
    from: { type: 'string', rule: zfsSnapshotName, doc: 'with file=: incremental from this earlier snapshot (-i)' },
    ...TARGET_PARAMS,
    ...POOL,
  },
  positional: ['name'],
  examples: ['send name=web file=/backup/web.zfs', 'send name=web target=web target_pool=backup', 'send name=web target=tank/web ssh=root@backup1'],
  vars: SEND_VARS,
  async run(p, ctx) {
    if (!p.file === !p.target) throw usageError('send: give exactly one of file= or target=');
    const source = fullName(ctx, p.pool, p.name);
    const snap = p.snapshot ?? (await listSnapshots(ctx, source)).pop()?.snapshot;
    if (!snap) throw notFound(`send: ${source} has no snapshots (take one with snapshot first)`);
    if (p.target) return outVars(await sendInto(ctx, source, snap, fullName(ctx, p.target_pool ?? p.pool, p.target), p));
    const file = p.file!;
    const args = p.from ? ['zfs', 'send', '-i', `${source}@${p.from}`, `${source}@${snap}`] : ['zfs', 'send', `${source}@${snap}`];
    ok(await ctx.runPipeline([args, ['dd', `of=${file}`, 'bs=1M', 'status=none']], { timeoutMs: p.timeout }));
    const bytes = ctx.dryrun ? 0 : fs.statSync(file).size;
    return { result: file, vars: { MODE: p.from ? 'incremental' : 'full', FROM: p.from ?? '', SNAPSHOT: snap, FILE: file, BYTES: bytes } };
  },
});

export const receive = defineVerb({
  name: 'receive',
  aliases: ['recv'],
  summary: 'receive a stream from file= into a dataset (zfs receive [-F] NAME < FILE)',
  params: {
    ...NAME,
    file: { type: 'string', required: true, rule: hostPath, doc: 'the stream file (from send file=)' },
    force: { type: 'bool', default: false, doc: 'roll the target back / overwrite it first (-F; needed for incrementals into a touched target)' },
    timeout: TARGET_PARAMS.timeout,
    ...POOL,
  },
  positional: ['name', 'file'],
  vars: { DATASET: 'the receiving dataset' },
  async run(p, ctx) {
    const name = fullName(ctx, p.pool, p.name);
    if (!ctx.dryrun && !fs.existsSync(p.file)) throw notFound(`receive: no such file ${p.file}`);
    await zfs(ctx, p.force ? ['receive', '-F', name] : ['receive', name], { inputFile: p.file, timeoutMs: p.timeout });
    await refreshMount(ctx, name);
    return { result: name, vars: { DATASET: name } };
  },
});

export const replicate = defineVerb({
  name: 'replicate',
  summary: 'snapshot the source now (repl-<unix seconds>, or use snapshot=) and send it into target= (incremental when they share a snapshot), locally or over ssh=',
  params: { ...NAME, ...OPT_SNAPSHOT, ...TARGET_PARAMS, target: { ...TARGET_PARAMS.target, required: true }, ...POOL },
  positional: ['name', 'target'],
  examples: ['replicate name=web target=web target_pool=backup', 'replicate name=web target=tank/web ssh=backup1'],
  vars: SEND_VARS,
  async run(p, ctx) {
    const source = fullName(ctx, p.pool, p.name);
    const snap = p.snapshot ?? `repl-${Math.floor(Date.now() / 1000)}`;
    if (!p.snapshot) await snapshot(ctx, source, snap);
    return outVars(await sendInto(ctx, source, snap, fullName(ctx, p.target_pool ?? p.pool, p.target), p));
  },
});
