/**
 * Replication: `send` (to a file, or `zfs send | zfs receive` into another dataset or
 * pool, both ends argv, no shell), `receive` (from a file), `replicate` (snapshot now,
 * then send incrementally from the newest common snapshot, syncoid's model: README,
 * Replication). The receiving end may be another host: `target=[user@]host:pool/ds` or
 * `ssh=HOST` runs it as `ssh -o BatchMode=yes [mux] [-F CONFIG] HOST zfs receive …`; ssh
 * joins the remote words with spaces for the remote shell, which is safe only because
 * every word was validated (the host and user against the ssh host rule, every name
 * against the ZFS naming rules, numbers we made: no space, quote or shell character can
 * be in them, none starts with "-"). CONFIG is env REXX_ZFS_SSH_CONFIG of the handler
 * (an ssh_config file: port, key, known_hosts for HOST), never a parameter.
 *
 * `timeout=` bounds the whole verb: every step (the lookups on both sides, the snapshot,
 * the transfer) gets only what is left of it, and RC 5 comes when it runs out. A failed
 * `replicate` destroys the snapshot it took (kept with resume=true, whose token needs it);
 * a failed `send file=` leaves no file behind and never touches a file that was there before. */
import * as crypto from 'node:crypto';
import * as path from 'node:path';
import { AddressError, isReason, notFound, refused, timedOut, toolFailed, unavailable, usageError } from '../../../shared/errors';
import type { Files } from '../../../shared/effects';
import { writeNewFile } from '../../../shared/new-file';
import { hostPath, sshHost } from '../../../shared/names';
import { requireUnsafeAllowed } from '../../../shared/policy';
import type { FirstStage, RunResult } from '../../../shared/runner';
import { quote } from 'shell-quote';
import { stem } from '../../../shared/result';
import { toBytes } from '../../../shared/size';
import { createUnderFreeName, epochName } from '../../../shared/snapshot-names';
import { defineVerb, type Ctx } from '../../../shared/verb';
import { NAME, OPT_SNAPSHOT, POOL, zfsPoolName, zfsSize, zfsSnapshotName } from '../params';
import { undoAll, type Undo } from '../../../shared/undo';
import { datasetExists, destroyDataset, refreshMount, renameDataset } from '../dataset';
import { REPL_ERRORS, unknownProperty, zfsError } from '../errors';
import { poolFeatures, requireFeatures, type Need, type Side } from '../features';
import { requireNotInUse } from '../in-use';
import { datasetGlob, globMatches, splitReplTarget, zfsReplTarget } from '../names';
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
  /**
   * An ssh ControlPath: the lookups of one replicate and of later calls share one ssh
   * connection (ControlMaster=auto, ControlPersist 60 s), as syncoid does, instead of one
   * handshake (~250 ms here) each. The stream itself never goes through it (see
   * {@link streamArgv}). env REXX_ZFS_SSH_MUX=0 turns it off.
   */
  controlPath?: string;
}

/**
 * The peer of a verb call: ssh= (or the host of target=HOST:…) and the handler's env
 * REXX_ZFS_SSH_CONFIG. The ControlPath is a file in env TMPDIR (else /tmp) named by a
 * hash of the host as given, the config file and the uid, so two aliases of one address
 * (different keys) never share a connection.
 */
export const peerOf = (ctx: Pick<Ctx, 'env'>, ssh: string | undefined): Peer => {
  const sshConfig = ctx.env.REXX_ZFS_SSH_CONFIG || undefined;
  if (!ssh || ctx.env.REXX_ZFS_SSH_MUX === '0') return { ssh, sshConfig };
  const id = crypto.createHash('sha256').update(`${process.getuid?.() ?? ''}\0${sshConfig ?? ''}\0${ssh}`).digest('hex').slice(0, 20);
  return { ssh, sshConfig, controlPath: path.join(ctx.env.TMPDIR || '/tmp', `rexx-zfs-ssh-${id}`) };
};

/** The argv prefix that runs a command on the receiving side: [] here, else `ssh -o BatchMode=yes [mux] [-F CONFIG] HOST`. */
export const sideOf = (peer: Peer): Side => ({
  ssh: peer.ssh,
  prefix: peer.ssh
    ? [
        'ssh', '-o', 'BatchMode=yes',
        ...(peer.controlPath ? ['-o', 'ControlMaster=auto', '-o', `ControlPath=${peer.controlPath}`, '-o', 'ControlPersist=60'] : []),
        ...(peer.sshConfig ? ['-F', peer.sshConfig] : []),
        peer.ssh,
      ]
    : [],
});

/** The argv that runs `zfs ARGS` on the receiving side (locally, or through ssh). */
export const remote = (peer: Peer, args: string[]) => [...sideOf(peer).prefix, 'zfs', ...args];

