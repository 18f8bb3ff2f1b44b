/**
 * LXD images: `publish` an instance, a snapshot or a registered base as an image
 * (`lxc publish`), `image_import` a tarball (`lxc image import`), `image_list`
 * (`lxc image list --format json`), `image_delete` and `image_alias`
 * (`lxc image alias create|delete|rename`). An image made from a base is what
 * `create image=ALIAS` then starts from, on this daemon or (`remote=`) another.
 * publish runs with `--quiet` (no progress); image_import without it, since its
 * `--quiet` drops the fingerprint line too. The fingerprint line is what is read.
 */
import { notFound, usageError } from '../../../shared/errors';
import { absHostPath } from '../../../shared/names';
import { stem } from '../../../shared/result';
import { defineVerb } from '../../../shared/verb';
import { LXC_PUBLISH_ERRORS } from '../errors';
import { configPair, lxdImageAlias, lxdSnapshotName } from '../names';
import { NAME, REMOTE } from '../params';
import { isBase, KEYS } from '../registry';
import { lxc, ref, requireInstance } from '../tool';

/** The fingerprint in lxc's last line ("Instance published with fingerprint: X", "Image imported with fingerprint: X"). */
const fingerprintOf = (out: string) => /fingerprint: ([0-9a-f]{64})/i.exec(out)?.[1] ?? '';

/** `remote:` as the target of publish/import (the remote's own image store), or nothing for the local daemon. */
const into = (remote: string | undefined) => (remote ? [`${remote}:`] : []);

const IMAGE_VARS = {
  FINGERPRINT: 'the image fingerprint (64 hex digits)',
  ALIAS: 'the alias it got (\'\' without alias=)',
} as const;

export const publish = defineVerb({
  name: 'publish',
  long: true,
  summary:
    'publish an instance, one of its snapshots, or a registered base (its rexx-base snapshot) as an image (lxc publish): create image=ALIAS then starts from it; a taken alias moves to the new image (the old image stays, without it), as lxc publish does; a running instance is RC 7 unless force=true (LXD stops it and starts it again); the same image already there RC 4',
  params: {
    name: { ...NAME.name, required: false, doc: 'the instance to publish (or base=)' },
    snapshot: { type: 'string', rule: lxdSnapshotName, doc: 'publish this snapshot of name= (the instance may run)' },
    base: { type: 'string', rule: NAME.name.rule, doc: 'a registered base: publishes its base snapshot, the state its clones start from' },
    alias: { type: 'string', rule: lxdImageAlias, doc: 'alias for the new image (one that is taken moves to it)' },
    property: { type: 'list', rule: configPair, doc: 'image property KEY=VALUE (repeat), e.g. description=web-golden' },
    public: { type: 'bool', default: false, doc: 'make the image public (served to other daemons without a trust)' },
    force: { type: 'bool', default: false, doc: 'a running instance: stop it, publish, start it again (lxc publish --force)' },
    ...REMOTE,
  },
  positional: ['name', 'alias'],
  examples: ['publish name=web alias=web-golden', 'publish name=web snapshot=before-upgrade alias=web-old', 'publish base=golden alias=golden-img property=description=golden'],
  vars: IMAGE_VARS,
  async run(p, ctx) {
    if (Boolean(p.name) === Boolean(p.base)) throw usageError('publish: give name= (an instance) or base= (a registered base), one of them');
    if (p.base && p.snapshot) throw usageError('publish: base= publishes the base snapshot; snapshot= goes with name=');
    let source = p.name ? (p.snapshot ? `${p.name}/${p.snapshot}` : p.name) : '';
    if (p.base) {
      const inst = await requireInstance(ctx, p.remote, p.base);
      if (!isBase(inst)) throw notFound(`${p.base} is not a registered base (register_base first, or publish name=${p.base})`);
      source = `${p.base}/${inst.config[KEYS.baseSnapshot]}`;
    }
    const args = ['publish', ref(p.remote, source), ...into(p.remote), '--quiet'];
    if (p.alias) args.push('--alias', p.alias);
    if (p.public) args.push('--public');
    if (p.force) args.push('--force');
    args.push(...p.property);
    const r = await lxc(ctx, args, { timeoutMs: 600_000, errors: LXC_PUBLISH_ERRORS });
    const fp = fingerprintOf(`${r.stdout}\n${r.stderr}`);
    return { result: fp, vars: { FINGERPRINT: fp, ALIAS: p.alias ?? '' } };
  },
});

export const imageImport = defineVerb({
  name: 'image_import',
  long: true,
  summary: 'import an image tarball from this host (lxc image import FILE [ROOTFS]): a unified tarball, or metadata file= plus rootfs=; RC 3 when a file is missing, RC 4 when the alias is taken or the same image is there',
  params: {
    file: { type: 'string', required: true, rule: absHostPath, doc: 'the image tarball (unified), or its metadata tarball with rootfs=' },
    rootfs: { type: 'string', rule: absHostPath, doc: 'the rootfs tarball or squashfs of a split image' },
    alias: { type: 'string', rule: lxdImageAlias, doc: 'alias for the imported image (RC 4 when taken)' },
    public: { type: 'bool', default: false, doc: 'make the image public' },
    ...REMOTE,
  },
  positional: ['file', 'alias'],
  examples: ['image_import file=/srv/images/web.tar.gz alias=web', 'image_import file=/srv/images/meta.tar.xz rootfs=/srv/images/rootfs.squashfs alias=deb12'],
  vars: IMAGE_VARS,
  async run(p, ctx) {
    for (const f of [p.file, p.rootfs]) if (f && !ctx.fs.stat(f)?.isFile()) throw notFound(`image_import: ${f} is not a file on this host`);
    // (not --quiet: it also drops the fingerprint line; the progress before it is skipped when read)
    const args = ['image', 'import', p.file, ...(p.rootfs ? [p.rootfs] : []), ...into(p.remote)];
    if (p.alias) args.push('--alias', p.alias);
    if (p.public) args.push('--public');
    const r = await lxc(ctx, args, { timeoutMs: 600_000, errors: LXC_PUBLISH_ERRORS });
    const fp = fingerprintOf(`${r.stdout}\n${r.stderr}`);
    return { result: fp, vars: { FINGERPRINT: fp, ALIAS: p.alias ?? '' } };
  },
});

