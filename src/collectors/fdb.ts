// Bridge forwarding databases (br0 in overlay namespaces, docker_gwbridge on the host).
import { bridgeFdbEntries } from '../metrics/catalog/kernel.js';
import type { FamilySet } from '../metrics/family.js';
import { fdbEntryType } from '../kernel/rtnl/neigh.js';
import { nsLabels } from './labels.js';
import type { Collector, Snapshot } from './types.js';

export const fdbCollector: Collector = {
  name: 'fdb',
  help: 'bridge forwarding database sizes by bridge and state',
  defaultEnabled: true,
  needs: ['links', 'fdb'],
  collect(snap: Snapshot, out: FamilySet) {
    const fam = out.of(bridgeFdbEntries);
    for (const s of snap.samples) {
      const links = new Map(s.links.map((l) => [l.index, l]));
      const counts = new Map<string, number>();
      for (const e of s.fdb) {
        // bridge entries carry NDA_MASTER; NTF_SELF entries without it are a
        // device's own address lists, not the bridge's forwarding database
        const bridgeIndex = e.master;
        const bridge = bridgeIndex !== undefined ? links.get(bridgeIndex) : undefined;
        if (!bridge || bridge.kind !== 'bridge') continue;
        const key = `${bridge.name}\0${fdbEntryType(e)}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      if (counts.size === 0) continue;
      const base = Object.values(nsLabels(snap, s));
      for (const [key, n] of counts) {
        const [bridge, state] = key.split('\0') as [string, string];
        fam.add(snap.interner.intern(bridgeFdbEntries.labels, [...base, bridge, state]), n);
      }
    }
  },
};