/**
 * The argv of the receiving end of a stream (`zfs receive …`): like {@link remote}, but
 * on its own ssh connection, never the shared one. An ssh mux client hands its pipes to
 * the master process, so killing the client at timeout= left them open: a stuck
 * receiver held the verb until its session ended by itself (20 s for a 3 s timeout,
 * measured 2026-11-30). Its own connection ends with the client.
 */
export const streamArgv = (peer: Peer, args: string[]) => remote({ ...peer, controlPath: undefined }, args);

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

/** One snapshot as both sides are compared: short name, guid (equal only for the same snapshot, zfs(8) guid) and createtxg. */
interface Snap { name: string; guid: string; txg: number }

/** A dataset's snapshots (oldest first) and the few properties replication reads, from one `zfs get … -d 1`. */
interface DatasetInfo {
  snaps: Snap[];
  /** Its local org.rexxjs:base-snapshot (a registered base). */
  baseSnapshot?: string;
  /** written (bytes changed since its newest snapshot), where the pool has it (OpenZFS; zfs-fuse has no written). */
  written?: number;
  /** receive_resume_token of an interrupted `receive -s` (OpenZFS), when asked for. */
  token?: string;
}

/**
 * `zfs get -H -p -o name,property,value,source PROPS -d 1 DATASET` on `side` (a read):
 * the snapshots with guid and createtxg, oldest first, plus `extra` properties of the
 * dataset itself. Undefined when the dataset does not exist.
 */
async function datasetInfo(ctx: Ctx, dataset: string, side: Side, left: TimeLeft, extra: string[] = []): Promise<DatasetInfo | undefined> {
  const props = ['createtxg', 'guid', 'org.rexxjs:base-snapshot', ...extra].join(',');
  const r = await ctx.run([...side.prefix, ...infoArgv(dataset, props)], { readOnly: true, timeoutMs: left() });
  return parseInfo(r, dataset);
}

/** The `zfs get` argv datasetInfo runs for `props` (comma-separated). */
const infoArgv = (dataset: string, props: string) => ['zfs', 'get', '-H', '-p', '-o', 'name,property,value,source', props, '-d', '1', dataset];

/** What datasetInfo reads from that `zfs get`'s result: undefined when the dataset does not exist, else the error it is. */
function parseInfo(r: RunResult, dataset: string): DatasetInfo | undefined {
  if (!r.ok) {
    const e = zfsError(r, REPL_ERRORS);
    if (isReason(e, 'notFound')) return undefined;
    throw e;
  }
  const info: DatasetInfo = { snaps: [] };
  const by = new Map<string, Snap>();
  for (const [n, k, v, source] of rows(r.stdout)) {
    if (n === dataset) {
      if (k === 'org.rexxjs:base-snapshot' && source === 'local' && v && v !== '-') info.baseSnapshot = v;
      if (k === 'written' && v && v !== '-') info.written = Number(v);
      if (k === 'receive_resume_token' && v && v !== '-') info.token = v;
      continue;
    }
    if (!n?.startsWith(`${dataset}@`)) continue;
    const s = by.get(n) ?? { name: n.slice(dataset.length + 1), guid: '', txg: 0 };
    if (k === 'guid') s.guid = v ?? '';
    if (k === 'createtxg') s.txg = Number(v);
    by.set(n, s);
  }
  info.snaps = [...by.values()].sort((a, b) => a.txg - b.txg);
  return info;
}

/**
 * datasetInfo of the receiving dataset with its `written` too, where that side's zfs
 * knows it (OpenZFS). One ssh session each matters (one costs 250 ms to seconds): rather
 * than ask the pool's version first, ask for written at once; zfs-fuse refuses the whole
 * list ("bad property list: invalid property 'written'"), which is remembered for that
 * side in ctx.cache and asked again without it.
 */
async function targetInfo(ctx: Ctx, target: string, side: Side, left: TimeLeft, extra: string[]): Promise<DatasetInfo | undefined> {
  const key = `zfs.no-written:${side.ssh ?? ''}`;
  if (!ctx.cache.get(key)) {
    try {
      return await datasetInfo(ctx, target, side, left, ['written', ...extra]);
    } catch (e) {
      if (!unknownProperty(e, 'written')) throw e;
      ctx.cache.set(key, true);
    }
  }
  return datasetInfo(ctx, target, side, left, extra);
}

/** The send/receive options of send and replicate target= (README: Replication). */
export interface TransferOptions {
  peer: Peer;
  force?: boolean;
  left: TimeLeft;
  /** -I: every snapshot between the common one and the new one (default -i: only the new one). */
  intermediate?: boolean;
  /** The source's descendants too, each dataset on its own (syncoid's --recursive), minus `exclude`. */
  recursive?: boolean;
  /** Glob patterns on the dataset name relative to the source (recursive only). */
  exclude?: string[];
  /** send -w (OpenZFS, feature@encryption). */
  raw?: boolean;
  /** send -c (OpenZFS, feature@lz4_compress). */
  compressed?: boolean;
  /** send -L (OpenZFS, feature@large_blocks). */
  largeBlocks?: boolean;
  /** receive -s, and send -t TOKEN first when the target holds a resume token (OpenZFS, feature@extensible_dataset). */
  resume?: boolean;
  /** Bytes per second, through pv -L (or mbuffer -r) between send and receive. */
  bwlimit?: number;
}

