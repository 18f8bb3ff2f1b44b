/**
 * dryrun=true changes nothing, for every verb of every handler (issue 14 §1): the verbs
 * come from the tables, never from a list here, so a new verb is covered the day it
 * lands. Each handler gets real fixtures (an instance, a dataset with a snapshot, a
 * registered base, a disk, a VM definition, a running container ...); every verb is
 * called with dryrun=true in several shapes — its own examples, and its required keys
 * (then required + known optional keys) filled with every fixture value for that key,
 * existing or new — and what the backend and the state folders hold is compared before
 * and after: LXD instances, snapshots, config, images, volumes; ZFS datasets, snapshots,
 * user properties, holds, pools; the QEMU and LXCRI state folders, runc containers,
 * qemu processes, and every file in the test's temporary folder.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TABLES } from '../../handlers';
import { createHandler, type AddressHandler } from '../../shared/dispatch';
import { argvLine } from '../../shared/parse';
import type { AnyVerb } from '../../shared/verb';
import { busyboxContainer, deleteAllRunc, destroyOurDatasets, removeBusyboxContainer, tinyLayout } from '../helpers/lxcri-env';
import { RUN_ID } from '../helpers/run-id';

const TAG = `dry${RUN_ID}`;
const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const trySh = (cmd: string, args: string[]) => {
  try {
    return sh(cmd, args);
  } catch {
    return '';
  }
};
/** The lines of `text` that name something of one part (its tag). */
const mine = (text: string, tag = TAG) => text.split('\n').filter((l) => l.includes(tag)).sort().join('\n');

/**
 * Every file and folder under `dir`: path, type, mode, size, mtime, and a hash of each
 * file's content — except a running guest's console log (serial.log), which the guest writes.
 */
function tree(dir: string): string {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(d, e.name);
      if (e.name === 'serial.log') continue;
      const st = fs.lstatSync(p);
      let sum = '';
      if (e.isFile() && st.size < 64 * 2 ** 20) sum = createHash('sha1').update(fs.readFileSync(p)).digest('hex');
      if (e.isSymbolicLink()) sum = fs.readlinkSync(p);
      out.push(`${path.relative(dir, p)} ${e.isDirectory() ? 'd' : e.isFile() ? 'f' : 'o'} ${st.mode.toString(8)} ${e.isDirectory() ? '' : st.size} ${e.isDirectory() ? '' : st.mtimeMs} ${sum}`);
      if (e.isDirectory()) walk(p);
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return out.join('\n');
}

/**
 * The commands to try for one verb: its examples, then its required keys filled from
 * `values` in every combination, alone, with each known optional key, and with all of them.
 */
function commandsFor(verb: AnyVerb, values: Record<string, string[]>): string[] {
  const keys = Object.entries(verb.params);
  const required = keys.filter(([, s]) => s.required).map(([k]) => k);
  const optional = keys.filter(([k, s]) => !s.required && values[k]).map(([k]) => k);
  const cmds = new Set<string>((verb.examples ?? []).map((e) => e));
  for (const set of [required, ...optional.map((k) => [...required, k]), [...required, ...optional]]) {
    if (set.some((k) => !values[k])) continue;
    let combos: string[][] = [[]];
    for (const k of set) combos = combos.flatMap((c) => values[k]!.map((v) => [...c, `${k}=${v}`]));
    for (const c of combos) cmds.add(argvLine([verb.name, ...c]));
  }
  return [...cmds].map((c) => `${c} dryrun=true`);
}

/** Call every verb of `target` with dryrun=true in every shape; RC of each, by verb. */
async function dryrunAll(target: string, h: AddressHandler, values: Record<string, string[]>) {
  const rcs: Record<string, number[]> = {};
  for (const verb of TABLES[target]!.verbs) {
    for (const cmd of commandsFor(verb, values)) {
      const r = await h(cmd);
      (rcs[verb.name] ??= []).push(r.errorCode);
    }
  }
  return rcs;
}

/** Verbs none of whose shapes got as far as RC 0, for the log (fixtures can't reach every path). */
const neverOk = (rcs: Record<string, number[]>) => Object.entries(rcs).filter(([, v]) => !v.includes(0)).map(([k, v]) => `${k}(${[...new Set(v)].join('/')})`);

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), `rexx-${TAG}-`));
});
afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});
/** One part's own folder under the test's temporary folder. */
const partDir = (part: string) => {
  const d = path.join(tmp, part);
  fs.mkdirSync(d, { recursive: true });
  return d;
};

