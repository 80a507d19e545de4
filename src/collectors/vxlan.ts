// VXLAN devices: parameters, their own FDB (NTF_SELF entries: MAC -> remote VTEP)
// and the number of distinct remote VTEPs, i.e. the overlay peers in the kernel.
import { vxlanFdbEntries, vxlanInfo, vxlanPeers } from '../metrics/catalog/kernel.js';
import type { FamilySet } from '../metrics/family.js';
import type { NsSample } from '../kernel/readers/types.js';
import { FDB_TYPES, NTF_SELF, type Neighbour, fdbTypeIndex } from '../kernel/rtnl/neigh.js';
import { ifLabels } from './labels.js';
import type { Collector, Snapshot } from './types.js';

/** An NTF_SELF entry of the vxlan device `ifindex` (its own FDB: MAC -> remote VTEP); the all-zero MAC is the flood/default entry. */
const isSelfEntryOf = (e: Neighbour, ifindex: number): boolean => e.ifindex === ifindex && (e.flags & NTF_SELF) !== 0;

/** NTF_SELF entries of a vxlan device. */
export function vxlanSelfEntries(s: NsSample, ifindex: number): Neighbour[] {
  return s.fdb.filter((e) => isSelfEntryOf(e, ifindex));
}

export const vxlanCollector: Collector = {
  name: 'vxlan',
  help: 'VXLAN device parameters, FDB entries and remote VTEP (peer) counts',
  defaultEnabled: true,
  needs: ['links', 'fdb'],
  collect(snap: Snapshot, out: FamilySet) {
    const info = out.of(vxlanInfo);
    const entries = out.of(vxlanFdbEntries);
    const peers = out.of(vxlanPeers);
    const byType = [0, 0, 0];
    const remotes = new Set<string>();
    for (const s of snap.samples) {
      for (const link of s.links) {
        if (link.kind !== 'vxlan') continue;
        // interned: the same label sets every scrape, so their exposition bytes are built once
        const base = ifLabels(snap, s, link);
        const vni = link.vxlan?.vni !== undefined ? String(link.vxlan.vni) : '';
        info.add(snap.interner.extend(base, vxlanInfo.labels, [
          vni,
          link.vxlan?.port !== undefined ? String(link.vxlan.port) : '',
          link.vxlan?.local ?? '',
          link.vxlan?.learning === undefined ? '' : String(link.vxlan.learning),
        ]), 1);
        // one pass over the namespace's FDB: the device's own entries by type, and their distinct remote VTEPs
        byType.fill(0);
        remotes.clear();
        for (const e of s.fdb) {
          if (!isSelfEntryOf(e, link.index)) continue;
          byType[fdbTypeIndex(e)]!++;
          if (e.dst) remotes.add(e.dst);
        }
        for (const [i, type] of FDB_TYPES.entries()) entries.add(snap.interner.extend(base, vxlanFdbEntries.labels, [vni, type]), byType[i]!);
        peers.add(snap.interner.extend(base, vxlanPeers.labels, [vni]), remotes.size);
      }
    }
  },
};
