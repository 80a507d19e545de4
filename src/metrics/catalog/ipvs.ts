// Families read from IPVS (generic netlink) in the load-balancer namespaces:
// lb_<network> (service VIPs) and ingress_sbox (published ports).
import { metric } from '../family.js';
import type { IpvsStatName } from '../../kernel/genl/ipvs.js';
import { NS_LABELS } from './kernel.js';

/** a virtual service: its address (or firewall mark) and scheduler */
export const LB_SERVICE_LABELS = [...NS_LABELS, 'vip', 'fwmark', 'protocol', 'port', 'scheduler'] as const;
/** a real server (backend) of a virtual service, as ip:port */
export const LB_BACKEND_LABELS = [...NS_LABELS, 'vip', 'fwmark', 'protocol', 'port', 'backend'] as const;

/** 64-bit IPVS totals exposed as counters; IPVS's "in" is client to server, "out" server to client */
export const LB_STATS: ReadonlyArray<{ field: IpvsStatName; name: string; help: string }> = [
  { field: 'conns', name: 'connections_total', help: 'Connections scheduled' },
  { field: 'inpkts', name: 'receive_packets_total', help: 'Packets from clients (IPVS "incoming": client to server)' },
  { field: 'outpkts', name: 'transmit_packets_total', help: 'Packets to clients (IPVS "outgoing": server to client; only seen for NAT/masquerade, which swarm uses)' },
  { field: 'inbytes', name: 'receive_bytes_total', help: 'Bytes from clients (IPVS "incoming": client to server)' },
  { field: 'outbytes', name: 'transmit_bytes_total', help: 'Bytes to clients (IPVS "outgoing": server to client)' },
];

export const lbServiceStatMetrics = LB_STATS.map((s) => ({
  field: s.field,
  def: metric(`swarmnet_lb_service_${s.name}`, 'counter', `${s.help}, for an IPVS virtual service. From IPVS_SVC_ATTR_STATS64.`, LB_SERVICE_LABELS),
}));
export const lbBackendStatMetrics = LB_STATS.map((s) => ({
  field: s.field,
  def: metric(`swarmnet_lb_backend_${s.name}`, 'counter', `${s.help}, for one real server (backend) of an IPVS virtual service. From IPVS_DEST_ATTR_STATS64.`, LB_BACKEND_LABELS),
}));

export const lbServiceBackends = metric('swarmnet_lb_service_backends', 'gauge',
  'Real servers (backends) IPVS has for the virtual service, draining ones (weight 0) included.', LB_SERVICE_LABELS);
export const lbServiceMissingBackends = metric('swarmnet_lb_service_missing_backends', 'gauge',
  'Tasks the swarm control plane lists for the service on this network that have no IPVS real server. Only where Docker\'s view of the service is known.',
  LB_SERVICE_LABELS);

export const lbBackendActiveConnections = metric('swarmnet_lb_backend_active_connections', 'gauge',
  'Active (established) connections IPVS tracks to the backend.', LB_BACKEND_LABELS);
export const lbBackendInactiveConnections = metric('swarmnet_lb_backend_inactive_connections', 'gauge',
  'Inactive connections (not established, or closing, or UDP) IPVS tracks to the backend.', LB_BACKEND_LABELS);
export const lbBackendWeight = metric('swarmnet_lb_backend_weight', 'gauge',
  'IPVS weight of the backend; 0 means draining: swarm sets it before removing a task.', LB_BACKEND_LABELS);
export const lbBackendUp = metric('swarmnet_lb_backend_up', 'gauge',
  '1 if the backend\'s task is known to the swarm control plane, running, and its IPVS weight is above 0; 0 if draining (weight 0), not running, or unknown to the control plane (a stale backend). Only emitted in namespaces where Docker\'s view of the load-balanced services is known.',
  LB_BACKEND_LABELS);

export const ipvsUp = metric('swarmnet_ipvs_up', 'gauge',
  '1 if this kernel has IPVS (the generic netlink family "IPVS" exists), 0 if not: then swarm VIPs and the routing mesh do not balance.', []);
