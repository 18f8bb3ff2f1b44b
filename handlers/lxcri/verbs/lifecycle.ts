/**
 * OCI lifecycle (runtime-spec "Operations"): create, start, run (create + start,
 * detached), kill, stop (signal, wait, KILL: podman stop), delete, pause, resume. State changes are waited for through the
 * shared poller on `<runtime> state ID`. create/run and delete of one id hold its lock
 * (container.ts withContainerLock), so parallel scripts take turns.
 */
import { isReason, notFound, refused, timedOut } from '../../../shared/errors';
import { signalName } from '../names';
import { defineVerb, type Ctx } from '../../../shared/verb';
import { checkBundle } from '../bundle-policy';
import { getState, mustNotExist, mustState, removeRunFiles, requireBundleConfig, runDetached, waitState, withContainerLock } from '../container';
import { BUNDLE, NAME, POOL, RUNTIME, timeout, ZFS_OPTS } from '../params';
import { placeRootfsOnZfs, purgeContainerDataset } from '../rootfs';
import { pickRuntime, type Runtime } from '../runtime';
import { rtRun } from '../tool';

/** What create, run and start report. */
const CONTAINER_VARS = { STATUS: 'created or running (stopped when it exited at once)', PID: 'init pid on the host', RUNTIME: 'the runtime used' } as const;
const CREATE_VARS = { ...CONTAINER_VARS, DATASET: 'its rootfs dataset (zfs=true)' } as const;

const created = (rt: Runtime, s: { pid: number; status: string }) => ({ STATUS: s.status, PID: s.pid, RUNTIME: rt.name });

/** create (or run -d) a container, rootfs moved onto ZFS first when asked; waits for created|running. */
async function createOrRun(
  ctx: Ctx,
  p: { name: string; bundle: string; runtime: string; zfs?: boolean; pool?: string; timeout: number },
  verb: 'create' | 'run',
) {
  const rt = await pickRuntime(ctx, p.runtime);
  // One id, one winner: of parallel calls the first creates it, the rest find it (RC 4).
  return withContainerLock(ctx, rt, p.name, p.timeout, async () => {
    await mustNotExist(ctx, rt, p.name);
    await requireBundleConfig(ctx, p.bundle); // RC 3, before anything is made
    checkBundle(ctx, p.bundle); // before the rootfs is moved onto ZFS (runDetached checks again)
    const ds = await placeRootfsOnZfs(ctx, p);
    const t0 = ctx.clock.monotonic();
    const s = await runDetached(ctx, rt, p.name, p.bundle, p.timeout, verb);
    const ms = Math.round(ctx.clock.monotonic() - t0);
    const status = s?.status ?? (verb === 'run' ? 'running' : 'created');
    return { result: status, vars: { ...created(rt, { pid: s?.pid ?? 0, status }), DATASET: ds ?? '', [`${verb.toUpperCase()}_MS`]: ms } };
  });
}

export const create = defineVerb({
  name: 'create',
  summary: 'create a container from a bundle (runtime create); zfs=true first puts its rootfs on dataset <pool>/containers/<id>',
  params: { ...NAME, ...BUNDLE, ...ZFS_OPTS, ...RUNTIME, ...timeout(30_000, 'how long create may take (RC 5)') },
  positional: ['name', 'bundle'],
  examples: ['create name=web bundle=/srv/oci/web', 'create name=web bundle=/srv/oci/web zfs=true'],
  vars: { ...CREATE_VARS, CREATE_MS: 'ms create took' },
  run: (p, ctx) => createOrRun(ctx, p, 'create'),
});

export const run = defineVerb({
  name: 'run',
  summary: 'create and start a container, detached (runtime run -d), and wait until it is running',
  params: { ...NAME, ...BUNDLE, ...ZFS_OPTS, ...RUNTIME, ...timeout(30_000, 'how long run may take (RC 5)') },
  positional: ['name', 'bundle'],
  examples: ['run name=web bundle=/srv/oci/web'],
  vars: { ...CREATE_VARS, RUN_MS: 'ms run took' },
  run: (p, ctx) => createOrRun(ctx, p, 'run'),
});

