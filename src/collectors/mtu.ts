// MTU mismatch per overlay network: the MTUs of the overlay's interfaces (VXLAN
// device, bridge, veth ports in the overlay namespace, and the containers'
// interfaces at the other end of those veths) against the underlay MTU less the
// VXLAN overhead. The underlay is the host interface that the VXLAN device is
// bound to, or that holds its local address, or the swarm's data-path address.
import type { NsSample } from '../kernel/readers/types.js';
import type { Link } from '../kernel/rtnl/link.js';
import { vethKey } from '../kernel/veth.js';
import { VXLAN_OVERHEAD_BYTES, overlayInterfaceMtuMismatch, overlayMtuExpected, overlayMtuMismatched } from '../metrics/catalog/mtu.js';
import type { FamilySet } from '../metrics/family.js';
import { ifLabels, nsLabels } from './labels.js';
import type { Collector, Snapshot } from './types.js';

/** The host interface carrying the overlay's VXLAN traffic, if it can be told. */
export function underlayOf(snap: Snapshot, host: NsSample | undefined, vxlans: Link[]): Link | undefined {
  if (!host) return undefined;
  const byAddress = (addr: string | undefined) => {
    if (!addr || addr === '0.0.0.0' || addr === '::') return undefined;
    const a = host.addrs?.find((x) => x.address === addr);
    return a && host.links.find((l) => l.index === a.ifindex);
  };
  for (const v of vxlans) {
    const bound = v.vxlan?.link ? host.links.find((l) => l.index === v.vxlan!.link) : undefined;
    const found = bound ?? byAddress(v.vxlan?.local);
    if (found) return found;
  }
  return byAddress(snap.docker?.state.info.nodeAddr);
}

/** The network's interfaces: the overlay namespace's own (loopback aside) and the far ends of its veths. */
function networkInterfaces(snap: Snapshot, s: NsSample): Array<{ sample: NsSample; link: Link }> {
  const out: Array<{ sample: NsSample; link: Link }> = [];
  for (const link of s.links) {
    if (link.name === 'lo') continue;
    out.push({ sample: s, link });
    if (link.kind !== 'veth') continue;
    const peer = snap.peers.get(vethKey(s.ref.name, link.index));
    const peerSample = peer && snap.byNetns.get(peer.netns);
    const peerLink = peerSample?.links.find((l) => l.name === peer!.interface);
    if (peerSample && peerLink) out.push({ sample: peerSample, link: peerLink });
  }
  return out;
}

export const mtuCollector: Collector = {
  name: 'mtu',
  help: 'overlay networks\' interface MTUs against the underlay MTU less the 50 bytes of VXLAN encapsulation',
  defaultEnabled: true,
  needs: ['links', 'addrs'],
  collect(snap: Snapshot, out: FamilySet) {
    const host = snap.samples.find((s) => s.ref.kind === 'host' && s.addrs);
    for (const s of snap.samples) {
      if (s.ref.kind !== 'overlay') continue;
      const vxlans = s.links.filter((l) => l.kind === 'vxlan');
      if (vxlans.length === 0) continue;
      const underlay = underlayOf(snap, host, vxlans);
      if (underlay?.mtu === undefined) continue;
      const expected = underlay.mtu - VXLAN_OVERHEAD_BYTES;
      const base = nsLabels(snap, s);
      out.of(overlayMtuExpected).add({ ...base, underlay_interface: underlay.name }, expected);
      let above = 0;
      let below = 0;
      for (const { sample, link } of networkInterfaces(snap, s)) {
        if (link.mtu === undefined || link.mtu === expected) continue;
        if (link.mtu > expected) above++;
        else below++;
        const labels = ifLabels(snap, sample, link);
        out.of(overlayInterfaceMtuMismatch).add({ ...labels, network: base.network || labels.network! }, link.mtu - expected);
      }
      out.of(overlayMtuMismatched).add({ ...base, direction: 'above' }, above);
      out.of(overlayMtuMismatched).add({ ...base, direction: 'below' }, below);
    }
  },
};