export interface SendOutcome {
  mode: 'full' | 'incremental' | 'none';
  /** The newest common snapshot the incremental started from ('' for a full stream). */
  from: string;
  snapshot: string;
  target: string;
  /** Stream bytes through the pipe(s), every dataset and a resumed stream included. */
  bytes: number;
  /** A saved partial receive was finished first (send -t). */
  resumed: boolean;
  /** Receiving datasets that got a stream (recursive: each), parents first. */
  datasets: string[];
  /** Source datasets skipped by exclude= (and their descendants). */
  excluded: string[];
}

/**
 * The OpenZFS features the options need, on the source pool (this host) and the
 * receiving pool (its side): RC 6 naming the first that is missing (zfs-fuse pools are
 * version 23 and have none). Reads each pool once per handler (features.ts).
 */
export async function requireTransferFeatures(ctx: Ctx, source: string, target: string, o: TransferOptions): Promise<void> {
  const wants: Array<[boolean | undefined, string, string, string]> = [
    [o.raw, 'raw=true', 'encryption', 'send -w raw stream'],
    [o.compressed, 'compressed=true', 'lz4_compress', 'send -c compressed stream'],
    [o.largeBlocks, 'large_blocks=true', 'large_blocks', 'send -L blocks over 128 KiB'],
    [o.resume, 'resume=true', 'extensible_dataset', 'receive -s / send -t resume token'],
  ];
  if (!wants.some(([on]) => on)) return;
  const src = await poolFeatures(ctx, source.split('/')[0]!, { prefix: [] }, o.left());
  const dst = await poolFeatures(ctx, target.split('/')[0]!, sideOf(o.peer), o.left());
  const needs: Need[] = [];
  for (const [on, option, feature, what] of wants) if (on) needs.push({ option, feature, what, pool: src }, { option, feature, what, pool: dst });
  requireFeatures(needs);
}

/** The limiter stage for bwlimit=: pv -q -L BYTES, else mbuffer -q -r BYTES (Debian pv / mbuffer), looked up once per handler; RC 6 without either. */
async function limiter(ctx: Ctx, bytesPerSecond: number): Promise<string[]> {
  const key = 'zfs.limiter';
  let tool = ctx.cache.get(key) as string | undefined;
  if (!tool) {
    if ((await ctx.run(['pv', '--version'], { readOnly: true, timeoutMs: 10_000 })).ok) tool = 'pv';
    else if ((await ctx.run(['mbuffer', '-V'], { readOnly: true, timeoutMs: 10_000 })).ok) tool = 'mbuffer';
    else throw unavailable('bwlimit= needs pv or mbuffer on this host (Debian packages pv, mbuffer; scripts/setup-host.sh installs pv)');
    ctx.cache.set(key, tool);
  }
  return tool === 'pv' ? ['pv', '-q', '-L', String(bytesPerSecond)] : ['mbuffer', '-q', '-r', String(bytesPerSecond)];
}

/** The flags every `zfs send` of these options carries (-w, -c, -L). */
const sendFlags = (o: TransferOptions) => [...(o.raw ? ['-w'] : []), ...(o.compressed ? ['-c'] : []), ...(o.largeBlocks ? ['-L'] : [])];

/** Run `send | [limiter] | receive-side` and return the stream's bytes (RC per the failing stage). */
async function transfer(ctx: Ctx, send: string[], recv: string[], o: TransferOptions): Promise<number> {
  const mid = o.bwlimit ? [await limiter(ctx, o.bwlimit)] : [];
  const task = ctx.progress(`sending ${send[send.length - 1]}`, { unit: 'bytes' });
  try {
    const r = ok(await ctx.runPipeline([send, ...mid, recv], { timeoutMs: o.left(Number.POSITIVE_INFINITY), onBytes: (n) => task.set(n) }));
    return r.bytes ?? 0;
  } finally {
    task.end();
  }
}

/**
 * Send `source@snap` into `target` (local or over ssh), syncoid's way: full when the
 * target does not exist; else incremental (`-i`, or `-I` with intermediate) from the
 * newest snapshot both sides have by name AND guid, received with `-F` (zfs-fuse calls a
 * target that was only read "modified"); nothing when the target already has `snap`.
 * With recursive, each dataset of the tree on its own, parents first, minus exclude=.
 *
 * Refused (RC 7), unless force=true:
 * - the target has diverged: snapshots newer than the common one (named in ERRORTEXT), or
 *   on OpenZFS data written after it (`written` > 0). force=true rolls it back to the
 *   common snapshot first (`zfs rollback -r`, which destroys the newer ones; refused when
 *   the target is in use, on this host);
 * - the target exists with no common snapshot: force=true receives the full stream under
 *   a new name first and, only once it is complete, destroys the old target (-r) and
 *   renames the new one into its place (a failed transfer leaves the old target as it was).
 * Always refused (RC 7) when it would destroy a registered base on the receiving side.
 * With resume, a target holding a receive_resume_token is first finished with
 * `zfs send -t TOKEN`. Every step gets only what `left` says remains (RC 5). On zfs-fuse
 * a local target is remounted afterwards (see refreshMount).
 */
