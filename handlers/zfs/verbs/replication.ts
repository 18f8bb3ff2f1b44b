/**
 * Replication: `send` (to a file, or `zfs send | zfs receive` into another dataset or
 * pool, both ends argv, no shell), `receive` (from a file), `replicate` (snapshot now,
 * then send incrementally from the last common snapshot). `ssh=HOST` runs the
 * receiving end as `ssh -o BatchMode=yes [-F CONFIG] HOST zfs receive …`; ssh joins the
 * remote words with spaces for the remote shell, which is safe only because every name
 * was validated against the ZFS naming rules (no spaces or shell characters can be in
 * them). CONFIG is env REXX_ZFS_SSH_CONFIG of the handler (an ssh_config file: port, key,
 * known_hosts for HOST), never a parameter.
 *
 * `timeout=` bounds the whole verb: every step (the lookups on both sides, the snapshot,
 * the transfer) gets only what is left of it, and RC 5 comes when it runs out. A failed
 * `replicate` destroys the snapshot it took; a failed `send file=` leaves no file behind
 * and never touches a file that was there before.
 */
import * as crypto from 'node:crypto';
import * as path from 'node:path';
import { alreadyExists, AddressError, isReason, notFound, refused, timedOut, usageError } from '../../../shared/errors';
import type { Files } from '../../../shared/effects';
import { hostPath, sshHost } from '../../../shared/names';
import { requireUnsafeAllowed } from '../../../shared/policy';
import type { RunResult } from '../../../shared/runner';
import { createUnderFreeName, epochName } from '../../../shared/snapshot-names';
import { defineVerb, type Ctx } from '../../../shared/verb';
import { NAME, OPT_SNAPSHOT, POOL, zfsDatasetName, zfsPoolName, zfsSnapshotName } from '../params';
import { undoAll, type Undo } from '../../../shared/undo';
import { datasetExists, destroyDataset, refreshMount, renameDataset } from '../dataset';
import { REPL_ERRORS, zfsError } from '../errors';
import { requireNotInUse } from '../in-use';
import { listBases } from '../registry';
import { listSnapshots, snapshot } from '../snapshot';
import { fullName, rows, zfs } from '../tool';

const ok = (r: RunResult) => {
  if (!r.ok) throw zfsError(r, REPL_ERRORS);
  return r;
};

/** Where the receiving end runs: this host, or `ssh` (with the handler's ssh_config file, if any). */
export interface Peer {
  ssh?: string;
  /** env REXX_ZFS_SSH_CONFIG: given to ssh as `-F FILE`. */
  sshConfig?: string;
}

/** The peer of a verb call: ssh= and the handler's env REXX_ZFS_SSH_CONFIG. */
export const peerOf = (ctx: Pick<Ctx, 'env'>, ssh: string | undefined): Peer => ({ ssh, sshConfig: ctx.env.REXX_ZFS_SSH_CONFIG || undefined });

/** The argv that runs `zfs ARGS` on the receiving side (locally, or through ssh). */
export const remote = (peer: Peer, args: string[]) =>
  peer.ssh ? ['ssh', '-o', 'BatchMode=yes', ...(peer.sshConfig ? ['-F', peer.sshConfig] : []), peer.ssh, 'zfs', ...args] : ['zfs', ...args];

/** What is left of a verb's timeout= for the next step, in ms (at most `cap`); RC 5 once it has run out. */
export type TimeLeft = (cap?: number) => number;

/** A TimeLeft for `totalMs` from now; `what` names the verb call in the RC 5 message. */
export function deadline(ctx: Ctx, totalMs: number, what: string): TimeLeft {
  const end = ctx.clock.monotonic() + totalMs;
  return (cap = 60_000) => {
    const left = Math.floor(end - ctx.clock.monotonic());
    if (left <= 0) throw timedOut(`${what}: its timeout of ${totalMs} ms ran out`);
    return Math.min(cap, left);
  };
}

/** After the transfer, the swap and clean-up steps get at least this long (ms), so they are never cut half-way. */
const FINISH_MS = 30_000;

/**
 * The target's snapshots (short names, oldest first) and the snapshot it is a registered
 * base of (its local org.rexxjs:base-snapshot), from one `zfs get … -d 1 TARGET` on the
 * receiving side; undefined when the target does not exist.
 */
