/**
 * The `lxc` client as the LXD verbs use it: run through the shared runner with the
 * busy retry, failures classified by errors.ts, the argv builders (init, stop flags),
 * and the cheap single-instance probe (`lxc query /1.0/instances/NAME`, ~11 ms) that
 * the poller and lookups use.
 */
import { isReason, notFound, type Classifier } from '../../shared/errors';
import type { RunOptions, RunResult } from '../../shared/runner';
import type { UnixGetAnswer } from '../../shared/unix-http';
import type { AnyVerb, Ctx } from '../../shared/verb';
import { clientCommand, resolveClient, socketOf, type ClientSpec } from './client';
import { LXC_ERRORS, lxcError } from './errors';
import { PROJECT } from './params';

/** `remote:name` when a remote is given, else `name`. */
export const ref = (remote: string | undefined, name: string) => (remote ? `${remote}:${name}` : name);

/** How long `lxc()` keeps retrying an instance that is busy with another call's operation (ms). */
const BUSY_WAIT_MS = 30_000;

/**
 * Run `lxc ARGS`; throws the AddressError of errors.ts when it fails (classified by
 * `opts.errors`, default LXC_ERRORS). When LXD answers that the instance is busy
 * (reason `busy`: another call's operation, such as a parallel snapshot or the create of
 * the same name), nothing was done, so it is retried with back-off (20 ms growing to
 * 500 ms) for up to 30 s: a parallel create of the same name then gets "already exists"
 * (RC 4); still busy after that is RC 1.
 */
export async function lxc(ctx: Ctx, args: string[], opts: RunOptions & { errors?: Classifier } = {}): Promise<RunResult> {
  const { errors = LXC_ERRORS, ...runOpts } = opts;
  const deadline = ctx.clock.now() + BUSY_WAIT_MS;
  for (let pause = 20; ; pause = Math.min(500, pause * 1.5)) {
    const r = await ctx.run(clientCommand(ctx, args), runOpts);
    if (r.ok) return r;
    const e = lxcError(r, errors);
    if (!isReason(e, 'busy') || ctx.clock.now() + pause > deadline) throw e;
    ctx.log(`lxc ${args[0]}: the instance is busy with another call's operation; again in ${Math.round(pause)} ms`);
    await ctx.clock.sleep(pause);
  }
}

/**
 * GET PATH of the LXD API, parsed as JSON: what `lxc query [remote:]PATH` prints (the
 * answer's metadata). A read: it runs under dryrun too. The local daemon is asked on its
 * unix socket (the client's, client.ts socketOf: $LXD_SOCKET, $LXD_DIR/unix.socket or
 * /var/lib/lxd/unix.socket for lxc) when the handler can (ctx.get) and the client's
 * default remote is that daemon (~2 ms, where starting `lxc query` takes ~40 ms);
 * otherwise, for `remote=`, and when there is no socket file there (lxc may know where
 * it is, as for a snap's LXD; the socket is tried again on the next read), through `lxc query`. Failures are classified as lxc's
 * (LXC_ERRORS): LXD's "Instance not found" is RC 3, a socket nobody answers RC 6, no
 * answer within `timeoutMs` RC 5.
 */
export async function query<T>(ctx: Ctx, remote: string | undefined, path: string, timeoutMs = 30_000): Promise<T> {
  const answer = await socketGet(ctx, remote, path, timeoutMs);
  if (answer) return envelope<T>(answer, path);
  const r = await lxc(ctx, ['query', ref(remote, path)], { readOnly: true, timeoutMs });
  return JSON.parse(r.stdout) as T;
}

/**
 * GET PATH on the local daemon's unix socket, as {@link query} decides: the raw answer
 * (status, body, headers), or undefined when this call must ask the client instead
 * (`remote=`, a fake runner, a default remote that is not local, no socket file).
 * A socket nobody answers is RC 6 (as lxc says it); no answer within `timeoutMs` RC 5.
 */
export async function socketGet(ctx: Ctx, remote: string | undefined, path: string, timeoutMs: number): Promise<UnixGetAnswer | undefined> {
  const client = resolveClient(ctx).spec;
  if (remote || !ctx.get || !localIsDefault(ctx, client)) return undefined;
  const socket = socketOf(client, ctx.env);
  try {
    return await ctx.get(socket, path, timeoutMs);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (!code) throw e; // (RC 5 from the deadline)
    // No socket file (the daemon is down, or lxc knows another place): ask lxc this time.
    // Not remembered: a failed connect costs well under a millisecond, and a daemon that
    // comes back is read on its socket again for the rest of a long script.
    if (code === 'ENOENT') return undefined;
    throw apiFailed(path, `Error: Get "http://unix.socket${path}": dial unix ${socket}: connect: ${code}`);
  }
}

