// The node's overlay data plane as one JSON document: what GET /topology
// serves, what the page draws, and what `netns ls` and `links` print. Built
// from a scrape's snapshot only (see build.ts); nothing here reads the kernel.
import type { NetnsKind } from '../kernel/netns.js';

export interface TopologyCounters {
  rxBytes: number;
  txBytes: number;
  rxPackets: number;
  txPackets: number;
  rxErrors: number;
  txErrors: number;
  rxDropped: number;
  txDropped: number;
}

/** Per second, since the previous snapshot. */
export interface TopologyRates {
  rxBytes: number;
  txBytes: number;
  rxPackets: number;
  txPackets: number;
}

export interface TopologyVtep {
  /** the remote VTEP address (NDA_DST of the vxlan device's own FDB entries) */
  ip: string;
  /** the swarm node behind it, when Docker's view names it */
  node?: string;
  /** FDB entries (MACs) sent to it */
  macs: number;
}

export interface TopologyVxlan {
  vni?: number;
  port?: number;
  local?: string;
  learning?: boolean;
  remotes: TopologyVtep[];
}

export interface TopologyEnd {
  netns: string;
  interface: string;
  ifindex?: number;
}

export interface TopologyInterface {
  index: number;
  name: string;
  kind?: string;
  operstate?: string;
  mtu?: number;
  mac?: string;
  /** the bridge (or other master) this interface is a port of */
  master?: { index: number; name?: string };
  /** bridges: the names of their ports */
  ports?: string[];
  /** IFLA_LINK and IFLA_LINK_NETNSID as the kernel gives them (veth: the peer's index in that namespace) */
  link?: number;
  linkNetnsId?: number;
  /** veth: the other end, when found in a namespace of this snapshot */
  peer?: TopologyEnd;
  /** the swarm network of a sandbox interface (by its MAC) */
  network?: string;
  vxlan?: TopologyVxlan;
  counters?: TopologyCounters;
  rates?: TopologyRates;
}

export interface TopologyBackend {
  address: string;
  weight?: number;
  activeConns?: number;
  inactiveConns?: number;
  task?: string;
  /** up: a running task with weight > 0; down: not a live task, or weight 0; unknown: no Docker view to judge by */
  health: 'up' | 'down' | 'unknown';
}

export interface TopologyIpvsService {
  /** "tcp 10.0.0.2:80" or "fwmark 257" */
  key: string;
  service?: string;
  vip?: string;
  scheduler?: string;
  backends: TopologyBackend[];
  /** tasks the control plane lists that IPVS lacks */
  missing: string[];
}

export interface TopologyNamespace {
  /** the netns label: file name, or "host" */
  name: string;
  kind: NetnsKind;
  path: string | null;
  network?: string;
  service?: string;
  task?: string;
  container?: string;
  /** the namespace could not be read */
  error?: string;
  interfaces: TopologyInterface[];
  /** undefined where IPVS was not read */
  ipvs?: TopologyIpvsService[];
}

export interface TopologyEdge {
  a: TopologyEnd;
  b: TopologyEnd;
}

export interface Topology {
  /** ms since the epoch of the snapshot */
  takenAt: number;
  /** seconds between the previous snapshot and this one (rates are over it); absent for the first */
  rateIntervalSeconds?: number;
  node: { hostname?: string; nodeId?: string; address?: string; dockerUp: boolean };
  namespaces: TopologyNamespace[];
  /** veth pairs, each once */
  edges: TopologyEdge[];
}