async function targetInfo(ctx: Ctx, target: string, peer: Peer, left: TimeLeft): Promise<{ snaps: string[]; baseSnapshot?: string } | undefined> {
  const r = await ctx.run(remote(peer, ['get', '-H', '-p', '-o', 'name,property,value,source', 'createtxg,org.rexxjs:base-snapshot', '-d', '1', target]), {
    readOnly: true,
    timeoutMs: left(),
  });
  if (!r.ok) {
    const e = zfsError(r, REPL_ERRORS);
    if (isReason(e, 'notFound')) return undefined;
    throw e;
  }
  let baseSnapshot: string | undefined;
  const snaps: Array<{ n: string; txg: number }> = [];
  for (const [n, k, v, source] of rows(r.stdout)) {
    if (n === target && k === 'org.rexxjs:base-snapshot' && source === 'local' && v && v !== '-') baseSnapshot = v;
    if (n?.startsWith(`${target}@`) && k === 'createtxg') snaps.push({ n: n.slice(target.length + 1), txg: Number(v) });
  }
  return { snaps: snaps.sort((a, b) => a.txg - b.txg).map((x) => x.n), baseSnapshot };
}

export interface SendOutcome { mode: 'full' | 'incremental' | 'none'; from: string; snapshot: string; target: string }

/**
 * Send `source@snap` into `target` (local or over ssh): full when the target does not
 * exist, incremental (`-i @common`, received with `-F`) from the newest snapshot both
 * have, nothing when the target already has `snap`. A target without a common snapshot
 * is refused (RC 7) unless force=true: then the full stream is received under a new
 * name first, and only once it is complete is the old target destroyed (-r) and the new
 * one renamed into its place (a failed transfer leaves the old target as it was).
 * Refused (RC 7) when it would destroy a registered base on the receiving side: a
 * target that is one (or, locally, holds one) with force=true, or whose base snapshot is
 * newer than the common one (OpenZFS's receive -F destroys those). Every step gets only
 * what `left` says remains (RC 5). On zfs-fuse a local target is remounted afterwards
 * (see refreshMount).
 */
export async function sendInto(
  ctx: Ctx,
  source: string,
  snap: string,
  target: string,
  o: { peer: Peer; force?: boolean; left: TimeLeft },
): Promise<SendOutcome> {
  const { peer, left } = o;
  const t = await targetInfo(ctx, target, peer, left);
  const out: SendOutcome = { mode: 'full', from: '', snapshot: snap, target };
  if (t?.snaps.includes(snap)) return { ...out, mode: 'none' };
  let send = ['zfs', 'send', `${source}@${snap}`];
  let into = target;
  let replace = false;
  if (t) {
    const srcSnaps = (await listSnapshots(ctx, source, { timeoutMs: left() })).map((s) => s.snapshot);
    const upto = srcSnaps.indexOf(snap);
    const common = srcSnaps.slice(0, upto < 0 ? srcSnaps.length : upto).filter((s) => t.snaps.includes(s)).pop();
    if (common) {
      const newer = t.snaps.slice(t.snaps.indexOf(common) + 1);
      if (t.baseSnapshot && newer.includes(t.baseSnapshot)) {
        throw refused(`send: ${target}@${t.baseSnapshot} is the snapshot of a registered base and newer than ${common}, which an incremental receive -F destroys; unregister_base ${target} on the receiving side first`);
      }
      send = ['zfs', 'send', '-i', `${source}@${common}`, `${source}@${snap}`];
      out.mode = 'incremental';
      out.from = common;
    } else if (!o.force) {
      throw refused(`send: ${target} exists and has no snapshot in common with ${source}; give force=true to replace it (and its snapshots) with a full stream`);
    } else {
      const bases = peer.ssh ? (t.baseSnapshot ? [target] : []) : (await listBases(ctx, target)).map((b) => b.name);
      if (bases.length) throw refused(`send: force=true would destroy the registered base(s) ${bases.join(', ')}; unregister_base first`);
      if (!peer.ssh) await requireNotInUse(ctx, [target], `send force=true (replacing ${target})`);
      replace = true;
      into = `${target}-rexx-recv-${crypto.randomBytes(3).toString('hex')}`;
      if (into.length > 255) into = `${target.split('/')[0]}/rexx-recv-${crypto.randomBytes(6).toString('hex')}`;
    }
  }
  const recv = remote(peer, out.mode === 'incremental' ? ['receive', '-F', into] : ['receive', into]);
  try {
    ok(await ctx.runPipeline([send, recv], { timeoutMs: left(Number.POSITIVE_INFINITY) }));
  } catch (e) {
    if (!replace) throw e;
    throw await undoAll([{ what: `destroy the partial ${into}`, run: () => destroyOn(ctx, peer, into, { ifExists: true }) }], e);
  }
  if (replace) await swapIn(ctx, peer, into, target, left);
  if (!peer.ssh) await refreshMount(ctx, target);
  return out;
}

