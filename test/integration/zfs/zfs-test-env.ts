/** What the ZFS integration tests share: the zfs check, a throwaway file-backed pool per file, unique names. */
import * as fs from 'node:fs';
import { execa } from 'execa';
import { createHandler } from '../../../shared/dispatch';
import { table } from '../../../handlers/zfs';
import { RUN_ID } from '../../helpers/run-id';

/** Fail (not skip) with a clear message when zfs from setup-host isn't answering. */
export async function requireZfs(): Promise<void> {
  const r = await execa('zpool', ['list', '-H', '-o', 'name'], { reject: false, timeout: 10_000 });
  if (r.exitCode !== 0) {
    throw new Error(`zfs/zpool are not answering (${(r.stderr || r.message).trim()}): run "bash scripts/setup-host.sh" as root first (it starts zfs-fuse)`);
  }
}

let n = 0;
/** A dataset-name component no other test or run uses. */
export const uniq = (what: string) => `it-${what}-${RUN_ID}-${++n}`;

/** A throwaway pool on a sparse file under /var/tmp, made and destroyed through the handler. */
export function throwawayPool(tag: string) {
  const name = `rexxt-${tag}-${RUN_ID}`;
  const img = `/var/tmp/${name}.img`;
  const h = createHandler(table, { env: { ...process.env, REXX_ZFS_POOL: name } });
  return {
    name,
    img,
    /** A handler whose default pool is this pool. */
    h,
    async create(): Promise<void> {
      await requireZfs();
      const r = await h(`pool_create pool=${name} vdev=${img} size=256M`);
      if (!r.success) throw new Error(`pool_create ${name} failed: ${r.errorMessage}`);
    },
    async destroy(): Promise<void> {
      const r = await h(`pool_destroy pool=${name} force=true`);
      if (!r.success) {
        // In use (RC 7): never force it. `zpool destroy -f` unmounts on the host while a
        // container's namespace still holds the mount, and deleting that container later
        // wedges zfs-fuse (host-notes). The test must end its users first.
        if (r.errorCode === 7) throw new Error(`pool ${name} left in place, still in use: ${r.errorMessage}`);
        // zfs-fuse may call a pool busy right after heavy use: one retry, then by hand.
        await new Promise((res) => setTimeout(res, 500));
        const again = await h(`pool_destroy pool=${name} force=true`);
        if (again.errorCode === 7) throw new Error(`pool ${name} left in place, still in use: ${again.errorMessage}`);
        if (!again.success) await execa('zpool', ['destroy', '-f', name], { reject: false });
      }
      fs.rmSync(img, { force: true });
    },
  };
}

/** Run a command, throw on failure (for test set-up such as writing files into a mounted dataset). */
export async function sh(argv: string[]): Promise<string> {
  const r = await execa(argv[0]!, argv.slice(1), { reject: false });
  if (r.exitCode !== 0) throw new Error(`${argv.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}
