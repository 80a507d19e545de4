// The Linux capabilities the exporter needs, and what each one's absence costs.
// Checked once at startup, so a container without them logs one line that
// names the missing capability instead of one warning per namespace.
import { readFileSync } from 'node:fs';

export interface Capability {
  name: string;
  bit: number;
  /** what does not work without it */
  cost: string;
  /** the failures its absence causes, logged at debug instead of once per subject */
  expectedFailures: Array<{ source: string; reason: string }>;
}

export const NEEDED_CAPABILITIES: readonly Capability[] = [
  {
    name: 'CAP_SYS_ADMIN', bit: 21,
    cost: 'no namespace other than the exporter\'s own can be entered (setns): only netns="host" is exported',
    expectedFailures: [{ source: 'netns', reason: 'permission' }],
  },
  {
    name: 'CAP_NET_ADMIN', bit: 12,
    cost: 'IPVS cannot be read (its generic netlink commands are admin-only): no swarmnet_lb_* series',
    expectedFailures: [{ source: 'ipvs', reason: 'permission' }],
  },
];

/** Needed only with --probe.overlay. */
export const PROBE_CAPABILITY: Capability = {
  name: 'CAP_NET_RAW', bit: 13,
  cost: '--probe.overlay cannot open raw ICMP sockets: no probes from namespaces whose net.ipv4.ping_group_range leaves the exporter\'s group out (Docker\'s lb_ namespaces do)',
  expectedFailures: [{ source: 'probe', reason: 'permission' }],
};

/** The effective capability set from /proc/<pid>/status text (the CapEff line, hex). */
export function effectiveCapabilities(status: string): bigint {
  const hex = /^CapEff:\s*([0-9a-f]+)\s*$/m.exec(status)?.[1];
  if (hex === undefined) throw new Error('no CapEff line in the process status');
  return BigInt(`0x${hex}`);
}

export function missingCapabilities(effective: bigint, needed: readonly Capability[] = NEEDED_CAPABILITIES): Capability[] {
  return needed.filter((c) => (effective & (1n << BigInt(c.bit))) === 0n);
}

/** The capabilities this process lacks; undefined where the kernel does not say (not Linux). */
export function missingOwnCapabilities(needed: readonly Capability[] = NEEDED_CAPABILITIES): Capability[] | undefined {
  try {
    return missingCapabilities(effectiveCapabilities(readFileSync('/proc/self/status', 'utf8')), needed);
  } catch {
    return undefined;
  }
}
