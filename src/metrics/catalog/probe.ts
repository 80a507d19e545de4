// Families of the overlay path probes (--probe.overlay): ICMP echo from a
// namespace of this node that owns an address on the overlay network to one
// endpoint on every peer node, as the control plane lists them; the last
// round's outcome, from the prober's cache.
import { metric } from '../family.js';

const PEER_LABELS = ['network', 'netns', 'peer_node', 'peer_ip'] as const;

export const probeLossRatio = metric('swarmnet_overlay_probe_loss_ratio', 'gauge',
  'Fraction of the last round\'s small ICMP echo probes (84-byte IP packets) to an endpoint on the peer node that got no reply in time (0 to 1). netns: the namespace that sent them (the network\'s lb_ endpoint, ingress_sbox, or a task sandbox); peer_ip: the peer node\'s address (VTEP) as the control plane lists it.',
  PEER_LABELS);
export const probeRtt = metric('swarmnet_overlay_probe_rtt_seconds', 'gauge',
  'Mean round-trip time of the last round\'s answered small probes to the peer node\'s endpoint; absent when none was answered.',
  PEER_LABELS);
export const probeFullSizeOk = metric('swarmnet_overlay_probe_full_size_ok', 'gauge',
  '1 if the last round\'s full-size probe (an IP packet of the overlay MTU, DF set) to the peer node\'s endpoint was answered, else 0: refused (fragmentation needed) or lost on the way, a path MTU blackhole when small probes pass.',
  PEER_LABELS);
export const probeMtu = metric('swarmnet_overlay_probe_mtu_bytes', 'gauge',
  'IP packet size of the full-size probe: the MTU of the network\'s VXLAN device in its overlay namespace.',
  PEER_LABELS);
export const probeLastRound = metric('swarmnet_overlay_probe_last_round_timestamp_seconds', 'gauge',
  'When the last probe round of the network from this node ended (Unix time); a stale value means the prober is not running rounds.',
  ['network', 'netns']);
