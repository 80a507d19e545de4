// Control plane against kernel, and the swarm/overlay collectors, on node1's
// captured state (two appnet endpoints deliberately broken at capture time).
import { describe, expect, it } from 'vitest';
import type { DockerView } from '../../src/docker/cache.js';
import { compareOverlay, createOverlayCollector } from '../../src/collectors/overlay.js';
import { swarmCollector } from '../../src/collectors/swarm.js';
import type { Snapshot } from '../../src/collectors/types.js';
import { NoDataError } from '../../src/collectors/types.js';
import { buildNameIndex, overlayNetnsName } from '../../src/docker/resolve.js';
import { parseDockerState } from '../../src/docker/state.js';
import type { NsSample } from '../../src/kernel/readers/types.js';
import { FamilySet, type Labels } from '../../src/metrics/family.js';
import { type Json, loadApi, loadKernel } from '../fixtures/docker/load.js';
import { dockerViewOf, snapshotOf } from '../support/snapshot.js';

const api = loadApi('node1');
const kernel = loadKernel();
const state = parseDockerState(api, Date.now());
const names = buildNameIndex(state);
const network = (name: string) => state.networks.find((n) => n.name === name)!;
const sampleOf = (name: string) => kernel.samples.find((s) => s.ref.name === overlayNetnsName(network(name).id))!;
const { missing_fdb: broken, wrong_vtep: misdirected } = kernel.manipulated;

function snapshot(samples: NsSample[], view: Partial<DockerView> = {}): Snapshot {
  return snapshotOf(samples, { names, docker: dockerViewOf(state, view) });
}
function collect(snap: Snapshot, collector = createOverlayCollector()) {
  const out = new FamilySet();
  collector.collect(snap, out);
  const series = (name: string): Array<{ labels: Labels; value: number }> =>
    (out.all().find((f) => f.name === name)?.samples ?? []).map((s) => ({ labels: s.labels, value: Number(s.value) }));
  return series;
}

describe('compareOverlay on the captured kernel state', () => {
  it('finds exactly the endpoint whose FDB entry was deleted and the one sent to the wrong VTEP', () => {
    const cmp = compareOverlay(sampleOf('appnet'), network('appnet'), state.info.nodeAddr)!;
    expect(cmp.inconsistencies.sort((a, b) => a.kind.localeCompare(b.kind))).toEqual([
      { kind: 'missing_fdb', endpointIp: broken.ip, mac: broken.mac, vtep: '', expectedVtep: kernel.node2Address },
      { kind: 'wrong_vtep', endpointIp: misdirected.ip, mac: misdirected.mac, vtep: misdirected.vtep, expectedVtep: kernel.node2Address },
    ]);
    // node2 is still present through its other endpoints; 198.18.0.9 is a VTEP nobody announced
    expect([...cmp.present].sort()).toEqual([kernel.node2Address, misdirected.vtep].sort());
    expect([...cmp.expected!.keys()]).toEqual([kernel.node2Address]);
  });

  it('finds nothing wrong on the untouched networks, and the same peers as the control plane', () => {
    for (const name of ['backnet', 'ingress']) {
      const cmp = compareOverlay(sampleOf(name), network(name), state.info.nodeAddr)!;
      expect(cmp.inconsistencies).toEqual([]);
      const peers = api.networks.find((n: Json) => n.Name === name).Peers.map((p: Json) => p.IP).filter((ip: string) => ip !== kernel.node1Address);
      expect([...cmp.expected!.keys()].sort()).toEqual(peers.sort());
      expect([...cmp.present].sort()).toEqual(peers.sort());
    }
  });

  it('finds the VXLAN device by kind, whatever its name; no device, no comparison', () => {
    const s = sampleOf('backnet');
    const renamed = { ...s, links: s.links.map((l) => (l.kind === 'vxlan' ? { ...l, name: 'vxlan1' } : l)) };
    expect(compareOverlay(renamed, network('backnet'), state.info.nodeAddr)?.present.size).toBe(1);
    const none = { ...s, links: s.links.filter((l) => l.kind !== 'vxlan') };
    expect(compareOverlay(none, network('backnet'), state.info.nodeAddr)).toBeUndefined();
  });

  it('excludes this node even when it is known only through its own endpoints (no node address)', () => {
    const cmp = compareOverlay(sampleOf('backnet'), network('backnet'), '')!;
    expect([...cmp.expected!.keys()]).toEqual([kernel.node2Address]);
  });
});

