// Follow veth pairs across namespaces (what the seed's find_links.sh does by
// hand): each end names the other's ifindex in IFLA_LINK. ifindexes are only
// unique within a namespace, so a pair is accepted only when both ends point at
// each other, and dropped when that is ambiguous.
import type { NsSample } from './readers/types.js';

export interface VethEnd {
  netns: string;
  interface: string;
}

/** key: `${netns}\0${ifindex}` */
export type VethPeers = Map<string, VethEnd>;

export const vethKey = (netns: string, ifindex: number): string => `${netns}\0${ifindex}`;

export function pairVeths(samples: NsSample[]): VethPeers {
  // candidates by (my index, peer index)
  const byPair = new Map<string, Array<{ netns: string; name: string; index: number; hasNsid: boolean }>>();
  for (const s of samples) {
    for (const l of s.links) {
      if (l.kind !== 'veth' || l.link === undefined || l.link === 0) continue;
      const key = `${l.index}>${l.link}`;
      let list = byPair.get(key);
      if (!list) byPair.set(key, (list = []));
      list.push({ netns: s.ref.name, name: l.name, index: l.index, hasNsid: l.linkNetnsId !== undefined });
    }
  }
  const peers: VethPeers = new Map();
  for (const [key, ends] of byPair) {
    const [mine, theirs] = key.split('>');
    if (mine === theirs) continue; // handled below only if two distinct namespaces
    const mirror = byPair.get(`${theirs}>${mine}`);
    if (!mirror) continue;
    // a peer in another namespace carries IFLA_LINK_NETNSID; keep only such ends
    const a = ends.filter((e) => e.hasNsid);
    const b = mirror.filter((e) => e.hasNsid);
    if (a.length !== 1 || b.length !== 1) continue;
    peers.set(vethKey(a[0]!.netns, a[0]!.index), { netns: b[0]!.netns, interface: b[0]!.name });
  }
  // same index on both ends (e.g. 12>12): pair distinct namespaces when exactly two
  for (const [key, ends] of byPair) {
    const [mine, theirs] = key.split('>');
    if (mine !== theirs) continue;
    const withNsid = ends.filter((e) => e.hasNsid);
    if (withNsid.length !== 2 || withNsid[0]!.netns === withNsid[1]!.netns) continue;
    const [x, y] = withNsid as [typeof withNsid[0] & object, typeof withNsid[0] & object];
    peers.set(vethKey(x.netns, x.index), { netns: y.netns, interface: y.name });
    peers.set(vethKey(y.netns, y.index), { netns: x.netns, interface: x.name });
  }
  return peers;
}
