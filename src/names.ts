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
