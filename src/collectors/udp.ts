// The VXLAN receive path: the kernel's UDP sockets on the VXLAN ports (the
// configured ones, and every port a VXLAN device of this scrape uses, so a
// swarm's custom data-path port is found), their queue, buffer and drops; and
// the namespace's UDP receive errors.
import { udpReceiveBufferErrors, udpReceiveErrors, udpSocketDrops, udpSocketReceiveBuffer, udpSocketReceiveQueue } from '../metrics/catalog/udp.js';
import type { FamilySet } from '../metrics/family.js';
import type { Collector, Snapshot } from './types.js';

export const DEFAULT_VXLAN_PORTS: readonly number[] = [4789];

/** the configured ports and those of the VXLAN devices seen in this scrape */
export function vxlanPorts(snap: Snapshot, configured: readonly number[]): Set<number> {
  const ports = new Set(configured);
  for (const s of snap.samples) for (const l of s.links) if (l.kind === 'vxlan' && l.vxlan?.port) ports.add(l.vxlan.port);
  return ports;
}

export const udpCollector = (opts: { ports?: readonly number[] } = {}): Collector => ({
  name: 'udp',
  help: 'UDP sockets on the VXLAN ports (receive queue, buffer, drops over sock_diag) and the namespace\'s UDP receive errors',
  defaultEnabled: true,
  needs: ['links', 'udp'],
  collect(snap: Snapshot, out: FamilySet) {
    const ports = vxlanPorts(snap, opts.ports ?? DEFAULT_VXLAN_PORTS);
    for (const s of snap.samples) {
      if (!s.udp) continue;
      const netns = s.ref.name;
      const byPort = new Map<number, { drops: number; queue: number; buffer: number; memknown: boolean }>();
      for (const sock of s.udp.sockets) {
        if (!ports.has(sock.srcPort)) continue;
        const e = byPort.get(sock.srcPort) ?? { drops: 0, queue: 0, buffer: 0, memknown: false };
        const m = sock.meminfo;
        if (m) {
          e.memknown = true;
          e.drops += m.drops ?? 0;
          e.queue += m.rmemAlloc ?? sock.rqueue;
          e.buffer += m.rcvbuf ?? 0;
        } else {
          e.queue += sock.rqueue;
        }
        byPort.set(sock.srcPort, e);
      }
      for (const [port, e] of [...byPort].sort((a, b) => a[0] - b[0])) {
        const labels = { netns, port: String(port) };
        out.of(udpSocketReceiveQueue).add(labels, e.queue);
        if (e.memknown) {
          out.of(udpSocketDrops).add(labels, e.drops);
          out.of(udpSocketReceiveBuffer).add(labels, e.buffer);
        }
      }
      const snmp = s.udp.snmp;
      if (snmp?.RcvbufErrors !== undefined) out.of(udpReceiveBufferErrors).add({ netns }, snmp.RcvbufErrors);
      if (snmp?.InErrors !== undefined) out.of(udpReceiveErrors).add({ netns }, snmp.InErrors);
    }
  },
});