export async function sendInto(ctx: Ctx, source: string, snap: string, target: string, o: TransferOptions): Promise<SendOutcome> {
  if (!o.recursive) return sendOne(ctx, source, snap, target, o);
  const r = await ctx.run(['zfs', 'list', '-H', '-o', 'name', '-r', '-t', 'filesystem', source], { readOnly: true, timeoutMs: o.left() });
  if (!r.ok) throw zfsError(r, REPL_ERRORS);
  const tree = r.stdout.split('\n').filter((l) => l === source || l.startsWith(`${source}/`)).sort();
  const excluded: string[] = [];
  const out: SendOutcome = { mode: 'none', from: '', snapshot: snap, target, bytes: 0, resumed: false, datasets: [], excluded };
  for (const d of tree) {
    const rel = d.slice(source.length + 1);
    if (d !== source && (excluded.some((x) => d.startsWith(`${x}/`)) || (o.exclude ?? []).some((p) => globMatches(p, rel)))) {
      excluded.push(d);
      continue;
    }
    const one = await sendOne(ctx, d, snap, d === source ? target : `${target}/${rel}`, o);
    if (d === source) Object.assign(out, { mode: one.mode, from: one.from });
    out.bytes += one.bytes;
    out.resumed ||= one.resumed;
    out.datasets.push(...one.datasets);
  }
  return out;
}

async function sendOne(ctx: Ctx, source: string, snap: string, target: string, o: TransferOptions): Promise<SendOutcome> {
  // Over ssh, one session both reads the target and receives the stream (see openSession),
  // opened first: its login (0.25 s to seconds) runs while this side is read. Not with
  // resume=true (a token changes the plan), nor under dryrun (nothing starts early: the
  // target is read on its own and the transfer recorded).
  const session = o.peer.ssh && !o.resume ? await ctx.effect<Session | undefined>(() => openSession(ctx, target, o), undefined) : undefined;
  try {
    const src = await datasetInfo(ctx, source, { prefix: [] }, o.left);
    if (!src) throw notFound(`send: ${source} does not exist`);
    const upto = src.snaps.findIndex((s) => s.name === snap);
    if (upto < 0) throw notFound(`send: ${source}@${snap} does not exist`);
    return await sendPlanned(ctx, source, src, upto, target, o, session);
  } finally {
    await session?.drop();
  }
}

/** The two receives a {@link Session} can run: `zfs receive TARGET` (full) or `zfs receive -F TARGET` (incremental). */
type SessionMode = 'full' | 'incremental';

/**
 * One ssh session that reads the receiving dataset and then receives the stream into it,
 * opened before anything is known about the target: {@link openSession}.
 */
interface Session {
  /** The target as the session read it (datasetInfo's answer, `written` included where that zfs knows it). */
  target: Promise<DatasetInfo | undefined>;
  /** Feed `send` into the receive of `mode`; the stream's bytes (RC of the failing stage). */
  send(send: string[], mode: SessionMode): Promise<number>;
  /** End the session unused: nothing was received (a no-op once send ran). */
  drop(): Promise<void>;
}

/** The line the session's script prints once the target is read: `rexx-lookup STATUS` (zfs get's exit status). */
const LOOKUP_END = /^rexx-lookup (\d+)$/m;
const WRITTEN_MARK = 'rexx-written\n';

/**
 * The remote script of a {@link Session} (POSIX sh, run as `sh -c SCRIPT` by the remote
 * login shell, which every ssh command line goes through): read TARGET as datasetInfo
 * does (its errors folded into stdout), then its `written` on its own (zfs-fuse has none:
 * that read prints nothing), then one line from stdin chooses the receive, and `exec`
 * makes it the session's end (its exit status is ssh's). Any other line, or end of file,
 * receives nothing. Every name in it was validated (zfsReplTarget) and is quoted again
 * with shell-quote.
 */
export function sessionScript(target: string): string {
  return [
    `${quote(infoArgv(target, 'createtxg,guid,org.rexxjs:base-snapshot'))} 2>&1`,
    's=$?',
    'echo rexx-written',
    `[ $s -ne 0 ] || ${quote(['zfs', 'get', '-H', '-p', '-o', 'value', 'written', target])} 2>/dev/null`,
    'echo "rexx-lookup $s"',
    'IFS= read -r go || exit 0',
    `case $go in full) exec ${quote(['zfs', 'receive', target])} ;; incremental) exec ${quote(['zfs', 'receive', '-F', target])} ;; esac`,
    'exit 0',
  ].join('; ');
}