export const start = defineVerb({
  name: 'start',
  summary: 'start a created container (runtime start) and wait until it is running',
  params: { ...NAME, ...RUNTIME, ...timeout(30_000, 'how long to wait for running (RC 5)') },
  positional: ['name'],
  vars: CONTAINER_VARS,
  async run(p, ctx) {
    const rt = await pickRuntime(ctx, p.runtime);
    await rtRun(ctx, rt, ['start', p.name], { timeoutMs: p.timeout, stdio: 'ignore' });
    const s = (await waitState(ctx, rt, p.name, ['running', 'stopped'], p.timeout)).value;
    return { result: s?.status ?? 'running', vars: created(rt, s ?? { pid: 0, status: 'running' }) };
  },
});

export const kill = defineVerb({
  name: 'kill',
  summary: 'send a signal to the container\'s init process (runtime kill; default TERM); wait=true waits until stopped',
  params: {
    ...NAME,
    signal: { type: 'string', rule: signalName, default: 'TERM', doc: 'signal name or number' },
    all: { type: 'bool', default: false, doc: 'signal every process in the container (--all)' },
    wait: { type: 'bool', default: false, doc: 'wait until the container is stopped' },
    ...RUNTIME,
    ...timeout(10_000, 'how long to wait for stopped (RC 5)'),
  },
  positional: ['name', 'signal'],
  vars: {},
  async run(p, ctx) {
    const rt = await pickRuntime(ctx, p.runtime);
    const args = ['kill'];
    if (p.all) args.push('--all');
    const sig = signalArg(p.signal);
    args.push(p.name, sig);
    await rtRun(ctx, rt, args);
    if (p.wait) {
      try {
        await waitState(ctx, rt, p.name, ['stopped'], p.timeout);
      } catch (e) {
        if (!isReason(e, 'timedOut') || sig === 'KILL' || sig === '9') throw e;
        // PID 1 of a pid namespace gets no default action for a signal it has no handler
        // for: a `sleep` or a plain shell as init never dies of TERM.
        throw timedOut(
          `container ${p.name} is still running ${p.timeout} ms after SIG${sig}: its init process (PID 1 in the container) ignores signals it has no handler for, as a sleep or a shell does; use kill signal=KILL, or stop name=${p.name} (SIG${sig}, then KILL after timeout=)`,
          { cause: e.cause },
        );
      }
    }
    return { result: p.name };
  },
});

/** A signal= value as the runtimes take it: TERM, KILL, 9 (no SIG prefix). */
const signalArg = (s: string) => s.toUpperCase().replace(/^SIG/, '');

