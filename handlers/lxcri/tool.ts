/**
 * The tools of ADDRESS LXCRI: the OCI runtime CLI, and skopeo/umoci for images.
 *
 * The OCI runtime CLI as the LXCRI verbs use it. Every runtime here speaks the
 * runtime-spec command line (`create`, `start`, `state`, `kill`, `delete`, …), so the
 * verbs build one argv and this module prefixes the binary, its `--root` state
 * directory and, for crun on a hybrid cgroup host, a private mount namespace; failures
 * are classified into the RC table.
 */
import * as fs from 'node:fs';
import { classify, type Classifier } from '../../shared/errors';
import type { RunOptions, RunResult } from '../../shared/runner';
import type { Ctx } from '../../shared/verb';
import type { Runtime } from './runtime';

/** Messages of runc 1.1, crun 1.8 and lxcri mapped to the RC table. */
export const OCI_ERRORS: Classifier = {
  patterns: [
    ['exists', /already exists|container with given ID already exists|container with id exists/i],
    ['notFound', /container does not exist|does not exist|error opening file `[^`]*\/status`|no such container/i],
    ['refused', /cannot delete container .* that is not stopped|is not stopped|cannot start an already running|not paused|not running|container is paused/i],
    ['timedOut', /timed out|timeout/i],
  ],
};

/** The full argv for `<runtime> --root ROOT ARGS` (with the crun wrapper when needed). */
export function rtArgv(rt: Runtime, args: string[], globals: string[] = []): string[] {
  const bin = rt.wrapper.length ? [...rt.wrapper] : [rt.name];
  return [...bin, '--root', rt.root, ...globals, ...args];
}

/** Run the runtime; throws the classified AddressError when it fails. */
export async function rtRun(ctx: Ctx, rt: Runtime, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await ctx.run(rtArgv(rt, args), opts);
  if (!r.ok) throw classify(r, OCI_ERRORS);
  return r;
}

/** `ROOT/ID.log`: the runtime's JSON log of a detaching command for container ID. */
export const logFile = (rt: Runtime, id: string) => `${rt.root}/${id}.log`;

/**
 * Run a detaching command (`run -d`, `create`): the container inherits the runtime's
 * stdio, so output is not piped (execa would wait for the container); the runtime's
 * own messages go to `--log ROOT/ID.log` (JSON lines) and are read back on failure.
 */
export async function rtDetached(ctx: Ctx, rt: Runtime, id: string, args: string[], timeoutMs: number): Promise<RunResult> {
  const log = logFile(rt, id);
  if (!ctx.dryrun) {
    fs.mkdirSync(rt.root, { recursive: true });
    fs.writeFileSync(log, '');
  }
  const r = await ctx.run(rtArgv(rt, args, ['--log', log, '--log-format', 'json']), { stdio: 'ignore', timeoutMs });
  if (!r.ok) {
    let stderr = '';
    try {
      stderr = fs
        .readFileSync(log, 'utf8')
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
    } catch {
      /* no log: keep the exit code message */
    }
    throw classify({ ...r, stderr }, OCI_ERRORS);
  }
  return r;
}

/** skopeo/umoci messages mapped to the RC table. */
export const IMAGE_ERRORS: Classifier = {
  patterns: [
    ['notFound', /no such file or directory|does not exist|not found|no descriptor found|unable to find/i],
    ['exists', /already exists/i],
  ],
};

/** Run skopeo or umoci (default timeout 600 000 ms); throws the classified AddressError when it fails. */
export async function imageTool(ctx: Ctx, argv: string[], timeoutMs = 600_000) {
  const r = await ctx.run(argv, { timeoutMs });
  if (!r.ok) throw classify(r, IMAGE_ERRORS);
  return r;
}
