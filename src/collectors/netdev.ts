// Interface counters and facts, per namespace and interface.
import { interfaceInfo, interfaceMtu, interfaceStatMetrics, interfaceUp } from '../metrics/catalog/kernel.js';
import type { FamilySet } from '../metrics/family.js';
import { vethKey } from '../kernel/veth.js';
import { ifLabels } from './labels.js';
import type { Collector, Snapshot } from './types.js';
import type { Link } from '../kernel/rtnl/link.js';

const IFF_UP = 0x1;
const INFO_LABELS = interfaceInfo.labels;
/** the info labels' values past the interface's own, refilled for each interface (extend() copies what it keeps) */
const infoValues: string[] = new Array<string>(6).fill('');

function masterName(links: readonly Link[], master: number): string {
  for (const l of links) if (l.index === master) return l.name;
  return String(master);
}

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
      for (const link of s.links) {
        const labels = ifLabels(snap, s, link);
        if (link.stats) {
          for (let i = 0; i < stats.length; i++) {
            const v = link.stats[stats[i]!.field];
            // a field this kernel does not report is absent, not zero
            if (v !== undefined) stats[i]!.family.add(labels, v);
          }
        }
        const peer = snap.peers.get(vethKey(s.ref.name, link.index));
        infoValues[0] = link.kind ?? '';
        infoValues[1] = link.master ? masterName(s.links, link.master) : '';
        infoValues[2] = link.operstate ?? 'unknown';
        infoValues[3] = link.address ?? '';
        infoValues[4] = peer?.netns ?? '';
        infoValues[5] = peer?.interface ?? '';
        info.add(snap.interner.extend(labels, INFO_LABELS, infoValues), 1);
        const isUp = link.operstate === 'up' || (link.operstate === 'unknown' && (link.flags & IFF_UP) !== 0);
        up.add(labels, isUp ? 1 : 0);
        if (link.mtu !== undefined) mtu.add(labels, link.mtu);
      }
    }
  },
});