export const stop = defineVerb({
  name: 'stop',
  summary: 'stop a container as podman stop does: signal= (TERM), wait up to timeout= for it to stop, then KILL; RC 0 when it stopped, STOPPED_BY says which signal did it',
  params: {
    ...NAME,
    signal: { type: 'string', rule: signalName, default: 'TERM', doc: 'the first signal (the container\'s stop signal)' },
    ...RUNTIME,
    ...timeout(10_000, 'how long to wait after signal= before KILL (0 = KILL at once)'),
  },
  positional: ['name'],
  examples: ['stop name=web', 'stop name=web timeout=30s signal=INT'],
  vars: {
    STOPPED_BY: "the signal that stopped it: TERM (or the signal= given) or KILL; '' when it was already stopped",
    STOP_MS: 'ms from the first signal until it was stopped',
    STATUS: 'stopped',
  },
  async run(p, ctx) {
    const rt = await pickRuntime(ctx, p.runtime);
    const s0 = await mustState(ctx, rt, p.name);
    if (s0.status === 'stopped') return { result: 'stopped', vars: { STOPPED_BY: '', STOP_MS: 0, STATUS: 'stopped' } };
    const t0 = ctx.clock.monotonic();
    const done = (by: string) => ({ result: 'stopped', vars: { STOPPED_BY: by, STOP_MS: Math.round(ctx.clock.monotonic() - t0), STATUS: 'stopped' } });
    /** Send `sig`; a container that stopped meanwhile is not an error. A paused one is thawed after, so it can act on it (as podman does). */
    const send = async (sig: string) => {
      try {
        await rtRun(ctx, rt, ['kill', p.name, sig]);
      } catch (e) {
        if (!isReason(e, 'refused', 'notFound')) throw e;
      }
      if (s0.status === 'paused') await rtRun(ctx, rt, ['resume', p.name]).catch(() => undefined);
    };
    const first = signalArg(p.signal);
    if (p.timeout > 0 && first !== 'KILL' && first !== '9') {
      await send(first);
      try {
        await waitState(ctx, rt, p.name, ['stopped'], p.timeout);
        return done(first);
      } catch (e) {
        if (!isReason(e, 'timedOut')) throw e;
      }
    }
    await send('KILL');
    // SIGKILL of PID 1 ends every process of its pid namespace; the runtime sees it at once.
    await waitState(ctx, rt, p.name, ['stopped'], KILL_WAIT_MS);
    return done('KILL');
  },
});

/** How long stop waits for a container to be stopped after KILL (ms): RC 5 past it. */
const KILL_WAIT_MS = 10_000;

export const del = defineVerb({
  name: 'delete',
  summary: 'delete a container (runtime delete); a running one only with force=true (RC 7); purge=true also destroys its rootfs dataset',
  params: {
    ...NAME,
    force: { type: 'bool', default: false, doc: 'kill and delete a running container (delete --force)' },
    purge: { type: 'bool', default: false, doc: 'also destroy <pool>/containers/<id> and its checkpoints' },
    ...POOL,
    ...RUNTIME,
  },
  positional: ['name'],
  vars: { PURGED: 'the rootfs dataset destroyed (purge=true)' },
  async run(p, ctx) {
    const rt = await pickRuntime(ctx, p.runtime);
    return withContainerLock(ctx, rt, p.name, 60_000, async () => {
      const s = await getState(ctx, rt, p.name);
      if (s && !p.force && s.status !== 'stopped' && s.status !== 'created') {
        throw refused(`container ${p.name} is ${s.status}; kill it first, or delete with force=true`);
      }
      // Under dryrun the container is taken to be there (an earlier step of the script may make it).
      const exists = await ctx.effect(async () => s !== undefined, true);
      if (exists) await rtRun(ctx, rt, p.force ? ['delete', '--force', p.name] : ['delete', p.name], { timeoutMs: 60_000 });
      removeRunFiles(ctx, rt, p.name);
      let purged = '';
      if (p.purge) purged = (await purgeContainerDataset(ctx, p.name, p.pool)) ?? '';
      if (!exists && !purged) throw notFound(`container ${p.name} not found`);
      return { result: p.name, vars: { PURGED: purged } };
    });
  },
});

const pauseLike = (verb: 'pause' | 'resume', summary: string, want: string) =>
  defineVerb({
    name: verb,
    summary,
    params: { ...NAME, ...RUNTIME, ...timeout(10_000, `how long to wait for ${want} (RC 5)`) },
    positional: ['name'],
    vars: { STATUS: want },
    async run(p, ctx) {
      const rt = await pickRuntime(ctx, p.runtime);
      await rtRun(ctx, rt, [verb, p.name]);
      await waitState(ctx, rt, p.name, [want], p.timeout);
      return { result: want, vars: { STATUS: want } };
    },
  });

export const pause = pauseLike('pause', 'freeze every process of a running container (runtime pause)', 'paused');
export const resume = pauseLike('resume', 'thaw a paused container (runtime resume)', 'running');