/** The target as the session's script printed it, up to the `rexx-lookup` line (see {@link sessionScript}). */
export function parseSessionLookup(text: string, target: string, argv: string[]): DatasetInfo | undefined {
  const end = LOOKUP_END.exec(text);
  if (!end) throw toolFailed(`the receiving side did not answer the lookup of ${target}: ${text.trim().slice(-500)}`);
  const mark = text.indexOf(WRITTEN_MARK);
  const got = text.slice(0, mark < 0 ? end.index : mark);
  const written = mark < 0 ? '' : text.slice(mark + WRITTEN_MARK.length, end.index).trim();
  const status = Number(end[1]);
  const r: RunResult = {
    argv, ok: status === 0, exitCode: status, signal: null, timedOut: false, missing: false,
    stdout: status === 0 ? got : '', stderr: status === 0 ? '' : got, durationMs: 0,
  };
  const info = parseInfo(r, target);
  if (info && /^\d+$/.test(written)) info.written = Number(written);
  return info;
}

/**
 * Open the one ssh session of a send over ssh (replicate's case): `ssh HOST sh -c SCRIPT`
 * ({@link sessionScript}) on the stream's own connection (see {@link streamArgv}), started
 * before the target is known, through runPipeline's deferred first stage
 * (RunOptions.first). The target comes back on the session's stdout (RunOptions.onStdout);
 * `send` then starts `zfs send` with the chosen receive as its lead line
 * (FirstStage.lead). A send over ssh thus pays one remote login (a handshake, and the
 * login shell's start-up: 0.25 s to seconds each here) where a read first and a
 * `ssh zfs receive` after it paid two. A session that fails before it answers (ssh cannot
 * connect: RC 6) rejects `target` with that failure; RC 5 when timeout= runs out.
 */
async function openSession(ctx: Ctx, target: string, o: TransferOptions): Promise<Session> {
  const mid = o.bwlimit ? [await limiter(ctx, o.bwlimit)] : [];
  const argv = [...sideOf({ ...o.peer, controlPath: undefined }).prefix, 'sh', '-c', quote([sessionScript(target)])];
  let decide!: (a: FirstStage | undefined) => void;
  const first = new Promise<FirstStage | undefined>((ok) => (decide = ok));
  let answer!: (i: DatasetInfo | undefined) => void;
  let fail!: (e: unknown) => void;
  const info = new Promise<DatasetInfo | undefined>((ok, no) => ((answer = ok), (fail = no)));
  info.catch(() => undefined); // (read by sendPlanned; a session dropped before that must not leave it unhandled)
  let text = '';
  let answered = false;
  const settle = (f: () => DatasetInfo | undefined) => {
    answered = true;
    try {
      answer(f());
    } catch (e) {
      fail(e);
    }
  };
  const onStdout = (chunk: string) => {
    if (answered) return;
    text += chunk;
    if (LOOKUP_END.test(text)) settle(() => parseSessionLookup(text, target, argv));
  };
  let task: ReturnType<Ctx['progress']> | undefined;
  const run = ctx.runPipeline([...mid, argv], { first, onStdout, timeoutMs: o.left(Number.POSITIVE_INFINITY), onBytes: (n) => task?.set(n) });
  let ended: RunResult | undefined;
  void run.then(
    (r) => {
      ended = r;
      if (answered) return;
      settle(() => {
        if (!r.ok) throw zfsError(r, REPL_ERRORS);
        return parseSessionLookup(text, target, argv);
      });
    },
    (e) => {
      if (!answered) ((answered = true), fail(e));
    },
  );
  const drop = async () => {
    decide(undefined); // (no effect once decided)
    await run;
  };
  return {
    target: info,
    drop,
    async send(send, mode) {
      // The script waits for this line; a session that ended before it received nothing.
      if (ended) throw toolFailed(`send: the ssh session to ${o.peer.ssh} ended before the stream (exit ${ended.exitCode ?? ended.signal}): ${(ended.stderr || ended.stdout).trim().slice(-300)}`);
      task = ctx.progress(`sending ${send[send.length - 1]}`, { unit: 'bytes' });
      try {
        decide({ argv: send, lead: `${mode}\n` });
        return ok(await run).bytes ?? 0;
      } finally {
        task.end();
      }
    },
  };
}

