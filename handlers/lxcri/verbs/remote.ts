/**
 * Images from and to a registry: image_pull (skopeo copy into the local OCI layout, then
 * unpacked once on ZFS), image_push (skopeo copy out of it), image_inspect (a remote ref
 * with skopeo inspect, a local image from the index). See ../remote.ts for credentials.
 */
import * as path from 'node:path';
import { notFound, usageError } from '../../../shared/errors';
import { defineVerb } from '../../../shared/verb';
import { stem } from '../../../shared/result';
import { ociImageRef, registryCreds, registryRef } from '../names';
import { imageTool } from '../tool';
import { entryFromLayout, findImage, layoutDir, readIndex, splitRef, unpackOnce, withStore, writeIndex } from '../images';
import { defaultLocalName, inspectRemote, remoteOf, tlsFlag, withAuth } from '../remote';
import { POOL, timeout } from '../params';
import { usablePool } from '../rootfs';
import { ociDir } from '../runtime';

const REF = { type: 'string', rule: registryRef, doc: 'registry reference [docker://]HOST[:PORT]/REPO[:TAG] (tag default latest) or …/REPO@sha256:<64 hex>' } as const;
const TLS = { tls_verify: { type: 'bool', default: true, doc: 'require HTTPS with a verified certificate (false for a plain-HTTP registry such as a local one)' } } as const;
const CREDS = { creds: { type: 'string', rule: registryCreds, doc: 'USER:PASS for the registry: kept out of argv, in a 0600 authfile removed after the call' } } as const;

export const imagePull = defineVerb({
  name: 'image_pull',
  summary:
    'pull an image from a registry into the local store (skopeo copy docker://… oci:…); with ZFS it is unpacked once (umoci) into <pool>/images/<digest>, so bundle_from_image is a clone. RC 3 unknown tag/repo, RC 6 registry down, RC 7 content that does not match a pinned digest; a failed pull leaves nothing behind',
  params: {
    ref: { ...REF, required: true },
    name: { type: 'string', rule: ociImageRef, doc: 'name[:tag] to keep it under (default: the repository path and the tag, or sha256-<12 hex> for a digest)' },
    ...TLS,
    ...CREDS,
    unpack: { type: 'enum', values: ['auto', 'true', 'false'], default: 'auto', doc: 'unpack it onto ZFS now: auto = when the pool answers' },
    ...POOL,
    ...timeout(600_000, 'how long the copy may take (RC 5)'),
  },
  positional: ['ref', 'name'],
  examples: ['image_pull ref=registry.example.com/app/web:1.4', 'image_pull ref=127.0.0.1:5000/rexx/debian:bookworm tls_verify=false name=debian:12'],
  vars: {
    IMAGE: 'the local name:tag',
    DIGEST: 'manifest digest (sha256:…)',
    LAYERS: 'how many layers',
    SIZE: 'bytes: manifest, config and compressed layers',
    DATASET: 'the unpacked image dataset <pool>/images/<digest> (ZFS), else empty',
    PULL_MS: 'ms it took (copy and unpack)',
  },
  async run(p, ctx) {
    const t0 = ctx.clock.monotonic();
    const r = remoteOf(p.ref);
    const local = p.name ?? defaultLocalName(r);
    const bad = ociImageRef.check(local);
    if (bad) throw usageError(`image_pull: the repository path makes no local image name (${bad}): give name=`);
    const [name, tag] = splitRef(local);
    const pool = await usablePool(ctx, p.unpack, p.pool);
    // The copy rewrites the layout's index.json and the entry is a read-modify-write of
    // images.json: one pull at a time on the store. Parallel pulls of one ref each copy
    // (skopeo skips blobs the layout has) and leave one entry.
    return withStore(ctx, async () => {
      const layout = layoutDir(ctx);
      const had = ctx.fs.exists(path.join(layout, 'index.json'));
      try {
        await withAuth(ctx, r.registry, p.creds, '--src-authfile', (auth) =>
          imageTool(ctx, ['skopeo', 'copy', '--quiet', ...tlsFlag('--src-tls-verify', p.tls_verify), ...auth, r.transport, `oci:${layout}:${name}:${tag}`], p.timeout),
        );
      } catch (e) {
        // skopeo leaves what it wrote (at least an empty blobs/): a new layout goes, an
        // existing one loses the blobs nothing refers to.
        if (!had) ctx.fs.remove(layout);
        else await imageTool(ctx, ['umoci', 'gc', '--layout', layout]).catch(() => undefined);
        throw e;
      }
      const e = await ctx.effect(() => {
        const entry = entryFromLayout(ctx, layout, name, tag, r.transport);
        writeIndex(ctx, [...readIndex(ctx).filter((x) => !(x.name === name && x.tag === tag)), entry]);
        return entry;
      }, undefined);
      const ds = pool && e ? await unpackOnce(ctx, pool, e) : '';
      return {
        result: `${name}:${tag}`,
        vars: { IMAGE: `${name}:${tag}`, DIGEST: e?.digest ?? '', LAYERS: e?.layers.length ?? '', SIZE: e?.size ?? '', DATASET: ds, PULL_MS: Math.round(ctx.clock.monotonic() - t0) },
      };
    });
  },
});

