// A swarm node's Topology document made up for the page tests: N networks,
// each with its overlay namespace (br0, vxlan0 towards named peers), its lb_
// namespace (an IPVS service whose backends are up, down, or missing) and its
// task sandboxes. Used where the kernel cannot cheaply provide the scale
// (hundreds of namespaces) or the swarm names.
import type { Topology, TopologyEdge, TopologyInterface, TopologyNamespace } from '../../src/topology/model.js';

const counters = (n: number) => ({ rxBytes: n * 1500, txBytes: n * 1400, rxPackets: n, txPackets: n, rxErrors: 0, txErrors: 0, rxDropped: 0, txDropped: 0 });
const rates = (n: number) => ({ rxBytes: n * 120, txBytes: n * 95, rxPackets: n, txPackets: n });
const hex = (n: number, w: number) => n.toString(16).padStart(w, '0');

export function syntheticTopology(networks: string[], tasksPerNetwork: number): Topology {
  const namespaces: TopologyNamespace[] = [{
    name: 'host', kind: 'host', path: null, interfaces: [
      { index: 1, name: 'lo', kind: undefined, operstate: 'unknown', counters: counters(10) },
      { index: 2, name: 'eth0', operstate: 'up', mtu: 1500, counters: counters(900000), rates: rates(4000) },
      { index: 3, name: 'docker_gwbridge', kind: 'bridge', operstate: 'up', counters: counters(1200) },
    ],
  }];
  const edges: TopologyEdge[] = [];
  const peers = [['node-2', '10.0.0.12'], ['node-3', '10.0.0.13']] as const;
  networks.forEach((net, n) => {
    const ov = `1-${hex(0xa1b2c3 + n, 10)}`;
    const lb = `lb_${hex(0xa1b2c3 + n, 9)}`;
    const vxlan: TopologyInterface = {
      index: 3, name: 'vxlan0', kind: 'vxlan', operstate: 'up', master: { index: 2, name: 'br0' }, counters: counters(5000), rates: rates(300),
      vxlan: { vni: 4097 + n, port: 4789, remotes: [...peers.map(([node, ip]) => ({ ip, node, macs: tasksPerNetwork })), { ip: '10.0.0.99', macs: 1 }] },
    };
    const ports: TopologyInterface[] = [];
    const overlay: TopologyNamespace = {
      name: ov, kind: 'overlay', path: `/var/run/docker/netns/${ov}`, network: net,
      interfaces: [{ index: 1, name: 'lo' }, { index: 2, name: 'br0', kind: 'bridge', operstate: 'up', ports: [], counters: counters(8000) }, vxlan],
    };
    const addPort = (ns: string, nsIndex: number) => {
      const name = `veth${hex(nsIndex, 7)}`;
      const port: TopologyInterface = { index: 10 + ports.length, name, kind: 'veth', operstate: 'up', master: { index: 2, name: 'br0' },
        peer: { netns: ns, interface: 'eth0', ifindex: 20 }, counters: counters(700 + nsIndex), rates: rates(nsIndex % 50) };
      ports.push(port);
      edges.push({ a: { netns: ov, interface: name, ifindex: port.index }, b: { netns: ns, interface: 'eth0', ifindex: 20 } });
      return port;
    };
    namespaces.push(overlay);
    const backends = [];
    for (let t = 1; t <= tasksPerNetwork; t++) {
      const file = hex(0x5a0000000000 + n * 1000 + t, 12);
      const task = `${net}_app.${t}.${hex(t * 7919, 25)}`;
      const ip = `10.${n}.0.${t + 2}`;
      const port = addPort(file, n * 1000 + t);
      namespaces.push({
        name: file, kind: 'sandbox', path: `/var/run/docker/netns/${file}`, service: `${net}_app`, task, container: `${task}`,
        interfaces: [{ index: 1, name: 'lo' }, { index: 20, name: 'eth0', kind: 'veth', operstate: 'up', network: net, mac: `02:42:0a:0${n}:00:${hex(t + 2, 2)}`,
          peer: { netns: ov, interface: port.name, ifindex: port.index }, counters: counters(600 + t), rates: rates(t % 40) }],
      });
      backends.push({ address: `${ip}:0`, weight: t === 2 ? 0 : 1, activeConns: t % 3, task, health: t === 2 ? 'down' as const : 'up' as const });
    }
    const lbPort = addPort(lb, 999);
    void lbPort;
    namespaces.push({
      name: lb, kind: 'lb', path: `/var/run/docker/netns/${lb}`, network: net,
      interfaces: [{ index: 1, name: 'lo' }, { index: 20, name: 'eth0', kind: 'veth', operstate: 'up', peer: { netns: ov, interface: lbPort.name }, counters: counters(3000) }],
      ipvs: [{ key: `fwmark ${257 + n}`, service: `${net}_app`, vip: `10.${n}.0.2`, scheduler: 'rr', backends, missing: n === 0 ? [`${net}_app.9.xyz`] : [] }],
    });
    overlay.interfaces.push(...ports);
    overlay.interfaces[1]!.ports = ['vxlan0', ...ports.map((p) => p.name)];
  });
  return { takenAt: Date.parse('2025-01-01T12:00:00Z'), rateIntervalSeconds: 15, node: { hostname: 'node-1', address: '10.0.0.11', dockerUp: true }, namespaces, edges };
}
