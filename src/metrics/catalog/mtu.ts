// Families of the overlay MTU check: each overlay network's interfaces against
// what its underlay can carry (the underlay interface's MTU less the 50 bytes
// of VXLAN encapsulation).
import { metric } from '../family.js';
import { IF_LABELS, NS_LABELS } from './kernel.js';

/** VXLAN over IPv4: outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8 */
export const VXLAN_OVERHEAD_BYTES = 50;

export const overlayMtuExpected = metric('swarmnet_overlay_mtu_expected_bytes', 'gauge',
  'The largest MTU the overlay network\'s interfaces can have: the MTU of the underlay interface (the host interface holding the VXLAN local address, or the swarm data-path address) less 50 bytes of VXLAN encapsulation. Per overlay namespace; absent where the underlay is not found.',
  [...NS_LABELS, 'underlay_interface']);
export const overlayMtuMismatched = metric('swarmnet_overlay_mtu_mismatched_interfaces', 'gauge',
  'Interfaces of the overlay network (its VXLAN device, bridge and veth ports, and the containers\' interfaces at the other end of those veths) whose MTU is above (direction="above": packets the underlay cannot carry, silently dropped or fragmented) or below (direction="below": a smaller MTU set on purpose, or one that will not match its peers) swarmnet_overlay_mtu_expected_bytes.',
  [...NS_LABELS, 'direction']);
export const overlayInterfaceMtuMismatch = metric('swarmnet_overlay_interface_mtu_mismatch_bytes', 'gauge',
  'For each interface of an overlay network whose MTU differs from swarmnet_overlay_mtu_expected_bytes: its MTU minus the expected one (positive: too large for the underlay). The network label is the overlay\'s.',
  IF_LABELS);
