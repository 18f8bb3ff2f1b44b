/**
 * image_pull / image_push / image_inspect argv, credentials and error mapping, driven by
 * an injected fake runner (test/helpers/fake-runner.ts): skopeo's answers are given per
 * argv, so the authfile can be read at the moment skopeo would read it, and the messages
 * of a registry that is down, a tag that is unknown and content that does not match a
 * pinned digest map to their RCs without a registry. The same paths on the real
 * registry are test/integration/lxcri/registry.test.ts.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createHandler } from '../../../shared/dispatch';
import { table } from '../../../handlers/lxcri';
import { parseRegistryRef, registryCreds, registryRef } from '../../../handlers/lxcri/names';
import { fakeRunner, type FakeReply } from '../../helpers/fake-runner';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-lxcri-registry-unit-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const env = { PATH: '/nonexistent', REXX_OCI_ROOT: `${tmp}/run`, REXX_OCI_DIR: `${tmp}/oci`, REXX_ZFS_POOL: 'rexxpool' };
const REF = '127.0.0.1:5000/rexx/busybox:1';
const PASS = 's3cr3t-P4ss/with+chars=';

/** zfs does not answer (no pool): image_pull does not unpack. */
const noZfs = (argv: string[]): FakeReply | undefined => (argv[0] === 'zfs' ? { exitCode: 1, stderr: "cannot open 'rexxpool': dataset does not exist" } : undefined);

describe('registry references and credentials (the rules)', () => {
  it('takes a reference apart by the distribution grammar', () => {
    expect(parseRegistryRef('docker://127.0.0.1:5000/rexx/debian:bookworm')).toEqual({ registry: '127.0.0.1:5000', repo: 'rexx/debian', tag: 'bookworm', digest: undefined });
    expect(parseRegistryRef(`registry.example.com/a/b@sha256:${'a'.repeat(64)}`)).toMatchObject({ registry: 'registry.example.com', repo: 'a/b', digest: `sha256:${'a'.repeat(64)}` });
    expect(parseRegistryRef('localhost/x')).toMatchObject({ registry: 'localhost', repo: 'x' });
  });

  it.each([
    ['no registry host (would mean docker.io)', 'library/busybox:1'],
    ['another transport', 'oci:/etc:x'],
    ['docker-archive', 'docker-archive:/etc/passwd'],
    ['an option', '--src-creds=a:b'],
    ['an option after the transport', 'docker://-x/y:1'],
    ['a shell metachar', '127.0.0.1:5000/x:1;touch /tmp/p'],
    ['a command substitution', '127.0.0.1:5000/x$(id):1'],
    ['..', '127.0.0.1:5000/../etc:1'],
    ['a space', '127.0.0.1:5000/a b:1'],
    ['a newline', '127.0.0.1:5000/x:1\n--debug'],
    ['upper case in the path', '127.0.0.1:5000/Rexx/x:1'],
    ['tag and digest', `127.0.0.1:5000/x:1@sha256:${'a'.repeat(64)}`],
    ['a short digest', '127.0.0.1:5000/x@sha256:abc'],
    ['a port above 65535', '127.0.0.1:99999/x:1'],
    ['a tag of 129 characters', `127.0.0.1:5000/x:${'t'.repeat(129)}`],
    ['empty', ''],
  ])('refuses a ref with %s', (_what, v) => {
    expect(registryRef.check(v)).toBeTruthy();
  });

  it.each([
    ['a newline', `u:p\nx`],
    ['no colon', 'userpass'],
    ['an empty user', ':p'],
    ['a very long password', `u:${'p'.repeat(2000)}`],
    ['a space', 'u:p q'],
    ['a leading "-"', '--user:p'],
  ])('refuses creds with %s', (_what, v) => {
    expect(registryCreds.check(v)).toBeTruthy();
  });

  it('a bad creds= never shows the password in ERRORTEXT (fake runner)', async () => {
    const f = fakeRunner(noZfs);
    const r = await createHandler(table, { env, runner: f.runner })(`image_pull ref=${REF} creds='user:${PASS} x'`);
    expect(r.errorCode).toBe(2);
    expect(r.errorMessage).not.toContain(PASS);
    expect(r.errorMessage).toMatch(/creds=\(hidden\)/);
    expect(f.calls).toEqual([]);
  });
});

