/**
 * Benchmark (not a test): ADDRESS LXCRI images with a realistic image, the Debian
 * bookworm minbase layout (scripts/build-debian-rootfs.sh --oci, ~120 MB unpacked, one ~50 MB
 * layer) in the local registry (docker-registry on 127.0.0.1:5000, set up by
 * scripts/setup-host.sh), on the zfs-fuse pool. Side by side in one run, interleaved,
 * medians of N (BENCH_N, default 3; each round is tens of seconds on zfs-fuse):
 *   1. pull: handler `image_pull` (skopeo copy into a fresh store, then umoci unpack
 *      onto a new dataset, registered as a base) against the same raw commands
 *      (`skopeo copy` + `zfs create` + `umoci unpack`). Goal ≤ 1.10×.
 *   2. a new container's rootfs from the pulled image: `bundle_from_image` (a zfs clone
 *      of the image unpacked once) against `cp -a` of the unpacked image onto a new
 *      dataset and against `umoci unpack` per container onto a new dataset. Goal: the
 *      clone wins by ≥ 10×. With the bytes each adds on the pool: `used` and
 *      `referenced` of its dataset, read after a `zfs set` (zfs-fuse's space accounting
 *      lags until a transaction group is synced; a property change syncs one).
 * Run: npm run bench:lxcri-images
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHandler } from '../../shared/dispatch';
import { table } from '../../handlers/lxcri';
import { destroyEmptyParents } from './oci-env';
import { fmt, median, ratio, strict, timed } from './stats';

const N = Number(process.env.BENCH_N ?? 3);
const POOL = process.env.REXX_ZFS_POOL || 'rexxpool';
const REGISTRY = process.env.REXX_REGISTRY || '127.0.0.1:5000';
const P = `lxib${process.pid}`;
const REPO = `rexx-bench-${process.pid}/debian:bookworm`;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-lxcri-img-bench-'));
const env = (oci: string) => ({ ...process.env, REXX_OCI_DIR: oci, REXX_OCI_ROOT: `${tmp}/run`, REXX_ZFS_POOL: POOL });

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 2 ** 20 });
const quiet = (cmd: string, args: string[]) => spawnSync(cmd, args, { stdio: 'ignore' });
const raw = (cmd: string, args: string[]) => {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
};
const mountpoint = (ds: string) => sh('zfs', ['get', '-H', '-o', 'value', 'mountpoint', ds]).trim();
/** `used` and `referenced` of a dataset in bytes, after a property change has synced a transaction group. */
function space(ds: string): { used: number; referenced: number } {
  raw('zfs', ['set', 'org.rexxjs:bench=1', ds]);
  const out = sh('zfs', ['get', '-H', '-p', '-o', 'property,value', 'used,referenced', ds]);
  const v = Object.fromEntries(out.trim().split('\n').map((l) => l.split('\t'))) as Record<string, string>;
  return { used: Number(v.used), referenced: Number(v.referenced) };
}
function destroy(ds: string) {
  for (let i = 0; i < 4 && quiet('zfs', ['list', '-H', ds]).status === 0; i++) {
    quiet('zfs', ['unmount', ds]);
    quiet('zfs', ['destroy', '-r', ds]);
  }
}
const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

const PARENTS = [`${POOL}/containers`, `${POOL}/images`];
const hadParent = new Set(PARENTS.filter((d) => quiet('zfs', ['list', '-H', d]).status === 0));
let imageDs = '';
const rows: Array<[string, number, number, string]> = [];

