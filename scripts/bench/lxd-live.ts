/**
 * Benchmark (not a test): the verbs that change a live instance against the raw `lxc`
 * command that does the same, side by side in one run (interleaved, the order swapped
 * every round, median of N each; the floor is <= 1.10x):
 *   config_set / config_get / config_unset   lxc config set / get / unset
 *   freeze / unfreeze                        lxc pause / lxc start (of a frozen instance)
 *   device_add / device_remove (a proxy)     lxc config device add / remove
 *   rename                                   lxc move OLD NEW
 *   publish / image_import                   lxc publish --quiet --alias / lxc image import --alias
 *   image_list / image_alias / image_delete  lxc image list --format json / alias create / delete
 *   profile_create / _set / _delete / _list  lxc profile create / set / delete / list --format json
 *   network_create / _delete / _list         lxc network create (a bridge, NAT off) / delete / list --format json
 *   volume_create / _attach / _detach /      lxc storage volume create / attach / detach /
 *     _delete / _snapshot                      delete / snapshot (on the rexxbt pool)
 *   file_mkdir                               lxc file push -r -p of an empty host directory
 *   events until=instance-updated            lxc monitor --type=lifecycle --format=json read until that
 *                                              event comes (a config change made 300 ms into each call;
 *                                              both times are from the call to its return)
 *   copy to_remote= mode=push, move target=  lxc copy … REMOTE:X --mode push --stateless, lxc move
 *                                              REMOTE:X REMOTE:X --target M --stateless (only when the
 *                                              cluster of scripts/setup-cluster.sh is up: remote rexx-cluster)
 * Run: npm run bench:lxd-live  (N via BENCH_N, default 15; BENCH_ONLY=REGEX measures only the verbs it matches)
 */
import { execa } from 'execa';
import { table } from '../../handlers/lxd';
import { createHandler } from '../../shared/dispatch';
import { dropFirewallLeftovers } from '../../test/helpers/lxd-firewall';
import { fmt, median, ratio, strict, timed } from './stats';

const N = Number(process.env.BENCH_N ?? 15);
const ONLY = process.env.BENCH_ONLY ? new RegExp(process.env.BENCH_ONLY) : undefined;
const must = strict(createHandler(table));
const RUN = `bench-live-${process.pid}`;
const STOPPED = `${RUN}-s`;
const IMG = `${RUN}-img`;
/** An image tarball (without its .tar.gz) exported once from a publish of STOPPED, for the import runs. */
const TARBALL = `/tmp/${RUN}-image`;
/** The fingerprint of the tiny image (lxc image alias create takes a fingerprint, not an alias). */
let TINY_FP = '';
const PROF = `${RUN}-prof`;
/** Bridge names are at most 15 characters. */
const NET = `rxb${process.pid % 100_000}`;
/** A private /24 for the bench bridges, away from the project bridge. */
const NET_V4 = `10.248.${process.pid % 250}.1/24`;
const POOL = 'rexxbt';
const VOL = `${RUN}-vol`;
/** An empty host directory (mode 0750) for the raw side of file_mkdir. */
const MKDIR_SRC = `/tmp/${RUN}-mkdir`;

async function lxc(args: string[]) {
  // stdin closed: lxc init reads a config from a stdin that is not a terminal
  const r = await execa('lxc', args, { reject: false, stdin: 'ignore' });
  if (r.exitCode !== 0) throw new Error(`lxc ${args.join(' ')}: ${r.stderr}`);
}

interface Pair {
  what: string;
  raw: string;
  /** Untimed set-up before each raw and each handler run. */
  before?: () => Promise<unknown>;
  rawRun: (i: number) => Promise<unknown>;
  handlerRun: (i: number) => Promise<unknown>;
  /** Untimed clean-up after each. */
  after?: (i: number) => Promise<unknown>;
}

async function measure(p: Pair) {
  const raw: number[] = [];
  const handler: number[] = [];
  for (let i = 0; i < N; i++) {
    const one = async (kind: 'raw' | 'handler') => {
      await p.before?.();
      (kind === 'raw' ? raw : handler).push(await timed(() => (kind === 'raw' ? p.rawRun(i) : p.handlerRun(i))));
      await p.after?.(i);
    };
    if (i % 2) {
      await one('raw');
      await one('handler');
    } else {
      await one('handler');
      await one('raw');
    }
  }
  return { raw: median(raw), handler: median(handler) };
}

