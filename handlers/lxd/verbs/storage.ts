/**
 * Copies, snapshots and files: `lxc copy`, `lxc snapshot`, `lxc restore`,
 * `lxc delete NAME/SNAP`, `lxc file push|pull`.
 */
import * as path from 'node:path';
import { notFound, refused, toolFailed, usageError } from '../../../shared/errors';
import { LXC_FILE_DELETE_ERRORS } from '../errors';
import { execInInstance, guestEntries } from '../guest';
import { guestPath, hostPath, regexRule } from '../../../shared/names';
import { lxdInstanceName, lxdObjectName, lxdSnapshotName } from '../names';
import { stem } from '../../../shared/result';
import { createUnderFreeName, epochName } from '../../../shared/snapshot-names';
import { defineVerb } from '../../../shared/verb';
import { BASE_KEYS, BASE_SNAPSHOT, isBase } from '../registry';
import { getInstance, lxc, query, ref, requireInstance } from '../tool';
import { TRANSFER_PARAMS, transfer } from '../transfer';
import { NAME, REMOTE, SNAPSHOT } from '../params';

/** `instance` or `instance/snapshot`, as `lxc copy` takes a source. */
const copySource = regexRule(
  'instance or instance/snapshot',
  /^[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\/[A-Za-z0-9][A-Za-z0-9._-]{0,62})?$/,
  'an instance name, or instance/snapshot',
);

export const copy = defineVerb({
  name: 'copy',
  aliases: ['clone'],
  summary: 'copy an instance or one of its snapshots to a new, stopped instance (lxc copy; copy-on-write on btrfs), on the same daemon or to another remote or cluster member; a running instance is copied from its disk (--stateless: no CRIU here); a copy of a base is not a base',
  params: {
    source: { type: 'string', required: true, rule: copySource, doc: 'instance, or instance/snapshot, to copy' },
    destination: { type: 'string', required: true, rule: lxdInstanceName, doc: 'name of the new instance' },
    instance_only: { type: 'bool', default: false, doc: 'copy without the source\'s snapshots' },
    storage: { type: 'string', rule: lxdObjectName, doc: 'storage pool for the copy' },
    ...TRANSFER_PARAMS,
    ...REMOTE,
  },
  positional: ['source', 'destination'],
  examples: [
    'copy source=web destination=web2',
    'copy source=web/before-upgrade destination=web-old',
    'copy source=web destination=web to_remote=rexx-cluster mode=push target=member2',
  ],
  vars: {},
  async run(p, ctx) {
    // The base keys would make the copy look registered (an empty value removes a key).
    const extra = BASE_KEYS.flatMap((k) => ['--config', `${k}=`]);
    if (p.instance_only) extra.push('--instance-only');
    if (p.storage) extra.push('--storage', p.storage);
    await transfer(ctx, 'copy', {
      remote: p.remote, source: p.source, toRemote: p.to_remote, destination: p.destination, target: p.target, mode: p.mode, extra, timeoutMs: 600_000,
    });
    return { result: p.destination };
  },
});

export const snapshot = defineVerb({
  name: 'snapshot',
  summary: 'take a snapshot of an instance (default name checkpoint-<unix seconds>, then -2, -3 … when taken); RESULT is its name',
  params: {
    ...NAME,
    snapshot: { type: 'string', rule: lxdSnapshotName, doc: 'snapshot name (default checkpoint-<unix seconds>, with -2, -3 … when that is taken; RC 4 when a given name exists)' },
    stateful: { type: 'bool', default: false, doc: 'include the running state (needs CRIU on the host)' },
    ...REMOTE,
  },
  positional: ['name', 'snapshot'],
  vars: { SNAPSHOT: 'the snapshot name' },
  async run(p, ctx) {
    const take = async (snap: string) => {
      const args = ['snapshot', ref(p.remote, p.name), snap];
      if (p.stateful) args.push('--stateful');
      await lxc(ctx, args, { timeoutMs: 600_000 });
    };
    const snap = p.snapshot ?? (await createUnderFreeName(epochName('checkpoint', ctx.clock.now()), take)).name;
    if (p.snapshot) await take(p.snapshot);
    return { result: snap, vars: { SNAPSHOT: snap } };
  },
});

