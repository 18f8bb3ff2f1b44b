/**
 * Managed networks: `POST /1.0/networks` (a bridge), `lxc network delete`,
 * `GET /1.0/networks?recursion=1`. Only bridges, and only on private or test address
 * ranges (names.ts privateIpv4Cidr / privateIpv6Cidr), with NAT off unless asked for: a
 * network made from a command string stays on this host. An instance joins one with
 * `device_add type=nic network=NAME` (or a profile's nic).
 */
import { stem } from '../../../shared/result';
import { defineVerb } from '../../../shared/verb';
import { LXC_IN_USE_ERRORS } from '../errors';
import { configValue, lxdNetworkName, privateIpv4Cidr, privateIpv6Cidr } from '../names';
import { REMOTE } from '../params';
import { lxc, query, ref } from '../tool';

const NETWORK = {
  name: { type: 'string', required: true, rule: lxdNetworkName, doc: 'network name (also the bridge\'s host interface name)' },
} as const;

/** The fields of GET /1.0/networks[/NAME] that the verbs read. */
interface Network {
  name: string;
  type: string;
  managed: boolean;
  config: Record<string, string>;
  used_by: string[] | null;
}

export const networkCreate = defineVerb({
  name: 'network_create',
  summary: 'create a bridge network (POST /1.0/networks, type bridge) on a private or test range, NAT off unless nat=true; IPV4/IPV6 are the addresses LXD gave it; an existing one is RC 4',
  params: {
    ...NETWORK,
    ipv4: { type: 'string', required: true, rule: privateIpv4Cidr, doc: 'the bridge\'s IPv4 ADDRESS/PREFIX (ipv4.address), none, or auto (LXD looks for an unused private /24 by probing candidates: it can take minutes and fail on a host without a route to probe)' },
    ipv6: { type: 'string', rule: privateIpv6Cidr, default: 'none', doc: 'the bridge\'s IPv6 ADDRESS/PREFIX in fc00::/7 or 2001:db8::/32 (ipv6.address), auto (a unique local /64) or none' },
    nat: { type: 'bool', default: false, doc: 'masquerade the network\'s traffic out of this host (ipv4.nat / ipv6.nat); off: it stays between this host and its instances' },
    dhcp: { type: 'bool', default: true, doc: 'hand out addresses by DHCP on it (ipv4.dhcp / ipv6.dhcp)' },
    description: { type: 'string', rule: configValue, doc: 'the network\'s description' },
    ...REMOTE,
  },
  positional: ['name'],
  examples: ['network_create name=rexxtest0 ipv4=10.250.7.1/24', 'network_create name=rexxtest1 ipv4=none ipv6=fd42:7::1/64'],
  vars: { IPV4: 'the bridge\'s IPv4 address/prefix (none when off)', IPV6: 'its IPv6 address/prefix (none when off)' },
  async run(p, ctx) {
    const config: Record<string, string> = { 'ipv4.address': p.ipv4, 'ipv6.address': p.ipv6 };
    for (const [family, addr] of [['ipv4', p.ipv4], ['ipv6', p.ipv6]] as const) {
      if (addr !== 'none') Object.assign(config, { [`${family}.nat`]: String(p.nat), [`${family}.dhcp`]: String(p.dhcp) });
    }
    // One request (the lxc 5.0 client's network create takes no description): made whole or not at all.
    const body = JSON.stringify({ name: p.name, type: 'bridge', description: p.description ?? '', config });
    await lxc(ctx, ['query', '-X', 'POST', ref(p.remote, '/1.0/networks'), '-d', body], { timeoutMs: 120_000 });
    // auto is decided by LXD: read back what it gave (under dryrun, what was asked for)
    const made = await ctx.effect(async () => (await query<Network>(ctx, p.remote, `/1.0/networks/${encodeURIComponent(p.name)}`)).config, config);
    const v4 = made['ipv4.address'] ?? 'none', v6 = made['ipv6.address'] ?? 'none';
    return { result: p.name, vars: { IPV4: v4, IPV6: v6 } };
  },
});

export const networkDelete = defineVerb({
  name: 'network_delete',
  summary: 'delete a managed network (lxc network delete); RC 7 while an instance or profile uses it (LXD refuses), RC 3 when there is none',
  params: { ...NETWORK, ...REMOTE },
  positional: ['name'],
  examples: ['network_delete name=rexxtest0'],
  vars: {},
  async run(p, ctx) {
    await lxc(ctx, ['network', 'delete', ref(p.remote, p.name)], { errors: LXC_IN_USE_ERRORS, timeoutMs: 120_000 });
    return { result: p.name };
  },
});

export const networkList = defineVerb({
  name: 'network_list',
  summary: 'list the networks LXD sees, managed or not (one GET /1.0/networks?recursion=1): stems NETWORKS, TYPES, MANAGED (1/0), IPV4 and USED_BY',
  params: { ...REMOTE },
  vars: {
    NETWORKS: { stem: 'network names, sorted' },
    TYPES: { stem: 'each one\'s type (bridge, physical, macvlan …)' },
    MANAGED: { stem: '1 when LXD manages it (made by network_create or lxd init), else 0' },
    IPV4: { stem: 'its IPv4 address/prefix (empty when none or unmanaged)' },
    USED_BY: { stem: 'how many instances and profiles use it' },
  },
  async run(p, ctx) {
    const all = (await query<Network[]>(ctx, p.remote, '/1.0/networks?recursion=1')).sort((a, b) => a.name.localeCompare(b.name));
    const v4 = all.map((n) => (n.config['ipv4.address'] && n.config['ipv4.address'] !== 'none' ? n.config['ipv4.address'] : ''));
    const used = all.map((n) => n.used_by?.length ?? 0);
    return {
      result: all.map((n, i) => `${n.name} ${n.type} ${n.managed ? 'managed' : 'unmanaged'} ${v4[i] || '-'} ${used[i]}`).join('\n'),
      vars: {
        NETWORKS: stem(all.map((n) => n.name)),
        TYPES: stem(all.map((n) => n.type)),
        MANAGED: stem(all.map((n) => (n.managed ? 1 : 0))),
        IPV4: stem(v4),
        USED_BY: stem(used),
      },
    };
  },
});