const PAIRS: Pair[] = [
  { what: 'config_set', raw: 'lxc config set', rawRun: () => lxc(['config', 'set', RUN, 'user.bench=1']), handlerRun: () => must(`config_set name=${RUN} config=user.bench=1`) },
  { what: 'config_get', raw: 'lxc config get', rawRun: () => lxc(['config', 'get', RUN, 'user.bench']), handlerRun: () => must(`config_get name=${RUN} key=user.bench`) },
  {
    what: 'config_unset', raw: 'lxc config unset',
    before: () => lxc(['config', 'set', RUN, 'user.gone=1']),
    rawRun: () => lxc(['config', 'unset', RUN, 'user.gone']), handlerRun: () => must(`config_unset name=${RUN} key=user.gone`),
  },
  {
    what: 'freeze', raw: 'lxc pause',
    rawRun: () => lxc(['pause', RUN]), handlerRun: () => must(`freeze name=${RUN}`),
    after: () => lxc(['start', RUN]),
  },
  {
    what: 'unfreeze', raw: 'lxc start (frozen)',
    before: () => lxc(['pause', RUN]),
    rawRun: () => lxc(['start', RUN]), handlerRun: () => must(`unfreeze name=${RUN}`),
  },
  {
    what: 'device_add (proxy)', raw: 'lxc config device add',
    rawRun: (i) => lxc(['config', 'device', 'add', RUN, 'p', 'proxy', `listen=tcp:127.0.0.1:${20_000 + i}`, 'connect=tcp:127.0.0.1:80']),
    handlerRun: (i) => must(`device_add name=${RUN} device=p type=proxy listen=tcp:127.0.0.1:${20_000 + i} connect=tcp:127.0.0.1:80`),
    after: () => lxc(['config', 'device', 'remove', RUN, 'p']),
  },
  {
    what: 'device_remove', raw: 'lxc config device remove',
    before: () => lxc(['config', 'device', 'add', RUN, 'p', 'proxy', 'listen=tcp:127.0.0.1:20999', 'connect=tcp:127.0.0.1:80']),
    rawRun: () => lxc(['config', 'device', 'remove', RUN, 'p']), handlerRun: () => must(`device_remove name=${RUN} device=p`),
  },
  {
    what: 'rename', raw: 'lxc move OLD NEW',
    rawRun: () => lxc(['move', STOPPED, `${STOPPED}-x`]), handlerRun: () => must(`rename name=${STOPPED} new_name=${STOPPED}-x`),
    after: () => lxc(['move', `${STOPPED}-x`, STOPPED]),
  },
  {
    what: 'publish', raw: 'lxc publish --quiet --alias',
    rawRun: () => lxc(['publish', STOPPED, '--quiet', '--alias', IMG]), handlerRun: () => must(`publish name=${STOPPED} alias=${IMG}`),
    after: () => lxc(['image', 'delete', IMG]),
  },
  {
    what: 'image_import', raw: 'lxc image import --alias',
    rawRun: () => lxc(['image', 'import', `${TARBALL}.tar.gz`, '--alias', IMG]), handlerRun: () => must(`image_import file=${TARBALL}.tar.gz alias=${IMG}`),
    after: () => lxc(['image', 'delete', IMG]),
  },
  { what: 'image_list', raw: 'lxc image list --format json', rawRun: () => lxc(['image', 'list', '--format', 'json']), handlerRun: () => must('image_list') },
  {
    what: 'image_alias (create)', raw: 'lxc image alias create',
    rawRun: () => lxc(['image', 'alias', 'create', `${IMG}-a`, TINY_FP]), handlerRun: () => must(`image_alias alias=${IMG}-a image=${TINY_FP}`),
    after: () => lxc(['image', 'alias', 'delete', `${IMG}-a`]),
  },
  {
    what: 'image_delete', raw: 'lxc image delete',
    before: () => lxc(['image', 'import', `${TARBALL}.tar.gz`, '--alias', IMG]),
    rawRun: () => lxc(['image', 'delete', IMG]), handlerRun: () => must(`image_delete image=${IMG}`),
  },
  // profiles
  {
    what: 'profile_create', raw: 'lxc profile create',
    rawRun: () => lxc(['profile', 'create', `${PROF}-n`]), handlerRun: () => must(`profile_create name=${PROF}-n`),
    after: () => lxc(['profile', 'delete', `${PROF}-n`]),
  },
  { what: 'profile_set', raw: 'lxc profile set', rawRun: () => lxc(['profile', 'set', PROF, 'user.bench=1']), handlerRun: () => must(`profile_set name=${PROF} config=user.bench=1`) },
  {
    what: 'profile_delete', raw: 'lxc profile delete',
    before: () => lxc(['profile', 'create', `${PROF}-n`]),
    rawRun: () => lxc(['profile', 'delete', `${PROF}-n`]), handlerRun: () => must(`profile_delete name=${PROF}-n`),
  },
  { what: 'profile_list', raw: 'lxc profile list --format json', rawRun: () => lxc(['profile', 'list', '--format', 'json']), handlerRun: () => must('profile_list') },
  // networks
  {
    what: 'network_create', raw: 'lxc network create (bridge)',
    rawRun: () => lxc(['network', 'create', NET, `ipv4.address=${NET_V4}`, 'ipv4.nat=false', 'ipv6.address=none']),
    handlerRun: () => must(`network_create name=${NET} ipv4=${NET_V4}`),
    after: async () => (await lxc(['network', 'delete', NET]), await dropFirewallLeftovers(NET)),
  },
  {
    what: 'network_delete', raw: 'lxc network delete',
    before: () => lxc(['network', 'create', NET, `ipv4.address=${NET_V4}`, 'ipv4.nat=false', 'ipv6.address=none']),
    rawRun: () => lxc(['network', 'delete', NET]), handlerRun: () => must(`network_delete name=${NET}`),
    after: () => dropFirewallLeftovers(NET),
  },
  { what: 'network_list', raw: 'lxc network list --format json', rawRun: () => lxc(['network', 'list', '--format', 'json']), handlerRun: () => must('network_list') },
  // storage volumes
  {
    what: 'volume_create', raw: 'lxc storage volume create',
    rawRun: () => lxc(['storage', 'volume', 'create', POOL, `${VOL}-n`]), handlerRun: () => must(`volume_create pool=${POOL} volume=${VOL}-n`),
    after: () => lxc(['storage', 'volume', 'delete', POOL, `${VOL}-n`]),
  },
  {
    what: 'volume_attach', raw: 'lxc storage volume attach',
    rawRun: () => lxc(['storage', 'volume', 'attach', POOL, VOL, STOPPED, VOL, '/mnt/v']),
    handlerRun: () => must(`volume_attach pool=${POOL} volume=${VOL} name=${STOPPED} path=/mnt/v`),
    after: () => lxc(['storage', 'volume', 'detach', POOL, VOL, STOPPED]),
  },
  {
    what: 'volume_detach', raw: 'lxc storage volume detach',
    before: () => lxc(['storage', 'volume', 'attach', POOL, VOL, STOPPED, VOL, '/mnt/v']),
    rawRun: () => lxc(['storage', 'volume', 'detach', POOL, VOL, STOPPED]), handlerRun: () => must(`volume_detach pool=${POOL} volume=${VOL} name=${STOPPED}`),
  },
  {
    what: 'volume_delete', raw: 'lxc storage volume delete',
    before: () => lxc(['storage', 'volume', 'create', POOL, `${VOL}-n`]),
    rawRun: () => lxc(['storage', 'volume', 'delete', POOL, `${VOL}-n`]), handlerRun: () => must(`volume_delete pool=${POOL} volume=${VOL}-n`),
  },
  {
    what: 'volume_snapshot', raw: 'lxc storage volume snapshot',
    rawRun: () => lxc(['storage', 'volume', 'snapshot', POOL, VOL, 's']), handlerRun: () => must(`volume_snapshot pool=${POOL} volume=${VOL} snapshot=s`),
    after: () => lxc(['storage', 'volume', 'delete', POOL, `${VOL}/s`]),
  },
  // files
  {
    what: 'file_mkdir', raw: 'lxc file push -r -p (empty dir)',
    rawRun: (i) => lxc(['file', 'push', '-r', '-p', MKDIR_SRC, `${RUN}/tmp/raw${i}/`]),
    handlerRun: (i) => must(`file_mkdir name=${RUN} path=/tmp/h${i}/d parents=true mode=0750`),
  },
];