/** sendOne once this side is read: the target's state decides full, incremental, none or refusal; `session` is the ssh session opened meanwhile, if any. */
async function sendPlanned(ctx: Ctx, source: string, src: DatasetInfo, upto: number, target: string, o: TransferOptions, session: Session | undefined): Promise<SendOutcome> {
  const { peer, left } = o;
  const side = sideOf(peer);
  const snap = src.snaps[upto]!.name;
  const out: SendOutcome = { mode: 'full', from: '', snapshot: snap, target, bytes: 0, resumed: false, datasets: [], excluded: [] };
  const extra = o.resume ? ['receive_resume_token'] : [];
  let t = session ? await session.target : await targetInfo(ctx, target, side, left, extra);
  const recvFlags = o.resume ? ['-s'] : [];
  if (t?.token) {
    out.bytes += await transfer(ctx, ['zfs', 'send', '-t', t.token], streamArgv(peer, ['receive', ...recvFlags, target]), o);
    out.resumed = true;
    t = await targetInfo(ctx, target, side, left, extra);
  }
  const mine = src.snaps[upto]!;
  if (t?.snaps.some((s) => s.name === snap && s.guid === mine.guid)) return { ...out, mode: 'none' };
  let send = ['zfs', 'send', ...sendFlags(o), `${source}@${snap}`];
  let into = target;
  let replace = false;
  if (t) {
    const common = src.snaps.slice(0, upto).filter((s) => t!.snaps.some((x) => x.name === s.name && x.guid === s.guid)).pop();
    if (common) {
      const at = t.snaps.findIndex((x) => x.name === common.name);
      const newer = t.snaps.slice(at + 1).map((x) => x.name);
      const written = at === t.snaps.length - 1 && t.written ? t.written : 0;
      if (t.baseSnapshot && newer.includes(t.baseSnapshot)) {
        throw refused(`send: ${target}@${t.baseSnapshot} is the snapshot of a registered base and newer than ${common.name}, which an incremental receive -F destroys; unregister_base ${target} on the receiving side first`);
      }
      if ((newer.length || written) && !o.force) {
        const how = [newer.length ? `snapshot(s) ${newer.join(', ')} newer than the common @${common.name}` : '', written ? `${written} bytes written after @${common.name}` : ''].filter(Boolean).join(' and ');
        throw refused(`send: ${target} has diverged from ${source}: it has ${how}; give force=true to roll it back to @${common.name} (destroying them)`);
      }
      if (newer.length) {
        if (!peer.ssh) await requireNotInUse(ctx, [target], `send force=true (rolling ${target} back to @${common.name})`);
        ok(await ctx.run(remote(peer, ['rollback', '-r', `${target}@${common.name}`]), { timeoutMs: left() }));
      }
      send = ['zfs', 'send', ...sendFlags(o), o.intermediate ? '-I' : '-i', `${source}@${common.name}`, `${source}@${snap}`];
      out.mode = 'incremental';
      out.from = common.name;
    } else if (!o.force) {
      const sameName = t.snaps.filter((x) => src.snaps.some((s) => s.name === x.name)).map((x) => x.name);
      const why = sameName.length ? `its snapshot(s) ${sameName.join(', ')} have the source's names but other guids (another history)` : 'it has no snapshot in common with the source';
      throw refused(`send: ${target} exists and ${why}; give force=true to replace it (and its snapshots) with a full stream`);
    } else {
      const bases = peer.ssh ? (t.baseSnapshot ? [target] : []) : (await listBases(ctx, target)).map((b) => b.name);
      if (bases.length) throw refused(`send: force=true would destroy the registered base(s) ${bases.join(', ')}; unregister_base first`);
      if (!peer.ssh) await requireNotInUse(ctx, [target], `send force=true (replacing ${target})`);
      replace = true;
      into = `${target}-rexx-recv-${crypto.randomBytes(3).toString('hex')}`;
      if (into.length > 255) into = `${target.split('/')[0]}/rexx-recv-${crypto.randomBytes(6).toString('hex')}`;
    }
  }
  const mode: SessionMode = out.mode === 'incremental' ? 'incremental' : 'full';
  const recv = streamArgv(peer, mode === 'incremental' ? ['receive', ...recvFlags, '-F', into] : ['receive', ...recvFlags, into]);
  // The session receives only into the target itself, with no other flags; else it ends unused and a stream of its own runs.
  const viaSession = session && into === target && !recvFlags.length;
  if (session && !viaSession) await session.drop();
  try {
    out.bytes += await (viaSession ? session.send(send, mode) : transfer(ctx, send, recv, o));
  } catch (e) {
    if (!replace) throw e;
    throw await undoAll([{ what: `destroy the partial ${into}`, run: () => destroyOn(ctx, peer, into, { ifExists: true }) }], e);
  }
  if (replace) await swapIn(ctx, peer, into, target, left);
  if (!peer.ssh) await refreshMount(ctx, target);
  out.datasets.push(target);
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
  target: { type: 'string', rule: zfsReplTarget, doc: 'receiving dataset (full, or relative to target_pool=), or [user@]host:pool/dataset over ssh' },
  target_pool: { type: 'string', rule: zfsPoolName, doc: 'pool target= is relative to (default: pool=)' },
  ssh: { type: 'string', rule: sshHost, doc: 'receive on this host: ssh -o BatchMode=yes [-F $REXX_ZFS_SSH_CONFIG] [user@]HOST zfs receive … (key-based; the host key must be known); or give target=HOST:DATASET' },
  force: { type: 'bool', default: false, doc: 'target=: roll a diverged target back to the common snapshot (destroying its newer ones), or replace a target that shares no snapshot with the source (received aside, then swapped in); file=: replace an existing file' },
  timeout: { type: 'duration', default: 3_600_000, doc: 'how long the whole verb may take, every step included (RC 5)' },
  intermediate: { type: 'bool', default: false, doc: 'target=: send every snapshot between the common one and the new one (zfs send -I)' },
  recursive: { type: 'bool', default: false, doc: 'target=: the descendants too, each dataset on its own, parents first (syncoid --recursive); replicate snapshots them all at once (zfs snapshot -r)' },
  exclude: { type: 'list', rule: datasetGlob, doc: 'recursive=true: skip datasets whose name relative to the source matches this glob ("*" within one component), and their descendants (repeatable)' },
  raw: { type: 'bool', default: false, doc: 'target=: raw stream (zfs send -w; OpenZFS feature@encryption on both pools, else RC 6)' },
  compressed: { type: 'bool', default: false, doc: 'target=: compressed stream (zfs send -c; OpenZFS feature@lz4_compress, else RC 6)' },
  large_blocks: { type: 'bool', default: false, doc: 'target=: blocks over 128 KiB as they are (zfs send -L; OpenZFS feature@large_blocks, else RC 6)' },
  resume: { type: 'bool', default: false, doc: 'target=: resumable receive (zfs receive -s), and a saved partial stream finished first (zfs send -t TOKEN); OpenZFS feature@extensible_dataset, else RC 6' },
  bwlimit: { type: 'string', rule: zfsSize, doc: 'target=: at most this many bytes per second (10M = 10 MiB/s), through pv -L (or mbuffer -r)' },
} as const;