export const restore = defineVerb({
  name: 'restore',
  summary: 'restore an instance to a snapshot (lxc restore)',
  params: { ...NAME, ...SNAPSHOT, stateful: { type: 'bool', default: false, doc: 'restore the running state too' }, ...REMOTE },
  positional: ['name', 'snapshot'],
  vars: {},
  async run(p, ctx) {
    const args = ['restore', ref(p.remote, p.name), p.snapshot];
    if (p.stateful) args.push('--stateful');
    await lxc(ctx, args, { timeoutMs: 600_000 });
    return { result: p.snapshot };
  },
});

export const deleteSnapshot = defineVerb({
  name: 'delete_snapshot',
  summary: 'delete one snapshot of an instance; a registered base\'s rexx-base is refused (RC 7: unregister_base first)',
  params: { ...NAME, ...SNAPSHOT, ...REMOTE },
  positional: ['name', 'snapshot'],
  vars: {},
  async run(p, ctx) {
    if (p.snapshot === BASE_SNAPSHOT && isBase(await getInstance(ctx, p.remote, p.name))) {
      throw refused(`${p.name}/${BASE_SNAPSHOT} is the snapshot clones of base ${p.name} are made from: unregister_base name=${p.name} first`);
    }
    await lxc(ctx, ['delete', ref(p.remote, `${p.name}/${p.snapshot}`)], { timeoutMs: 120_000 });
    return { result: p.snapshot };
  },
});

interface SnapshotInfo { name: string; created_at: string; stateful: boolean }

export const listSnapshots = defineVerb({
  name: 'list_snapshots',
  summary: 'list an instance\'s snapshots, oldest first: stem SNAPSHOTS, and CREATED (ISO 8601)',
  params: { ...NAME, ...REMOTE },
  positional: ['name'],
  vars: { SNAPSHOTS: { stem: 'snapshot names, oldest first' }, CREATED: { stem: 'when each was taken (ISO 8601)' } },
  async run(p, ctx) {
    const list = await query<SnapshotInfo[]>(ctx, p.remote, `/1.0/instances/${p.name}/snapshots?recursion=1`);
    const sorted = [...list].sort((a, b) => a.created_at.localeCompare(b.created_at));
    const names = sorted.map((s) => s.name.split('/').pop()!);
    return {
      result: sorted.map((s, i) => `${names[i]} ${s.created_at}`).join('\n'),
      vars: { SNAPSHOTS: stem(names), CREATED: stem(sorted.map((s) => s.created_at)) },
    };
  },
});

/** The file inside the instance that file_push writes and file_pull reads. */
const GUEST_FILE = {
  path: { type: 'string', required: true, rule: guestPath, doc: 'absolute path inside the instance' },
} as const;

export const filePush = defineVerb({
  name: 'file_push',
  summary: 'copy a host file (source=) or text (content=) into an instance at path=',
  params: {
    ...NAME,
    ...GUEST_FILE,
    source: { type: 'string', rule: hostPath, doc: 'file on this host to push' },
    content: { type: 'string', free: true, doc: 'text to write instead of a host file' },
    mode: { type: 'string', rule: regexRule('file mode', /^0?[0-7]{3,4}$/, 'octal, e.g. 0644'), doc: 'file mode, e.g. 0644' },
    uid: { type: 'int', min: 0, doc: 'owner uid in the instance' },
    gid: { type: 'int', min: 0, doc: 'owner gid in the instance' },
    parents: { type: 'bool', default: false, doc: 'create missing parent directories' },
    recursive: { type: 'bool', default: false, doc: 'source= is a directory: copy the tree into the directory path= as path/BASENAME (lxc file push -r), modes, file owners and symlinks kept; path= must exist' },
    ...REMOTE,
  },
  examples: ['file_push name=web source=./index.html path=/var/www/index.html', 'file_push name=web path=/etc/motd content="hello"', 'file_push name=web source=./site recursive=true path=/var/www'],
  vars: {},
  async run(p, ctx) {
    if ((p.source === undefined) === (p.content === undefined)) throw usageError('file_push: give source= or content= (one of them)');
    if (p.recursive) {
      if (p.source === undefined) throw usageError('file_push: recursive=true copies a directory: give source=DIR');
      if (p.mode || p.uid !== undefined || p.gid !== undefined || p.parents) throw usageError('file_push: recursive=true keeps each file\'s own mode and owner: mode=, uid=, gid= and parents= go with a single file');
      // The directory path= itself, with a trailing "/" so the tree lands inside it.
      await lxc(ctx, ['file', 'push', '-r', p.source, ref(p.remote, `${p.name}${p.path.replace(/\/*$/, '/')}`)], { timeoutMs: 600_000 });
      return { result: `${p.path.replace(/\/*$/, '')}/${path.basename(p.source.replace(/\/+$/, ''))}` };
    }
    const args = ['file', 'push', p.source ?? '-', ref(p.remote, `${p.name}${p.path}`)];
    if (p.mode) args.push('--mode', p.mode);
    if (p.uid !== undefined) args.push('--uid', String(p.uid));
    if (p.gid !== undefined) args.push('--gid', String(p.gid));
    if (p.parents) args.push('--create-dirs');
    await lxc(ctx, args, { timeoutMs: 600_000, input: p.content });
    return { result: p.path };
  },
});

