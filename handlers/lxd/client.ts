/**
 * Which client ADDRESS LXD drives: `lxc` (LXD) or `incus` (Incus, the community fork of
 * LXD; Debian 13 ships it, Debian 12 has 6.0 in bookworm-backports). The verbs are
 * written in lxc's words; every place where the two differ is one row of
 * {@link CLIENTS}, and {@link clientArgv} turns an lxc argv into the chosen client's.
 *
 * What is the same (checked against LXD 5.0.2 and Incus 6.0.4 on this machine): the REST
 * API under `/1.0` (`query /1.0/instances/NAME`, `/state`, `/files?path=`), `init`,
 * `start`, `stop`, `copy` (also of NAME/SNAP), `move` and `rename` of an instance, `exec --mode`,
 * `file push|pull|delete` with `-p -r --mode --uid`, `config set|unset|device`,
 * `publish`, `image import|list|alias`, `list --format json`, and `monitor
 * --type=lifecycle --format=json`; instance config keys apart from the renames below.
 *
 * Choosing (see {@link resolveClient}): ADDRESS INCUS always drives incus; ADDRESS LXD
 * takes the handler's env `REXX_LXD_CLIENT=lxc|incus|auto` (default auto: the one that is
 * installed; when both are, the one whose daemon the env names, else the one whose
 * daemon's socket is there; when both are, lxc).
 */
import { usageError } from '../../shared/errors';
import type { Reason } from '../../shared/errors';
import type { Ctx } from '../../shared/verb';

export type ClientName = 'lxc' | 'incus';

/** One client: what differs between lxc (LXD) and incus (Incus). */
export interface ClientSpec {
  name: ClientName;
  /** The command-line client every verb runs. */
  binary: string;
  /** The daemon, as messages and `status` name it. */
  daemon: 'LXD' | 'Incus';
  /** Env variables that move the daemon's directory / socket (as the client reads them), and the default socket. */
  dirEnv: string;
  socketEnv?: string;
  socket: string;
  /** Where the client keeps its config.yml (remotes, default-remote): the env variable that moves it, and the folder under $HOME otherwise. */
  confEnv: string;
  confDir: string;
  /** The daemon's own set-up (preseed on stdin), as scripts/setup-host.sh runs it: `lxd init` vs `incus admin init`. */
  adminInit: readonly string[];
  /** Wait for the daemon to answer: `lxd waitready` vs `incus admin waitready`. */
  waitReady: readonly string[];
  /** The built-in image remotes the client knows (no image server is reached on this machine: images are imported). */
  imageRemotes: readonly string[];
  /**
   * Subcommands (one word, or several separated by spaces) the verbs say in lxc's words
   * that this client spells otherwise. Incus moved `snapshot NAME SNAP` to `snapshot
   * create`, `restore NAME SNAP` to `snapshot restore`, and `storage volume snapshot POOL
   * VOL SNAP` to `storage volume snapshot create` (checked on Incus 6.0.4).
   */
  subcommands: Readonly<Record<string, readonly string[]>>;
  /**
   * Whether `delete INSTANCE/SNAP` and `rename|move INSTANCE/SNAP INSTANCE/NEW` act on a
   * snapshot (LXD), or only `snapshot delete INSTANCE SNAP` and `snapshot rename INSTANCE
   * SNAP NEW` do (Incus 6.0 answers the path form with "Invalid instance name").
   */
  snapshotPaths: boolean;
  /** Instance config keys renamed from LXD's (LXD name → this client's): Incus calls /dev/lxd the guest API. */
  configKeys: Readonly<Record<string, string>>;
  /** This client's messages for a reason that LXD words otherwise (errors.ts adds them to its classifier). */
  errors: ReadonlyArray<readonly [Reason, RegExp]>;
  /** The last stderr line of this client's own `exec` failures (the command never ran), beyond LXD's (errors.ts). */
  execOwn?: RegExp;
}