describe('image_pull (fake runner)', () => {
  it('creds go into a 0600 authfile in a 0700 folder, never into argv, and the folder is removed afterwards (fake runner)', async () => {
    let seen: { file: string; mode: number; dirMode: number; json: unknown } | undefined;
    const f = fakeRunner((argv) => {
      if (argv[0] === 'skopeo' && argv[1] === 'copy') {
        const file = argv[argv.indexOf('--src-authfile') + 1]!;
        seen = { file, mode: fs.statSync(file).mode & 0o777, dirMode: fs.statSync(path.dirname(file)).mode & 0o777, json: JSON.parse(fs.readFileSync(file, 'utf8')) };
        return { exitCode: 1, stderr: 'reading manifest 1 in 127.0.0.1:5000/rexx/busybox: manifest unknown: manifest unknown' };
      }
      return noZfs(argv);
    });
    const r = await createHandler(table, { env, runner: f.runner })(`image_pull ref=${REF} tls_verify=false creds=alice:${PASS}`);
    expect(r.errorCode).toBe(3);
    const copy = f.calls.find((c) => c[1] === 'copy')!;
    expect(copy).toEqual(['skopeo', 'copy', '--quiet', '--src-tls-verify=false', '--src-authfile', seen!.file, `docker://${REF}`, `oci:${tmp}/oci/layout:rexx/busybox:1`]);
    for (const c of f.calls) expect(c.join(' ')).not.toMatch(/s3cr3t|alice/);
    expect(seen!.mode).toBe(0o600);
    expect(seen!.dirMode).toBe(0o700);
    expect(seen!.json).toEqual({ auths: { '127.0.0.1:5000': { auth: Buffer.from(`alice:${PASS}`).toString('base64') } } });
    expect(fs.existsSync(seen!.file)).toBe(false);
    expect(fs.readdirSync(`${tmp}/oci/auth`)).toEqual([]);
  });

  it.each([
    ['an unknown tag', 3, 'Error parsing image name "docker://127.0.0.1:5000/rexx/busybox:nope": reading manifest nope in 127.0.0.1:5000/rexx/busybox: manifest unknown: manifest unknown'],
    ['a registry that is down', 6, 'pinging container registry 127.0.0.1:5999: Get "http://127.0.0.1:5999/v2/": dial tcp 127.0.0.1:5999: connect: connection refused'],
    ['content that does not match the pinned digest', 7, `determining manifest MIME type for docker://127.0.0.1:5000/rexx/p@sha256:${'5'.repeat(64)}: Manifest does not match provided manifest digest sha256:${'5'.repeat(64)}`],
    ['a layer that does not match its digest', 7, 'writing blob: happened during read: Digest did not match, expected sha256:aa, got sha256:bb'],
  ])('%s → RC %i, and a layout the pull made is gone (fake runner)', async (_what, rc, stderr) => {
    const dir = fs.mkdtempSync(path.join(tmp, 'oci-'));
    const f = fakeRunner((argv) => {
      if (argv[1] === 'copy') {
        fs.mkdirSync(`${dir}/layout/blobs`, { recursive: true }); // what skopeo leaves behind
        return { exitCode: 1, stderr: `time="2026-11-30T05:26:16Z" level=fatal msg="${stderr}"` };
      }
      return noZfs(argv);
    });
    const r = await createHandler(table, { env: { ...env, REXX_OCI_DIR: dir }, runner: f.runner })(`image_pull ${REF} tls_verify=false`);
    expect(r.errorCode, r.errorMessage).toBe(rc);
    expect(r.errorMessage).toContain(stderr.slice(-40));
    expect(r.rexxVariables).toMatchObject({ DIGEST: '', IMAGE: '', DATASET: '' });
    expect(fs.readdirSync(dir).filter((e) => e !== 'images.json.lock')).toEqual([]);
  });

  it('a failed pull into an existing layout runs umoci gc, so blobs it left go (fake runner)', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'oci-'));
    fs.mkdirSync(`${dir}/layout`, { recursive: true });
    fs.writeFileSync(`${dir}/layout/index.json`, '{"schemaVersion":2,"manifests":[]}');
    const f = fakeRunner((argv) => (argv[1] === 'copy' ? { exitCode: 1, stderr: 'connect: connection refused' } : noZfs(argv)));
    const r = await createHandler(table, { env: { ...env, REXX_OCI_DIR: dir }, runner: f.runner })(`image_pull ${REF}`);
    expect(r.errorCode).toBe(6);
    expect(f.calls).toContainEqual(['umoci', 'gc', '--layout', `${dir}/layout`]);
    expect(fs.existsSync(`${dir}/layout/index.json`)).toBe(true);
  });

  it('a digest ref gets the local tag sha256-<12 hex>; image_push refuses a digest ref (RC 2, nothing run) (fake runner)', async () => {
    const d = `sha256:${'ab'.repeat(32)}`;
    const f = fakeRunner((argv) => (argv[1] === 'copy' ? { exitCode: 1, stderr: 'manifest unknown' } : noZfs(argv)));
    const h = createHandler(table, { env, runner: f.runner });
    await h(`image_pull 127.0.0.1:5000/rexx/busybox@${d}`);
    expect(f.calls.find((c) => c[1] === 'copy')!.slice(-2)).toEqual([`docker://127.0.0.1:5000/rexx/busybox@${d}`, `oci:${tmp}/oci/layout:rexx/busybox:sha256-${'ab'.repeat(6)}`]);
    const n = f.calls.length;
    const p = await h(`image_push name=busybox ref=127.0.0.1:5000/rexx/busybox@${d}`);
    expect(p.errorCode).toBe(2);
    expect(f.calls.length).toBe(n);
  });
});

