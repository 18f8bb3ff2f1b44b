/**
 * Retention: `prune` destroys old snapshots that match a prefix (default
 * `checkpoint-`), keeping the newest keep=N and/or those younger than older_than=.
 * It never touches a snapshot that has clones or holds (userrefs > 0), nor the snapshot
 * of a registered base.
 */
import { AddressError, usageError } from '../../../shared/errors';
import { stem } from '../../../shared/result';
import { retentionParams } from '../../../shared/retention';
import { defineVerb } from '../../../shared/verb';
import { NAME, POOL, snapPrefix } from '../params';
import { clonesOf, destroyDataset } from '../dataset';
import { getBase } from '../registry';
import { listSnapshots, pruneSelect } from '../snapshot';
import { fullName, rows, zfs } from '../tool';

export const prune = defineVerb({
  name: 'prune',
  summary: 'destroy old snapshots matching prefix= (default checkpoint-): keep=N newest and/or only older_than=; never one with clones or holds, nor a registered base\'s snapshot; PRUNED, KEPT, PROTECTED stems; dryrun=true lists the destroys',
  params: {
    ...NAME,
    ...retentionParams('matching snapshots'),
    prefix: { type: 'string', default: 'checkpoint-', rule: snapPrefix, doc: 'only snapshots whose name starts with this' },
    ...POOL,
  },
  positional: ['name'],
  examples: ['prune name=web keep=5', 'prune name=web older_than=7d prefix=repl- dryrun=true'],
  vars: { PRUNED: { stem: 'snapshots destroyed (dryrun: would be)' }, KEPT: { stem: 'snapshots kept' }, PROTECTED: { stem: 'snapshots kept because of clones or holds' } },
  // Its stems come from reads: under dryrun they say what would be destroyed and kept.
  dryrunVars: true,
  async run(p, ctx) {
    if (p.keep === undefined && p.older_than === undefined) throw usageError('prune: give keep=N and/or older_than=DURATION');
    const name = fullName(ctx, p.pool, p.name);
    const snaps = await listSnapshots(ctx, name);
    const chosen = pruneSelect(snaps, { prefix: p.prefix, keep: p.keep, olderThanMs: p.older_than, nowMs: ctx.clock.now() });
    const protectedSet = new Set<string>();
    if (chosen.length) {
      for (const c of await clonesOf(ctx, name, name.split('/')[0])) protectedSet.add(c.origin);
      const r = await zfs(ctx, ['get', '-H', '-p', '-o', 'name,value', 'userrefs', ...chosen.map((s) => s.name)], { readOnly: true });
      for (const [n, v] of rows(r.stdout)) if (Number(v) > 0) protectedSet.add(n!);
      const base = await getBase(ctx, name);
      if (base) protectedSet.add(`${name}@${base.snapshot}`);
    }
    const pruned: string[] = [];
    const prot = chosen.filter((s) => protectedSet.has(s.name)).map((s) => s.snapshot);
    const vars = () => ({
      PRUNED: stem(pruned),
      KEPT: stem(snaps.filter((s) => s.snapshot.startsWith(p.prefix) && !pruned.includes(s.snapshot)).map((s) => s.snapshot)),
      PROTECTED: stem(prot),
    });
    for (const s of chosen) {
      if (protectedSet.has(s.name)) continue;
      try {
        await destroyDataset(ctx, s.name);
      } catch (e) {
        // Destroyed snapshots cannot come back: say which ones went before the failure.
        const a = e instanceof AddressError ? e : new AddressError('toolFailed', String(e));
        throw new AddressError(a.kind, `prune: ${s.name}: ${a.message} (pruned before it: ${pruned.join(', ') || 'none'})`, { cause: e, vars: vars(), output: pruned.join('\n'), reason: a.reason });
      }
      pruned.push(s.snapshot);
    }
    return { result: pruned.join('\n'), vars: vars() };
  },
});
