// Families read from rtnetlink in every namespace.
import { metric } from '../family.js';
import type { LinkStatName } from '../../kernel/rtnl/link.js';

/** labels every per-namespace series carries: the namespace, and the swarm names it resolves to */
export const NS_LABELS = ['netns', 'netns_kind', 'network', 'service', 'task'] as const;
export const IF_LABELS = [...NS_LABELS, 'interface'] as const;

/** rtnl_link_stats64 fields exposed as counters, in node_exporter's naming */
export const INTERFACE_STATS: ReadonlyArray<{ field: LinkStatName; name: string; help: string; extended?: true }> = [
  { field: 'rx_bytes', name: 'receive_bytes_total', help: 'Bytes received.' },
  { field: 'rx_packets', name: 'receive_packets_total', help: 'Packets received.' },
  { field: 'rx_errors', name: 'receive_errors_total', help: 'Receive errors (all kinds).' },
  { field: 'rx_dropped', name: 'receive_dropped_total', help: 'Received packets dropped (no buffer, filtered, unknown protocol).' },
  { field: 'multicast', name: 'receive_multicast_packets_total', help: 'Multicast packets received.' },
  { field: 'rx_length_errors', name: 'receive_length_errors_total', help: 'Received frames with a bad length.', extended: true },
  { field: 'rx_over_errors', name: 'receive_over_errors_total', help: 'Receive ring buffer overflows.' },
  { field: 'rx_crc_errors', name: 'receive_crc_errors_total', help: 'Received frames with a CRC error.', extended: true },
  { field: 'rx_frame_errors', name: 'receive_frame_errors_total', help: 'Received frame alignment errors.', extended: true },
  { field: 'rx_fifo_errors', name: 'receive_fifo_errors_total', help: 'Receive FIFO overruns.' },
  { field: 'rx_missed_errors', name: 'receive_missed_errors_total', help: 'Packets missed by the host (receive queue full).' },
  { field: 'rx_nohandler', name: 'receive_nohandler_packets_total', help: 'Packets dropped for lack of a protocol handler (e.g. on an inactive bond/bridge port).', extended: true },
  { field: 'rx_otherhost_dropped', name: 'receive_otherhost_dropped_total', help: 'Packets dropped because they were addressed to another host.', extended: true },
  { field: 'tx_bytes', name: 'transmit_bytes_total', help: 'Bytes transmitted.' },
  { field: 'tx_packets', name: 'transmit_packets_total', help: 'Packets transmitted.' },
  { field: 'tx_errors', name: 'transmit_errors_total', help: 'Transmit errors (all kinds).' },
  { field: 'tx_dropped', name: 'transmit_dropped_total', help: 'Transmitted packets dropped (e.g. no route for a VXLAN destination, queue full).' },
  { field: 'collisions', name: 'transmit_collisions_total', help: 'Collisions while transmitting.', extended: true },
  { field: 'tx_aborted_errors', name: 'transmit_aborted_errors_total', help: 'Transmissions aborted.', extended: true },
  { field: 'tx_carrier_errors', name: 'transmit_carrier_errors_total', help: 'Transmit carrier errors.' },
  { field: 'tx_fifo_errors', name: 'transmit_fifo_errors_total', help: 'Transmit FIFO errors.' },
  { field: 'tx_heartbeat_errors', name: 'transmit_heartbeat_errors_total', help: 'Transmit heartbeat errors.', extended: true },
  { field: 'tx_window_errors', name: 'transmit_window_errors_total', help: 'Transmit window errors.', extended: true },
];

/**
 * The counters that matter on veth, bridge and vxlan devices are always on;
 * the physical-layer ones (CRC, frame, heartbeat...) only with
 * --collector.netdev.extended-stats: they are zero on virtual devices and would
 * add 9 series per interface.
 */
export const interfaceStatMetrics = INTERFACE_STATS.map((s) => ({
  field: s.field,
  extended: s.extended === true,
  def: metric(`swarmnet_interface_${s.name}`, 'counter', `${s.help} From IFLA_STATS64.`, IF_LABELS),
}));

export const interfaceInfo = metric('swarmnet_interface_info', 'info',
  'Interface facts: link kind (veth, bridge, vxlan...), its bridge (master), operational state, MAC address, and for veth the other end (peer_netns, peer_interface).',
  [...IF_LABELS, 'kind', 'master', 'operstate', 'address', 'peer_netns', 'peer_interface']);
export const interfaceUp = metric('swarmnet_interface_up', 'gauge',
  '1 if the interface operational state is up (or unknown with the link administratively up, as for loopback), else 0.', IF_LABELS);
export const interfaceMtu = metric('swarmnet_interface_mtu_bytes', 'gauge', 'Interface MTU in bytes.', IF_LABELS);

export const bridgeFdbEntries = metric('swarmnet_bridge_fdb_entries', 'gauge',
  'Forwarding database entries of a bridge, by state: permanent (local and VXLAN-programmed), static, dynamic (learned).',
  [...NS_LABELS, 'bridge', 'state']);

export const vxlanInfo = metric('swarmnet_vxlan_info', 'info',
  'VXLAN device parameters: VNI, UDP destination port, local address, learning.',
  [...IF_LABELS, 'vni', 'port', 'local', 'learning']);
export const vxlanFdbEntries = metric('swarmnet_vxlan_fdb_entries', 'gauge',
  'Forwarding entries of a VXLAN device itself (one per remote MAC; dst is the remote VTEP), by state.',
  [...IF_LABELS, 'vni', 'state']);
export const vxlanPeers = metric('swarmnet_vxlan_peers', 'gauge',
  'Distinct remote VTEP addresses in a VXLAN device forwarding database: the nodes this node sends overlay traffic to.',
  [...IF_LABELS, 'vni']);