const CLUSTER = 'rexx-cluster';
/** Is the cluster of scripts/setup-cluster.sh a remote here (then the cross-remote pairs run)? */
let clusterUp = false;

/** `lxc monitor` until an `action` lifecycle event of `name` comes, then it is ended: the raw side of events. */
function rawMonitor(name: string, action: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const m = execa('lxc', ['monitor', '--type=lifecycle', '--format=json'], { reject: false, stdin: 'ignore', buffer: false });
    let text = '';
    m.stdout!.on('data', (c: Buffer) => {
      text += String(c);
      if (text.includes(`"action":"${action}"`) && text.includes(`"/1.0/instances/${name}"`)) {
        m.kill('SIGTERM');
        resolve();
      }
    });
    m.catch(reject);
  });
}

/** Run `listen` and, 300 ms after it started, a config change of STOPPED (the event it waits for). */
async function withChange(listen: () => Promise<unknown>, i: number) {
  const change = new Promise((ok) => setTimeout(ok, 300)).then(() => lxc(['config', 'set', STOPPED, `user.ev=${i}`]));
  await Promise.all([listen(), change]);
}

PAIRS.push(
  {
    what: 'events (until=)', raw: 'lxc monitor until the event',
    rawRun: (i) => withChange(() => rawMonitor(STOPPED, 'instance-updated'), i),
    handlerRun: (i) => withChange(() => must(`events name=${STOPPED} until=instance-updated duration=30s`), i),
  },
  {
    what: 'copy to_remote= (push)', raw: 'lxc copy X REMOTE:Y --mode push',
    rawRun: (i) => lxc(['copy', STOPPED, `${CLUSTER}:${RUN}-c${i}r`, '--mode', 'push', '--stateless']),
    handlerRun: (i) => must(`copy source=${STOPPED} destination=${RUN}-c${i}h to_remote=${CLUSTER} mode=push`),
    after: (i) => Promise.all([`${RUN}-c${i}r`, `${RUN}-c${i}h`].map((n) => execa('lxc', ['delete', '--force', `${CLUSTER}:${n}`], { reject: false }))),
  },
  {
    what: 'move target= (member)', raw: 'lxc move R:X R:X --target M',
    before: () => lxc(['init', `${CLUSTER}:tiny`, `${CLUSTER}:${RUN}-mv`, '--target', 'member1']),
    rawRun: () => lxc(['move', `${CLUSTER}:${RUN}-mv`, `${CLUSTER}:${RUN}-mv`, '--target', 'member2', '--stateless']),
    handlerRun: () => must(`move name=${RUN}-mv remote=${CLUSTER} target=member2`),
    after: () => execa('lxc', ['delete', '--force', `${CLUSTER}:${RUN}-mv`], { reject: false }),
  },
);

