// Which namespace of this node probes which endpoints, per overlay network:
// pure, from the Docker state cache's view and the namespace files found.
//
// The source owns an address on the overlay: the network's lb_<id> endpoint,
// the ingress network's ingress_sbox, else the sandbox of a running container
// attached to the network. The targets are one task endpoint on every other
// node of the network, as the control plane lists them (verbose inspect:
// Services[].Tasks[] with EndpointIP and Info["Host IP"]); the lowest endpoint
// address of each node, so a round probes the same endpoint as the last one
// while it lives.
import { lbNetnsName, overlayNetnsName } from '../docker/resolve.js';
import type { DockerState, NetworkState } from '../docker/state.js';
import type { NetnsRef } from '../kernel/netns.js';

export interface ProbeTarget {
  /** the peer node's name: its swarm hostname (managers know it), else its networkdb name, else "" */
  peerNode: string;
  /** the peer node's address (its VTEP) as the control plane lists it */
  peerIp: string;
  /** the endpoint on that node the probes go to */
  endpointIp: string;
}

export interface ProbePlan {
  networkId: string;
  network: string;
  /** the namespace that sends */
  source: NetnsRef;
  /** the network's overlay namespace (1-<id>), whose VXLAN device's MTU sizes the full-size probe */
  overlay?: NetnsRef;
  targets: ProbeTarget[];
}

export interface PlanResult {
  plans: ProbePlan[];
  /** overlay networks of this node that cannot be probed, and why */
  skipped: Array<{ network: string; reason: 'no_source' | 'no_control_plane_view' }>;
}

const basename = (p: string): string => p.slice(p.lastIndexOf('/') + 1);
const ipKey = (ip: string): number => ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
const isIpv4 = (ip: string): boolean => /^\d{1,3}(\.\d{1,3}){3}$/.test(ip);

function sourceOf(net: NetworkState, state: DockerState, byName: ReadonlyMap<string, NetnsRef>): NetnsRef | undefined {
  const lb = byName.get(lbNetnsName(net.id));
  if (lb) return lb;
  if (net.ingress) {
    const sbox = byName.get('ingress_sbox');
    if (sbox) return sbox;
  }
  const attached = state.containers
    .filter((c) => c.running && c.networks.some((n) => n.networkId === net.id))
    .map((c) => byName.get(basename(c.sandboxKey)))
    .filter((r): r is NetnsRef => r !== undefined)
    .sort((a, b) => a.name.localeCompare(b.name));
  return attached[0];
}

export function planProbes(state: DockerState, refs: readonly NetnsRef[]): PlanResult {
  const byName = new Map(refs.filter((r) => r.path !== null).map((r) => [r.name, r]));
  const hostnameOf = new Map(state.nodes.map((n) => [n.address, n.hostname]));
  const plans: ProbePlan[] = [];
  const skipped: PlanResult['skipped'] = [];
  for (const net of [...state.networks].sort((a, b) => a.name.localeCompare(b.name))) {
    if (net.driver !== 'overlay') continue;
    const overlay = byName.get(overlayNetnsName(net.id));
    // only the networks this node takes part in (it has their namespace)
    if (!overlay) continue;
    if (!net.verbose) {
      skipped.push({ network: net.name, reason: 'no_control_plane_view' });
      continue;
    }
    const source = sourceOf(net, state, byName);
    if (!source) {
      skipped.push({ network: net.name, reason: 'no_source' });
      continue;
    }
    // this node's addresses: the swarm's data-path address, and the hosts of our own endpoints
    const local = new Set<string>(state.info.nodeAddr ? [state.info.nodeAddr] : []);
    const ownEndpoints = new Set(net.endpoints.map((e) => e.endpointId));
    const byHost = new Map<string, string>();
    for (const svc of net.services) {
      for (const t of svc.tasks) {
        if (!t.hostIp || !isIpv4(t.endpointIp)) continue;
        if (ownEndpoints.has(t.endpointId)) local.add(t.hostIp);
        const best = byHost.get(t.hostIp);
        if (best === undefined || ipKey(t.endpointIp) < ipKey(best)) byHost.set(t.hostIp, t.endpointIp);
      }
    }
    const targets = [...byHost]
      .filter(([host]) => !local.has(host))
      .map(([peerIp, endpointIp]): ProbeTarget => ({
        peerIp, endpointIp, peerNode: hostnameOf.get(peerIp) || net.peers.find((p) => p.ip === peerIp)?.name || '',
      }))
      .sort((a, b) => ipKey(a.peerIp) - ipKey(b.peerIp));
    plans.push({ networkId: net.id, network: net.name, source, overlay, targets });
  }
  return { plans, skipped };
}