export const filePull = defineVerb({
  name: 'file_pull',
  summary: 'copy a file out of an instance to destination=, or into RESULT when no destination is given',
  params: {
    ...NAME,
    ...GUEST_FILE,
    destination: { type: 'string', rule: hostPath, doc: 'file on this host to write (default: RESULT gets the content)' },
    recursive: { type: 'bool', default: false, doc: 'path= is a directory: copy the tree into the host directory destination= as destination/BASENAME (lxc file pull -r); modes are kept, owners are not (the files belong to the user running the handler)' },
    ...REMOTE,
  },
  vars: { LINES: { stem: 'the content, one line each (when no destination= is given)' } },
  async run(p, ctx) {
    if (p.recursive) {
      if (p.destination === undefined) throw usageError('file_pull: recursive=true copies a directory: give destination=DIR (an existing host directory)');
      await lxc(ctx, ['file', 'pull', '-r', ref(p.remote, `${p.name}${p.path.replace(/\/+$/, '') || '/'}`), p.destination], { timeoutMs: 600_000 });
      return { result: path.join(p.destination, path.basename(p.path.replace(/\/+$/, ''))) };
    }
    const r = await lxc(ctx, ['file', 'pull', ref(p.remote, `${p.name}${p.path}`), p.destination ?? '-'], {
      timeoutMs: 600_000,
      readOnly: p.destination === undefined,
    });
    return p.destination ? { result: p.destination } : { result: r.stdout, vars: { LINES: stem(r.stdout ? r.stdout.split('\n') : []) } };
  },
});

export const fileDelete = defineVerb({
  name: 'file_delete',
  summary: 'delete a file or an empty directory in an instance (lxc file delete), running or stopped; recursive=true deletes a directory tree; RC 3 when it is not there',
  params: {
    ...NAME,
    ...GUEST_FILE,
    recursive: { type: 'bool', default: false, doc: 'delete a directory and everything in it: in a running instance `rm -rf -- PATH` (exec, no shell); in a stopped one the tree is listed through LXD\'s file API (which reads each file to tell it from a directory) and deleted deepest first in one lxc file delete' },
    ...REMOTE,
  },
  examples: ['file_delete name=web path=/tmp/upload.tar', 'file_delete name=web path=/srv/old recursive=true'],
  vars: {},
  async run(p, ctx) {
    const top = p.path.replace(/\/+$/, '');
    if (top === '') throw refused('file_delete: path=/ is the whole root filesystem; delete the instance instead');
    const missing = () => notFound(`file_delete: ${top} does not exist in ${p.name}`);
    const paths: string[] = [];
    if (p.recursive) {
      const topEntries = await guestEntries(ctx, p.remote, p.name, top);
      if (topEntries === undefined) throw missing();
      if ((await requireInstance(ctx, p.remote, p.name)).status === 'Running') {
        const r = await execInInstance(ctx, p.remote, p.name, { argv: ['rm', '-rf', '--', top], viaShell: false }, { env: [], timeoutMs: 600_000 });
        if (r.rc) throw toolFailed(`file_delete: rm -rf ${top} in ${p.name} exited ${r.rc}: ${r.errorText ?? ''}`.trim());
        return { result: top };
      }
      // Post-order: a directory after everything in it. The API lists a symlink as a file (it does not follow it).
      // The top was listed above: its answer is reused, not asked for again.
      const walk = async (f: string, e: string[] | 'file' | undefined): Promise<void> => {
        if (Array.isArray(e)) for (const n of e) await walk(`${f}/${n}`, await guestEntries(ctx, p.remote, p.name, `${f}/${n}`));
        if (e !== undefined) paths.push(f);
      };
      await walk(top, topEntries);
    } else paths.push(top);
    await lxc(ctx, ['file', 'delete', ...paths.map((f) => ref(p.remote, `${p.name}${f}`))], { timeoutMs: 600_000, errors: LXC_FILE_DELETE_ERRORS });
    return { result: top };
  },
});
