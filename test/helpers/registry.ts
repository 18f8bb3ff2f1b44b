/**
 * The local OCI registry the LXCRI registry tests and benchmarks use: docker-registry
 * (the CNCF distribution registry) on 127.0.0.1:5000, started by scripts/setup-host.sh,
 * plain HTTP (so every skopeo call here has --tls-verify=false). Images reach it with
 * skopeo from OCI layouts: the busybox test image (lxcri-env's tinyLayout) and the
 * realistic one, the cached Debian minbase layout (scripts/build-debian-rootfs.sh --oci).
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import * as net from 'node:net';
import { sh, tryRun } from './lxcri-env';

export const REGISTRY = process.env.REXX_REGISTRY || '127.0.0.1:5000';
const SCRIPTS = path.join(__dirname, '..', '..', 'scripts');

/** Throw unless the registry answers `/v2/` (it is set-up's job to start it). */
export function requireRegistry() {
  if (!tryRun('curl', ['-fsS', '-m', '5', `http://${REGISTRY}/v2/`])) throw new Error(`no OCI registry on http://${REGISTRY}/v2/: run scripts/setup-host.sh`);
}

/** The cached Debian bookworm minbase OCI layout (tag `bookworm`), built on first use (~25 s + a few s). */
export function debianLayout(): string {
  const out = execFileSync('bash', [path.join(SCRIPTS, 'build-debian-rootfs.sh'), '--oci'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 900_000 });
  return out.trim().split('\n').pop()!;
}

/** `skopeo copy` an OCI layout image to `REGISTRY/<repo>`; returns the manifest digest the registry has. */
export function pushLayout(layoutRef: string, repo: string): string {
  sh('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${layoutRef}`, `docker://${REGISTRY}/${repo}`]);
  return sh('skopeo', ['inspect', '--tls-verify=false', '--format', '{{.Digest}}', `docker://${REGISTRY}/${repo}`]).trim();
}

/** Delete a manifest from the registry (its API; the config allows deletes), so a test leaves no tags behind. */
export function deleteFromRegistry(repoAndTag: string) {
  tryRun('skopeo', ['delete', '--tls-verify=false', `docker://${REGISTRY}/${repoAndTag}`]);
}

/** The registry's on-disk file holding blob `digest` (its filesystem storage, from set-up's config). */
export const registryBlobFile = (digest: string) =>
  `/var/lib/rexx-address/registry/data/docker/registry/v2/blobs/sha256/${digest.slice(7, 9)}/${digest.slice(7)}/data`;

/** A TCP port on 127.0.0.1 with nothing listening (bound, then closed). */
export async function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}
