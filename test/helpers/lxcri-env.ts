/**
 * What the LXCRI integration and reliability tests share: a busybox-static rootfs, a
 * one-image OCI layout built locally with umoci (no registry), the handler's CLI run as
 * a separate process (so parallel calls are parallel scripts, as in real use), and the
 * clean-up of the containers and datasets a test file made.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as os from 'node:os';
import { execa } from 'execa';
import { table } from '../../handlers/lxcri';
import { createHandler, type AddressHandler } from '../../shared/dispatch';
import type { RexxResult } from '../../shared/result';

export const POOL = process.env.REXX_ZFS_POOL || 'rexxpool';
const CLI = path.join(__dirname, '..', '..', 'bin', 'rexx-address.js');

export const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
export const tryRun = (cmd: string, args: string[]) => {
  try {
    return sh(cmd, args);
  } catch {
    return '';
  }
};

/** A busybox-static rootfs with a few applet links and /etc/marker = "original". */
export function busyboxRootfs(dir: string) {
  fs.mkdirSync(`${dir}/bin`, { recursive: true });
  for (const d of ['proc', 'sys', 'dev', 'tmp', 'etc']) fs.mkdirSync(`${dir}/${d}`, { recursive: true });
  fs.copyFileSync('/bin/busybox', `${dir}/bin/busybox`);
  fs.chmodSync(`${dir}/bin/busybox`, 0o755);
  for (const a of ['sh', 'sleep', 'echo', 'cat', 'ls', 'touch', 'rm', 'mkdir', 'ps']) fs.symlinkSync('busybox', `${dir}/bin/${a}`);
  fs.writeFileSync(`${dir}/etc/marker`, 'original\n');
}

/** `<tmp>/layout` with the image `tiny` (busybox, cmd sleep 1000), made with umoci. */
export function tinyLayout(tmp: string): string {
  busyboxRootfs(`${tmp}/img-rootfs`);
  sh('umoci', ['init', '--layout', `${tmp}/layout`]);
  sh('umoci', ['new', '--image', `${tmp}/layout:tiny`]);
  sh('umoci', ['insert', '--image', `${tmp}/layout:tiny`, `${tmp}/img-rootfs`, '/']);
  sh('umoci', ['config', '--image', `${tmp}/layout:tiny`, '--config.cmd', 'sleep', '--config.cmd', '1000']);
  return `${tmp}/layout`;
}

/** Throw unless every tool is installed and the pool answers. */
export function requireTools(tools: string[], pool = true) {
  for (const t of tools) {
    if (!tryRun('sh', ['-c', `command -v ${t}`])) throw new Error(`${t} is not installed: run scripts/setup-host.sh`);
  }
  if (pool && !tryRun('zfs', ['list', '-H', '-o', 'name', POOL])) throw new Error(`ZFS pool ${POOL} is not available (zfs-fuse down?): run scripts/setup-host.sh`);
}

/** One `rexx-address lxcri --json COMMAND` in its own process (needs `npm run build`). */
export async function cli(env: Record<string, string | undefined>, command: string): Promise<RexxResult> {
  const r = await execa('node', [CLI, 'lxcri', '--json', command], { env, extendEnv: false, reject: false, timeout: 120_000 });
  try {
    return JSON.parse(r.stdout) as RexxResult;
  } catch {
    throw new Error(`rexx-address lxcri ${command}: no JSON (exit ${r.exitCode}): ${r.stderr || r.stdout}`);
  }
}

/** Force-delete every container left in a runc --root. */
export function deleteAllRunc(root: string) {
  for (const id of tryRun('runc', ['--root', root, 'list', '-q']).split('\n').filter(Boolean)) tryRun('runc', ['--root', root, 'delete', '-f', id]);
}

/**
 * Destroy the datasets a test made (`keep` says which), clones before their origins:
 * passes repeat until nothing more goes (zfs-fuse may say "busy" once).
 */
export function destroyOurDatasets(mine: (name: string) => boolean) {
  let left = tryRun('zfs', ['list', '-H', '-o', 'name', '-t', 'filesystem', '-r', POOL]).split('\n').filter((d) => d && mine(d));
  for (let pass = 0; pass < 4 && left.length; pass++) {
    for (const d of left) {
      tryRun('zfs', ['unmount', d]);
      tryRun('zfs', ['destroy', '-r', d]);
    }
    left = left.filter((d) => tryRun('zfs', ['list', '-H', '-o', 'name', d]));
  }
}

/** The parents the handler makes datasets under: `<pool>/containers`, `<pool>/images`. */
const PARENTS = [`${POOL}/containers`, `${POOL}/images`];

/** Which of the parent datasets exist now (call before the tests, for {@link destroyNewParents}). */
export const existingParents = () => new Set(PARENTS.filter((d) => tryRun('zfs', ['list', '-H', '-o', 'name', d])));

/** Destroy the parent datasets that were not in `had` and are empty again (one retry: zfs-fuse may say "busy"). */
export function destroyNewParents(had: Set<string>) {
  for (const d of PARENTS) {
    if (had.has(d) || tryRun('zfs', ['list', '-H', '-o', 'name', '-r', d]).trim() !== d) continue;
    if (!tryRun('zfs', ['destroy', d]) && tryRun('zfs', ['list', '-H', d])) tryRun('zfs', ['destroy', d]);
  }
}

/** Host pids whose whole command line (words joined by spaces) is `cmdline`; read from /proc. */
export function pidsOf(cmdline: string): number[] {
  const out: number[] = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (fs.readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ') === cmdline) out.push(Number(e));
    } catch {
      /* gone */
    }
  }
  return out;
}

/**
 * A temporary folder (`prefix` names it) with a writable busybox bundle `<tmp>/b` whose
 * process is `sleep SLEEP`, and container `id` running from it on runc through an
 * in-process handler `h`; `env` is that handler's environment (its own OCI dir and root).
 */
export async function busyboxContainer(prefix: string, id: string, sleep: string) {
  requireTools(['runc', 'busybox'], false);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const env = { ...process.env, REXX_OCI_DIR: `${tmp}/oci`, REXX_OCI_ROOT: `${tmp}/run` };
  const h: AddressHandler = createHandler(table, { env });
  busyboxRootfs(`${tmp}/b/rootfs`);
  const s = await h(`spec bundle=${tmp}/b arg=sleep arg=${sleep} readonly=false runtime=runc`);
  if (s.errorCode) throw new Error(`spec: ${s.errorMessage}`);
  const r = await h(`run ${id} ${tmp}/b runtime=runc`);
  if (r.errorCode) throw new Error(`run ${id}: ${r.errorMessage}`);
  return { tmp, env, h };
}

/** Remove what busyboxContainer made: its containers, then its folder. */
export function removeBusyboxContainer(tmp: string | undefined) {
  if (!tmp) return;
  deleteAllRunc(`${tmp}/run/runc`);
  fs.rmSync(tmp, { recursive: true, force: true });
}
