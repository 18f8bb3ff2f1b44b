/**
 * The tools of ADDRESS LXCRI: the OCI runtime CLI, and skopeo/umoci for images.
 *
 * The OCI runtime CLI as the LXCRI verbs use it. Every runtime here speaks the
 * runtime-spec command line (`create`, `start`, `state`, `kill`, `delete`, …), so the
 * verbs build one argv and this module prefixes the binary, its `--root` state
 * directory and, for crun on a hybrid cgroup host, a private mount namespace; failures
 * are classified into the RC table (errors.ts).
 */
import type { RunOptions, RunResult } from '../../shared/runner';
import type { Ctx } from '../../shared/verb';
import { imageError, ociError } from './errors';
import type { Runtime } from './runtime';

/** The full argv for `<runtime> --root ROOT ARGS` (with the crun wrapper when needed). */
export function rtArgv(rt: Runtime, args: string[], globals: string[] = []): string[] {
  const bin = rt.wrapper.length ? [...rt.wrapper] : [rt.name];
  return [...bin, '--root', rt.root, ...globals, ...args];
}

/** Run the runtime; throws the classified AddressError (errors.ts) when it fails. */
export async function rtRun(ctx: Ctx, rt: Runtime, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await ctx.run(rtArgv(rt, args), opts);
  if (!r.ok) throw ociError(r);
  return r;
}

/** `ROOT/ID.log`: the runtime's JSON log of a detaching command for container ID. */
export const logFile = (rt: Runtime, id: string) => `${rt.root}/${id}.log`;

/** The `msg` of each JSON line of a runtime log (a line that is not JSON as it is). */
const logMessages = (text: string) =>
  text
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      try {
        return String((JSON.parse(l) as { msg?: unknown }).msg ?? l);
      } catch {
        return l;
      }
    })
    .join('\n');

/** `ROOT/ID.out.log`: the container's own stdout and stderr after `run` / `create` (the `logs` verb reads it). */
export const outputLog = (rt: Runtime, id: string) => `${rt.root}/${id}.out.log`;

/**
 * Runs `"$@"` with stdout and stderr appended to the file named by its first argument.
 * A fixed script, no user text in it (the file and the argv arrive as "$1" and "$@");
 * the runner has no way to hand a child a file as its stdio, and a detached container
 * inherits the runtime's stdio, so this is how its output reaches a file.
 */
export const OUTPUT_TO_FILE_SCRIPT = 'f=$1; shift; exec "$@" >>"$f" 2>&1';

/**
 * Run a detaching command (`run -d`, `create`, `restore -d`): the container inherits the
 * runtime's stdio, so output is not piped (execa would wait for the container): it goes
 * to `output` (appended; {@link OUTPUT_TO_FILE_SCRIPT}) or nowhere. The runtime's own
 * messages go to `--log ROOT/ID.log` (JSON lines) and are read back on failure, then
 * classified like any runtime failure (RC by errors.ts; RC 5 at `timeoutMs`).
 */
export async function rtDetached(ctx: Ctx, rt: Runtime, id: string, args: string[], timeoutMs: number, output?: string): Promise<RunResult> {
  const log = logFile(rt, id);
  ctx.fs.writeText(log, '');
  const argv = rtArgv(rt, args, ['--log', log, '--log-format', 'json']);
  const r = await ctx.run(output ? ['sh', '-c', OUTPUT_TO_FILE_SCRIPT, 'sh', output, ...argv] : argv, { stdio: 'ignore', timeoutMs });
  if (!r.ok) throw ociError({ ...r, stderr: logMessages(ctx.fs.readText(log) ?? '') });
  return r;
}

/** Run skopeo or umoci (default timeout 600 000 ms; `readOnly` for a query that also runs under dryrun); throws the classified AddressError when it fails. */
export async function imageTool(ctx: Ctx, argv: string[], timeoutMs = 600_000, opts: RunOptions = {}) {
  const r = await ctx.run(argv, { timeoutMs, ...opts });
  if (!r.ok) throw imageError(r);
  return r;
}