/** The AddressError of a failed read of `path`, from the words lxc prints for it, so that one classifier (errors.ts LXC_ERRORS) decides. */
const apiFailed = (path: string, stderr: string) =>
  lxcError({ argv: ['GET', path], ok: false, exitCode: 1, signal: null, timedOut: false, missing: false, stdout: '', stderr, durationMs: 0 });

/** The error text of an answer whose body is LXD's error envelope (`{"type":"error","error":"Not Found",…}`), else undefined. */
export function envelopeError(answer: UnixGetAnswer): string | undefined {
  try {
    const body = JSON.parse(answer.body) as { type?: string; error?: string };
    return body.type === 'error' ? String(body.error ?? '') : undefined;
  } catch {
    return undefined;
  }
}

/** The metadata of an LXD API answer (what `lxc query` prints), or its error as lxc gives it: "Instance not found" is RC 3. */
export function envelope<T>(answer: UnixGetAnswer, path: string): T {
  let body: { type?: string; error?: string; metadata?: unknown };
  try {
    body = JSON.parse(answer.body);
  } catch {
    throw apiFailed(path, `Error: LXD answered GET ${path} with HTTP ${answer.status} and no JSON: ${answer.body.slice(0, 200)}`);
  }
  if (body.type === 'error' || answer.status >= 400) throw apiFailed(path, `Error: ${body.error || `HTTP ${answer.status}`}`);
  return body.metadata as T;
}

/**
 * Is the client's default remote the local daemon (`default-remote: local`, or no config
 * at all, in its config.yml: $LXD_CONF or ~/.config/lxc for lxc, $INCUS_CONF or
 * ~/.config/incus for incus)? Only then is "no remote=" the unix socket. Read once per
 * handler.
 */
function localIsDefault(ctx: Ctx, c: ClientSpec): boolean {
  const key = 'lxd.localIsDefault';
  let yes = ctx.cache.get(key) as boolean | undefined;
  if (yes === undefined) {
    const dir = ctx.env[c.confEnv] || `${ctx.env.HOME || '/root'}/${c.confDir}`;
    const text = ctx.fs.readText(`${dir}/config.yml`);
    const m = text === undefined ? undefined : /^default-remote:\s*"?([^"\s]+)"?\s*$/m.exec(text);
    yes = !m || m[1] === 'local';
    ctx.cache.set(key, yes);
  }
  return yes;
}

/** The fields of GET /1.0/instances/NAME that the verbs read. */
export interface Instance {
  name: string;
  status: string;
  status_code: number;
  type: string;
  config: Record<string, string>;
  /** Config after profiles are applied. */
  expanded_config?: Record<string, string>;
  /** The instance's own devices (not those of its profiles). */
  devices?: Record<string, Record<string, string>>;
  /** Devices after profiles are applied (device name → its keys, `type` among them). */
  expanded_devices?: Record<string, Record<string, string>>;
  profiles: string[];
  created_at: string;
  stateful?: boolean;
  /** The cluster member it is on (`none` on a daemon that is not clustered). */
  location?: string;
}

/** GET /1.0/instances/NAME, or undefined when it does not exist. */
export async function getInstance(ctx: Ctx, remote: string | undefined, name: string): Promise<Instance | undefined> {
  try {
    return await query<Instance>(ctx, remote, `/1.0/instances/${encodeURIComponent(name)}`);
  } catch (e) {
    if (isReason(e, 'notFound')) return undefined;
    throw e;
  }
}

/** GET /1.0/instances/NAME; RC 3 "instance NAME not found" when it does not exist. */
export async function requireInstance(ctx: Ctx, remote: string | undefined, name: string): Promise<Instance> {
  const i = await getInstance(ctx, remote, name);
  if (!i) throw notFound(`instance ${ref(remote, name)} not found`);
  return i;
}

/** The fields of GET /1.0/instances/NAME/state that the verbs read. */
export interface InstanceState {
  status: string;
  pid: number;
  /** Process count; for a VM -1 until its lxd-agent answers (LXD fills it from the agent). */
  processes?: number;
  network: Record<string, { addresses: Array<{ family: string; address: string; scope: string }> }> | null;
}

/** Global-scope addresses of a running instance of `family` (`inet`, `inet6`; loopback excluded). */
export function addressesOf(state: InstanceState, family: 'inet' | 'inet6' = 'inet'): string[] {
  return Object.entries(state.network ?? {})
    .filter(([nic]) => nic !== 'lo')
    .flatMap(([, n]) => n.addresses.filter((a) => a.family === family && a.scope === 'global').map((a) => a.address));
}

/** Global-scope IPv4 addresses of a running instance (loopback excluded). */
export const ipv4Of = (state: InstanceState): string[] => addressesOf(state, 'inet');

/** Wait until the instance's status (from the single-instance probe) is `status`. */
export async function waitStatus(ctx: Ctx, remote: string | undefined, name: string, status: string, timeoutMs: number) {
  return ctx.poll(
    async () => {
      const i = await requireInstance(ctx, remote, name);
      return i.status === status ? i : undefined;
    },
    { timeoutMs, what: `${name} to be ${status}` },
  );
}

