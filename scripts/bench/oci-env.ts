/**
 * What the ADDRESS LXCRI benchmarks share (lxcri.ts, lxcri-checkpoint.ts, lxcri-images.ts):
 * a busybox rootfs, and the clean-up of the runc containers and ZFS datasets a run made.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';

const quiet = (cmd: string, args: string[]) => spawnSync(cmd, args, { stdio: 'ignore' });

/** A busybox-static rootfs in `dir` with links for `applets`. */
export function busyboxRootfs(dir: string, applets: string[]): void {
  fs.mkdirSync(`${dir}/bin`, { recursive: true });
  for (const d of ['proc', 'sys', 'dev', 'tmp', 'etc']) fs.mkdirSync(`${dir}/${d}`, { recursive: true });
  fs.copyFileSync('/bin/busybox', `${dir}/bin/busybox`);
  fs.chmodSync(`${dir}/bin/busybox`, 0o755);
  for (const a of applets) fs.symlinkSync('busybox', `${dir}/bin/${a}`);
}

/**
 * Force-delete every container in runc `--root ROOT`, then destroy the datasets
 * `<pool>/containers/<prefix>*` (unmount first; zfs-fuse may say "busy": up to 8 passes).
 */
export function removeContainers(root: string, pool: string, prefix: string): void {
  const ids = spawnSync('runc', ['--root', root, 'list', '-q'], { encoding: 'utf8' }).stdout?.split('\n').filter(Boolean) ?? [];
  for (const id of ids) quiet('runc', ['--root', root, 'delete', '-f', id]);
  let left = execFileSync('zfs', ['list', '-H', '-o', 'name', '-t', 'filesystem', '-r', pool], { encoding: 'utf8' })
    .split('\n')
    .filter((d) => d.startsWith(`${pool}/containers/${prefix}`));
  for (let pass = 0; pass < 8 && left.length; pass++) {
    for (const d of left) {
      quiet('zfs', ['unmount', d]);
      quiet('zfs', ['destroy', '-r', d]);
    }
    left = left.filter((d) => quiet('zfs', ['list', '-H', d]).status === 0);
  }
  if (left.length) console.error(`cleanup: could not destroy ${left.join(' ')}`);
}

/**
 * Destroy the parent datasets a run made (`parents` less those that existed before it,
 * `had`) when nothing is left under them; a "busy" from zfs-fuse gets one more try.
 */
export function destroyEmptyParents(parents: readonly string[], had: ReadonlySet<string>): void {
  for (const d of parents.filter((x) => !had.has(x))) {
    const kids = spawnSync('zfs', ['list', '-H', '-o', 'name', '-r', d], { encoding: 'utf8' }).stdout?.trim();
    if (kids === d && quiet('zfs', ['destroy', d]).status !== 0) quiet('zfs', ['destroy', d]);
  }
}
