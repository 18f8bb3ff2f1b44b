/**
 * ADDRESS LXCRI and a real registry: docker-registry on 127.0.0.1:5000 (scripts/setup-host.sh),
 * skopeo 1.9, umoci, runc and zfs-fuse. The busybox test image and the realistic Debian
 * minbase image (scripts/build-debian-rootfs.sh --oci) are pushed with skopeo, then pulled through
 * the handler; a container runs from the pulled Debian image and proves it is Debian.
 * Failures: an unknown tag (RC 3), a registry that is down (RC 6, a closed port: the
 * shared registry is never stopped), content that does not match a pinned digest
 * (RC 7, by altering this file's own manifest in the registry's storage). Every tag,
 * container, dataset and temp dir made here is removed in afterAll.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { table } from '../../../handlers/lxcri';
import { createHandler, type AddressHandler } from '../../../shared/dispatch';
import { deleteAllRunc, destroyNewParents, destroyOurDatasets, existingParents, POOL, requireTools, sh, tinyLayout, tryRun } from '../../helpers/lxcri-env';
import { closedPort, debianLayout, deleteFromRegistry, pushLayout, REGISTRY, registryBlobFile, requireRegistry } from '../../helpers/registry';
import { RUN_ID } from '../../helpers/run-id';

const P = `lxreg${RUN_ID}`;
const REPO = `rexx-test-${RUN_ID}`;
let tmp: string;
let h: AddressHandler;
let hadParent = new Set<string>();
const digests: string[] = [];
const pushed: string[] = [];
const env = () => ({ ...process.env, REXX_OCI_DIR: `${tmp}/oci`, REXX_OCI_ROOT: `${tmp}/run`, REXX_ZFS_POOL: POOL });
/** Files under a folder, relative, sorted (what a failed pull must leave unchanged). */
const tree = (dir: string): string[] =>
  fs.existsSync(dir) ? (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => !f.endsWith('.lock')).sort() : [];

let busyDigest = '';
beforeAll(() => {
  requireTools(['runc', 'zfs', 'umoci', 'skopeo', 'busybox', 'curl']);
  requireRegistry();
  hadParent = existingParents();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-lxcri-reg-'));
  h = createHandler(table, { env: env() });
  tinyLayout(tmp);
  busyDigest = pushLayout(`${tmp}/layout:tiny`, `${REPO}/busybox:1`);
  pushed.push(`${REPO}/busybox:1`);
  digests.push(busyDigest);
}, 900_000);

