/**
 * Read-only verbs: `info` (one instance), `list` (one request for all instances,
 * `GET /1.0/instances?recursion=1`) and `status` (handler and LXD server).
 */
import { isReason } from '../../../shared/errors';
import { lxdInstanceName } from '../names';
import { stem } from '../../../shared/result';
import { statusOutput, statusVars, unreachable } from '../../../shared/status';
import { defineVerb } from '../../../shared/verb';
import { resolveClient } from '../client';
import { isBase, KEYS } from '../registry';
import { ipv4Of, query, requireInstance, type Instance, type InstanceState } from '../tool';
import { NAME, REMOTE } from '../params';

export const info = defineVerb({
  name: 'info',
  aliases: ['state'],
  summary: 'one instance: RESULT its status; STATUS, TYPE, IPV4, PID, BASE (base it came from), IS_BASE, CREATED',
  params: { ...NAME, ...REMOTE },
  positional: ['name'],
  vars: {
    STATUS: 'Running, Stopped, Frozen or Error',
    TYPE: 'container or virtual-machine',
    IPV4: 'first global IPv4 address',
    IPV4S: { stem: 'every global IPv4 address' },
    PID: 'pid of its init on the host (0 when stopped)',
    BASE: 'the base it was cloned from',
    IS_BASE: '1 when it is a registered base, else 0',
    CREATED: 'creation time (ISO 8601)',
    PROFILES: { stem: 'its profiles' },
    LOCATION: 'the cluster member it is on (none when the daemon is not clustered)',
  },
  async run(p, ctx) {
    const inst = await requireInstance(ctx, p.remote, p.name);
    let ips: string[] = [];
    let pid = 0;
    if (inst.status === 'Running') {
      const s = await query<InstanceState>(ctx, p.remote, `/1.0/instances/${p.name}/state`);
      ips = ipv4Of(s);
      pid = s.pid;
    }
    return {
      result: inst.status,
      vars: {
        STATUS: inst.status,
        TYPE: inst.type,
        IPV4: ips[0] ?? '',
        IPV4S: stem(ips),
        PID: pid,
        BASE: inst.config[KEYS.clonedFrom] ?? '',
        IS_BASE: isBase(inst) ? 1 : 0,
        CREATED: inst.created_at,
        PROFILES: stem(inst.profiles),
        LOCATION: inst.location ?? 'none',
      },
    };
  },
});

export const list = defineVerb({
  name: 'list',
  summary: 'list instances: stem INSTANCES (names), STATUSES and LOCATIONS (the cluster member of each); filter by name substring, status or base',
  params: {
    filter: { type: 'string', doc: 'only names containing this text' },
    status: { type: 'enum', values: ['Running', 'Stopped', 'Frozen', 'Error'], doc: 'only instances in this state' },
    base: { type: 'string', rule: lxdInstanceName, doc: 'only clones of this base' },
    ...REMOTE,
  },
  positional: ['filter'],
  vars: {
    INSTANCES: { stem: 'instance names' },
    STATUSES: { stem: 'the status of each' },
    LOCATIONS: { stem: 'the cluster member each is on (none when the daemon is not clustered)' },
  },
  async run(p, ctx) {
    const all = await query<Instance[]>(ctx, p.remote, '/1.0/instances?recursion=1');
    const hits = all
      .filter((i) => (p.filter ? i.name.includes(p.filter) : true))
      .filter((i) => (p.status ? i.status === p.status : true))
      .filter((i) => (p.base ? i.config[KEYS.clonedFrom] === p.base : true))
      .sort((a, b) => a.name.localeCompare(b.name));
    return {
      result: hits.map((i) => `${i.name} ${i.status}`).join('\n'),
      vars: {
        INSTANCES: stem(hits.map((i) => i.name)),
        STATUSES: stem(hits.map((i) => i.status)),
        LOCATIONS: stem(hits.map((i) => i.location ?? 'none')),
      },
    };
  },
});

interface Server {
  environment: {
    server_version: string;
    storage: string;
    storage_supported_drivers?: Array<{ Name?: string; name?: string }>;
    kernel_version: string;
  };
}

export const status = defineVerb({
  name: 'status',
  summary: 'handler version, the client it drives (lxc or incus, and why), server version, storage drivers; RC 6 (with REACHABLE=0) when the daemon does not answer',
  params: { ...REMOTE },
  vars: {
    ...statusVars('1 when the daemon answers, else 0'),
    CLIENT: 'the client this handler drives: lxc (LXD) or incus (Incus)',
    SERVER_VERSION: 'LXD or Incus server version',
    STORAGE_DRIVERS: 'storage drivers the server supports, space-separated',
    STORAGE: 'the server storage driver in use',
    KERNEL: 'host kernel version',
  },
  async run(p, ctx) {
    const client = resolveClient(ctx);
    const clientLine = `client ${client.spec.binary} (${client.why})`;
    let server: Server;
    try {
      server = await query<Server>(ctx, p.remote, '/1.0', 10_000);
    } catch (e) {
      if (!isReason(e, 'unavailable')) throw e;
      throw unreachable(`${client.spec.daemon} is not reachable: ${e.message}`, { cause: e, lines: [clientLine], vars: { CLIENT: client.spec.binary } });
    }
    const env = server.environment;
    const drivers = (env.storage_supported_drivers ?? []).map((d) => d.Name ?? d.name ?? '').filter(Boolean).join(' ');
    return statusOutput([clientLine, 'reachable yes', `server ${env.server_version}`, `storage ${env.storage}`, `drivers ${drivers}`], {
      CLIENT: client.spec.binary,
      SERVER_VERSION: env.server_version,
      STORAGE_DRIVERS: drivers,
      STORAGE: env.storage,
      KERNEL: env.kernel_version,
    });
  },
});
