/**
 * `events`: LXD's lifecycle events (`lxc monitor --type=lifecycle --format=json`) for a
 * bounded time, of one instance or all, as stems; with `until=ACTION` it returns as soon
 * as that event comes (what a provisioning script waits on instead of polling). LXD
 * keeps no history: only events from the moment the call starts listening are seen.
 */
import { timedOut, toolFailed, usageError } from '../../../shared/errors';
import { regexRule } from '../../../shared/names';
import { stem } from '../../../shared/result';
import { defineVerb } from '../../../shared/verb';
import { clientCommand } from '../client';
import { lxcError } from '../errors';
import { lxdInstanceName } from '../names';
import { REMOTE } from '../params';

/** An LXD lifecycle action (doc/events.md: instance-started, instance-snapshot-created …). */
const lifecycleAction = regexRule('lifecycle action', /^[a-z][a-z0-9-]{0,63}$/, 'lowercase letters, digits and "-", e.g. instance-started');

/** One lifecycle event as `lxc monitor --format=json` prints it (one JSON object a line). */
interface LifecycleEvent {
  timestamp: string;
  metadata?: { action?: string; source?: string };
}

/** The events in monitor's output that concern `name` (all when undefined), in order. */
export function lifecycleEvents(stdout: string, name: string | undefined): Array<{ action: string; source: string; time: string }> {
  const mine = (src: string) => !name || src === `/1.0/instances/${name}` || src.startsWith(`/1.0/instances/${name}/`);
  const out: Array<{ action: string; source: string; time: string }> = [];
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    let e: LifecycleEvent;
    try {
      e = JSON.parse(line) as LifecycleEvent;
    } catch {
      continue; // (a line cut off by the end of listening)
    }
    const source = (e.metadata?.source ?? '').replace(/\?.*$/, '');
    if (e.metadata?.action && mine(source)) out.push({ action: e.metadata.action, source, time: e.timestamp });
  }
  return out;
}

export const events = defineVerb({
  name: 'events',
  long: true,
  summary:
    'listen to LXD lifecycle events (lxc monitor --type=lifecycle) of one instance (name=) or all for duration=, or until the event until= (e.g. instance-started) or count= events came; stems ACTIONS, SOURCES, TIMES; until= not seen in time is RC 5',
  params: {
    name: { type: 'string', rule: lxdInstanceName, doc: 'only events of this instance (its snapshots, backups … too); default all' },
    duration: { type: 'duration', default: 10_000, doc: 'listen this long at most (at most 1h)' },
    until: { type: 'string', rule: lifecycleAction, doc: 'return as soon as an event with this action comes (instance-started, instance-stopped, instance-snapshot-created …); RC 5 when it does not within duration=' },
    count: { type: 'int', min: 1, doc: 'return after this many events' },
    ...REMOTE,
  },
  positional: ['name'],
  examples: ['events name=web until=instance-started duration=2m', 'events duration=5s', 'events name=web count=3'],
  vars: {
    ACTIONS: { stem: 'each event\'s action, oldest first (instance-started …)' },
    SOURCES: { stem: 'the API path each concerns (/1.0/instances/web, /1.0/instances/web/snapshots/s1)' },
    TIMES: { stem: 'when each happened (ISO 8601, LXD\'s clock)' },
    MATCHED: '1 when until= (or count=) was reached, else 0',
  },
  async run(p, ctx) {
    if (p.duration > 3_600_000) throw usageError('events: duration= is at most 1h');
    const enough = (stdout: string) => {
      const es = lifecycleEvents(stdout, p.name);
      return (p.until !== undefined && es.some((e) => e.action === p.until)) || (p.count !== undefined && es.length >= p.count);
    };
    const args = clientCommand(ctx, ['monitor', ...(p.remote ? [`${p.remote}:`] : []), '--type=lifecycle', '--format=json']);
    // Not a read that later steps need but a wait: under dryrun it does not listen and has seen nothing.
    const r = await ctx.effect(() => ctx.run(args, { readOnly: true, timeoutMs: p.duration, stopWhen: p.until || p.count ? enough : undefined }), undefined);
    if (!r) return { result: '', vars: { ACTIONS: stem([]), SOURCES: stem([]), TIMES: stem([]), MATCHED: 0 } };
    // Listening the whole duration= is the normal end; anything else that ends monitor is its failure.
    if (!r.ok && !r.timedOut) throw r.exitCode ? lxcError(r) : toolFailed(`events: lxc monitor ended: ${r.stderr.trim() || `signal ${r.signal}`}`);
    let es = lifecycleEvents(r.stdout, p.name);
    const matched = enough(r.stdout);
    if (p.until) es = es.slice(0, es.findIndex((e) => e.action === p.until) + 1 || es.length);
    if (p.count) es = es.slice(0, p.count);
    const vars = { ACTIONS: stem(es.map((e) => e.action)), SOURCES: stem(es.map((e) => e.source)), TIMES: stem(es.map((e) => e.time)), MATCHED: matched ? 1 : 0 };
    if (p.until && !matched) throw timedOut(`events: no ${p.until} event${p.name ? ` of ${p.name}` : ''} within ${p.duration} ms (${es.length} other event(s) seen)`, { vars });
    return { result: es.map((e) => `${e.time} ${e.action} ${e.source}`).join('\n'), vars };
  },
});