afterAll(() => {
  if (!tmp) return;
  deleteAllRunc(`${tmp}/run/runc`);
  destroyOurDatasets((d) => d.startsWith(`${POOL}/containers/${P}`) || digests.some((g) => d === `${POOL}/images/${g.slice(7, 23)}`));
  destroyNewParents(hadParent);
  for (const r of pushed) deleteFromRegistry(r);
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('ADDRESS LXCRI images from a registry (docker-registry, skopeo, umoci, runc, zfs-fuse)', () => {
  it('image_inspect ref= and image_pull of the busybox image agree with skopeo on the digest; image_list has the bytes on disk', async () => {
    const ref = `${REGISTRY}/${REPO}/busybox:1`;
    const i = await h(`image_inspect ref=${ref} tls_verify=false`);
    expect(i.errorCode, i.errorMessage).toBe(0);
    expect(i.rexxVariables.DIGEST).toBe(busyDigest);
    expect((i.rexxVariables.LAYERS as Record<string, unknown>)[0]).toBe(1);
    const r = await h(`image_pull ref=docker://${ref} tls_verify=false`);
    expect(r.errorCode, r.errorMessage).toBe(0);
    expect(r.output).toBe(`${REPO}/busybox:1`);
    expect(r.rexxVariables).toMatchObject({ IMAGE: `${REPO}/busybox:1`, DIGEST: busyDigest, LAYERS: 1, DATASET: `${POOL}/images/${busyDigest.slice(7, 23)}` });
    // the image is unpacked once, on ZFS, and registered as a base
    expect(tryRun('zfs', ['list', '-H', '-o', 'name', `${POOL}/images/${busyDigest.slice(7, 23)}@rexx-base`]).trim()).toBe(`${POOL}/images/${busyDigest.slice(7, 23)}@rexx-base`);
    const l = await h('image_list');
    expect(l.errorCode, l.errorMessage).toBe(0);
    const disk = Number((l.rexxVariables.DISK_SIZES as Record<string, unknown>)[1]);
    const size = Number((l.rexxVariables.SIZES as Record<string, unknown>)[1]);
    expect(disk).toBeGreaterThan(size); // blobs as allocated plus the unpacked dataset
    const local = await h(`image_inspect name=${REPO}/busybox:1`);
    expect(local.rexxVariables.DIGEST).toBe(busyDigest);
  });

  it('the Debian image: pushed with skopeo, pulled, a runc container from it says it is Debian (/etc/debian_version)', async () => {
    const debDigest = pushLayout(`${debianLayout()}:bookworm`, `${REPO}/debian:bookworm`);
    pushed.push(`${REPO}/debian:bookworm`);
    digests.push(debDigest);
    const r = await h(`image_pull ${REGISTRY}/${REPO}/debian:bookworm tls_verify=false name=debian:12`);
    expect(r.errorCode, r.errorMessage).toBe(0);
    expect(r.rexxVariables.DIGEST).toBe(debDigest);
    expect(Number(r.rexxVariables.SIZE)).toBeGreaterThan(30_000_000);
    const b = `${tmp}/${P}-deb`;
    const bu = await h(`bundle_from_image image=debian:12 bundle=${b} name=${P}-deb arg=sleep arg=1000`);
    expect(bu.errorCode, bu.errorMessage).toBe(0);
    expect(bu.rexxVariables.CLONED).toBe(1);
    const run = await h(`run ${P}-deb ${b} runtime=runc`);
    expect(run.errorCode, run.errorMessage).toBe(0);
    const x = await h(`exec ${P}-deb command='cat /etc/debian_version; . /etc/os-release; echo $ID $VERSION_CODENAME' runtime=runc`);
    expect(x.errorCode, x.errorMessage).toBe(0);
    expect(x.output).toMatch(/^12\.\d+\ndebian bookworm$/);
    const d = await h(`delete ${P}-deb force=true purge=true runtime=runc`);
    expect(d.errorCode, d.errorMessage).toBe(0);
  });

  it('an image_pull by digest, then image_push to a new tag: the registry has the same digest', async () => {
    const r = await h(`image_pull ${REGISTRY}/${REPO}/busybox@${busyDigest} tls_verify=false unpack=false`);
    expect(r.errorCode, r.errorMessage).toBe(0);
    expect(r.output).toBe(`${REPO}/busybox:sha256-${busyDigest.slice(7, 19)}`);
    const p = await h(`image_push name=${r.output} ref=${REGISTRY}/${REPO}/copy:2 tls_verify=false creds=someone:not-needed-here`);
    pushed.push(`${REPO}/copy:2`);
    expect(p.errorCode, p.errorMessage).toBe(0);
    expect(p.rexxVariables).toMatchObject({ DIGEST: busyDigest, REF: `docker://${REGISTRY}/${REPO}/copy:2` });
    expect(sh('skopeo', ['inspect', '--tls-verify=false', '--format', '{{.Digest}}', `docker://${REGISTRY}/${REPO}/copy:2`]).trim()).toBe(busyDigest);
    expect(fs.readdirSync(`${tmp}/oci`).filter((f) => f.startsWith('push-') || f === 'auth' && fs.readdirSync(`${tmp}/oci/auth`).length)).toEqual([]);
  });

  it('an unknown tag is RC 3 and a registry that is down RC 6; neither leaves anything in the store', async () => {
    const before = tree(`${tmp}/oci`);
    const t = await h(`image_pull ${REGISTRY}/${REPO}/busybox:no-such-tag tls_verify=false`);
    expect(t.errorCode, t.errorMessage).toBe(3);
    expect(t.errorMessage).toMatch(/manifest unknown/);
    const port = await closedPort();
    const d = await h(`image_pull 127.0.0.1:${port}/${REPO}/busybox:1 tls_verify=false`);
    expect(d.errorCode, d.errorMessage).toBe(6);
    expect(d.errorMessage).toMatch(/connection refused/);
    const i = await h(`image_inspect 127.0.0.1:${port}/${REPO}/busybox:1 tls_verify=false`);
    expect(i.errorCode).toBe(6);
    expect(tree(`${tmp}/oci`)).toEqual(before);
    // in a fresh store, a failed pull leaves no layout at all (skopeo alone leaves blobs/)
    const fresh = createHandler(table, { env: { ...env(), REXX_OCI_DIR: `${tmp}/oci-fresh` } });
    expect((await fresh(`image_pull ${REGISTRY}/${REPO}/busybox:no-such-tag tls_verify=false`)).errorCode).toBe(3);
    expect(tree(`${tmp}/oci-fresh`)).toEqual([]);
  });

  it('content that does not match the pinned digest is refused (RC 7) and nothing of it is kept', async () => {
    // An image only this test has (its own marker file), so altering its manifest in the
    // registry's storage touches nothing anyone else pulls.
    const src = `${tmp}/tamper`;
    fs.mkdirSync(`${src}/rootfs/etc`, { recursive: true });
    fs.writeFileSync(`${src}/rootfs/etc/marker`, `tamper ${RUN_ID} ${Date.now()}\n`);
    sh('umoci', ['init', '--layout', `${src}/layout`]);
    sh('umoci', ['new', '--image', `${src}/layout:t`]);
    sh('umoci', ['insert', '--image', `${src}/layout:t`, `${src}/rootfs`, '/']);
    const dg = pushLayout(`${src}/layout:t`, `${REPO}/tamper:1`);
    pushed.push(`${REPO}/tamper:1`);
    const file = registryBlobFile(dg);
    const m = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(file, JSON.stringify({ ...m, annotations: { tampered: 'yes' } }));
    const before = tree(`${tmp}/oci`);
    const r = await h(`image_pull ${REGISTRY}/${REPO}/tamper@${dg} tls_verify=false`);
    expect(r.errorCode, r.errorMessage).toBe(7);
    expect(r.errorMessage).toMatch(/does not match provided manifest digest/);
    expect(tree(`${tmp}/oci`)).toEqual(before);
    // a digest the registry does not have at all is simply not found
    const none = await h(`image_pull ${REGISTRY}/${REPO}/tamper@sha256:${'0'.repeat(64)} tls_verify=false`);
    expect(none.errorCode).toBe(3);
  });

  it('creds= reach skopeo only as an authfile: the recorded argv has --src-authfile and no password', async () => {
    const lines: string[] = [];
    const t = createHandler(table, { env: env(), traceSink: (l: string) => lines.push(l) });
    const r = await t(`image_pull ${REGISTRY}/${REPO}/busybox:1 tls_verify=false unpack=false creds=alice:Sup3rS3cret name=${REPO}/creds:1 trace=true`);
    expect(r.errorCode, r.errorMessage).toBe(0);
    const copy = lines.find((l) => l.includes('skopeo copy'));
    expect(copy, lines.join('\n')).toMatch(/--src-authfile \S+\/oci\/auth\/pull-\w+\/auth\.json/);
    expect(lines.join('\n')).not.toMatch(/Sup3rS3cret|alice/);
    expect(fs.readdirSync(`${tmp}/oci/auth`)).toEqual([]);
  });
});
