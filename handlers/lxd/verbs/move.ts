/**
 * `move`: an instance to another daemon (remote) or cluster member, under the same or a
 * new name (`lxc move [R1:]NAME [R2:][NEW] [--target MEMBER]`). A rename on one daemon is
 * the `rename` verb; a copy that leaves the source is `copy`.
 */
import { usageError } from '../../../shared/errors';
import { defineVerb } from '../../../shared/verb';
import { lxdInstanceName, lxdObjectName } from '../names';
import { NAME, REMOTE, timeout } from '../params';
import { TRANSFER_PARAMS, transfer } from '../transfer';

export const move = defineVerb({
  name: 'move',
  long: true,
  summary: 'move an instance to another remote (to_remote=) or cluster member (target=), with its snapshots (lxc move); a running instance is stopped, moved and started again (--stateless: no CRIU here)',
  params: {
    ...NAME,
    destination: { type: 'string', rule: lxdInstanceName, doc: 'its name at the destination (default: the same name)' },
    ...TRANSFER_PARAMS,
    storage: { type: 'string', rule: lxdObjectName, doc: 'storage pool at the destination' },
    ...timeout(600_000, 'how long the move may take (RC 5)'),
    ...REMOTE,
  },
  positional: ['name', 'to_remote'],
  examples: [
    'move name=web to_remote=rexx-cluster mode=push',
    'move name=web remote=rexx-cluster target=member3',
    'move name=web remote=rexx-cluster to_remote=local destination=web-back',
  ],
  vars: {},
  async run(p, ctx) {
    const toRemote = p.to_remote ?? p.remote;
    if (!p.target && (toRemote ?? 'local') === (p.remote ?? 'local')) {
      throw usageError('move: give to_remote= (another daemon) or target= (another cluster member); a new name on the same daemon is the rename verb');
    }
    const destination = p.destination ?? p.name;
    await transfer(ctx, 'move', {
      remote: p.remote, source: p.name, toRemote, destination, target: p.target, mode: p.mode, extra: p.storage ? ['--storage', p.storage] : [], timeoutMs: p.timeout,
    });
    return { result: destination };
  },
});
