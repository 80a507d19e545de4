// Control plane against data plane, per overlay network on this node:
// - peers: the nodes the control plane lists for the network vs the distinct
//   remote VTEPs in the VXLAN device's forwarding database;
// - layer 2: every permanent neighbour entry on the VXLAN device (remote
//   endpoint IP -> MAC) needs an FDB entry for that MAC (MAC -> VTEP), and that
//   VTEP must be the node the control plane places the endpoint on.
import type { NsSample } from '../kernel/readers/types.js';
import { AF_INET, NUD_PERMANENT } from '../kernel/rtnl/neigh.js';
import type { NetworkState, SwarmNodeState } from '../docker/state.js';
import {
  type L2Kind, L2_KINDS, overlayL2Inconsistencies, overlayL2Inconsistent, overlayPeerMismatch, overlayPeersExpected, overlayPeersPresent,
} from '../metrics/catalog/swarm.js';
import type { FamilySet } from '../metrics/family.js';
import { dockerView } from './swarm.js';
import type { Collector, Snapshot } from './types.js';
import { vxlanSelfEntries } from './vxlan.js';

export interface L2Inconsistency {
  kind: L2Kind;
  endpointIp: string;
  mac: string;
  /** where the FDB entry points ("" when there is none) */
  vtep: string;
  /** the endpoint's node as the control plane says ("" when it does not list the endpoint) */
  expectedVtep: string;
}

export interface OverlayComparison {
  /** remote peers the control plane lists: IP -> networkdb node name; undefined without the verbose view */
  expected?: Map<string, string>;
  /** distinct remote VTEPs in the kernel */
  present: Set<string>;
  inconsistencies: L2Inconsistency[];
}

const ZERO_MAC = '00:00:00:00:00:00';

/**
 * Compare one overlay namespace's kernel state with its network's control-plane
 * view. undefined: the namespace has no VXLAN device (found by link kind).
 */
export function compareOverlay(sample: NsSample, network: NetworkState, localAddr: string): OverlayComparison | undefined {
  const vxlans = sample.links.filter((l) => l.kind === 'vxlan');
  if (vxlans.length === 0) return undefined;

  // endpoint IP -> the node it lives on; our own addresses, from our own endpoints
  const hostOf = new Map<string, string>();
  const local = new Set<string>(localAddr ? [localAddr] : []);
  const localEndpoints = new Set(network.endpoints.map((e) => e.endpointId));
  for (const s of network.services) {
    for (const t of s.tasks) {
      if (t.endpointIp && t.hostIp) hostOf.set(t.endpointIp, t.hostIp);
      if (t.hostIp && localEndpoints.has(t.endpointId)) local.add(t.hostIp);
    }
  }

  const present = new Set<string>();
  const inconsistencies: L2Inconsistency[] = [];
  for (const link of vxlans) {
    const fdb = new Map<string, string>();
    for (const e of vxlanSelfEntries(sample, link.index)) {
      if (!e.lladdr || e.lladdr === ZERO_MAC) {
        if (e.dst) present.add(e.dst); // a flood entry still sends to that VTEP
        continue;
      }
      fdb.set(e.lladdr, e.dst ?? '');
      if (e.dst) present.add(e.dst);
    }
    for (const n of sample.neigh) {
      if (n.ifindex !== link.index || n.family !== AF_INET || (n.state & NUD_PERMANENT) === 0 || !n.dst || !n.lladdr) continue;
      const expectedVtep = hostOf.get(n.dst) ?? '';
      const vtep = fdb.get(n.lladdr);
      if (vtep === undefined) {
        inconsistencies.push({ kind: 'missing_fdb', endpointIp: n.dst, mac: n.lladdr, vtep: '', expectedVtep });
      } else if (expectedVtep && vtep && vtep !== expectedVtep) {
        inconsistencies.push({ kind: 'wrong_vtep', endpointIp: n.dst, mac: n.lladdr, vtep, expectedVtep });
      }
    }
  }
  for (const ip of local) present.delete(ip);

  let expected: Map<string, string> | undefined;
  if (network.verbose) {
    expected = new Map();
    for (const p of network.peers) if (!local.has(p.ip)) expected.set(p.ip, p.name);
  }
  return { expected, present, inconsistencies };
}

export interface OverlayCollectorOptions {
  /** cap on per-endpoint inconsistency series per scrape (the per-network counts are always complete) */
  maxEndpointSeries?: number;
}

export function createOverlayCollector(opts: OverlayCollectorOptions = {}): Collector {
  const maxEndpointSeries = opts.maxEndpointSeries ?? 100;
  return {
    name: 'overlay',
    help: 'overlay control plane (Docker) against data plane (kernel): VXLAN peers and layer-2 consistency of remote endpoints',
    defaultEnabled: true,
    needs: ['links', 'fdb', 'neigh'],
    collect(snap: Snapshot, out: FamilySet) {
      const { state } = dockerView(snap);
      const names = snap.names;
      const nodeByAddr = new Map<string, SwarmNodeState>(state.nodes.map((n) => [n.address, n]));
      const expectedFam = out.of(overlayPeersExpected);
      const presentFam = out.of(overlayPeersPresent);
      const mismatchFam = out.of(overlayPeerMismatch);
      const countFam = out.of(overlayL2Inconsistencies);
      const endpointFam = out.of(overlayL2Inconsistent);
      let endpointSeries = 0;
      for (const s of snap.samples) {
        if (s.ref.kind !== 'overlay' || s.error) continue;
        const network = names.networkOf(s.ref);
        if (!network) continue;
        const cmp = compareOverlay(s, network, state.info.nodeAddr);
        if (!cmp) continue;
        const base = { network: network.name, netns: s.ref.name };
        presentFam.add(base, cmp.present.size);
        if (cmp.expected) {
          expectedFam.add(base, cmp.expected.size);
          const nodeName = (ip: string, fallback = '') => nodeByAddr.get(ip)?.hostname || fallback;
          for (const [ip, peerName] of cmp.expected) {
            if (!cmp.present.has(ip)) mismatchFam.add({ ...base, peer_node: nodeName(ip, peerName), peer_ip: ip, state: 'missing' }, 1);
          }
          for (const ip of cmp.present) {
            if (!cmp.expected.has(ip)) mismatchFam.add({ ...base, peer_node: nodeName(ip), peer_ip: ip, state: 'unknown' }, 1);
          }
        }
        const counts = new Map<L2Kind, number>(L2_KINDS.map((k) => [k, 0]));
        for (const inc of cmp.inconsistencies) {
          counts.set(inc.kind, counts.get(inc.kind)! + 1);
          if (endpointSeries >= maxEndpointSeries) continue;
          endpointSeries++;
          endpointFam.add({
            ...base,
            endpoint_ip: inc.endpointIp,
            mac: inc.mac,
            kind: inc.kind,
            task: names.taskOfEndpoint(s.ref, inc.endpointIp)?.task ?? '',
            vtep: inc.vtep,
            expected_vtep: inc.expectedVtep,
          }, 1);
        }
        for (const [kind, n] of counts) countFam.add({ ...base, kind }, n);
      }
    },
  };
}
