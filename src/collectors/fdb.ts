// Bridge forwarding databases (br0 in overlay namespaces, docker_gwbridge on the host).
import { bridgeFdbEntries } from '../metrics/catalog/kernel.js';
import type { FamilySet } from '../metrics/family.js';
import { FDB_TYPES, fdbTypeIndex } from '../kernel/rtnl/neigh.js';
import { nsLabels } from './labels.js';
import type { Collector, Snapshot } from './types.js';

export const fdbCollector: Collector = {
  name: 'fdb',
  help: 'bridge forwarding database sizes by bridge and state',
  defaultEnabled: true,
  needs: ['links', 'fdb'],
  collect(snap: Snapshot, out: FamilySet) {
    const fam = out.of(bridgeFdbEntries);
    // counted by bridge ifindex and type (index * 3 + type): no string per entry; a node has tens of thousands
    const counts = new Map<number, number>();
    for (const s of snap.samples) {
      counts.clear();
      for (const e of s.fdb) {
        // bridge entries carry NDA_MASTER; NTF_SELF entries without it are a
        // device's own address lists, not the bridge's forwarding database
        if (e.master === undefined) continue;
        const key = e.master * FDB_TYPES.length + fdbTypeIndex(e);
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      if (counts.size === 0) continue;
      const base = nsLabels(snap, s);
      for (const [key, n] of counts) {
        const index = Math.floor(key / FDB_TYPES.length);
        const bridge = s.links.find((l) => l.index === index);
        if (!bridge || bridge.kind !== 'bridge') continue;
        fam.add(snap.interner.extend(base, bridgeFdbEntries.labels, [bridge.name, FDB_TYPES[key % FDB_TYPES.length]!]), n);
      }
    }
  },
};
