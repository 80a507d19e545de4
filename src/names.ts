// The swarm identity of kernel objects, as the Docker state cache knows it.
// The kernel side never waits on Docker: a scrape takes whatever NameIndex is
// current (possibly empty, when dockerd was never reachable).
import type { NetnsRef } from './kernel/netns.js';

export interface NetnsIdentity {
  /** overlay and lb namespaces: the network they serve */
  network?: string;
  networkId?: string;
  /** sandboxes: the container and its swarm task */
  container?: string;
  containerId?: string;
  service?: string;
  task?: string;
  slot?: string;
  stack?: string;
  nodeId?: string;
}

export interface NameIndex {
  /** identity of a namespace by its file (overlay/lb by network id prefix, sandbox by SandboxKey) */
  netns(ref: NetnsRef): NetnsIdentity;
  /** the network a sandbox interface is attached to, found by its MAC address */
  networkOfSandboxInterface(ref: NetnsRef, mac: string | undefined): string | undefined;
}

export const EMPTY_NAMES: NameIndex = {
  netns: () => ({}),
  networkOfSandboxInterface: () => undefined,
};

/** A swarm service as the control plane programs it into IPVS (from GET /networks/{id}?verbose=true). */
export interface LbService {
  service: string;
  serviceId?: string;
  /** the VIP on this network (internal LB); empty for ingress-only entries */
  vip?: string;
  /** published ports as "tcp/8080:80" (protocol/published:target) */
  ports: string[];
  /** the IPVS firewall mark (LocalLBIndex) */
  fwmark: number;
  /** tasks the control plane lists as backends */
  tasks: Array<{ task: string; endpointIp: string; nodeIp?: string }>;
}

/** Optional parts of a NameIndex that the Docker source fills in. */
export interface LbNameIndex {
  /** services balanced in this lb_ or ingress_sbox namespace, by firewall mark */
  lbServices(ref: NetnsRef): Map<number, LbService>;
  /** the task that owns an endpoint IP on the network served by `ref`, if known */
  taskOfEndpoint(ref: NetnsRef, ip: string): { task: string; service: string; running: boolean } | undefined;
}
