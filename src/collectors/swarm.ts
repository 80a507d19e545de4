// Swarm identity: is dockerd answering, this node, the swarm's nodes (from a
// manager), networks, and what every namespace of this scrape belongs to.
import type { DockerView } from '../docker/cache.js';
import { netnsFileName, overlayNetnsName } from '../docker/resolve.js';
import { errorsTotal } from '../metrics/catalog/self.js';
import { dockerStateAge, dockerUp, netnsInfo, networkInfo, nodeInfo, swarmNodeInfo } from '../metrics/catalog/swarm.js';
import type { FamilySet } from '../metrics/family.js';
import { type Collector, NoDataError, type Snapshot } from './types.js';

/** The Docker view of the snapshot; a collector that needs it has no data without it. */
export function dockerView(snap: Snapshot): DockerView {
  if (!snap.docker) throw new NoDataError('no Docker state in this snapshot (Docker source disabled)');
  return snap.docker;
}

export const swarmCollector: Collector = {
  name: 'swarm',
  help: 'Docker API health, node and swarm node identity, networks, and the container/task of every namespace',
  defaultEnabled: true,
  needs: [],
  collect(snap: Snapshot, out: FamilySet) {
    const view = dockerView(snap);
    out.of(dockerUp).add({}, view.up ? 1 : 0);
    const errors = out.of(errorsTotal);
    for (const [reason, n] of view.errors) errors.add({ source: 'docker', reason }, n);
    const { state } = view;
    if (view.lastSuccessAt > 0) out.of(dockerStateAge).add({}, Math.max(0, (Date.now() - view.lastSuccessAt) / 1000));

    if (state.fetchedAt > 0) {
      const { info } = state;
      out.of(nodeInfo).add({ node_id: info.nodeId, hostname: info.hostname, engine_version: info.engineVersion, role: info.role }, 1);
    }
    const nodes = out.of(swarmNodeInfo);
    for (const n of state.nodes) {
      nodes.add({ node: n.hostname, node_id: n.id, address: n.address, role: n.role, state: n.state, availability: n.availability }, 1);
    }

    // the overlay namespace of each network, by its label in this scrape
    const labelOfFile = new Map<string, string>();
    for (const s of snap.samples) if (s.ref.kind === 'overlay') labelOfFile.set(netnsFileName(s.ref), s.ref.name);
    const networks = out.of(networkInfo);
    for (const n of state.networks) {
      const netns = n.driver === 'overlay' ? labelOfFile.get(overlayNetnsName(n.id)) ?? '' : '';
      const base = { network: n.name, network_id: n.id, driver: n.driver, scope: n.scope };
      if (n.subnets.length === 0) networks.add({ ...base, vni: '', subnet: '', gateway: '', netns }, 1);
      for (const sub of n.subnets) {
        networks.add({ ...base, vni: sub.vni !== undefined ? String(sub.vni) : '', subnet: sub.subnet, gateway: sub.gateway, netns }, 1);
      }
    }

    const info = out.of(netnsInfo);
    for (const s of snap.samples) {
      // a removed container's file lingers for a while as a plain file: not a namespace any more
      if (s.error?.reason === 'vanished') continue;
      const id = snap.names.netns(s.ref);
      // interned: the same label sets every scrape, so their exposition bytes are built once
      info.add(snap.interner.intern(netnsInfo.labels, [s.ref.name, s.ref.kind, id.network ?? '', id.container ?? '', id.containerId ?? '',
        id.service ?? '', id.task ?? '', id.slot ?? '', id.stack ?? '']), 1);
    }
  },
};
