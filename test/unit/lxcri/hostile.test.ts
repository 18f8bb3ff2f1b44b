/**
 * Hostile values in every name-like parameter (every string/list param with a `rule`)
 * of every LXCRI verb → RC 2, with fake runtime/zfs/skopeo/umoci binaries on PATH
 * proving nothing ran and CANARY proving no shell evaluated anything
 * (test/helpers/hostile-suite.ts). Here: LXCRI's valid values, the values it accepts
 * on purpose, its coverage check and a control call.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createHandler } from '../../../shared/dispatch';
import { table } from '../../../handlers/lxcri';
import { fakeRunner } from '../../helpers/fake-runner';
import { CANARY } from '../../helpers/hostile';
import { hostileSuite } from '../../helpers/hostile-suite';

const VALID: Record<string, string> = { name: 'c1', bundle: '/tmp/rexx-lxcri-unit-bundle', base: 'b1', image: 'busybox', source: '/tmp/rexx-lxcri-src', ref: '127.0.0.1:5000/rexx/x:1' };
const EXTRA: Record<string, Record<string, string>> = { exec: { command: 'true' }, prune: { keep: '1' } };

/** Values a rule accepts on purpose (an absolute host path; an env entry with commas): never a shell, one argv element. */
const LEGIT: Record<string, (v: string) => boolean> = {
  'absolute host path': (v) => v === '/etc/passwd',
  'image source path': (v) => v === '/etc/passwd',
  'path inside the instance': (v) => v === '/etc/passwd',
  'environment entry': (v) => v === 'file=/etc/passwd,if=none',
};

const TOOLS = ['runc', 'crun', 'lxcri', 'proxmox-lxcri', 'zfs', 'zpool', 'skopeo', 'umoci', 'criu', 'unshare', 'cp', 'sh'];
const suite = hostileSuite({
  table,
  tools: TOOLS,
  env: (fake) => ({ REXX_OCI_DIR: `${fake.dir}/oci`, REXX_OCI_ROOT: `${fake.dir}/run` }),
  valid: VALID,
  extra: (c) => EXTRA[c.verb],
  legit: LEGIT,
});

describe('the name-like parameters of the LXCRI table', () => {
  it('are derived from the table and cover ids and paths', () => {
    expect(suite.cases.length).toBeGreaterThan(40);
    for (const k of ['name', 'bundle', 'base', 'snapshot', 'image', 'source', 'pool']) expect(suite.cases.some((c) => c.key === k), k).toBe(true);
    // spec's and update's parameters (issue 10): bind mounts, the user, capabilities, limits
    for (const k of ['mount', 'user', 'cap_add', 'cap_drop', 'memory', 'cpus']) expect(suite.cases.some((c) => c.verb === 'spec' && c.key === k), `spec ${k}`).toBe(true);
    for (const k of ['memory', 'cpus']) expect(suite.cases.some((c) => c.verb === 'update' && c.key === k), `update ${k}`).toBe(true);
    // checkpoint/restore's files and dataset (issue 10): export=, import=, dataset=
    for (const [v, k] of [['checkpoint', 'export'], ['restore', 'import'], ['restore', 'dataset']]) expect(suite.cases.some((c) => c.verb === v && c.key === k), `${v} ${k}`).toBe(true);
    // the registry verbs (issue 10): refs, creds and local names
    for (const v of ['image_pull', 'image_push']) for (const k of ['ref', 'name', 'creds']) expect(suite.cases.some((c) => c.verb === v && c.key === k), `${v} ${k}`).toBe(true);
    for (const k of ['ref', 'name', 'creds']) expect(suite.cases.some((c) => c.verb === 'image_inspect' && c.key === k), `image_inspect ${k}`).toBe(true);
  });
});

/** Values aimed at a registry reference and at credentials: each RC 2 with nothing run. */
const HOSTILE_REFS = [
  '127.0.0.1:5000/x:1;touch /tmp/rexx-p',
  '127.0.0.1:5000/x:1 --src-creds=a:b',
  '--src-creds=a:b',
  '--authfile=/etc/shadow',
  'docker://--debug/x:1',
  'docker://127.0.0.1:5000/../../etc:1',
  '127.0.0.1:5000/a/../b:1',
  '127.0.0.1:5000/a b:1',
  '127.0.0.1:5000/x:1\n--debug',
  'oci:/etc:x',
  'docker-archive:/etc/passwd',
  'containers-storage:x',
  'dir:/etc',
  'docker-daemon:x:1',
  'library/busybox',
  `127.0.0.1:5000/x:1@sha256:${'a'.repeat(64)}`,
];
const HOSTILE_CREDS = ['u:p\nx', 'u:p\rx', 'userpass', ':p', 'u:p q', `u:${'p'.repeat(2000)}`, `${'u'.repeat(300)}:p`, '-u:p', 'u:p\0'];