describe('image_push and image_inspect (fake runner)', () => {
  it('image_push creds go to --dest-authfile; image_inspect ref= creds to --authfile; neither in argv (fake runner)', async () => {
    const f = fakeRunner((argv) => {
      if (argv[1] === 'inspect' && argv.includes('--raw')) return { stdout: JSON.stringify({ config: { size: 10 }, layers: [{ size: 100 }, { size: 5 }] }) };
      if (argv[1] === 'inspect') return { stdout: JSON.stringify({ Digest: `sha256:${'c'.repeat(64)}`, Layers: ['sha256:1', 'sha256:2'] }) };
      return noZfs(argv);
    });
    const h = createHandler(table, { env, runner: f.runner });
    const i = await h(`image_inspect ref=${REF} tls_verify=false creds=bob:${PASS}`);
    expect(i.errorCode, i.errorMessage).toBe(0);
    expect(i.rexxVariables).toMatchObject({ DIGEST: `sha256:${'c'.repeat(64)}`, LAYERS: { 0: 2, 1: 'sha256:1', 2: 'sha256:2' } });
    expect(Number(i.rexxVariables.SIZE)).toBeGreaterThan(115);
    for (const c of f.calls) {
      expect(c.join(' ')).not.toMatch(/s3cr3t|bob/);
      expect(c).toContain('--authfile');
    }
    const p = await h(`image_push name=busybox ref=${REF} creds=bob:${PASS}`);
    expect(p.errorCode).toBe(3); // not in the local store: nothing pushed
    expect(f.calls.filter((c) => c[1] === 'copy')).toEqual([]);
  });

  it('image_inspect needs exactly one of ref= and name= (RC 2) (fake runner)', async () => {
    const f = fakeRunner();
    const h = createHandler(table, { env, runner: f.runner });
    expect((await h('image_inspect')).errorCode).toBe(2);
    expect((await h(`image_inspect ref=${REF} name=busybox`)).errorCode).toBe(2);
    expect(f.calls).toEqual([]);
  });
});