async function main() {
  const layout = sh('bash', [path.join(__dirname, '..', '..', '..', 'scripts', 'build-debian-rootfs.sh'), '--oci']).trim().split('\n').pop()!;
  raw('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}:bookworm`, `docker://${REGISTRY}/${REPO}`]);
  const digest = sh('skopeo', ['inspect', '--tls-verify=false', '--format', '{{.Digest}}', `docker://${REGISTRY}/${REPO}`]).trim();
  imageDs = `${POOL}/images/${digest.slice(7, 23)}`;
  // Another run's copy of this image would make the pull skip its unpack: not measurable.
  if (quiet('zfs', ['list', '-H', imageDs]).status === 0) throw new Error(`${imageDs} exists already (another run, or a test, is using it): destroy it first`);
  raw('zfs', ['create', '-p', `${POOL}/containers`]);

  // 1. pull: raw skopeo copy + zfs create + umoci unpack | handler image_pull (fresh store each time)
  const rawPull: number[] = [];
  const hPull: number[] = [];
  for (let i = 0; i < N; i++) {
    const steps: Array<() => Promise<void>> = [
      async () => {
        const ds = `${POOL}/containers/${P}-rawpull`;
        fs.mkdirSync(`${tmp}/raw-${i}`, { recursive: true });
        rawPull.push(
          await timed(() => {
            raw('skopeo', ['copy', '--quiet', '--src-tls-verify=false', `docker://${REGISTRY}/${REPO}`, `oci:${tmp}/raw-${i}/layout:debian`]);
            raw('zfs', ['create', ds]);
            raw('umoci', ['unpack', '--image', `${tmp}/raw-${i}/layout:debian`, mountpoint(ds)]);
          }),
        );
        destroy(ds);
        fs.rmSync(`${tmp}/raw-${i}`, { recursive: true, force: true });
      },
      async () => {
        const must = strict(createHandler(table, { env: env(`${tmp}/h-${i}`) }));
        hPull.push(await timed(() => must(`image_pull ${REGISTRY}/${REPO} tls_verify=false name=debian:12`)));
        if (i < N - 1) {
          destroy(imageDs);
          fs.rmSync(`${tmp}/h-${i}`, { recursive: true, force: true });
        }
      },
    ];
    // alternate which goes first
    for (const s of i % 2 ? [...steps].reverse() : steps) await s();
  }
  rows.push(['pull Debian: raw skopeo copy + zfs create + umoci unpack | handler image_pull', median(rawPull), median(hPull), 'goal ≤ 1.10×']);

  // 2. a new container rootfs from the pulled image (kept from the last handler pull)
  const must = strict(createHandler(table, { env: env(`${tmp}/h-${N - 1}`) }));
  const src = mountpoint(imageDs);
  const clone: number[] = [];
  const copy: number[] = [];
  const unpack: number[] = [];
  const bytes: Record<string, Array<{ used: number; referenced: number }>> = { clone: [], copy: [], unpack: [] };
  for (let i = 0; i < N; i++) {
    const c = `${P}-clone${i}`;
    clone.push(await timed(() => must(`bundle_from_image image=debian:12 bundle=${tmp}/bundles/${c} name=${c}`)));
    bytes.clone!.push(space(`${POOL}/containers/${c}`));

    const k = `${POOL}/containers/${P}-copy${i}`;
    copy.push(
      await timed(() => {
        raw('zfs', ['create', '-o', `mountpoint=${tmp}/bundles/${P}-copy${i}`, k]);
        raw('cp', ['-a', '--', `${src}/.`, `${tmp}/bundles/${P}-copy${i}/`]);
      }),
    );
    bytes.copy!.push(space(k));
    destroy(k);

    const u = `${POOL}/containers/${P}-unpack${i}`;
    unpack.push(
      await timed(() => {
        raw('zfs', ['create', '-o', `mountpoint=${tmp}/bundles/${P}-unpack${i}`, u]);
        raw('umoci', ['unpack', '--image', `${tmp}/h-${N - 1}/layout:debian:12`, `${tmp}/bundles/${P}-unpack${i}`]);
      }),
    );
    bytes.unpack!.push(space(u));
    destroy(u);
  }
  const mb = (k: string) => `used ${mib(median(bytes[k]!.map((b) => b.used)))}, referenced ${mib(median(bytes[k]!.map((b) => b.referenced)))}`;
  rows.push(['new container rootfs: cp -a of the unpacked image | bundle_from_image (clone)', median(copy), median(clone), `goal ≥ 10× the other way; cp: ${mb('copy')}; clone: ${mb('clone')}`]);
  rows.push(['new container rootfs: umoci unpack per container | bundle_from_image (clone)', median(unpack), median(clone), `unpack: ${mb('unpack')}`]);

  console.log(`ADDRESS LXCRI images benchmark, Debian bookworm minbase (${digest.slice(0, 19)}…), N=${N} each, medians in ms (zfs-fuse pool ${POOL})\n`);
  console.log(`${'what'.padEnd(80)} ${'A'.padStart(9)} ${'B'.padStart(9)} ${'B/A'.padStart(6)} ${'A/B'.padStart(6)}  note`);
  for (const [what, a, b, note] of rows) console.log(`${what.padEnd(80)} ${fmt(a, 9)} ${fmt(b, 9)} ${ratio(b, a).padStart(6)} ${ratio(a, b).padStart(6)}  ${note}`);
}

function cleanup() {
  const left = spawnSync('zfs', ['list', '-H', '-o', 'name', '-t', 'filesystem', '-r', POOL], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter((d) => d.startsWith(`${POOL}/containers/${P}`));
  for (const d of left) destroy(d);
  if (imageDs) destroy(imageDs);
  destroyEmptyParents(PARENTS, hadParent);
  quiet('skopeo', ['delete', '--tls-verify=false', `docker://${REGISTRY}/${REPO}`]);
  fs.rmSync(tmp, { recursive: true, force: true });
}

main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(cleanup);