/** The one table of lxc/incus differences. */
export const CLIENTS: Readonly<Record<ClientName, ClientSpec>> = {
  lxc: {
    name: 'lxc',
    binary: 'lxc',
    daemon: 'LXD',
    dirEnv: 'LXD_DIR',
    socketEnv: 'LXD_SOCKET',
    socket: '/var/lib/lxd/unix.socket',
    confEnv: 'LXD_CONF',
    confDir: '.config/lxc',
    adminInit: ['lxd', 'init'],
    waitReady: ['lxd', 'waitready'],
    imageRemotes: ['images', 'ubuntu', 'ubuntu-daily'],
    subcommands: {},
    snapshotPaths: true,
    configKeys: {},
    errors: [],
  },
  incus: {
    name: 'incus',
    binary: 'incus',
    daemon: 'Incus',
    dirEnv: 'INCUS_DIR',
    socketEnv: 'INCUS_SOCKET',
    socket: '/var/lib/incus/unix.socket',
    confEnv: 'INCUS_CONF',
    confDir: '.config/incus',
    adminInit: ['incus', 'admin', 'init'],
    waitReady: ['incus', 'admin', 'waitready'],
    imageRemotes: ['images'],
    subcommands: {
      snapshot: ['snapshot', 'create'],
      restore: ['snapshot', 'restore'],
      'storage volume snapshot': ['storage', 'volume', 'snapshot', 'create'],
    },
    snapshotPaths: false,
    configKeys: { 'security.devlxd': 'security.guestapi', 'security.devlxd.images': 'security.guestapi.images' },
    errors: [
      // Incus 6.0 answers `init` of a name that exists with the database's own words.
      ['exists', /UNIQUE constraint failed: instances(?:_snapshots)?\./i],
    ],
    // `incus exec` of a missing instance, or with no daemon.
    execOwn: /^Error: (?:Failed to fetch instance |The incus daemon doesn't appear to be started)/,
  },
};

/** The subcommands (first argv word) whose arguments carry config keys: {@link clientArgv} renames keys there only, never in exec's or file's arguments. */
const KEYED = new Set(['init', 'launch', 'copy', 'config', 'profile']);

/** `[remote:]instance/snap` split at its last "/": [`[remote:]instance`, `snap`], or undefined when it names no snapshot. */
function snapshotPath(arg: string | undefined): [string, string] | undefined {
  const i = arg?.lastIndexOf('/') ?? -1;
  return arg && i > 0 && !arg.startsWith('-') ? [arg.slice(0, i), arg.slice(i + 1)] : undefined;
}

/**
 * A snapshot's delete or rename in `snapshot delete|rename` form, for a client without
 * {@link ClientSpec.snapshotPaths}; undefined when `args` is not one.
 */
function snapshotSubcommand(args: readonly string[]): string[] | undefined {
  const [verb, first, second] = args;
  const from = snapshotPath(first);
  if (!from) return undefined;
  if (verb === 'delete') return ['snapshot', 'delete', from[0], from[1], ...args.slice(2)];
  const to = snapshotPath(second);
  if ((verb === 'rename' || verb === 'move') && to && to[0] === from[0]) return ['snapshot', 'rename', from[0], from[1], to[1], ...args.slice(3)];
  return undefined;
}

/**
 * The argv (after the binary) of `args`, written in lxc's words, for client `c`: a renamed
 * subcommand ({@link ClientSpec.subcommands}), a snapshot's delete or rename
 * ({@link ClientSpec.snapshotPaths}) and renamed config keys (`KEY=VALUE`, or a bare KEY,
 * in init/copy/config/profile calls; nothing after `--`). Pure.
 */
export function clientArgv(c: ClientSpec, args: readonly string[]): string[] {
  const snap = c.snapshotPaths ? undefined : snapshotSubcommand(args);
  if (snap) return snap;
  // The longest renamed subcommand the argv starts with (one word, or several: "storage volume snapshot").
  const said = Object.keys(c.subcommands)
    .map((k) => k.split(' '))
    .filter((w) => w.every((x, i) => args[i] === x))
    .sort((a, b) => b.length - a.length)[0];
  const out = said ? [...c.subcommands[said.join(' ')]!, ...args.slice(said.length)] : [...args];
  if (!Object.keys(c.configKeys).length || !KEYED.has(args[0] ?? '')) return out;
  const end = out.indexOf('--');
  return out.map((a, i) => {
    if (end !== -1 && i > end) return a;
    const eq = a.indexOf('=');
    const key = eq === -1 ? a : a.slice(0, eq);
    const renamed = c.configKeys[key];
    return renamed ? `${renamed}${eq === -1 ? '' : a.slice(eq)}` : a;
  });
}

/** A config key as client `c` names it (LXD's `security.devlxd` is Incus's `security.guestapi`). Pure. */
export const clientConfigKey = (c: ClientSpec, key: string): string => c.configKeys[key] ?? key;

/** The client chosen for a handler instance, and why (for `status`). */
export interface ChosenClient {
  spec: ClientSpec;
  /** `ADDRESS INCUS`, `REXX_LXD_CLIENT=incus`, or what auto saw. */
  why: string;
}

/** ADDRESS targets that always drive one client (the same handler registered under another name). */
const TARGET_CLIENT: Readonly<Record<string, ClientName>> = { incus: 'incus' };

/** The handler env variable that picks the client of ADDRESS LXD. */
export const CLIENT_ENV = 'REXX_LXD_CLIENT';

const CACHE_KEY = 'lxd:client';

/** True when `binary` is an executable file in one of PATH's directories (a read: no command runs). */
function onPath(ctx: Pick<Ctx, 'env' | 'fs'>, binary: string): boolean {
  return (ctx.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(':').some((d) => d !== '' && ctx.fs.exists(`${d}/${binary}`));
}

/** True when the env points client `c` at a daemon of its own choosing (its dir or socket variable is set). */
const namesDaemon = (c: ClientSpec, env: Record<string, string | undefined>): boolean => Boolean(env[c.dirEnv] || (c.socketEnv && env[c.socketEnv]));

/** The unix socket client `c` talks to, as the client itself finds it from the env. */
export function socketOf(c: ClientSpec, env: Record<string, string | undefined>): string {
  if (c.socketEnv && env[c.socketEnv]) return env[c.socketEnv]!;
  const dir = env[c.dirEnv];
  return dir ? `${dir.replace(/\/+$/, '')}/unix.socket` : c.socket;
}

/**
 * The client this handler instance drives, decided once (kept in `ctx.cache`) from files
 * only, so nothing runs for it:
 * - ADDRESS INCUS: incus;
 * - else env `REXX_LXD_CLIENT` = `lxc` or `incus` (RC 2 for any other value but `auto`);
 * - auto: the one on PATH; when both are, the one whose daemon the env names (LXD_DIR;
 *   INCUS_DIR or INCUS_SOCKET), else the one whose daemon socket exists ({@link socketOf});
 *   when both or neither do, lxc (the handler's name).
 * A client that is not installed is then RC 6 at its first command, as before.
 */
export function resolveClient(ctx: Pick<Ctx, 'env' | 'fs' | 'cache' | 'table'>): ChosenClient {
  const hit = ctx.cache.get(CACHE_KEY) as ChosenClient | undefined;
  if (hit) return hit;
  const chosen = chooseClient(ctx);
  ctx.cache.set(CACHE_KEY, chosen);
  return chosen;
}

function chooseClient(ctx: Pick<Ctx, 'env' | 'fs' | 'table'>): ChosenClient {
  const fixed = TARGET_CLIENT[ctx.table.target];
  if (fixed) return { spec: CLIENTS[fixed], why: `ADDRESS ${ctx.table.target.toUpperCase()}` };
  const wanted = (ctx.env[CLIENT_ENV] ?? '').trim().toLowerCase();
  if (wanted === 'lxc' || wanted === 'incus') return { spec: CLIENTS[wanted], why: `${CLIENT_ENV}=${wanted}` };
  if (wanted !== '' && wanted !== 'auto') throw usageError(`${CLIENT_ENV}=${JSON.stringify(ctx.env[CLIENT_ENV])} is not one of lxc, incus, auto`);
  const installed = (['lxc', 'incus'] as const).filter((n) => onPath(ctx, CLIENTS[n].binary));
  if (installed.length === 1) return { spec: CLIENTS[installed[0]!], why: `auto: only ${installed[0]} is installed` };
  if (installed.length === 0) return { spec: CLIENTS.lxc, why: 'auto: neither lxc nor incus is on PATH' };
  // A daemon named in the env (LXD_DIR, INCUS_DIR, INCUS_SOCKET) is the one meant, answering or not.
  const named = installed.filter((n) => namesDaemon(CLIENTS[n], ctx.env));
  if (named.length === 1) return { spec: CLIENTS[named[0]!], why: `auto: both installed, ${CLIENTS[named[0]!].dirEnv}${CLIENTS[named[0]!].socketEnv ? ` or ${CLIENTS[named[0]!].socketEnv}` : ''} is set` };
  const up = installed.filter((n) => ctx.fs.exists(socketOf(CLIENTS[n], ctx.env)));
  if (up.length === 1) return { spec: CLIENTS[up[0]!], why: `auto: both installed, only ${CLIENTS[up[0]!].daemon}'s socket is there` };
  return { spec: CLIENTS.lxc, why: `auto: both installed, ${up.length ? 'both daemons\' sockets are there' : 'no daemon socket'}: lxc` };
}

/** The argv of `args` (in lxc's words) for the client this handler drives: binary first. */
export function clientCommand(ctx: Pick<Ctx, 'env' | 'fs' | 'cache' | 'table'>, args: readonly string[]): string[] {
  const c = resolveClient(ctx).spec;
  return [c.binary, ...clientArgv(c, args)];
}