/** ms for a step after the transfer: what is left of the timeout, but at least FINISH_MS. */
const finishing = (left: TimeLeft) => {
  try {
    return Math.max(left(), FINISH_MS);
  } catch {
    return FINISH_MS;
  }
};

/** Destroy `name` (-r) on the receiving side; with ifExists a missing one is fine. */
async function destroyOn(ctx: Ctx, peer: Peer, name: string, o: { ifExists?: boolean; timeoutMs?: number } = {}): Promise<void> {
  if (!peer.ssh) {
    if (o.ifExists && !(await datasetExists(ctx, name))) return;
    await destroyDataset(ctx, name, { recursive: true, timeoutMs: o.timeoutMs ?? FINISH_MS });
    return;
  }
  const run = (args: string[]) => ctx.run(remote(peer, args), { timeoutMs: o.timeoutMs ?? FINISH_MS });
  let r = await run(['destroy', '-r', name]);
  if (!r.ok && isReason(zfsError(r, REPL_ERRORS), 'busy')) {
    // zfs-fuse calls a mounted dataset busy on the first destroy (host-notes): unmount it
    // (never -f: a dataset really in use stays mounted, and the destroy fails), then again.
    await run(['unmount', name]);
    r = await run(['destroy', '-r', name]);
  }
  if (!r.ok) {
    const e = zfsError(r, REPL_ERRORS);
    if (!(o.ifExists && isReason(e, 'notFound'))) throw e;
  }
}

/**
 * The last steps of a forced full send: the new data is complete under `into`; destroy
 * the old `target` (-r), rename `into` to `target` (on zfs-fuse, which calls a mounted
 * dataset busy, unmount, rename, mount). A failure names where the data is.
 */
async function swapIn(ctx: Ctx, peer: Peer, into: string, target: string, left: TimeLeft): Promise<void> {
  try {
    await destroyOn(ctx, peer, target, { timeoutMs: finishing(left) });
  } catch (e) {
    throw await undoAll([{ what: `destroy the new copy ${into}`, run: () => destroyOn(ctx, peer, into, { ifExists: true }) }], e);
  }
  try {
    if (!peer.ssh) return await renameDataset(ctx, into, target);
    const run = (args: string[]) => ctx.run(remote(peer, args), { timeoutMs: finishing(left) });
    if ((await run(['rename', into, target])).ok) return;
    ok(await run(['unmount', into]));
    ok(await run(['rename', into, target]));
    ok(await run(['mount', target]));
  } catch (e) {
    const a = e instanceof AddressError ? e : new AddressError('toolFailed', String(e));
    throw new AddressError(a.kind, `send: the old ${target} was replaced, but renaming the new copy ${into} to it failed: ${a.message} (the data is in ${into})`, { cause: e, reason: a.reason });
  }
}