async function main() {
  try {
    await lxc(['init', 'tiny', RUN]);
    await lxc(['start', RUN]);
    await lxc(['init', 'tiny', STOPPED]);
    TINY_FP = (JSON.parse((await execa('lxc', ['query', '/1.0/images/aliases/tiny'])).stdout) as { target: string }).target;
    await lxc(['publish', STOPPED, '--quiet', '--alias', IMG, 'description=import-source']);
    await lxc(['image', 'export', IMG, TARBALL]);
    await lxc(['image', 'delete', IMG]);
    await lxc(['profile', 'create', PROF]);
    await lxc(['storage', 'volume', 'create', POOL, VOL]);
    await execa('install', ['-d', '-m', '0750', MKDIR_SRC]);
    clusterUp = (await execa('lxc', ['query', `${CLUSTER}:/1.0`], { reject: false, stdin: 'ignore', timeout: 10_000 })).exitCode === 0;
    console.log(`instance ${RUN} (running) and ${STOPPED} (stopped), N=${N}; cluster ${clusterUp ? 'up' : 'not up: no cross-remote pairs'}\n`);
    console.log('verb                 handler ms   raw ms   ratio   raw command');
    for (const p of PAIRS.filter((x) => (!ONLY || ONLY.test(x.what)) && (clusterUp || !/remote|member/.test(x.what)))) {
      const r = await measure(p);
      console.log(`${p.what.padEnd(20)} ${fmt(r.handler, 10)} ${fmt(r.raw)}   ${ratio(r.handler, r.raw)}x  ${p.raw}`);
    }
  } finally {
    await execa('lxc', ['delete', '--force', RUN], { reject: false });
    await execa('lxc', ['delete', '--force', STOPPED], { reject: false });
    await execa('lxc', ['image', 'delete', IMG], { reject: false });
    await execa('rm', ['-f', `${TARBALL}.tar.gz`], { reject: false });
    await execa('rm', ['-rf', MKDIR_SRC], { reject: false });
    for (const v of [VOL, `${VOL}-n`]) await execa('lxc', ['storage', 'volume', 'delete', POOL, v], { reject: false });
    for (const pr of [PROF, `${PROF}-n`]) await execa('lxc', ['profile', 'delete', pr], { reject: false });
    await execa('lxc', ['network', 'delete', NET], { reject: false });
    await dropFirewallLeftovers(NET);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