/** What send and replicate report. */
const SEND_VARS = {
  MODE: 'full, incremental, or none (the target already had the snapshot)',
  FROM: 'the newest common snapshot (same name and guid on both sides) an incremental started from',
  SNAPSHOT: 'the snapshot sent',
  TARGET: 'the receiving dataset (target=)',
  HOST: 'the receiving host ([user@]host) when over ssh',
  FILE: 'the stream file (file=)',
  BYTES: 'stream size in bytes: the file (file=), or what went through the pipe (target=; every dataset, a resumed stream included)',
  RESUMED: '1 when a saved partial receive was finished first (resume=true), else 0',
  DATASETS: { stem: 'receiving datasets that got a stream, parents first' },
  EXCLUDED: { stem: 'source datasets skipped by exclude=' },
} as const;

const outVars = (o: SendOutcome, host: string | undefined) => ({
  result: `${o.mode} ${o.from ? `${o.from}..` : ''}${o.snapshot} ${host ? `${host}:` : ''}${o.target}`.trim(),
  vars: { MODE: o.mode, FROM: o.from, SNAPSHOT: o.snapshot, TARGET: o.target, HOST: host ?? '', BYTES: o.bytes, RESUMED: o.resumed ? 1 : 0, DATASETS: stem(o.datasets), EXCLUDED: stem(o.excluded) },
});

/** The target-only options (RC 2 with file=). */
const TARGET_ONLY = ['intermediate', 'recursive', 'raw', 'compressed', 'large_blocks', 'resume'] as const;

interface TargetParams {
  target?: string;
  target_pool?: string;
  pool?: string;
  ssh?: string;
  force: boolean;
  intermediate: boolean;
  recursive: boolean;
  exclude?: string[];
  raw: boolean;
  compressed: boolean;
  large_blocks: boolean;
  resume: boolean;
  bwlimit?: string;
}

/**
 * The receiving dataset, host and options of a send/replicate call: target=HOST:DATASET
 * or ssh=HOST (one of them: both are RC 2), exclude= only with recursive=true (RC 2).
 */
function transferOf(ctx: Ctx, verb: string, p: TargetParams, left: TimeLeft): { target: string; host?: string; o: TransferOptions } {
  const t = splitReplTarget(p.target!);
  if (t.host && p.ssh) throw usageError(`${verb}: give the host once: target=${p.target} names ${t.host}, and ssh=${p.ssh} is given too`);
  if (p.exclude?.length && !p.recursive) throw usageError(`${verb}: exclude= applies to recursive=true only`);
  const host = t.host || p.ssh;
  return {
    // HOST:pool/dataset names the whole dataset there (syncoid's form), unless target_pool= is given.
    target: t.host && !p.target_pool ? t.dataset : fullName(ctx, p.target_pool ?? p.pool, t.dataset),
    host,
    o: {
      peer: peerOf(ctx, host),
      force: p.force,
      left,
      intermediate: p.intermediate,
      recursive: p.recursive,
      exclude: p.exclude,
      raw: p.raw,
      compressed: p.compressed,
      largeBlocks: p.large_blocks,
      resume: p.resume,
      bwlimit: p.bwlimit ? toBytes(p.bwlimit) : undefined,
    },
  };
}

