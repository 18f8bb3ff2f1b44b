/**
 * LXD 5.0.2 with the xtables firewall driver (this host) deletes a bridge network but
 * leaves its iptables rules ("generated for LXD network N") and, for IPv6, its
 * lxd_nic_N chain behind. Tests and benchmarks that make networks drop those of their
 * own networks with this, so runs do not pile them up. Only rules naming `network` go.
 */
import { execa } from 'execa';
import { parse } from 'shell-quote';

export async function dropFirewallLeftovers(network: string): Promise<void> {
  for (const tool of ['iptables', 'ip6tables']) {
    const rules = (await execa(tool, ['-S'], { reject: false })).stdout.split('\n');
    for (const line of rules.filter((l) => l.startsWith('-A ') && l.includes(`generated for LXD network ${network}"`))) {
      await execa(tool, ['-D', ...(parse(line.slice(3)) as string[])], { reject: false });
    }
    if (rules.includes(`-N lxd_nic_${network}`)) await execa(tool, ['-X', `lxd_nic_${network}`], { reject: false });
  }
}
