// Families from the Docker API state: swarm identity, and the overlay control
// plane compared with what the kernel holds.
import { metric } from '../family.js';

export const dockerUp = metric('swarmnet_docker_up', 'gauge',
  '1 if the Docker API answers (events stream connected, last refresh succeeded), else 0. Names keep their last known values while it is 0.', []);
export const dockerStateAge = metric('swarmnet_docker_state_age_seconds', 'gauge',
  'Seconds since the cached Docker state (the source of every swarm label) was last refreshed successfully.', []);

export const nodeInfo = metric('swarmnet_node_info', 'info',
  'This node as its Docker engine describes it: swarm node id, hostname, engine version, swarm role (manager, worker, or empty outside a swarm).',
  ['node_id', 'hostname', 'engine_version', 'role']);
export const swarmNodeInfo = metric('swarmnet_swarm_node_info', 'info',
  "The swarm's nodes as a manager lists them (exported by managers only): lets Prometheus see nodes that run no exporter.",
  ['node', 'node_id', 'address', 'role', 'state', 'availability']);
export const networkInfo = metric('swarmnet_network_info', 'info',
  "A Docker network, one series per subnet: driver, scope, VXLAN id, subnet, gateway, and the overlay namespace that carries it on this node (netns, empty when none).",
  ['network', 'network_id', 'driver', 'scope', 'vni', 'subnet', 'gateway', 'netns']);
export const netnsInfo = metric('swarmnet_netns_info', 'info',
  'What a network namespace belongs to: the network (overlay, lb, ingress_sbox) or the container and its swarm task (sandboxes).',
  ['netns', 'netns_kind', 'network', 'container', 'container_id', 'service', 'task', 'slot', 'stack']);

const OVERLAY_LABELS = ['network', 'netns'] as const;

export const overlayPeersExpected = metric('swarmnet_overlay_peers_expected', 'gauge',
  'Remote nodes the control plane lists as peers of an overlay network (GET /networks/{id}?verbose=true Peers, this node excluded).', OVERLAY_LABELS);
export const overlayPeersPresent = metric('swarmnet_overlay_peers_present', 'gauge',
  "Distinct remote VTEPs in the forwarding database of the network's VXLAN device(s) on this node.", OVERLAY_LABELS);
export const overlayPeerMismatch = metric('swarmnet_overlay_peer_mismatch', 'gauge',
  'A peer the control plane lists but the kernel has no FDB entry for (state="missing"), or a VTEP the kernel sends to that the control plane does not list (state="unknown"). Present only while mismatched.',
  [...OVERLAY_LABELS, 'peer_node', 'peer_ip', 'state']);
export const overlayL2Inconsistencies = metric('swarmnet_overlay_l2_inconsistencies', 'gauge',
  'Remote endpoints on the VXLAN device whose permanent neighbour entry has no FDB entry (kind="missing_fdb", moby#52661) or whose FDB entry points at a VTEP other than the node the control plane places them on (kind="wrong_vtep", moby#31588).',
  [...OVERLAY_LABELS, 'kind']);
export const overlayL2Inconsistent = metric('swarmnet_overlay_l2_inconsistent_endpoint', 'gauge',
  'One series per inconsistent remote endpoint (see swarmnet_overlay_l2_inconsistencies), present only while inconsistent: its IP and MAC, the VTEP its FDB entry points at (vtep) and the one expected (expected_vtep).',
  [...OVERLAY_LABELS, 'endpoint_ip', 'mac', 'kind', 'task', 'vtep', 'expected_vtep']);

export const L2_KINDS = ['missing_fdb', 'wrong_vtep'] as const;
export type L2Kind = typeof L2_KINDS[number];