// The four parts run at once (their backends are independent; much of each is waiting on
// a daemon or a guest agent's timeout): each has its own folder and its own tag in names.
describe.concurrent('dryrun=true changes nothing: every verb of every handler, from the tables', () => {
  it('LXD: instances, snapshots, config, images, volumes and files unchanged', async ({ expect }) => {
    const h = createHandler(TABLES.lxd!);
    const dir = partDir('lxd');
    const A = `${TAG}-a`, B = `${TAG}-b`, NEW = `${TAG}-new`;
    const must = async (c: string) => {
      const r = await h(c);
      if (!r.success) throw new Error(`${c}: RC ${r.errorCode} ${r.errorMessage}`);
    };
    try {
      await must(`create name=${A} image=tiny`);
      await must(`snapshot name=${A} snapshot=s1`);
      await must(`create name=${B} image=tiny`);
      await must(`register_base name=${B}`);
      fs.writeFileSync(`${dir}/push.txt`, 'x\n');
      const world = () =>
        [
          mine(trySh('lxc', ['list', '-f', 'csv', '-c', 'ns'])),
          // Disk usage and snapshot sizes are btrfs's quota accounting, which settles by itself a few
          // seconds after a create or snapshot (measured: usage 81920 → 106496 bytes with nothing run).
          ...[A, B].map((n) => trySh('lxc', ['query', `/1.0/instances/${n}?recursion=1`]).replace(/"(last_used_at|state)":[^,}]*[,]?/g, '').replace(/"usage": \d+/g, '')),
          ...[A, B].map((n) => trySh('lxc', ['query', `/1.0/instances/${n}/snapshots?recursion=1`]).replace(/"size": \d+/g, '')),
          mine(trySh('lxc', ['image', 'alias', 'list', '-f', 'csv'])),
          mine(trySh('lxc', ['storage', 'volume', 'list', 'default', '-f', 'csv'])),
          mine(trySh('lxc', ['storage', 'volume', 'list', 'rexxbt', '-f', 'csv'])),
          mine(trySh('lxc', ['profile', 'list', '-f', 'csv'])),
          mine(trySh('lxc', ['network', 'list', '-f', 'csv'])),
          mine(trySh('lxc', ['project', 'list', '-f', 'csv'])),
          tree(dir),
        ].join('\n---\n');
      const before = world();
      const rcs = await dryrunAll('lxd', h, {
        name: [A, B, NEW], base: [B], image: ['tiny'], snapshot: ['s1', 'snew'], source: [A], destination: [NEW, `${dir}/pulled`],
        path: ['/etc/hostname'], command: ['touch /tmp/x'], count: ['2'], content: ['hello'],
        // copy and move to another remote (under dryrun nothing reaches it, so it need not exist)
        to_remote: ['rexx-cluster'],
        // profiles, networks, volumes (ipv4 is a private /24; the network name is ≤ 15 characters)
        pool: ['rexxbt'], volume: [`${TAG}-v`], ipv4: ['10.249.250.1/24'], config: ['user.a=1'], project: ['default'],
      });
      console.log(`lxd dryrun: ${Object.values(rcs).flat().length} calls; never RC 0: ${neverOk(rcs).join(' ') || 'none'}`);
      expect(world()).toEqual(before);
      expect(Object.keys(rcs).sort()).toEqual(TABLES.lxd!.verbs.map((v) => v.name).sort());
    } finally {
      await h(`unregister_base name=${B}`);
      for (const n of [A, B, NEW, `${NEW}-1`, `${NEW}-2`]) trySh('lxc', ['delete', '--force', n]);
    }
  });

  it('ZFS: datasets, snapshots, user properties, holds, pools and files unchanged', async ({ expect }) => {
    const pool = process.env.REXX_ZFS_POOL || 'rexxpool';
    const dir = partDir('zfs');
    const T = `${TAG}z`;
    const h = createHandler(TABLES.zfs!, { env: { ...process.env, REXX_ZFS_POOL: pool } });
    const D = `${pool}/${T}-d`, E = `${pool}/${T}-e`, B = `${pool}/${T}-b`, NEW = `${pool}/${T}-new`, P = `${T}p`;
    const must = async (c: string) => {
      const r = await h(c);
      if (!r.success) throw new Error(`${c}: RC ${r.errorCode} ${r.errorMessage}`);
    };
    try {
      await must(`create name=${D}`);
      fs.writeFileSync(`${sh('zfs', ['get', '-H', '-o', 'value', 'mountpoint', D]).trim()}/f`, 'data\n');
      await must(`snapshot name=${D} snapshot=s1`);
      await must(`hold name=${D} snapshot=s1 tag=keep`);
      await must(`create name=${E}`);
      await must(`snapshot name=${E} snapshot=s1`);
      // A retention policy, so policy_get/remove, autosnap and autoprune have work to plan.
      await must(`policy_set name=${E} hourly=1 daily=0`);
      await must(`snapshot name=${E} snapshot=autosnap_2026-01-01_00:00:00_hourly`);
      await must(`snapshot name=${E} snapshot=autosnap_2026-01-01_01:00:00_hourly`);
      await must(`create name=${B}`);
      await must(`register_base name=${B}`);
      await must(`send name=${D} snapshot=s1 file=${dir}/stream`);
      await must(`pool_create pool=${P} vdev=${dir}/p.img size=64M`);
      const world = () =>
        [
          mine(trySh('zfs', ['list', '-H', '-p', '-t', 'all', '-o', 'name,type,origin,mountpoint,mounted,canmount,readonly']), T),
          mine(trySh('zfs', ['get', '-H', '-o', 'name,property,value,source', '-s', 'local', 'all']), T),
          trySh('zfs', ['holds', '-H', `${D}@s1`]),
          trySh('zpool', ['list', '-H', '-o', 'name']).split('\n').sort().join('\n'),
          tree(dir),
        ].join('\n---\n');
      const before = world();
      const rcs = await dryrunAll('zfs', h, {
        name: [D, E, B, NEW], pool: [pool, P, `${T}q`], vdev: [`${dir}/vdev.img`], size: ['64M'], snapshot: ['s1', 'snew'],
        to: [`${NEW}2`], target: [`${NEW}2`], base: [B], file: [`${dir}/stream`, `${dir}/out.stream`], tag: ['keep'],
        keep: ['0'], count: ['2'], force: ['true'], recursive: ['true'], property: ['compression', 'atime=off'],
      });
      console.log(`zfs dryrun: ${Object.values(rcs).flat().length} calls; never RC 0: ${neverOk(rcs).join(' ') || 'none'}`);
      expect(world()).toEqual(before);
      expect(Object.keys(rcs).sort()).toEqual(TABLES.zfs!.verbs.map((v) => v.name).sort());
    } finally {
      await h(`release name=${D} snapshot=s1 tag=keep`);
      await h(`unregister_base name=${B}`);
      // Through the handler: zfs-fuse may call a dataset busy right after use, and destroy retries that.
      for (const d of [D, E, B]) {
        const r = await h(`destroy name=${d} recursive=true force=true`);
        if (r.errorCode && r.errorCode !== 3) throw new Error(`cleanup: destroy ${d}: RC ${r.errorCode} ${r.errorMessage}`);
      }
      await h(`pool_destroy pool=${P} force=true`);
    }
  });

  it('QEMU: disks, bases, VM definitions, the state folder and processes unchanged', async ({ expect }) => {
    const dir = partDir('qemu');
    const h = createHandler(TABLES.qemu!, { env: { ...process.env, REXX_QEMU_DIR: dir } });
    const A = `${TAG}-a`, B = `${TAG}-b`, V = `${TAG}-v`, R = `${TAG}-r`, NEW = `${TAG}-new`;
    const G = '/var/lib/rexx-address/qemu-guest';
    const must = async (c: string) => {
      const r = await h(c);
      if (!r.success) throw new Error(`${c}: RC ${r.errorCode} ${r.errorMessage}`);
    };
    try {
      await must(`create_disk name=${A} size=16M`);
      await must(`create_disk name=${B} size=16M`);
      await must(`register_base name=${B}`);
      await must(`clone_from_base base=${B} name=${V}`);
      // A running guest (the cached test kernel; setup-host builds it), for the QMP verbs.
      await must(`create name=${R} kernel=${G}/vmlinuz initrd=${G}/initrd.img append="console=ttyS0 quiet" accel=tcg memory=192`);
      await must(`start ${R}`);
      const world = () => [tree(dir), trySh('pgrep', ['-af', 'qemu-system']).split('\n').filter((l) => l.includes(dir)).join('\n')].join('\n---\n');
      const before = world();
      const rcs = await dryrunAll('qemu', h, {
        name: [A, B, V, R, NEW], disk: [`${dir}/images/${A}.qcow2`], size: ['32M'], target: [`${dir}/out.qcow2`], base: [B],
        snapshot: ['s1'], backing: [`${dir}/images/${B}.qcow2`], count: ['2'], force: ['true'], keep: ['1'],
      });
      console.log(`qemu dryrun: ${Object.values(rcs).flat().length} calls; never RC 0: ${neverOk(rcs).join(' ') || 'none'}`);
      expect(world()).toEqual(before);
      expect(Object.keys(rcs).sort()).toEqual(TABLES.qemu!.verbs.map((v) => v.name).sort());
    } finally {
      for (const vm of [R, V]) await h(`delete ${vm} force=true`);
    }
  });

  it('LXCRI: containers, bundles, images, checkpoints, datasets and the state folders unchanged', async ({ expect }) => {
    const pool = process.env.REXX_ZFS_POOL || 'rexxpool';
    const dir = partDir('lxcri');
    const T = `${TAG}c`;
    const C = `${T}-c`, Z = `${T}-z`, BASE = `${T}-base`, IMG = `${T}/tiny:1`;
    // A container on a plain bundle, one on a ZFS clone of an imported image (with a
    // checkpoint), and a registered base: so the image, checkpoint and base verbs get past their checks.
    const made = await busyboxContainer(`rexx-${T}-lxcri-`, C, '1000');
    const { h } = made;
    const must = async (c: string) => {
      const r = await h(c);
      if (!r.success) throw new Error(`${c}: RC ${r.errorCode} ${r.errorMessage}`);
    };
    try {
      await must(`image_import source=${tinyLayout(made.tmp)} name=${IMG} source_ref=tiny`);
      await must(`bundle_from_image image=${IMG} bundle=${made.tmp}/bz name=${Z}`);
      await must(`run ${Z} ${made.tmp}/bz runtime=runc`);
      await must(`checkpoint ${Z} runtime=runc`);
      await must(`bundle_from_image image=${IMG} bundle=${made.tmp}/bb zfs=false`);
      await must(`register_base name=${BASE} bundle=${made.tmp}/bb`);
      const world = () =>
        [
          tree(made.tmp),
          trySh('runc', ['--root', `${made.tmp}/run/runc`, 'list', '-q']),
          mine(trySh('zfs', ['list', '-H', '-t', 'all', '-o', 'name,origin,mounted']), T),
          trySh('zfs', ['list', '-H', '-r', '-t', 'all', '-o', 'name,origin', `${pool}/images`]),
          tree(dir),
        ].join('\n---\n');
      const before = world();
      const rcs = await dryrunAll('lxcri', h, {
        name: [C, Z, BASE, `${T}-new`], bundle: [`${made.tmp}/b`, `${made.tmp}/bz`, `${dir}/newbundle`], runtime: ['runc'], pool: [pool],
        source: [`${made.tmp}/layout`], image: [IMG], base: [BASE], count: ['2'], keep: ['0'], bundle_dir: [`${dir}/clones`],
        command: ['touch /tmp/x'], signal: ['TERM'], force: ['true'],
      });
      console.log(`lxcri dryrun: ${Object.values(rcs).flat().length} calls; never RC 0: ${neverOk(rcs).join(' ') || 'none'}`);
      expect(world()).toEqual(before);
      expect(Object.keys(rcs).sort()).toEqual(TABLES.lxcri!.verbs.map((v) => v.name).sort());
    } finally {
      deleteAllRunc(`${made.tmp}/run/runc`);
      await h(`unregister_base ${BASE}`);
      destroyOurDatasets((d) => d.includes(T));
      await h(`image_delete ${IMG}`);
      removeBusyboxContainer(made.tmp);
    }
  });
});
