/** Read-only verbs: `state` (one container), `list` (all, one call) and `status` (runtime and tools). */
import * as path from 'node:path';
import { argvLine } from '../../../shared/runner';
import { stem } from '../../../shared/result';
import { statusOutput, statusVars, unreachable } from '../../../shared/status';
import { defineVerb } from '../../../shared/verb';
import { mustState, type OciState } from '../container';
import { NAME, RUNTIME } from '../params';
import { hostHybridCgroups, pickRuntime } from '../runtime';
import { rtArgv, rtRun } from '../tool';

export const state = defineVerb({
  name: 'state',
  aliases: ['info'],
  summary: 'one container (runtime state): RESULT its status (creating|created|running|paused|stopped); STATUS, PID, BUNDLE, ROOTFS, CREATED',
  params: { ...NAME, ...RUNTIME },
  positional: ['name'],
  vars: { STATUS: 'creating, created, running, paused or stopped', PID: 'init pid on the host', BUNDLE: 'bundle directory', ROOTFS: 'rootfs path', CREATED: 'creation time (ISO 8601)', RUNTIME: 'the runtime used' },
  async run(p, ctx) {
    const rt = await pickRuntime(ctx, p.runtime);
    const s = await mustState(ctx, rt, p.name);
    return {
      result: s.status,
      vars: { STATUS: s.status, PID: s.pid, BUNDLE: s.bundle, ROOTFS: s.rootfs ? path.resolve(s.bundle, s.rootfs) : '', CREATED: s.created ?? '', RUNTIME: rt.name },
    };
  },
});

export const list = defineVerb({
  name: 'list',
  summary: 'list containers (runtime list --format json): stem CONTAINERS (ids), STATUSES, BUNDLES; filter by id substring or status',
  params: {
    filter: { type: 'string', doc: 'only ids containing this text' },
    status: { type: 'enum', values: ['created', 'running', 'paused', 'stopped'], doc: 'only containers in this state' },
    ...RUNTIME,
  },
  positional: ['filter'],
  vars: { CONTAINERS: { stem: 'container ids' }, STATUSES: { stem: 'the status of each' }, BUNDLES: { stem: 'the bundle of each' } },
  async run(p, ctx) {
    const rt = await pickRuntime(ctx, p.runtime);
    const r = await rtRun(ctx, rt, ['list', '--format', 'json'], { readOnly: true });
    const all = (JSON.parse(r.stdout || '[]') ?? []) as OciState[];
    const hits = all
      .filter((c) => (p.filter ? c.id.includes(p.filter) : true))
      .filter((c) => (p.status ? c.status === p.status : true))
      .sort((a, b) => a.id.localeCompare(b.id));
    return {
      result: hits.map((c) => `${c.id} ${c.status}`).join('\n'),
      vars: { CONTAINERS: stem(hits.map((c) => c.id)), STATUSES: stem(hits.map((c) => c.status)), BUNDLES: stem(hits.map((c) => c.bundle)) },
    };
  },
});

export const status = defineVerb({
  name: 'status',
  summary: 'handler version, the runtime picked and its version, its --root (ROOT: where this handler\'s containers live; plain `runc list` does not show them) and the command that lists them (LIST_COMMAND), whether crun needs its namespace wrapper; RC 6 when no runtime works',
  params: { ...RUNTIME },
  vars: {
    ...statusVars('1 when a runtime answers, else 0'),
    RUNTIME: 'the runtime picked',
    RUNTIME_VERSION: 'its version line',
    ROOT: 'its state root (--root): plain runc list does not show these containers',
    HYBRID_CGROUPS: '1 on a hybrid cgroup v1+v2 host',
    CRUN_WRAPPED: '1 when crun runs in its own mount namespace',
    CRIU: 'criu version line, empty when missing',
    LIST_COMMAND: 'the command that lists this handler\'s containers',
  },
  async run(p, ctx) {
    const rt = await pickRuntime(ctx, p.runtime);
    const v = await ctx.run([rt.name, '--version'], { readOnly: true, timeoutMs: 5000 });
    if (!v.ok) throw unreachable(`${rt.name} does not answer --version: ${v.stderr.trim() || v.exitCode}`, { lines: [`runtime ${rt.name}`] });
    const rtVersion = v.stdout.split('\n')[0]?.trim() ?? '';
    const criu = await ctx.run(['criu', '--version'], { readOnly: true, timeoutMs: 5000 });
    const vars = {
      RUNTIME: rt.name,
      RUNTIME_VERSION: rtVersion,
      ROOT: rt.root,
      HYBRID_CGROUPS: hostHybridCgroups(ctx) ? 1 : 0,
      CRUN_WRAPPED: rt.wrapper.length ? 1 : 0,
      CRIU: criu.ok ? criu.stdout.split('\n')[0]!.trim() : '',
      LIST_COMMAND: argvLine(rtArgv(rt, ['list'])),
    };
    return statusOutput(
      [
        `runtime ${rt.name}`,
        `version ${rtVersion}`,
        `root ${rt.root} (this handler's containers live here: plain \`${rt.name} list\` does not show them; ${vars.LIST_COMMAND} does)`,
        `criu ${vars.CRIU || 'missing'}`,
      ],
      vars,
    );
  },
});