describe('registry refs and creds (fake binaries)', () => {
  for (const verb of ['image_pull', 'image_push', 'image_inspect']) {
    it.each(HOSTILE_REFS)(`${verb} ref=%j: RC 2, nothing ran`, async (v) => {
      const before = suite.fake.calls().length;
      const r = await suite.h(verb, { ref: v, ...(verb === 'image_push' ? { name: 'busybox' } : {}) });
      expect(r.errorCode, r.errorMessage).toBe(2);
      expect(suite.fake.calls().length).toBe(before);
    });
    it.each(HOSTILE_CREDS)(`${verb} creds=%j: RC 2, nothing ran, the value not in ERRORTEXT`, async (v) => {
      const before = suite.fake.calls().length;
      const r = await suite.h(verb, { ref: '127.0.0.1:5000/rexx/x:1', creds: v, ...(verb === 'image_push' ? { name: 'busybox' } : {}) });
      expect(r.errorCode, r.errorMessage).toBe(2);
      expect(r.errorMessage).not.toContain(v);
      expect(suite.fake.calls().length).toBe(before);
    });
  }
});

describe('control (fake binary)', () => {
  it('a valid call does reach the fake runtime', async () => {
    const before = suite.fake.calls().length;
    await suite.h('kill name=c1 runtime=runc');
    expect(suite.fake.calls().slice(before)).toContainEqual(['runc', '--root', `${suite.fake.dir}/run/runc`, 'kill', 'c1', 'TERM']);
  });
});

describe('export= and import= paths (fake runner)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-lxcri-paths-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(`${dir}/existing.tar`, 'keep me');
  fs.symlinkSync(`${dir}/existing.tar`, `${dir}/link.tar`);
  fs.symlinkSync('/etc', `${dir}/etc-link`);
  fs.mkdirSync(`${dir}/folder`);
  const state = JSON.stringify({ id: 'c1', pid: 42, status: 'running', bundle: `${dir}/b` });
  const make = () => {
    const f = fakeRunner((argv) => (argv.at(-1) === 'c1' && argv.includes('state') ? { stdout: state } : argv.includes('state') ? { exitCode: 1, stderr: 'container does not exist' } : argv[0] === 'zfs' ? { exitCode: 1, stderr: 'dataset does not exist' } : undefined));
    return { f, h: createHandler(table, { env: { PATH: '/nonexistent', REXX_OCI_DIR: `${dir}/oci`, REXX_OCI_ROOT: `${dir}/run` }, runner: f.runner }) };
  };
  /** Calls that change something (reads such as state, zfs list, criu check and tar -xO may run). */
  const writes = (calls: string[][]) => calls.filter((c) => c.includes('checkpoint') || c.includes('pause') || c.includes('restore') || c.includes('delete') || (c[0] === 'tar' && !c.includes('--to-stdout')));

  it.each([
    ['a ".." segment', `${dir}/../x.tar`, 2],
    ['a relative path', 'moves/x.tar', 2],
    ['shell metacharacters (not absolute)', `x.tar;touch ${CANARY}`, 2],
    ['a command substitution', `$(touch ${CANARY})`, 2],
    ['a newline', `${dir}/x.tar\ntouch ${CANARY}`, 2],
    ['an option', '--to-command=sh', 2],
    ['an existing file (no force=true)', `${dir}/existing.tar`, 4],
    ['a symlink', `${dir}/link.tar`, 7],
    ['a folder', `${dir}/folder`, 2],
    ['a path through a symlinked folder whose file exists', `${dir}/etc-link/passwd`, 4],
    ['a folder that does not exist', `${dir}/nope/x.tar`, 3],
  ])('checkpoint export= %s (%j) → RC %i, nothing checkpointed, nothing written', async (_l, value, rc) => {
    const { f, h } = make();
    const r = await h('checkpoint', { name: 'c1', backend: 'criu', export: value, leave_running: 'false', runtime: 'runc' });
    expect(r.errorCode, r.errorMessage).toBe(rc);
    expect(writes(f.calls)).toEqual([]);
    expect(fs.readFileSync(`${dir}/existing.tar`, 'utf8')).toBe('keep me');
    expect(fs.existsSync(CANARY)).toBe(false);
  });

  it('checkpoint export= of a symlink with force=true is still RC 7 (the link is never replaced nor written through)', async () => {
    const { f, h } = make();
    expect((await h('checkpoint', { name: 'c1', backend: 'criu', export: `${dir}/link.tar`, force: 'true', runtime: 'runc' })).errorCode).toBe(7);
    expect(writes(f.calls)).toEqual([]);
    expect(fs.lstatSync(`${dir}/link.tar`).isSymbolicLink()).toBe(true);
  });

  it.each([
    ['a ".." segment', `${dir}/../x.tar`, 2],
    ['a relative path', 'moves/x.tar', 2],
    ['shell metacharacters (not absolute)', `x.tar;touch ${CANARY}`, 2],
    ['a newline', `${dir}/x.tar\ntouch ${CANARY}`, 2],
    ['a symlink', `${dir}/link.tar`, 7],
    ['a folder', `${dir}/folder`, 7],
    ['a file that does not exist', `${dir}/nope.tar`, 3],
    ['a file in a folder that does not exist', `${dir}/nope/x.tar`, 3],
    ['an existing file that is not an export', `${dir}/existing.tar`, 2],
  ])('restore import= %s (%j) → RC %i, nothing unpacked or restored', async (_l, value, rc) => {
    const { f, h } = make();
    const r = await h('restore', { name: 'c2', import: value, bundle: `${dir}/nb`, runtime: 'runc' });
    expect(r.errorCode, r.errorMessage).toBe(rc);
    expect(writes(f.calls)).toEqual([]);
    expect(fs.existsSync(`${dir}/nb`)).toBe(false);
    expect(fs.existsSync(CANARY)).toBe(false);
  });
});