/** Wait until the instance has a global IPv4 address; resolves to the addresses. */
export async function waitIpv4(ctx: Ctx, remote: string | undefined, name: string, timeoutMs: number, family: 'inet' | 'inet6' = 'inet') {
  return ctx.poll(
    async () => {
      const s = await query<InstanceState>(ctx, remote, `/1.0/instances/${encodeURIComponent(name)}/state`);
      const ips = addressesOf(s, family);
      return ips.length ? ips : undefined;
    },
    { timeoutMs, what: `${name} to get a global ${family === 'inet' ? 'IPv4' : 'IPv6'} address`, initialMs: 50 },
  );
}

/** The `lxc init` options that create and register_base image= share. */
export interface InitOptions {
  profile: readonly string[];
  storage?: string;
  /** limits.memory, e.g. 256MiB. */
  memory?: string;
  /** limits.cpu: a count or a CPU set. */
  cpus?: string;
  /** KEY=VALUE pairs (checked by config-policy.ts first). */
  config: readonly string[];
}

/** The argv (after `lxc`) of `lxc init IMAGE TARGET` with `o`: profiles, pool, limits, config, in that order. */
export function initArgs(image: string, target: string, o: InitOptions): string[] {
  const args = ['init', image, target];
  for (const pr of o.profile) args.push('--profile', pr);
  if (o.storage) args.push('--storage', o.storage);
  if (o.memory) args.push('--config', `limits.memory=${o.memory}`);
  if (o.cpus) args.push('--config', `limits.cpu=${o.cpus}`);
  for (const c of o.config) args.push('--config', c);
  return args;
}

/** `lxc stop|restart` flags: `--force` stops at once, else `--timeout S` allows a clean shutdown of `timeoutMs` (whole seconds, at least 1). */
export const shutdownFlags = (force: boolean, timeoutMs: number): string[] =>
  force ? ['--force'] : ['--timeout', String(Math.max(1, Math.ceil(timeoutMs / 1000)))];

// ---- project=: the one place an LXD project is applied

/** The client commands project= applies to (argv[0]); anything else a verb runs (install, tar) is left as it is. */
const PROJECT_CLIENTS = /(?:^|\/)(?:lxc|incus)$/;

/** An API path as `lxc query` takes it: `[remote:]/1.0…`. */
const API_PATH = /^(?:[A-Za-z0-9][A-Za-z0-9._-]*:)?\/1\.0(?:[/?]|$)/;

/**
 * The command `argv` inside LXD project `project`: `--project NAME` right after the
 * client (`lxc --project P init …`, as every lxc subcommand takes it), except for `lxc
 * query`, which refuses the flag ("--project cannot be used with the query command",
 * LXD 5.0): there the API path gets `project=NAME` in its query string, which is how
 * the REST API takes a project. Without a project, or for another program, argv as it is.
 */
export function inProjectArgv(argv: readonly string[], project: string | undefined): string[] {
  if (!project || !PROJECT_CLIENTS.test(argv[0] ?? '')) return [...argv];
  if (argv[1] !== 'query') return [argv[0]!, '--project', project, ...argv.slice(1)];
  return argv.map((a, i) => (i > 1 && API_PATH.test(a) ? pathInProject(a, project) : a));
}

/** An API path (`/1.0/…`) with `project=NAME` in its query string, as the REST API takes a project (unless it has one). */
const pathInProject = (p: string, project: string) =>
  /[?&]project=/.test(p) ? p : `${p}${p.includes('?') ? '&' : '?'}project=${encodeURIComponent(project)}`;

/**
 * `ctx` whose commands run inside `project` ({@link inProjectArgv}): every `lxc` call a
 * verb makes, through `lxc()`, `query()` (its socket reads too) or its own `ctx.run`, is in the project, so no
 * verb or library passes the project along. The same ctx without a project.
 */
export function inProject(ctx: Ctx, project: string | undefined): Ctx {
  if (!project) return ctx;
  return {
    ...ctx,
    run: (argv, o) => ctx.run(inProjectArgv(argv, project), o),
    runPipeline: (argvs, o) => ctx.runPipeline(argvs.map((a) => inProjectArgv(a, project)), o),
    // The reads query() makes on the daemon's socket.
    ...(ctx.get ? { get: (socket: string, p: string, t: number) => ctx.get!(socket, pathInProject(p, project), t) } : {}),
  };
}

/** `v` with the project= param (params.ts PROJECT), run inside that project ({@link inProject}). */
export function withProject(v: AnyVerb): AnyVerb {
  return {
    ...v,
    params: { ...v.params, ...PROJECT },
    run: (p, ctx) => {
      const { project, ...rest } = p as { project?: string };
      return v.run(rest, inProject(ctx, project));
    },
  };
}