describe('overlay collector', () => {
  it('series per network: peers, mismatches, inconsistency counts and endpoints (only while inconsistent)', () => {
    const series = collect(snapshot(kernel.samples));
    const appnet = { network: 'appnet', netns: overlayNetnsName(network('appnet').id) };
    expect(series('swarmnet_overlay_peers_expected').find((s) => s.labels.network === 'appnet')).toEqual({ labels: appnet, value: 1 });
    expect(series('swarmnet_overlay_peers_present').find((s) => s.labels.network === 'appnet')).toEqual({ labels: appnet, value: 2 });
    expect(series('swarmnet_overlay_peer_mismatch')).toEqual([{ labels: { ...appnet, peer_node: '', peer_ip: misdirected.vtep, state: 'unknown' }, value: 1 }]);
    expect(series('swarmnet_overlay_l2_inconsistencies').filter((s) => s.value > 0).map((s) => s.labels))
      .toEqual([{ ...appnet, kind: 'missing_fdb' }, { ...appnet, kind: 'wrong_vtep' }]);
    expect(series('swarmnet_overlay_l2_inconsistencies')).toHaveLength(3 * 2); // appnet, backnet, ingress x 2 kinds
    const taskOf = (ip: string) => Object.values(api.networks.find((n: Json) => n.Name === 'appnet').Services as Record<string, Json>)
      .flatMap((s) => s.Tasks).find((t: Json) => t.EndpointIP === ip).Name;
    expect(series('swarmnet_overlay_l2_inconsistent_endpoint').map((s) => s.labels).sort((a, b) => a.kind!.localeCompare(b.kind!))).toEqual([
      { ...appnet, endpoint_ip: broken.ip, mac: broken.mac, kind: 'missing_fdb', task: taskOf(broken.ip), vtep: '', expected_vtep: kernel.node2Address },
      { ...appnet, endpoint_ip: misdirected.ip, mac: misdirected.mac, kind: 'wrong_vtep', task: taskOf(misdirected.ip), vtep: misdirected.vtep, expected_vtep: kernel.node2Address },
    ]);
  });

  it('a peer the control plane lists but the kernel lacks is "missing", named after the swarm node', () => {
    const s = sampleOf('backnet');
    const gutted = { ...s, fdb: s.fdb.filter((e) => e.dst !== kernel.node2Address) };
    const series = collect(snapshot(kernel.samples.map((x) => (x === s ? gutted : x))));
    expect(series('swarmnet_overlay_peer_mismatch').filter((m) => m.labels.network === 'backnet'))
      .toEqual([{ labels: { network: 'backnet', netns: s.ref.name, peer_node: 'node2', peer_ip: kernel.node2Address, state: 'missing' }, value: 1 }]);
    // and every remote endpoint of backnet lost its FDB entry
    const neighbours = s.neigh.filter((n) => n.state & 0x80 && n.ifindex === s.links.find((l) => l.kind === 'vxlan')!.index).length;
    expect(series('swarmnet_overlay_l2_inconsistencies').find((m) => m.labels.network === 'backnet' && m.labels.kind === 'missing_fdb')?.value).toBe(neighbours);
  });

  it('caps per-endpoint series, never the counts', () => {
    const series = collect(snapshot(kernel.samples), createOverlayCollector({ maxEndpointSeries: 1 }));
    expect(series('swarmnet_overlay_l2_inconsistent_endpoint')).toHaveLength(1);
    expect(series('swarmnet_overlay_l2_inconsistencies').reduce((a, s) => a + s.value, 0)).toBe(2);
  });

  it('without Docker state there is no data rather than wrong data', () => {
    const snap = snapshotOf(kernel.samples, { names });
    expect(() => createOverlayCollector().collect(snap, new FamilySet())).toThrow(NoDataError);
    expect(() => swarmCollector.collect(snap, new FamilySet())).toThrow(NoDataError);
  });
});

describe('swarm collector', () => {
  it('docker up, node, swarm nodes, networks per subnet and every namespace', () => {
    const series = collect(snapshot(kernel.samples, { errors: new Map([['unreachable', 3]]) }), swarmCollector);
    expect(series('swarmnet_docker_up')).toEqual([{ labels: {}, value: 1 }]);
    expect(series('swarmnet_exporter_errors_total')).toEqual([{ labels: { source: 'docker', reason: 'unreachable' }, value: 3 }]);
    expect(series('swarmnet_node_info').map((s) => s.labels)).toEqual([{ node_id: api.info.Swarm.NodeID, hostname: 'node1', engine_version: api.info.ServerVersion, role: 'manager' }]);
    expect(series('swarmnet_swarm_node_info').map((s) => s.labels.node).sort()).toEqual(['node1', 'node2']);
    const nets = series('swarmnet_network_info');
    expect(nets.map((s) => s.labels.network).sort()).toEqual(api.networks.map((n: Json) => n.Name).sort());
    for (const raw of api.networks.filter((n: Json) => n.Driver === 'overlay')) {
      expect(nets.find((s) => s.labels.network === raw.Name)!.labels).toEqual({
        network: raw.Name, network_id: raw.Id, driver: 'overlay', scope: 'swarm', vni: raw.Options['com.docker.network.driver.overlay.vxlanid_list'],
        subnet: raw.IPAM.Config[0].Subnet, gateway: raw.IPAM.Config[0].Gateway, netns: `1-${raw.Id.slice(0, 10)}`,
      });
    }
    const info = series('swarmnet_netns_info');
    expect(info.map((s) => s.labels.netns).sort()).toEqual(kernel.samples.map((s) => s.ref.name).sort());
    for (const s of info) {
      if (s.labels.netns_kind === 'sandbox') expect(s.labels.task).toMatch(new RegExp(`^${s.labels.service}\\.${s.labels.slot}\\.`));
      else expect(s.labels.network).not.toBe('');
    }
  });

  it('while dockerd is down: up 0, the last names still served', () => {
    const series = collect(snapshot(kernel.samples, { up: false }), swarmCollector);
    expect(series('swarmnet_docker_up')).toEqual([{ labels: {}, value: 0 }]);
    expect(series('swarmnet_network_info').length).toBeGreaterThan(0);
    expect(series('swarmnet_node_info')).toHaveLength(1);
  });
});
