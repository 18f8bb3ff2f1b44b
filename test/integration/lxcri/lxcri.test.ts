/**
 * ADDRESS LXCRI against the real tools: runc 1.1, zfs-fuse, umoci, skopeo, criu
 * (scripts/setup-host.sh). A busybox rootfs and an OCI image layout are built locally
 * (no registry). Every container, dataset and temp dir made here is removed in afterAll.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler, type AddressHandler } from '../../../shared/dispatch';
import { table } from '../../../handlers/lxcri';
import { busyboxRootfs as rootfs, deleteAllRunc, destroyNewParents, destroyOurDatasets, existingParents, POOL, requireTools, sh, tinyLayout, tryRun } from '../../helpers/lxcri-env';
import { RUN_ID } from '../../helpers/run-id';

const P = `lxit${RUN_ID}`;

let tmp: string;
let h: AddressHandler;
let digest = '';
/** Parent datasets that existed before this file ran (the ones it created are removed again). */
let hadParent = new Set<string>();
const env = () => ({ ...process.env, REXX_OCI_DIR: `${tmp}/oci`, REXX_OCI_ROOT: `${tmp}/run`, REXX_ZFS_POOL: POOL });

/** A plain bundle made through the handler's own spec verb. */
async function plainBundle(name: string): Promise<string> {
  const b = `${tmp}/${name}`;
  rootfs(`${b}/rootfs`);
  const r = await h(`spec bundle=${b} arg=sleep arg=1000 readonly=false runtime=runc`);
  expect(r.errorCode, r.errorMessage).toBe(0);
  return b;
}

beforeAll(() => {
  requireTools(['runc', 'zfs', 'umoci', 'skopeo', 'busybox']);
  hadParent = existingParents();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-lxcri-it-'));
  h = createHandler(table, { env: env() });
  // An OCI image layout from busybox, and the same image as a docker-archive tar.
  tinyLayout(tmp);
  sh('skopeo', ['copy', '--quiet', `oci:${tmp}/layout:tiny`, `docker-archive:${tmp}/tiny.tar:tiny:2`]);
});

