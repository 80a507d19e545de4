// Throwaway network namespaces for kernel tests, named with a per-run prefix
// so parallel runs and leftovers never collide. Everything is deleted in teardown.
import { sh } from './run.js';

export class TestNamespaces {
  readonly names: string[] = [];
  constructor(readonly prefix: string) {
    this.cleanupLeftovers();
  }

  add(suffix: string): string {
    const name = `${this.prefix}${suffix}`;
    sh(`ip netns add ${name}
ip netns exec ${name} sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
ip -n ${name} link set lo up`);
    this.names.push(name);
    return name;
  }

  /** names of namespaces left by an earlier crashed run with the same prefix stem */
  cleanupLeftovers(): void {
    const stem = this.prefix.replace(/\d+-$/, '');
    for (const n of sh('ip netns list').split('\n').map((l) => l.split(' ')[0]!)) {
      if (n && n.startsWith(stem)) sh(`ip netns del ${n} || true`);
    }
  }

  delete(name: string): void {
    sh(`ip netns del ${name}`);
    this.names.splice(this.names.indexOf(name), 1);
  }

  destroy(): void {
    for (const n of [...this.names]) {
      try { this.delete(n); } catch { /* already gone */ }
    }
  }
}

interface IpStats { bytes: number; packets: number; errors: number; dropped: number; multicast?: number; over_errors?: number; carrier_errors?: number; collisions?: number }
export interface IpLinkJson { ifname: string; ifindex: number; mtu: number; operstate: string; master?: string; linkinfo?: { info_kind: string; info_data?: { id?: number } }; stats64: { rx: IpStats; tx: IpStats } }

export const ipLinks = (ns: string): IpLinkJson[] => JSON.parse(sh(`ip -n ${ns} -s -s -d -j link show`)) as IpLinkJson[];
export const bridgeFdb = (ns: string) =>
  JSON.parse(sh(`ip netns exec ${ns} bridge -j fdb show`)) as Array<{ mac: string; ifname: string; dst?: string; flags: string[]; master?: string; state: string }>;
