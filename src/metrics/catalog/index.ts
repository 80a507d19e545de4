// Every metric family the exporter can emit, for the README's reference table.
import type { MetricDef } from '../family.js';
import * as kernel from './kernel.js';
import * as ipvs from './ipvs.js';
import * as neighbour from './neighbour.js';
import * as udp from './udp.js';
import * as mtu from './mtu.js';
import * as probe from './probe.js';
import * as self from './self.js';
import * as swarm from './swarm.js';

const isDef = (v: unknown): v is MetricDef =>
  typeof v === 'object' && v !== null && 'name' in v && 'type' in v && 'help' in v && 'labels' in v;

function defsOf(mod: Record<string, unknown>): MetricDef[] {
  const out: MetricDef[] = [];
  for (const v of Object.values(mod)) {
    if (isDef(v)) out.push(v);
    else if (Array.isArray(v)) for (const x of v) if (isDef((x as { def?: unknown }).def)) out.push((x as { def: MetricDef }).def);
  }
  // module namespace key order differs between loaders: sort for a stable table
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** catalog modules in README order; each new catalog module is added here */
export const CATALOG: Array<{ section: string; defs: MetricDef[] }> = [
  { section: 'Kernel (rtnetlink, every namespace)', defs: defsOf(kernel) },
  { section: 'Swarm identity and control plane vs data plane (Docker API)', defs: defsOf(swarm) },
  { section: 'Load balancer (IPVS over generic netlink, in lb_ and ingress_sbox)', defs: defsOf(ipvs) },
  { section: 'Neighbour tables (ARP/ND over rtnetlink: global limits from the host namespace, entries per namespace)', defs: defsOf(neighbour) },
  { section: 'VXLAN receive path (UDP sockets over sock_diag, host namespace by default; UDP counters from the namespace\'s /proc/net/snmp)', defs: defsOf(udp) },
  { section: 'Overlay MTU (interfaces of each overlay network against the underlay MTU less 50 bytes of VXLAN)', defs: defsOf(mtu) },
  { section: 'Overlay path probes (--probe.overlay, off by default: ICMP echo to every peer node, from the prober\'s last round)', defs: defsOf(probe) },
  { section: 'Exporter health', defs: defsOf(self) },
];

export function allMetricDefs(): MetricDef[] {
  return CATALOG.flatMap((c) => c.defs);
}

/** The README's metric reference, as markdown. */
export function metricsMarkdown(): string {
  const lines: string[] = [];
  for (const { section, defs } of CATALOG) {
    lines.push(`### ${section}`, '', '| metric | type | labels | meaning |', '|---|---|---|---|');
    for (const d of defs) {
      lines.push(`| \`${d.name}\` | ${d.type} | ${d.labels.map((l) => `\`${l}\``).join(', ')} | ${d.help.replace(/\|/g, '\\|')} |`);
    }
    lines.push('');
  }
  return lines.join('\n');
}