afterAll(() => {
  if (!tmp) return;
  deleteAllRunc(`${tmp}/run/runc`);
  tryRun('unshare', ['-m', '--propagation', 'private', '--', 'sh', '-c', 'umount /sys/fs/cgroup/unified 2>/dev/null; exec crun "$@"', 'crun', '--root', `${tmp}/run/crun`, 'delete', '-f', `${P}-crun`]);
  destroyOurDatasets((d) => d.startsWith(`${POOL}/containers/${P}`) || (digest !== '' && d === `${POOL}/images/${digest.slice(7, 23)}`));
  destroyNewParents(hadParent);
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('ADDRESS LXCRI on runc', () => {
  it('status picks runc on this host (crun needs its namespace wrapper here)', async () => {
    const r = await h('status');
    expect(r.errorCode, r.errorMessage).toBe(0);
    expect(r.rexxVariables.RUNTIME).toBe('runc');
    // Where the containers live, said plainly: a cleanup with plain `runc list` misses them.
    expect(r.rexxVariables.ROOT).toBe(`${tmp}/run/runc`);
    expect(r.rexxVariables.LIST_COMMAND).toBe(`runc --root ${tmp}/run/runc list`);
    expect(r.output).toContain(`root ${tmp}/run/runc (this handler's containers live here: plain \`runc list\` does not show them; runc --root ${tmp}/run/runc list does)`);
  });

  it('full lifecycle: spec, create, start, state, list, exec, pause, resume, kill, delete', async () => {
    const b = await plainBundle(`${P}-b1`);
    const id = `${P}-life`;
    expect((await h(`create name=${id} bundle=${b} runtime=runc`)).output).toBe('created');
    expect((await h(`create name=${id} bundle=${b} runtime=runc`)).errorCode).toBe(4);
    const st = await h(`start ${id} runtime=runc`);
    expect(st.output, st.errorMessage).toBe('running');
    const s = await h(`state ${id} runtime=runc`);
    expect(s.rexxVariables).toMatchObject({ STATUS: 'running', BUNDLE: b });
    expect(Number(s.rexxVariables.PID)).toBeGreaterThan(0);
    const l = await h(`list filter=${P} runtime=runc`);
    expect(Object.values(l.rexxVariables.CONTAINERS as object)).toContain(id);
    const e = await h(`exec ${id} "echo out; echo err >&2; exit 3" runtime=runc`);
    expect(e.errorCode).toBe(3);
    expect(e.output).toBe('out');
    expect(e.rexxVariables.STDERR).toBe('err');
    expect((await h(`pause ${id} runtime=runc`)).output).toBe('paused');
    expect((await h(`delete ${id} runtime=runc`)).errorCode).toBe(7);
    expect((await h(`resume ${id} runtime=runc`)).output).toBe('running');
    expect((await h(`kill ${id} KILL wait=true runtime=runc`)).errorCode).toBe(0);
    expect((await h(`state ${id} runtime=runc`)).output).toBe('stopped');
    expect((await h(`delete ${id} runtime=runc`)).errorCode).toBe(0);
    expect((await h(`state ${id} runtime=runc`)).errorCode).toBe(3);
  });

  it('runtime=crun runs inside its private mount namespace (hybrid cgroups here)', async () => {
    const b = await plainBundle(`${P}-bcr`);
    const id = `${P}-crun`;
    const r = await h(`run ${id} ${b} runtime=crun`);
    expect(r.errorCode, r.errorMessage).toBe(0);
    expect(r.rexxVariables.RUNTIME).toBe('crun');
    const s = await h(`state ${id} runtime=crun`);
    expect(s.rexxVariables).toMatchObject({ STATUS: 'running', ROOTFS: `${b}/rootfs` });
    expect((await h(`exec ${id} "echo hi" runtime=crun`)).output).toBe('hi');
    expect((await h(`delete ${id} force=true runtime=crun`)).errorCode).toBe(0);
  });

  it('hostile ids and paths are RC 2 and nothing runs', async () => {
    for (const cmd of ['state name=../x', 'run name=a bundle=relative/b', 'run name="a;touch /tmp/x" bundle=/tmp', 'checkpoint name=--all', 'bundle_from_image image=x bundle=/a/../b']) {
      expect((await h(cmd)).errorCode, cmd).toBe(2);
    }
  });
});

describe('rootfs on ZFS: checkpoint and restore', () => {
  const id = `${P}-z`;
  it('run zfs=true moves the rootfs onto <pool>/containers/<id>', async () => {
    const b = await plainBundle(`${P}-bz`);
    const r = await h(`run name=${id} bundle=${b} zfs=true runtime=runc`);
    expect(r.errorCode, r.errorMessage).toBe(0);
    expect(r.rexxVariables.DATASET).toBe(`${POOL}/containers/${id}`);
    expect(sh('zfs', ['get', '-H', '-o', 'value', 'mountpoint', `${POOL}/containers/${id}`]).trim()).toBe(`${b}/rootfs`);
  });

  it('checkpoint → change a file → restore: the change is gone and the container runs again', async () => {
    const c = await h(`checkpoint ${id} runtime=runc`);
    expect(c.errorCode, c.errorMessage).toBe(0);
    expect(c.output).toMatch(/^checkpoint-\d+(-\d+)?$/);
    expect(c.rexxVariables.KIND).toBe('zfs');
    expect((await h(`state ${id} runtime=runc`)).output).toBe('running');
    expect(sh('zfs', ['get', '-H', '-o', 'value', 'org.rexxjs:checkpoint-kind', `${POOL}/containers/${id}@${c.output}`]).trim()).toBe('zfs');
    expect((await h(`exec ${id} "echo changed > /etc/marker" runtime=runc`)).errorCode).toBe(0);
    expect((await h(`exec ${id} "cat /etc/marker" runtime=runc`)).output).toBe('changed');
    const r = await h(`restore ${id} runtime=runc`);
    expect(r.errorCode, r.errorMessage).toBe(0);
    expect(r.rexxVariables.STATUS).toBe('running');
    expect((await h(`exec ${id} "cat /etc/marker" runtime=runc`)).output).toBe('original');
  });

  it('runc: the checkpoint freezes through the cgroup freezer runc recorded (no runc pause/resume process), thawed after; one paused before stays paused', async () => {
    const trace: string[] = [];
    const traced = createHandler(table, { env: { ...env(), REXX_ADDRESS_TRACE: '1' }, traceSink: (l) => trace.push(l) });
    const c = await traced(`checkpoint ${id} runtime=runc`);
    expect(c.errorCode, c.errorMessage).toBe(0);
    expect(c.rexxVariables.STATUS).toBe('running');
    expect(trace.filter((l) => / runc .* (pause|resume) /.test(`${l} `))).toEqual([]);
    expect(trace.filter((l) => / zfs snapshot /.test(l)).length).toBe(1);
    const freezer = (JSON.parse(fs.readFileSync(`${tmp}/run/runc/${id}/state.json`, 'utf8')) as { cgroup_paths: Record<string, string> }).cgroup_paths;
    if (freezer.freezer) expect(fs.readFileSync(`${freezer.freezer}/freezer.state`, 'utf8').trim()).toBe('THAWED');
    expect((await h(`state ${id} runtime=runc`)).output).toBe('running');
    // the same checkpoint in the state catalog format QEMU's list_states uses
    const ls = await h(`list_states ${id} runtime=runc`);
    expect(ls.errorCode, ls.errorMessage).toBe(0);
    const ids = Object.values(ls.rexxVariables.IDS as object).slice(1);
    const at = ids.indexOf(c.output);
    expect(at).toBeGreaterThanOrEqual(0);
    expect([ (ls.rexxVariables.STATES as Record<number, string>)[at + 1], (ls.rexxVariables.KINDS as Record<number, string>)[at + 1]]).toEqual(['Ready', 'zfs']);
    // paused by the script before: the checkpoint leaves it paused
    expect((await h(`pause ${id} runtime=runc`)).errorCode).toBe(0);
    const p = await h(`checkpoint ${id} runtime=runc`);
    expect(p.errorCode, p.errorMessage).toBe(0);
    expect(p.rexxVariables.STATUS).toBe('paused');
    expect((await h(`state ${id} runtime=runc`)).output).toBe('paused');
    expect((await h(`resume ${id} runtime=runc`)).errorCode).toBe(0);
    expect((await h(`state ${id} runtime=runc`)).output).toBe('running');
    for (const n of [c.output, p.output]) sh('zfs', ['destroy', `${POOL}/containers/${id}@${n}`]); // (the next test counts the checkpoints)
  });

  it('two checkpoints in one second get unique names; older restore needs discard_newer', async () => {
    const a = (await h(`checkpoint ${id} runtime=runc`)).output;
    const b = (await h(`checkpoint ${id} runtime=runc`)).output;
    expect(a).not.toBe(b);
    const l = await h(`list_checkpoints ${id} runtime=runc`);
    const names = Object.values(l.rexxVariables.CHECKPOINTS as object).slice(1);
    expect(names.slice(-2)).toEqual([a, b]);
    expect(Object.values(l.rexxVariables.KINDS as object).slice(1).every((k) => k === 'zfs')).toBe(true);
    const first = names[0] as string;
    const refused = await h(`restore ${id} snapshot=${first} runtime=runc`);
    expect(refused.errorCode).toBe(7);
    expect(refused.errorMessage).toMatch(/discard_newer/);
    expect((await h(`state ${id} runtime=runc`)).output).toBe('running');
    const ok = await h(`restore ${id} snapshot=${first} discard_newer=true runtime=runc`);
    expect(ok.errorCode, ok.errorMessage).toBe(0);
    expect(ok.output.split('\n')).toEqual([first, `${POOL}/containers/${id}@${a}`, `${POOL}/containers/${id}@${b}`]);
    expect((await h(`state ${id} runtime=runc`)).output).toBe('running');
    await h(`checkpoint ${id} runtime=runc`);
    const pr = await h(`prune ${id} keep=1 runtime=runc`);
    expect(pr.rexxVariables.PRUNED).toEqual({ 0: 1, 1: first });
    expect((await h(`delete ${id} force=true purge=true runtime=runc`)).rexxVariables.PURGED).toBe(`${POOL}/containers/${id}`);
  });
});

describe('CRIU fallback (rootfs not on ZFS)', () => {
  it('runc checkpoint through CRIU: on this kernel RC 6 with criu check\'s own error line, container still running (more in criu.test.ts)', async () => {
    const b = await plainBundle(`${P}-bc`);
    const id = `${P}-criu`;
    expect((await h(`run ${id} ${b} runtime=runc`)).errorCode).toBe(0);
    const c = await h(`checkpoint ${id} runtime=runc`);
    if (c.errorCode === 0) {
      expect(c.rexxVariables.KIND).toBe('criu'); // a host with a working CRIU
    } else {
      expect(c.errorCode).toBe(6);
      expect(c.errorMessage).toMatch(/criu check failed: Error \(criu\/\S+\): /);
      expect(c.rexxVariables.STATUS).toBe('running');
      expect((await h(`state ${id} runtime=runc`)).output).toBe('running');
      expect((await h(`list_checkpoints ${id} runtime=runc`)).rexxVariables.CHECKPOINTS).toEqual({ 0: 0 });
    }
    expect((await h(`delete ${id} force=true runtime=runc`)).errorCode).toBe(0);
  });
});

describe('OCI images and bases', () => {
  it('image_import (layout and docker-archive), image_list from the index', async () => {
    const a = await h(`image_import source=${tmp}/layout name=${P}/tiny:1 source_ref=tiny`);
    expect(a.errorCode, a.errorMessage).toBe(0);
    digest = a.rexxVariables.DIGEST as string;
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect((await h(`image_import source=${tmp}/layout name=${P}/tiny:1`)).errorCode).toBe(4);
    expect((await h(`image_import source=${tmp}/tiny.tar name=${P}/dock`)).errorCode).toBe(0);
    const l = await h(`image_list filter=${P}`);
    expect(l.rexxVariables.IMAGES).toEqual({ 0: 2, 1: `${P}/dock:latest`, 2: `${P}/tiny:1` });
    expect(l.rexxVariables.LAYERS).toEqual({ 0: 2, 1: 1, 2: 1 });
    expect(Number((l.rexxVariables.SIZES as Record<number, number>)[2])).toBeGreaterThan(500_000);
  });

  it('bundle_from_image → run: the bundles are ZFS clones of the image unpacked once', async () => {
    const b1 = await h(`bundle_from_image image=${P}/tiny:1 bundle=${tmp}/${P}-i1`);
    expect(b1.errorCode, b1.errorMessage).toBe(0);
    expect(b1.rexxVariables).toMatchObject({ CLONED: 1, DATASET: `${POOL}/containers/${P}-i1` });
    const b2 = await h(`bundle_from_image image=${P}/tiny:1 bundle=${tmp}/${P}-i2 arg=sleep arg=500`);
    expect(b2.errorCode, b2.errorMessage).toBe(0);
    const origin = sh('zfs', ['get', '-H', '-o', 'value', 'origin', `${POOL}/containers/${P}-i2`]).trim();
    expect(origin).toBe(`${POOL}/images/${digest.slice(7, 23)}@rexx-base`);
    const r = await h(`run ${P}-i2 ${tmp}/${P}-i2 runtime=runc`);
    expect(r.errorCode, r.errorMessage).toBe(0);
    expect((await h(`exec ${P}-i2 "cat /etc/marker" runtime=runc`)).output).toBe('original');
    const plain = await h(`bundle_from_image image=${P}/dock bundle=${tmp}/${P}-plain zfs=false`);
    expect(plain.rexxVariables.CLONED).toBe(0);
    expect(fs.existsSync(`${tmp}/${P}-plain/rootfs/bin/busybox`)).toBe(true);
  });

  it('register_base / clone_from_base count=2 start=true / list_bases / unregister_base', async () => {
    const rb = await h(`register_base name=${P}-base bundle=${tmp}/${P}-plain`);
    expect(rb.errorCode, rb.errorMessage).toBe(0);
    // A clone is never mounted over a directory that has files.
    fs.mkdirSync(`${tmp}/clones/${P}-busy`, { recursive: true });
    fs.writeFileSync(`${tmp}/clones/${P}-busy/keep`, 'host file\n');
    const busy = await h(`clone_from_base base=${P}-base name=${P}-busy bundle_dir=${tmp}/clones`);
    expect(busy.errorCode, busy.errorMessage).toBe(4);
    expect(fs.readFileSync(`${tmp}/clones/${P}-busy/keep`, 'utf8')).toBe('host file\n');
    const c = await h(`clone_from_base base=${P}-base name=${P}-cl count=2 start=true bundle_dir=${tmp}/clones runtime=runc`);
    expect(c.errorCode, c.errorMessage).toBe(0);
    expect(c.rexxVariables.CLONES).toEqual({ 0: 2, 1: `${P}-cl-1`, 2: `${P}-cl-2` });
    expect((await h(`state ${P}-cl-2 runtime=runc`)).output).toBe('running');
    const lb = await h('list_bases');
    expect(Object.values(lb.rexxVariables.BASES as object)).toContain(`${P}-base`);
    expect((await h(`unregister_base ${P}-base`)).errorCode).toBe(0);
    expect(Object.values((await h('list_bases')).rexxVariables.BASES as object)).not.toContain(`${P}-base`);
  });

  it('image_delete keeps the image dataset while bundles are clones of it', async () => {
    const d = await h(`image_delete ${P}/tiny:1`);
    expect(d.errorCode, d.errorMessage).toBe(0);
    expect(d.rexxVariables.KEPT_DATASET).toBe(`${POOL}/images/${digest.slice(7, 23)}`);
    expect((await h(`image_list filter=${P}`)).rexxVariables.IMAGES).toEqual({ 0: 1, 1: `${P}/dock:latest` });
    expect((await h(`image_delete ${P}/dock`)).errorCode).toBe(0);
  });
});
