/**
 * Images in a registry (skopeo 1.9's `docker://` transport, as the distribution
 * registry speaks it): pull into the local store, push from it, inspect a remote ref.
 *
 * Credentials never reach a command line or an environment: `creds=USER:PASS` is written
 * as a containers-auth.json(5) file (`{"auths": {"HOST[:PORT]": {"auth": base64(USER:PASS)}}}`,
 * mode 0600) into a fresh folder of mode 0700 under `<REXX_OCI_DIR>/auth/`, skopeo gets
 * `--authfile PATH` (or `--src-authfile` / `--dest-authfile`), and the folder is removed
 * when the call ends, whether it worked or not.
 */
import * as path from 'node:path';
import { usageError } from '../../shared/errors';
import type { Ctx } from '../../shared/verb';
import { parseRegistryRef, type RegistryRef } from './names';
import { ociDir } from './runtime';
import { imageTool } from './tool';

/** A ref as skopeo takes it (`docker://HOST/REPO:TAG` or `…@sha256:…`; tag default latest) and its parts. */
export interface Remote extends RegistryRef {
  /** `docker://HOST/REPO:TAG|@DIGEST`. */
  transport: string;
}

/** Take a validated `ref=` apart (params already checked it against `registryRef`). */
export function remoteOf(ref: string): Remote {
  const r = parseRegistryRef(ref);
  if (!r) throw usageError(`ref=${JSON.stringify(ref)} is not a registry reference`);
  const tag = r.digest ? undefined : (r.tag ?? 'latest');
  return { ...r, tag, transport: `docker://${r.registry}/${r.repo}${r.digest ? `@${r.digest}` : `:${tag}`}` };
}

/**
 * The local name a pulled image gets by default: the repository path, and the tag, or
 * for a ref pinned by digest `sha256-<first 12 hex>`.
 */
export function defaultLocalName(r: Remote): string {
  return `${r.repo}:${r.tag ?? `sha256-${r.digest!.slice(7, 19)}`}`;
}

/**
 * Run `fn` with skopeo's auth flags for `registry`: none without creds, else
 * `<flag> PATH` of a 0600 authfile in a 0700 folder removed afterwards.
 */
export async function withAuth<R>(ctx: Ctx, registry: string, creds: string | undefined, flag: string, fn: (args: string[]) => Promise<R>): Promise<R> {
  if (!creds) return fn([]);
  const dir = ctx.fs.mkdtemp(path.join(ociDir(ctx), 'auth', 'pull-'));
  const file = path.join(dir, 'auth.json');
  try {
    const auth = Buffer.from(creds, 'utf8').toString('base64');
    ctx.fs.writeText(file, `${JSON.stringify({ auths: { [registry]: { auth } } })}\n`, { exclusive: true, mode: 0o600 });
    return await fn([flag, file]);
  } finally {
    ctx.fs.remove(dir);
  }
}

/** skopeo's TLS flag: `--tls-verify=false` only when asked (skopeo's default is true). */
export const tlsFlag = (flag: string, verify: boolean) => (verify ? [] : [`${flag}=false`]);

/** What `skopeo inspect` says of a remote image: manifest digest, layer digests, bytes (manifest + config + layers). */
export interface RemoteImage {
  digest: string;
  layers: string[];
  size: number;
}

/**
 * `skopeo inspect` (the digest) and `skopeo inspect --raw` (the manifest, for the sizes)
 * of a remote ref. For a manifest list the digest is the platform image skopeo picks and
 * the sizes are those of the list's entries. RC 3 unknown tag/repo, RC 6 registry down.
 */
export async function inspectRemote(ctx: Ctx, r: Remote, o: { tlsVerify: boolean; creds?: string }): Promise<RemoteImage> {
  return withAuth(ctx, r.registry, o.creds, '--authfile', async (auth) => {
    const base = ['skopeo', 'inspect', ...tlsFlag('--tls-verify', o.tlsVerify), ...auth];
    // Queries: they run under dryrun too.
    const info = JSON.parse((await imageTool(ctx, [...base, r.transport], 120_000, { readOnly: true })).stdout) as { Digest?: string; Layers?: string[] };
    const raw = (await imageTool(ctx, [...base, '--raw', r.transport], 120_000, { readOnly: true })).stdout;
    const m = JSON.parse(raw) as { config?: { size?: number }; layers?: Array<{ size?: number }>; manifests?: Array<{ size?: number }> };
    const parts = [m.config, ...(m.layers ?? []), ...(m.manifests ?? [])];
    const size = Buffer.byteLength(raw) + parts.reduce((a, x) => a + (x?.size ?? 0), 0);
    return { digest: info.Digest ?? '', layers: info.Layers ?? [], size };
  });
}