const TARGET_PARAMS = {
  target: { type: 'string', rule: zfsDatasetName, doc: 'receiving dataset (full, or relative to target_pool=)' },
  target_pool: { type: 'string', rule: zfsPoolName, doc: 'pool target= is relative to (default: pool=)' },
  ssh: { type: 'string', rule: sshHost, doc: 'receive on this host: ssh -o BatchMode=yes [-F $REXX_ZFS_SSH_CONFIG] [user@]HOST zfs receive … (key-based; the host key must be known)' },
  force: { type: 'bool', default: false, doc: 'target=: replace a target that shares no snapshot with the source (a full stream is received aside, then swapped in); file=: replace an existing file' },
  timeout: { type: 'duration', default: 3_600_000, doc: 'how long the whole verb may take, every step included (RC 5)' },
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

/**
 * `zfs send … | dd of=TMP` into a new hidden file beside `file`, then moved into place:
 * hard-linked (`ln -T`, which never replaces a file, so one that appeared meanwhile is
 * RC 4) or, with force, renamed over it. RC 3 when the folder does not exist, RC 4 when
 * the file exists and force is not given; on any failure the temporary file is removed
 * and `file` is as before. Returns the stream's size in bytes (0 under dryrun).
 */
async function sendToFile(ctx: Ctx, sendArgv: string[], file: string, force: boolean, timeoutMs: number): Promise<number> {
  const dir = path.dirname(file);
  const st = statOrUndefined(ctx.fs, dir);
  if (!st) throw notFound(`send: folder ${dir} does not exist (file=${file})`);
  if (!st.isDirectory()) throw notFound(`send: ${dir} is not a folder (file=${file})`);
  const existing = ctx.fs.stat(file);
  if (existing?.isDirectory()) throw usageError(`send: file=${file} is a folder`);
  if (existing && !force) throw alreadyExists(`send: ${file} exists; give force=true to replace it`);
  const tmp = path.join(dir, `.${path.basename(file)}.rexx-partial-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
  try {
    ok(await ctx.runPipeline([sendArgv, ['dd', `of=${tmp}`, 'bs=1M', 'conv=fsync', 'status=none']], { timeoutMs }));
    const bytes = ctx.fs.stat(tmp)?.size ?? 0;
    if (force) ctx.fs.rename(tmp, file);
    else linkNew(ctx, tmp, file);
    return bytes;
  } finally {
    ctx.fs.remove(tmp);
  }
}

/** stat(2) of `p`, or undefined when it cannot be had (missing, or unreadable). */
function statOrUndefined(fs: Files, p: string) {
  try {
    return fs.stat(p);
  } catch {
    return undefined;
  }
}

/**
 * Hard-link `from` as `to`, which must not exist (link(2) fails with EEXIST rather than
 * replace it): RC 4 when it does. Under dryrun nothing is linked.
 */
function linkNew(ctx: Ctx, from: string, to: string): void {
  if (!ctx.fs.link(from, to)) throw alreadyExists(`send: ${to} appeared while the stream was written; give force=true to replace it`);
}

export const send = defineVerb({
  name: 'send',
  summary: 'send a snapshot (latest by default) to file= (full, or incremental with from=; RC 3 missing folder, RC 4 existing file unless force=true) or into target= (full, or incremental from the last common snapshot), optionally over ssh=',
  params: {
    ...NAME,
    ...OPT_SNAPSHOT,
    file: { type: 'string', rule: hostPath, doc: 'write the stream to this file (written aside, then moved into place; nothing is left behind on failure)' },
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
    const left = deadline(ctx, p.timeout, `send ${source}`);
    const snap = p.snapshot ?? (await listSnapshots(ctx, source, { timeoutMs: left() })).pop()?.snapshot;
    if (!snap) throw notFound(`send: ${source} has no snapshots (take one with snapshot first)`);
    if (p.target) return outVars(await sendInto(ctx, source, snap, fullName(ctx, p.target_pool ?? p.pool, p.target), { peer: peerOf(ctx, p.ssh), force: p.force, left }));
    const file = path.resolve(p.file!);
    const args = p.from ? ['zfs', 'send', '-i', `${source}@${p.from}`, `${source}@${snap}`] : ['zfs', 'send', `${source}@${snap}`];
    const bytes = await sendToFile(ctx, args, file, p.force, left(Number.POSITIVE_INFINITY));
    return { result: file, vars: { MODE: p.from ? 'incremental' : 'full', FROM: p.from ?? '', SNAPSHOT: snap, FILE: file, BYTES: bytes } };
  },
});

/** DMU_BACKUP_MAGIC, the magic of every ZFS send stream's first (BEGIN) record. */
const STREAM_MAGIC = 0x2f5bacbacn;

/**
 * True when `file` starts a compound ZFS stream — one that carries properties (`zfs send
 * -p` or `-R`): the BEGIN record's drr_versioninfo has header type 2
 * (DMU_COMPOUNDSTREAM; a plain `zfs send` stream has 1). Either byte order. False for
 * anything else (zfs itself then judges the file).
 */
export function carriesProperties(fs: Files, file: string): boolean {
  const b = fs.readHead(file, 24);
  if (!b || b.length < 24) return false;
  for (const le of [true, false]) {
    const magic = le ? b.readBigUInt64LE(8) : b.readBigUInt64BE(8);
    if (magic !== STREAM_MAGIC) continue;
    const version = le ? b.readBigUInt64LE(16) : b.readBigUInt64BE(16);
    return (version & 3n) === 2n;
  }
  return false;
}

export const receive = defineVerb({
  name: 'receive',
  aliases: ['recv'],
  summary: 'receive a stream from file= into a dataset (zfs receive [-F] NAME < FILE); a stream with properties (zfs send -p/-R) is RC 7 (README: Security)',
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
    if (!ctx.fs.exists(p.file)) throw notFound(`receive: no such file ${p.file}`);
    if (carriesProperties(ctx.fs, p.file)) {
      requireUnsafeAllowed(
        ctx,
        `receive file=${p.file}`,
        'it is a stream with properties (zfs send -p or -R), which can set mountpoint= anywhere on this host, and zfs-fuse mounts what it receives at once (it has no receive -u)',
      );
    }
    // -F into an existing filesystem may replace it, which unmounts it first.
    if (p.force && (await datasetExists(ctx, name))) await requireNotInUse(ctx, [name], 'receive force=true');
    await zfs(ctx, p.force ? ['receive', '-F', name] : ['receive', name], { inputFile: p.file, timeoutMs: p.timeout });
    await refreshMount(ctx, name);
    return { result: name, vars: { DATASET: name } };
  },
});

/**
 * Destroy a snapshot replicate took, retried on zfs-fuse's "dataset is busy" (a send
 * that was just killed may still hold it for a moment): 5 tries, 200 ms apart.
 */
async function dropSnapshot(ctx: Ctx, full: string): Promise<void> {
  for (let i = 1; ; i++) {
    try {
      return await destroyDataset(ctx, full, { timeoutMs: FINISH_MS });
    } catch (e) {
      if (i >= 5 || !isReason(e, 'busy')) throw e;
      await ctx.clock.sleep(200);
    }
  }
}

export const replicate = defineVerb({
  name: 'replicate',
  summary: 'snapshot the source now (repl-<unix seconds>, or use snapshot=) and send it into target= (incremental when they share a snapshot), locally or over ssh=; a failure destroys the snapshot it took; timeout= bounds every step',
  params: { ...NAME, ...OPT_SNAPSHOT, ...TARGET_PARAMS, target: { ...TARGET_PARAMS.target, required: true }, ...POOL },
  positional: ['name', 'target'],
  examples: ['replicate name=web target=web target_pool=backup', 'replicate name=web target=tank/web ssh=backup1 timeout=10m'],
  vars: SEND_VARS,
  async run(p, ctx) {
    const source = fullName(ctx, p.pool, p.name);
    const left = deadline(ctx, p.timeout, `replicate ${source}`);
    const made = p.snapshot ? undefined : (await createUnderFreeName(epochName('repl', ctx.clock.now()), (n) => snapshot(ctx, source, n, { timeoutMs: left() }))).name;
    const snap = p.snapshot ?? made!;
    try {
      return outVars(await sendInto(ctx, source, snap, fullName(ctx, p.target_pool ?? p.pool, p.target), { peer: peerOf(ctx, p.ssh), force: p.force, left }));
    } catch (e) {
      if (!made) throw e;
      const undo: Undo[] = [{ what: `destroy ${source}@${made}`, run: () => dropSnapshot(ctx, `${source}@${made}`) }];
      // Under dryrun no snapshot was taken: nothing to undo, the error as it is.
      throw await ctx.effect<unknown>(() => undoAll(undo, e), e);
    }
  },
});
