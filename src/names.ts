// The swarm identity of kernel objects, as the Docker state cache knows it.
// The kernel side never waits on Docker: a scrape takes whatever NameIndex is
// current (EMPTY_NAMES when dockerd was never reachable or is not used). It is
// the one channel through which names reach collectors.
import type { NetworkState } from './docker/state.js';
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

export interface EndpointOwner {
  task: string;
  service: string;
  running: boolean;
}

export interface NameIndex {
  /** identity of a namespace by its file (overlay/lb by network id prefix, sandbox by SandboxKey) */
  netns(ref: NetnsRef): NetnsIdentity;
  /** the network a sandbox interface is attached to, found by its MAC address */
  networkOfSandboxInterface(ref: NetnsRef, mac: string | undefined): string | undefined;
  /** the network served by an overlay, lb or ingress_sbox namespace */
  networkOf(ref: NetnsRef): NetworkState | undefined;
  /** services balanced in this lb_ or ingress_sbox namespace, by firewall mark (empty: not known) */
  lbServices(ref: NetnsRef): ReadonlyMap<number, LbService>;
  /** the task that owns an endpoint IP on the network served by `ref`, if known */
  taskOfEndpoint(ref: NetnsRef, ip: string): EndpointOwner | undefined;
}

const NO_SERVICES: ReadonlyMap<number, LbService> = new Map();

/** Names when Docker is not known: every lookup comes back empty. */
export const EMPTY_NAMES: NameIndex = {
  netns: () => ({}),
  networkOfSandboxInterface: () => undefined,
  networkOf: () => undefined,
  lbServices: () => NO_SERVICES,
  taskOfEndpoint: () => undefined,
};
