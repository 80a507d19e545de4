// A scrape's snapshot as the Topology document (pure: no kernel, no dockerd).
// Rates come from the previous document's counters, matched by namespace,
// ifindex and name, so a recreated interface starts over instead of going negative.
import { backendAddress } from '../collectors/ipvs.js';
import { vxlanSelfEntries } from '../collectors/vxlan.js';
import type { Snapshot } from '../collectors/types.js';
import type { DockerView } from '../docker/cache.js';
import { protocolName } from '../kernel/genl/ipvs.js';
import type { IpvsServiceEntry } from '../kernel/readers/ipvs.js';
import type { NsSample } from '../kernel/readers/types.js';
import type { Link } from '../kernel/rtnl/link.js';
import { vethKey } from '../kernel/veth.js';
import type {
  Topology, TopologyCounters, TopologyEdge, TopologyInterface, TopologyIpvsService, TopologyNamespace, TopologyVxlan,
} from './model.js';

/** Remote VTEP address -> swarm node name: the swarm's node list (managers), then each network's peers. */
export function vtepNames(docker: DockerView | undefined): Map<string, string> {
  const names = new Map<string, string>();
  if (!docker) return names;
  for (const n of docker.state.nodes) if (n.address && n.hostname) names.set(n.address, n.hostname);
  for (const net of docker.state.networks) {
    for (const p of net.peers) if (!names.has(p.ip) && p.name) names.set(p.ip, p.name);
  }
  return names;
}

function counters(l: Link): TopologyCounters | undefined {
  const s = l.stats;
  if (!s) return undefined;
  return {
    rxBytes: s.rx_bytes ?? 0, txBytes: s.tx_bytes ?? 0, rxPackets: s.rx_packets ?? 0, txPackets: s.tx_packets ?? 0,
    rxErrors: s.rx_errors ?? 0, txErrors: s.tx_errors ?? 0, rxDropped: s.rx_dropped ?? 0, txDropped: s.tx_dropped ?? 0,
  };
}

function vxlanOf(s: NsSample, l: Link, nodes: Map<string, string>): TopologyVxlan {
  const byDst = new Map<string, number>();
  for (const e of vxlanSelfEntries(s, l.index)) {
    if (!e.dst) continue;
    // the all-zero MAC is the flood entry, not an endpoint
    const mac = e.lladdr && e.lladdr !== '00:00:00:00:00:00' ? 1 : 0;
    byDst.set(e.dst, (byDst.get(e.dst) ?? 0) + mac);
  }
  const remotes = [...byDst].sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }))
    .map(([ip, macs]) => ({ ip, macs, ...(nodes.has(ip) ? { node: nodes.get(ip)! } : {}) }));
  return { ...l.vxlan, remotes };
}

function interfacesOf(snap: Snapshot, s: NsSample, nodes: Map<string, string>): TopologyInterface[] {
  const byIndex = new Map(s.links.map((l) => [l.index, l]));
  const ports = new Map<number, string[]>();
  for (const l of s.links) if (l.master) ports.set(l.master, [...(ports.get(l.master) ?? []), l.name]);
  return s.links.map((l): TopologyInterface => {
    const out: TopologyInterface = { index: l.index, name: l.name };
    if (l.kind) out.kind = l.kind;
    if (l.operstate) out.operstate = l.operstate;
    if (l.mtu !== undefined) out.mtu = l.mtu;
    if (l.address) out.mac = l.address;
    if (l.master) out.master = { index: l.master, ...(byIndex.has(l.master) ? { name: byIndex.get(l.master)!.name } : {}) };
    if (ports.has(l.index)) out.ports = ports.get(l.index)!;
    if (l.link !== undefined && l.link !== 0) out.link = l.link;
    if (l.linkNetnsId !== undefined) out.linkNetnsId = l.linkNetnsId;
    const peer = snap.peers.get(vethKey(s.ref.name, l.index));
    if (peer) {
      const idx = snap.byNetns.get(peer.netns)?.links.find((p) => p.name === peer.interface)?.index;
      out.peer = { netns: peer.netns, interface: peer.interface, ...(idx !== undefined ? { ifindex: idx } : {}) };
    }
    if (s.ref.kind === 'sandbox') {
      const network = snap.names.networkOfSandboxInterface(s.ref, l.address);
      if (network) out.network = network;
    }
    if (l.kind === 'vxlan') out.vxlan = vxlanOf(s, l, nodes);
    const c = counters(l);
    if (c) out.counters = c;
    return out;
  });
}

