/**
 * Directories in an instance: `file_mkdir`. The LXD 5.0 client has no `lxc file mkdir`
 * (nor `file create`), and `lxc file push --create-dirs` makes directories 0750 whatever
 * --mode says, while `lxc file push -r` refuses --mode/--uid/--gid. What `push -r` does
 * keep is the mode and owner of each host directory it sends (measured on LXD 5.0.2), so
 * file_mkdir makes an empty directory of the wanted mode and owner in a private host
 * folder under $TMPDIR (mkdir, chmod and chown through ctx.fs; inside a mode 0700 folder from mkdtemp) and pushes it. That works on a stopped instance too and needs no
 * program in the guest.
 */
import * as path from 'node:path';
import { alreadyExists, isReason, notFound, refused } from '../../../shared/errors';
import { guestPath, regexRule } from '../../../shared/names';
import { defineVerb } from '../../../shared/verb';
import { guestPathKind } from '../guest';
import { NAME, REMOTE } from '../params';
import { lxc, ref } from '../tool';

/** A directory's permission bits: LXD's file API carries no setuid, setgid or sticky bit (a 2770 arrives as 770). */
const dirMode = regexRule('directory mode', /^0?[0-7]{3}$/, 'octal permission bits, e.g. 0750 (no setuid, setgid or sticky bit: LXD does not carry them)');

export const fileMkdir = defineVerb({
  name: 'file_mkdir',
  summary: 'make a directory in an instance, running or stopped, with mode= and owner (uid=, gid=; default 0755 root); parents=true also makes missing parents and is RC 0 when the directory is there (mkdir -p), else an existing path is RC 4',
  params: {
    ...NAME,
    path: { type: 'string', required: true, rule: guestPath, doc: 'absolute path of the new directory inside the instance' },
    mode: { type: 'string', rule: dirMode, default: '0755', doc: 'its permission bits, octal (no setuid, setgid or sticky bit)' },
    uid: { type: 'int', min: 0, max: 4294967294, default: 0, doc: 'its owner uid in the instance' },
    gid: { type: 'int', min: 0, max: 4294967294, default: 0, doc: 'its group gid in the instance' },
    parents: { type: 'bool', default: false, doc: 'make missing parent directories too (lxc file push -p: they get 0750 and the same owner), and answer RC 0 when path= is a directory already' },
    ...REMOTE,
  },
  positional: ['name', 'path'],
  examples: ['file_mkdir name=web path=/srv/www mode=0750 uid=33 gid=33', 'file_mkdir name=web path=/srv/a/b/c parents=true'],
  vars: {},
  async run(p, ctx) {
    const dir = p.path.replace(/\/+$/, '');
    if (dir === '') throw refused('file_mkdir: path=/ is the root directory, which is always there');
    const kind = await guestPathKind(ctx, p.remote, p.name, dir);
    if (kind === 'dir' && p.parents) return { result: dir };
    if (kind) throw alreadyExists(`file_mkdir: ${dir} exists in ${p.name}${kind === 'file' ? ' (not a directory)' : ''}`);
    // lxc push -r sends the host directory's own mode and owner: make it so in a folder only we can enter
    const stage = ctx.fs.mkdtemp(path.join(ctx.env.TMPDIR || '/tmp', 'rexx-mkdir-'));
    try {
      const local = path.join(stage, path.posix.basename(dir));
      try {
        ctx.fs.mkdir(local, { mode: parseInt(p.mode, 8), uid: p.uid, gid: p.gid });
      } catch (e) {
        throw refused(`file_mkdir: could not make a directory owned by ${p.uid}:${p.gid} to push (a handler that is not root may not chown): ${(e as Error).message}`);
      }
      const parent = path.posix.dirname(dir);
      try {
        await lxc(ctx, ['file', 'push', '-r', ...(p.parents ? ['-p'] : []), local, ref(p.remote, `${p.name}${parent.replace(/\/*$/, '/')}`)], { timeoutMs: 120_000 });
      } catch (e) {
        if (isReason(e, 'notFound') && (await guestPathKind(ctx, p.remote, p.name, parent)) === undefined) {
          throw notFound(`file_mkdir: ${parent} does not exist in ${p.name} (parents=true makes it)`);
        }
        throw e;
      }
    } finally {
      ctx.fs.remove(stage);
    }
    return { result: dir };
  },
});
