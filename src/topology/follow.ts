// Following a link across namespaces (the seed's find_links.sh, on the Topology
// document): an interface, the other end of its veth pair whichever end it was
// given, each end's bridge and the VXLAN devices on that bridge.
import type { Topology, TopologyInterface, TopologyNamespace } from './model.js';

export interface LinkHop {
  netns: string;
  kind: string;
  /** the namespace's swarm identity, for display */
  owner?: string;
  link: TopologyInterface;
  /** the bridge the link is a port of */
  bridge?: TopologyInterface;
  /** VXLAN devices on that bridge (or the link itself when it is one) */
  vxlan: TopologyInterface[];
}

export interface LinkPath {
  /** the interface asked for, then the other end of its veth pair when known */
  hops: LinkHop[];
}

export function ownerOf(ns: TopologyNamespace): string | undefined {
  if (ns.network) return `network=${ns.network}`;
  const parts = [ns.service && `service=${ns.service}`, ns.task && `task=${ns.task}`, ns.container && `container=${ns.container}`].filter(Boolean);
  return parts.length ? parts.join(' ') : undefined;
}

function hop(ns: TopologyNamespace, link: TopologyInterface): LinkHop {
  const bridge = link.master ? ns.interfaces.find((i) => i.index === link.master!.index) : undefined;
  const vxlan = link.kind === 'vxlan' ? [link] : bridge ? ns.interfaces.filter((i) => i.kind === 'vxlan' && i.master?.index === bridge.index) : [];
  const owner = ownerOf(ns);
  return { netns: ns.name, kind: ns.kind, ...(owner ? { owner } : {}), link, ...(bridge ? { bridge } : {}), vxlan };
}

/** The interface and the other end of its veth pair (looked up both ways: by its peer, and by whoever names it as peer). */
export function followLink(topo: Topology, netns: string, ifindex: number): LinkPath | undefined {
  const ns = topo.namespaces.find((n) => n.name === netns);
  const link = ns?.interfaces.find((i) => i.index === ifindex);
  if (!ns || !link) return undefined;
  const hops = [hop(ns, link)];
  let peerNs: TopologyNamespace | undefined;
  let peer: TopologyInterface | undefined;
  if (link.peer) {
    peerNs = topo.namespaces.find((n) => n.name === link.peer!.netns);
    peer = peerNs?.interfaces.find((i) => i.name === link.peer!.interface);
  } else {
    for (const n of topo.namespaces) {
      const back = n.interfaces.find((i) => i.peer?.netns === netns && i.peer.interface === link.name);
      if (back) {
        peerNs = n;
        peer = back;
        break;
      }
    }
  }
  if (peerNs && peer) hops.push(hop(peerNs, peer));
  return { hops };
}

export interface LinkSelection {
  netns?: string;
  /** an ifindex (digits) or an interface name */
  interface?: string;
}

/** The (namespace, ifindex) pairs a selection names: an ifindex or name in one namespace, or in every one. */
export function selectLinks(topo: Topology, sel: LinkSelection): Array<{ netns: string; ifindex: number }> {
  const out: Array<{ netns: string; ifindex: number }> = [];
  const byIndex = sel.interface !== undefined && /^\d+$/.test(sel.interface) ? Number(sel.interface) : undefined;
  for (const ns of topo.namespaces) {
    if (sel.netns !== undefined && ns.name !== sel.netns) continue;
    for (const i of ns.interfaces) {
      if (sel.interface === undefined || i.index === byIndex || i.name === sel.interface) out.push({ netns: ns.name, ifindex: i.index });
    }
  }
  return out;
}