function ipvsOf(snap: Snapshot, s: NsSample, services: IpvsServiceEntry[]): TopologyIpvsService[] {
  const lbServices = snap.names.lbServices(s.ref);
  const judge = lbServices.size > 0;
  return services.map((svc) => {
    const byMark = svc.fwmark !== undefined && svc.fwmark !== 0;
    const lb = byMark ? lbServices.get(svc.fwmark!) : undefined;
    const key = byMark ? `fwmark ${svc.fwmark}` : `${protocolName(svc.protocol)} ${svc.address ?? ''}:${svc.port ?? ''}`;
    const backends = svc.destinations.map((d) => {
      const ep = d.address !== undefined ? snap.names.taskOfEndpoint(s.ref, d.address) : undefined;
      const health: 'up' | 'down' | 'unknown' = !judge ? 'unknown' : ep?.running && (d.weight ?? 0) > 0 ? 'up' : 'down';
      return {
        address: backendAddress(d), health,
        ...(d.weight !== undefined ? { weight: d.weight } : {}),
        ...(d.activeConns !== undefined ? { activeConns: d.activeConns } : {}),
        ...(d.inactiveConns !== undefined ? { inactiveConns: d.inactiveConns } : {}),
        ...(ep ? { task: ep.task } : {}),
      };
    });
    const present = new Set(svc.destinations.map((d) => d.address));
    return {
      key, backends,
      missing: lb ? lb.tasks.filter((t) => !present.has(t.endpointIp)).map((t) => t.task) : [],
      ...(lb ? { service: lb.service } : {}),
      ...(lb?.vip ? { vip: lb.vip } : !byMark && svc.address ? { vip: svc.address } : {}),
      ...(svc.scheduler ? { scheduler: svc.scheduler } : {}),
    };
  });
}

function rateKey(ns: string, i: TopologyInterface): string {
  return `${ns}\0${i.index}\0${i.name}`;
}

/** Per-second rates of every interface against the previous document's counters. */
function addRates(topo: Topology, previous: Topology): void {
  const dt = (topo.takenAt - previous.takenAt) / 1000;
  if (!(dt > 0)) return;
  const before = new Map<string, TopologyCounters>();
  for (const ns of previous.namespaces) for (const i of ns.interfaces) if (i.counters) before.set(rateKey(ns.name, i), i.counters);
  topo.rateIntervalSeconds = dt;
  for (const ns of topo.namespaces) {
    for (const i of ns.interfaces) {
      const b = before.get(rateKey(ns.name, i));
      const c = i.counters;
      if (!b || !c) continue;
      const rate = (k: keyof TopologyCounters) => (c[k] >= b[k] ? (c[k] - b[k]) / dt : 0);
      i.rates = { rxBytes: rate('rxBytes'), txBytes: rate('txBytes'), rxPackets: rate('rxPackets'), txPackets: rate('txPackets') };
    }
  }
}

export function buildTopology(snap: Snapshot, takenAt: number, previous?: Topology): Topology {
  const nodes = vtepNames(snap.docker);
  const namespaces = snap.samples.map((s): TopologyNamespace => {
    const id = snap.names.netns(s.ref);
    const ns: TopologyNamespace = { name: s.ref.name, kind: s.ref.kind, path: s.ref.path, interfaces: interfacesOf(snap, s, nodes) };
    if (id.network) ns.network = id.network;
    if (id.service) ns.service = id.service;
    if (id.task) ns.task = id.task;
    if (id.container) ns.container = id.container;
    if (s.error) ns.error = `${s.error.reason}: ${s.error.message}`;
    if (s.ipvs) ns.ipvs = ipvsOf(snap, s, s.ipvs.services);
    return ns;
  });
  const edges: TopologyEdge[] = [];
  const seen = new Set<string>();
  for (const ns of namespaces) {
    for (const i of ns.interfaces) {
      if (!i.peer) continue;
      const a = `${ns.name}\0${i.name}`;
      const b = `${i.peer.netns}\0${i.peer.interface}`;
      if (seen.has(b)) continue;
      seen.add(a);
      edges.push({ a: { netns: ns.name, interface: i.name, ifindex: i.index }, b: i.peer });
    }
  }
  const info = snap.docker?.state.info;
  const topo: Topology = {
    takenAt,
    node: {
      dockerUp: snap.docker?.up ?? false,
      ...(info?.hostname ? { hostname: info.hostname } : {}),
      ...(info?.nodeId ? { nodeId: info.nodeId } : {}),
      ...(info?.nodeAddr ? { address: info.nodeAddr } : {}),
    },
    namespaces,
    edges,
  };
  if (previous) addRates(topo, previous);
  return topo;
}
