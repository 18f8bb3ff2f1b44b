/**
 * Instances between daemons and cluster members: what `copy` and `move` share. Both are
 * one `lxc copy|move [SRC_REMOTE:]SOURCE [DST_REMOTE:]DEST` call (lxc's own migration:
 * the destination daemon pulls from the source by default), with `--target MEMBER` to
 * place the result on a cluster member, `--mode pull|push|relay` and `--stateless`.
 *
 * Two facts of this host the verbs document (tried on LXD 5.0.2, see
 * scripts/setup-cluster.sh):
 * - A daemon that does not listen on the network (the host's LXD: no
 *   core.https_address) cannot be pulled from: lxc says "The source server isn't
 *   listening on the network". That is RC 7 here, with the way out (mode=push or relay).
 * - A running instance moves between daemons or members only without its running state:
 *   a stateful transfer is a CRIU live migration, and CRIU does not work here ("Unable to
 *   perform container live migration. CRIU isn't installed"). So every transfer of an
 *   instance passes `--stateless`: copy copies its disk (the copy is stopped); move stops
 *   it, transfers it and starts it again on the destination.
 */
import { isReason, refused } from '../../shared/errors';
import type { Ctx } from '../../shared/verb';
import { lxdObjectName } from './names';
import { lxc, ref } from './tool';

/** The parameters copy and move share: where the result goes, and how it travels. */
export const TRANSFER_PARAMS = {
  to_remote: {
    type: 'string', rule: lxdObjectName,
    doc: 'remote the result goes to (default: remote=, the source\'s); "local" is this host\'s daemon. The host\'s LXD does not listen on the network, so host -> remote needs mode=push (or relay)',
  },
  target: { type: 'string', rule: lxdObjectName, doc: 'cluster member to put the result on (lxc --target; default: the cluster places it)' },
  mode: {
    type: 'enum', values: ['pull', 'push', 'relay'], default: 'pull',
    doc: 'how the data travels (lxc --mode): pull (the destination fetches from the source: the source must listen on the network, else RC 7), push (the source sends), relay (through this client)',
  },
} as const;

/** What one transfer does, its parameters validated. */
export interface TransferOptions {
  /** The source's remote (undefined: the local daemon). */
  remote?: string;
  /** Instance, or instance/snapshot (copy only). */
  source: string;
  /** The destination's remote (default: `remote`). */
  toRemote?: string;
  /** The destination name. */
  destination: string;
  target?: string;
  mode: string;
  /** Extra lxc flags of the verb (copy: --config, --instance-only, --storage). */
  extra?: readonly string[];
  timeoutMs: number;
}

/**
 * The argv (after `lxc`) of `lxc copy|move`: source, destination, the verb's extra flags,
 * then `--target`, `--mode` (only when not lxc's default, pull) and `--stateless` (not for
 * a snapshot source, which never runs).
 */
export function transferArgs(verb: 'copy' | 'move', o: TransferOptions): string[] {
  const args = [verb, ref(o.remote, o.source), ref(o.toRemote ?? o.remote, o.destination), ...(o.extra ?? [])];
  if (o.target) args.push('--target', o.target);
  if (o.mode !== 'pull') args.push('--mode', o.mode);
  if (!o.source.includes('/')) args.push('--stateless');
  return args;
}

/**
 * Run `lxc copy|move` ({@link transferArgs}). RC 7 when the destination cannot pull
 * from a source that does not listen on the network (ERRORTEXT says to give mode=push);
 * RC 6 when a cluster member or remote does not answer; RC 4 when the destination
 * exists; RC 3 when the source does not; RC 5 after `timeoutMs`.
 */
export async function transfer(ctx: Ctx, verb: 'copy' | 'move', o: TransferOptions): Promise<void> {
  try {
    await lxc(ctx, transferArgs(verb, o), { timeoutMs: o.timeoutMs });
  } catch (e) {
    if (!isReason(e, 'refused')) throw e;
    throw refused(
      `${verb}: ${ref(o.toRemote ?? o.remote, o.destination)} cannot pull from ${o.remote ?? 'the local daemon'}, which does not listen on the network: give mode=push (or mode=relay) — ${e.message}`,
      { cause: e },
    );
  }
}