export const imagePush = defineVerb({
  name: 'image_push',
  summary: 'push an image of the local store to a registry (skopeo copy oci:… docker://…); DIGEST is the manifest digest the registry has',
  params: {
    name: { type: 'string', required: true, rule: ociImageRef, doc: 'image name[:tag] in the local index (tag default latest)' },
    ref: { ...REF, required: true },
    ...TLS,
    ...CREDS,
    ...timeout(600_000, 'how long the copy may take (RC 5)'),
  },
  positional: ['name', 'ref'],
  examples: ['image_push name=app:1.4 ref=registry.example.com/app/web:1.4'],
  vars: { DIGEST: 'manifest digest in the registry (sha256:…)', REF: 'where it went (docker://HOST/REPO:TAG)' },
  async run(p, ctx) {
    const r = remoteOf(p.ref);
    if (r.digest) throw usageError('image_push: ref= must name a tag, not a digest (the registry computes the digest)');
    // The layout is read under the store lock: a parallel import or delete rewrites its index.json.
    return withStore(ctx, async () => {
      const { name, tag, entry } = findImage(ctx, p.name);
      if (!entry) throw notFound(`image ${name}:${tag} is not in the local store (image_list shows it)`);
      const dir = ctx.fs.mkdtemp(path.join(ociDir(ctx), 'push-'));
      try {
        const digestFile = path.join(dir, 'digest');
        await withAuth(ctx, r.registry, p.creds, '--dest-authfile', (auth) =>
          imageTool(
            ctx,
            ['skopeo', 'copy', '--quiet', ...tlsFlag('--dest-tls-verify', p.tls_verify), ...auth, '--digestfile', digestFile, `oci:${layoutDir(ctx)}:${name}:${tag}`, r.transport],
            p.timeout,
          ),
        );
        const digest = (ctx.fs.readText(digestFile) ?? '').trim();
        return { result: r.transport, vars: { DIGEST: digest, REF: r.transport } };
      } finally {
        ctx.fs.remove(dir);
      }
    });
  },
});

export const imageInspect = defineVerb({
  name: 'image_inspect',
  summary: 'digest, layers and size of a remote image (ref=, skopeo inspect) or of one in the local store (name=, from the index); RESULT the digest',
  params: {
    ref: REF,
    name: { type: 'string', rule: ociImageRef, doc: 'image name[:tag] in the local index (instead of ref=)' },
    ...TLS,
    ...CREDS,
  },
  positional: ['ref'],
  examples: ['image_inspect ref=127.0.0.1:5000/rexx/debian:bookworm tls_verify=false', 'image_inspect name=debian:12'],
  vars: { DIGEST: 'manifest digest (sha256:…)', LAYERS: { stem: 'layer digests, bottom first' }, SIZE: 'bytes: manifest, config and compressed layers' },
  async run(p, ctx) {
    if (!p.ref === !p.name) throw usageError('image_inspect: give ref= (a registry) or name= (the local store), one of them');
    if (p.ref) {
      const i = await inspectRemote(ctx, remoteOf(p.ref), { tlsVerify: p.tls_verify, creds: p.creds });
      return { result: i.digest, vars: { DIGEST: i.digest, LAYERS: stem(i.layers), SIZE: i.size } };
    }
    const { name, tag, entry } = findImage(ctx, p.name!);
    if (!entry) throw notFound(`image ${name}:${tag} is not in the local store (image_list shows it)`);
    return { result: entry.digest, vars: { DIGEST: entry.digest, LAYERS: stem(entry.layers), SIZE: entry.size } };
  },
});