/**
 * `zfs send … | dd of=TMP` into a new hidden file beside `file`, then moved into place
 * (shared/new-file.ts: RC 3 when the folder does not exist, RC 4 when the file exists
 * and force is not given, RC 7 for a symlink; on any failure the temporary file is
 * removed and `file` is as before). Returns the stream's size in bytes (0 under dryrun).
 */
async function sendToFile(ctx: Ctx, sendArgv: string[], file: string, force: boolean, timeoutMs: number): Promise<number> {
  const task = ctx.progress(`sending ${sendArgv[sendArgv.length - 1]} to ${file}`, { unit: 'bytes' });
  try {
    return await writeNewFile(ctx, file, { force, what: 'send', key: 'file' }, async (tmp) => {
      ok(await ctx.runPipeline([sendArgv, ['dd', `of=${tmp}`, 'bs=1M', 'conv=fsync', 'status=none']], { timeoutMs, onBytes: (n) => task.set(n) }));
    });
  } finally {
    task.end();
  }
}

export const send = defineVerb({
  name: 'send',
  long: true,
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
    if (p.file) {
      const given = [...TARGET_ONLY.filter((k) => p[k]), ...(p.exclude?.length ? ['exclude'] : []), ...(p.bwlimit ? ['bwlimit'] : []), ...(p.ssh ? ['ssh'] : [])];
      if (given.length) throw usageError(`send: ${given.map((k) => `${k}=`).join(', ')} apply to target= only`);
    }
    const x = p.target ? transferOf(ctx, 'send', p, left) : undefined;
    if (x) await requireTransferFeatures(ctx, source, x.target, x.o);
    const snap = p.snapshot ?? (await listSnapshots(ctx, source, { timeoutMs: left() })).pop()?.snapshot;
    if (!snap) throw notFound(`send: ${source} has no snapshots (take one with snapshot first)`);
    if (x) return outVars(await sendInto(ctx, source, snap, x.target, x.o), x.host);
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
async function dropSnapshot(ctx: Ctx, full: string, recursive = false): Promise<void> {
  for (let i = 1; ; i++) {
    try {
      return await destroyDataset(ctx, full, { recursive, timeoutMs: FINISH_MS });
    } catch (e) {
      if (i >= 5 || !isReason(e, 'busy')) throw e;
      await ctx.clock.sleep(200);
    }
  }
}

export const replicate = defineVerb({
  name: 'replicate',
  long: true,
  summary: 'snapshot the source now (repl-<unix seconds>, or use snapshot=) and send it into target= (incremental from the newest common snapshot by name and guid; RC 7 when the target diverged, unless force=true), locally or over ssh (target=host:pool/ds or ssh=); intermediate=, recursive= with exclude=, bwlimit=, and the OpenZFS raw=/compressed=/large_blocks=/resume= (RC 6 without the pool feature); a failure destroys the snapshot it took; timeout= bounds every step',
  params: { ...NAME, ...OPT_SNAPSHOT, ...TARGET_PARAMS, target: { ...TARGET_PARAMS.target, required: true }, ...POOL },
  positional: ['name', 'target'],
  examples: ['replicate name=web target=web target_pool=backup', 'replicate name=web target=root@backup1:tank/web timeout=10m', 'replicate name=web target=backup1:tank/web recursive=true exclude=cache bwlimit=20M'],
  vars: SEND_VARS,
  async run(p, ctx) {
    const source = fullName(ctx, p.pool, p.name);
    const left = deadline(ctx, p.timeout, `replicate ${source}`);
    const x = transferOf(ctx, 'replicate', p, left);
    await requireTransferFeatures(ctx, source, x.target, x.o);
    const made = p.snapshot
      ? undefined
      : (await createUnderFreeName(epochName('repl', ctx.clock.now()), (n) => snapshot(ctx, source, n, { recursive: p.recursive, timeoutMs: left() }))).name;
    const snap = p.snapshot ?? made!;
    try {
      return outVars(await sendInto(ctx, source, snap, x.target, x.o), x.host);
    } catch (e) {
      if (!made) throw e;
      // A resumable receive needs the snapshot its token names: keep it for the next run.
      if (p.resume) throw e instanceof AddressError ? new AddressError(e.kind, `${e.message} (kept ${source}@${made} for resume=true)`, { cause: e, reason: e.reason }) : e;
      const undo: Undo[] = [{ what: `destroy ${source}@${made}${p.recursive ? ' (-r)' : ''}`, run: () => dropSnapshot(ctx, `${source}@${made}`, p.recursive) }];
      // Under dryrun no snapshot was taken: nothing to undo, the error as it is.
      throw await ctx.effect<unknown>(() => undoAll(undo, e), e);
    }
  },
});