/** The fields of `lxc image list --format json` that image_list reports. */
interface ImageInfo {
  fingerprint: string;
  aliases?: Array<{ name: string }> | null;
  properties?: Record<string, string> | null;
  size: number;
  type: string;
  created_at: string;
}

export const imageList = defineVerb({
  name: 'image_list',
  summary: 'the images of the daemon (lxc image list --format json): stems FINGERPRINTS, ALIASES (first alias or \'\'), DESCRIPTIONS, SIZES (bytes), TYPES (container|virtual-machine), CREATED (ISO 8601); RESULT "fingerprint alias size" lines',
  params: { ...REMOTE },
  positional: [],
  examples: ['image_list', 'image_list remote=cluster'],
  vars: {
    FINGERPRINTS: { stem: 'image fingerprints (64 hex digits)' },
    ALIASES: { stem: 'the first alias of each image (\'\' when it has none)' },
    DESCRIPTIONS: { stem: 'each image\'s description property' },
    SIZES: { stem: 'size in bytes' },
    TYPES: { stem: 'container or virtual-machine' },
    CREATED: { stem: 'creation time, ISO 8601' },
  },
  async run(p, ctx) {
    const r = await lxc(ctx, ['image', 'list', ...into(p.remote), '--format', 'json'], { readOnly: true });
    const images = (JSON.parse(r.stdout || '[]') as ImageInfo[]).sort((a, b) => a.created_at.localeCompare(b.created_at));
    const alias = (i: ImageInfo) => i.aliases?.[0]?.name ?? '';
    return {
      result: images.map((i) => `${i.fingerprint.slice(0, 12)} ${alias(i) || '-'} ${i.size}`).join('\n'),
      vars: {
        FINGERPRINTS: stem(images.map((i) => i.fingerprint)),
        ALIASES: stem(images.map(alias)),
        DESCRIPTIONS: stem(images.map((i) => i.properties?.description ?? '')),
        SIZES: stem(images.map((i) => i.size)),
        TYPES: stem(images.map((i) => i.type)),
        CREATED: stem(images.map((i) => i.created_at)),
      },
    };
  },
});

export const imageDelete = defineVerb({
  name: 'image_delete',
  summary: 'delete an image by alias or fingerprint (lxc image delete); RC 3 when there is none; instances made from it keep running (LXD copies an image into each)',
  params: { image: { type: 'string', required: true, rule: lxdImageAlias, doc: 'alias or fingerprint (a unique prefix of it)' }, ...REMOTE },
  positional: ['image'],
  examples: ['image_delete image=web-old'],
  vars: {},
  async run(p, ctx) {
    await lxc(ctx, ['image', 'delete', ref(p.remote, p.image)], { timeoutMs: 120_000 });
    return { result: p.image };
  },
});

export const imageAlias = defineVerb({
  name: 'image_alias',
  summary: 'manage image aliases (lxc image alias): action=create points alias= at image=, delete removes it, rename renames it to new_alias=; RC 3 when the alias or image is missing, RC 4 when the name is taken',
  params: {
    alias: { type: 'string', required: true, rule: lxdImageAlias, doc: 'the alias' },
    action: { type: 'enum', values: ['create', 'delete', 'rename'], default: 'create', doc: 'create, delete or rename' },
    image: { type: 'string', rule: lxdImageAlias, doc: 'create: the fingerprint it points at (a unique prefix will do; LXD takes no alias here: RC 3)' },
    new_alias: { type: 'string', rule: lxdImageAlias, doc: 'rename: the new name' },
    ...REMOTE,
  },
  positional: ['alias', 'image'],
  examples: ['image_alias alias=web image=3eabf317de31', 'image_alias alias=web action=rename new_alias=web-v1', 'image_alias alias=web-v1 action=delete'],
  vars: {},
  async run(p, ctx) {
    if ((p.action === 'create') !== Boolean(p.image)) throw usageError('image_alias: image= goes with action=create (and only with it)');
    if ((p.action === 'rename') !== Boolean(p.new_alias)) throw usageError('image_alias: new_alias= goes with action=rename (and only with it)');
    const args = p.action === 'create'
      ? ['image', 'alias', 'create', ref(p.remote, p.alias), p.image!]
      : p.action === 'rename'
        ? ['image', 'alias', 'rename', ref(p.remote, p.alias), p.new_alias!]
        : ['image', 'alias', 'delete', ref(p.remote, p.alias)];
    await lxc(ctx, args);
    return { result: p.action === 'rename' ? p.new_alias! : p.alias };
  },
});
