// Interface counters and facts, per namespace and interface.
import { interfaceInfo, interfaceMtu, interfaceStatMetrics, interfaceUp } from '../metrics/catalog/kernel.js';
import type { FamilySet } from '../metrics/family.js';
import { vethKey } from '../kernel/veth.js';
import { ifLabels } from './labels.js';
import type { Collector, Snapshot } from './types.js';

const IFF_UP = 0x1;
const INFO_LABELS = interfaceInfo.labels;

export interface NetdevOptions {
  /** also the physical-layer error counters (CRC, frame, heartbeat...) */
  extendedStats: boolean;
}

export const netdevCollector = (opts: NetdevOptions): Collector => ({
  name: 'netdev',
  help: 'interface counters (IFLA_STATS64), state, MTU and veth pairing',
  defaultEnabled: true,
  needs: ['links'],
  collect(snap: Snapshot, out: FamilySet) {
    const stats = interfaceStatMetrics
      .filter((m) => opts.extendedStats || !m.extended)
      .map((m) => ({ field: m.field, family: out.of(m.def) }));
    const info = out.of(interfaceInfo);
    const up = out.of(interfaceUp);
    const mtu = out.of(interfaceMtu);
    for (const s of snap.samples) {
      const byIndex = new Map(s.links.map((l) => [l.index, l.name]));
      for (const link of s.links) {
        const labels = ifLabels(snap, s, link);
        if (link.stats) {
          for (const { field, family } of stats) {
            const v = link.stats[field];
            // a field this kernel does not report is absent, not zero
            if (v !== undefined) family.add(labels, v);
          }
        }
        const peer = snap.peers.get(vethKey(s.ref.name, link.index));
        info.add(snap.interner.intern(INFO_LABELS, [
          ...Object.values(labels),
          link.kind ?? '',
          link.master ? byIndex.get(link.master) ?? String(link.master) : '',
          link.operstate ?? 'unknown',
          link.address ?? '',
          peer?.netns ?? '',
          peer?.interface ?? '',
        ]), 1);
        const isUp = link.operstate === 'up' || (link.operstate === 'unknown' && (link.flags & IFF_UP) !== 0);
        up.add(labels, isUp ? 1 : 0);
        if (link.mtu !== undefined) mtu.add(labels, link.mtu);
      }
    }
  },
});
