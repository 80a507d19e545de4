// The Docker API state the exporter keeps, and its pure conversion from the
// raw JSON that dockerd answers (GET /info, /nodes, /services, /networks/{id},
// /containers/{id}/json). Parsing is defensive: a field an engine version does
// not send stays empty, it never throws.

/** The raw answers of one refresh, as dockerd sent them (also the shape of the test fixtures). */
export interface RawDockerState {
  /** GET /info */
  info: unknown;
  /** GET /nodes (managers only; null elsewhere) */
  nodes: unknown[] | null;
  /** GET /services (managers only; null elsewhere) */
  services: unknown[] | null;
  /** GET /networks/{id} for every network, ?verbose=true for swarm-scope ones */
  networks: unknown[];
  /** GET /containers/{id}/json for every container */
  containers: unknown[];
}

export interface NodeInfo {
  nodeId: string;
  hostname: string;
  engineVersion: string;
  /** manager | worker | "" when not part of a swarm */
  role: string;
  /** this node's swarm data-path/advertise address (the VTEP remote nodes send to) */
  nodeAddr: string;
  /** inactive | pending | active | error | locked */
  swarmState: string;
}

export interface SwarmNodeState {
  id: string;
  hostname: string;
  address: string;
  role: string;
  /** unknown | down | ready | disconnected */
  state: string;
  /** active | pause | drain */
  availability: string;
  leader: boolean;
}

/** A local endpoint on a network (GET /networks/{id} "Containers"): containers, "lb-<net>", "ingress-sbox". */
export interface NetworkEndpoint {
  /** the key dockerd uses: a container id, or lb-<network> / ingress-sbox */
  key: string;
  name: string;
  endpointId: string;
  mac: string;
  ipv4: string;
}

/** A task endpoint as the control plane lists it (verbose inspect "Services[].Tasks[]"). */
export interface ControlTask {
  name: string;
  endpointId: string;
  endpointIp: string;
  /** the node the endpoint lives on (Info."Host IP") */
  hostIp: string;
}

export interface ControlService {
  name: string;
  /** "" when the service has no VIP on this network (dnsrr, "<nil>") */
  vip: string;
  /** as dockerd formats them: "Target: 80, Publish: 8080" */
  ports: string[];
  localLbIndex: number;
  tasks: ControlTask[];
}

export interface Subnet {
  subnet: string;
  gateway: string;
  /** the VXLAN id of this subnet (overlay), from com.docker.network.driver.overlay.vxlanid_list */
  vni?: number;
}

export interface NetworkState {
  id: string;
  name: string;
  driver: string;
  scope: string;
  ingress: boolean;
  attachable: boolean;
  internal: boolean;
  subnets: Subnet[];
  /** true when the verbose control-plane view (peers, services) was read */
  verbose: boolean;
  /** nodes that take part in this network (networkdb), this node included */
  peers: Array<{ name: string; ip: string }>;
  services: ControlService[];
  endpoints: NetworkEndpoint[];
}

export interface ContainerNetwork {
  network: string;
  networkId: string;
  endpointId: string;
  mac: string;
  ip: string;
}

export interface ContainerState {
  id: string;
  name: string;
  running: boolean;
  sandboxId: string;
  /** the daemon's path of the namespace file; only its basename is meaningful to us */
  sandboxKey: string;
  service: string;
  serviceId: string;
  /** full task name: <service>.<slot or node id>.<task id> */
  task: string;
  taskId: string;
  nodeId: string;
  stack: string;
  networks: ContainerNetwork[];
}

export interface ServicePort {
  protocol: string;
  published: number;
  target: number;
  publishMode: string;
}

export interface ServiceState {
  id: string;
  name: string;
  /** published ports (the protocol is missing from the network's verbose view) */
  ports: ServicePort[];
}

export interface DockerState {
  /** ms since the epoch of the refresh that produced this state; 0: never read */
  fetchedAt: number;
  info: NodeInfo;
  /** the swarm's nodes (on managers; empty elsewhere) */
  nodes: SwarmNodeState[];
  services: ServiceState[];
  networks: NetworkState[];
  containers: ContainerState[];
}

export const EMPTY_INFO: NodeInfo = Object.freeze({
  nodeId: '', hostname: '', engineVersion: '', role: '', nodeAddr: '', swarmState: '',
});

export const EMPTY_STATE: DockerState = Object.freeze({
  fetchedAt: 0, info: EMPTY_INFO, nodes: [], services: [], networks: [], containers: [],
});

export const LABEL_SERVICE_NAME = 'com.docker.swarm.service.name';
export const LABEL_SERVICE_ID = 'com.docker.swarm.service.id';
export const LABEL_TASK_NAME = 'com.docker.swarm.task.name';
export const LABEL_TASK_ID = 'com.docker.swarm.task.id';
export const LABEL_NODE_ID = 'com.docker.swarm.node.id';
export const LABEL_STACK = 'com.docker.stack.namespace';
export const OPT_VXLANID_LIST = 'com.docker.network.driver.overlay.vxlanid_list';

// ---- tiny accessors over unknown JSON

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'string' && v !== '' && Number.isFinite(Number(v)) ? Number(v) : 0);
const bool = (v: unknown): boolean => v === true;
const labelsOf = (v: unknown): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(obj(v))) out[k] = str(val);
  return out;
};

/** "198.19.77.2/24" -> "198.19.77.2" */
export const stripPrefix = (addr: string): string => {
  const i = addr.indexOf('/');
  return i < 0 ? addr : addr.slice(0, i);
};
/** "198.18.0.1:2377" -> "198.18.0.1" ("[::1]:2377" -> "::1") */
const stripPort = (addr: string): string => {
  if (addr.startsWith('[')) return addr.slice(1, addr.indexOf(']'));
  const i = addr.lastIndexOf(':');
  return i > 0 && addr.indexOf(':') === i ? addr.slice(0, i) : addr;
};
const normMac = (mac: string): string => mac.toLowerCase();
/** A VXLAN network identifier: 24 bits. */
const isVni = (v: number | undefined): v is number => v !== undefined && Number.isInteger(v) && v >= 0 && v < 0x100_0000;

// ---- parsers

export function parseInfo(raw: unknown): NodeInfo {
  const info = obj(raw);
  const swarm = obj(info.Swarm);
  const swarmState = str(swarm.LocalNodeState);
  const nodeId = str(swarm.NodeID);
  const role = swarmState === 'active' || swarmState === 'locked'
    ? (bool(swarm.ControlAvailable) ? 'manager' : nodeId ? 'worker' : '')
    : '';
  return {
    nodeId,
    hostname: str(info.Name),
    engineVersion: str(info.ServerVersion),
    role,
    nodeAddr: str(swarm.NodeAddr),
    swarmState,
  };
}

export function parseNode(raw: unknown): SwarmNodeState {
  const n = obj(raw);
  const status = obj(n.Status);
  const manager = obj(n.ManagerStatus);
  let address = str(status.Addr);
  // managers may report 0.0.0.0 here; their ManagerStatus carries the real address
  if ((address === '' || address === '0.0.0.0') && manager.Addr !== undefined) address = stripPort(str(manager.Addr));
  return {
    id: str(n.ID),
    hostname: str(obj(n.Description).Hostname),
    address,
    role: str(obj(n.Spec).Role),
    state: str(status.State),
    availability: str(obj(n.Spec).Availability),
    leader: bool(manager.Leader),
  };
}

export function parseService(raw: unknown): ServiceState {
  const s = obj(raw);
  const ports = arr(obj(s.Endpoint).Ports).map((p) => {
    const o = obj(p);
    return { protocol: str(o.Protocol) || 'tcp', published: num(o.PublishedPort), target: num(o.TargetPort), publishMode: str(o.PublishMode) };
  });
  return { id: str(s.ID), name: str(obj(s.Spec).Name), ports };
}

export function parseNetwork(raw: unknown): NetworkState {
  const n = obj(raw);
  const options = labelsOf(n.Options);
  const vnis = (options[OPT_VXLANID_LIST] ?? '').split(',').map((v) => v.trim()).filter((v) => v !== '').map(Number);
  const subnets: Subnet[] = arr(obj(n.IPAM).Config).map((c, i) => {
    const o = obj(c);
    const sub: Subnet = { subnet: str(o.Subnet), gateway: str(o.Gateway) };
    const vni = vnis[i];
    if (isVni(vni)) sub.vni = vni;
    return sub;
  });
  // an overlay network always has a VNI per subnet; keep one even if IPAM says nothing
  if (subnets.length === 0 && isVni(vnis[0])) subnets.push({ subnet: '', gateway: '', vni: vnis[0] });
  const endpoints: NetworkEndpoint[] = Object.entries(obj(n.Containers)).map(([key, v]) => {
    const e = obj(v);
    return { key, name: str(e.Name), endpointId: str(e.EndpointID), mac: normMac(str(e.MacAddress)), ipv4: stripPrefix(str(e.IPv4Address)) };
  });
  const verbose = n.Peers !== undefined || n.Services !== undefined;
  const services: ControlService[] = Object.entries(obj(n.Services)).map(([name, v]) => {
    const s = obj(v);
    const vip = str(s.VIP);
    return {
      name,
      vip: vip === '<nil>' ? '' : stripPrefix(vip),
      ports: arr(s.Ports).map(str).filter((p) => p !== ''),
      localLbIndex: num(s.LocalLBIndex),
      tasks: arr(s.Tasks).map((t) => {
        const o = obj(t);
        return { name: str(o.Name), endpointId: str(o.EndpointID), endpointIp: stripPrefix(str(o.EndpointIP)), hostIp: str(obj(o.Info)['Host IP']) };
      }),
    };
  });
  return {
    id: str(n.Id),
    name: str(n.Name),
    driver: str(n.Driver),
    scope: str(n.Scope),
    ingress: bool(n.Ingress),
    attachable: bool(n.Attachable),
    internal: bool(n.Internal),
    subnets,
    verbose,
    peers: arr(n.Peers).map((p) => ({ name: str(obj(p).Name), ip: str(obj(p).IP) })).filter((p) => p.ip !== ''),
    services,
    endpoints,
  };
}

export function parseContainer(raw: unknown): ContainerState {
  const c = obj(raw);
  const state = obj(c.State);
  const config = obj(c.Config);
  const ns = obj(c.NetworkSettings);
  const labels = labelsOf(config.Labels);
  const networks: ContainerNetwork[] = Object.entries(obj(ns.Networks)).map(([name, v]) => {
    const o = obj(v);
    return { network: name, networkId: str(o.NetworkID), endpointId: str(o.EndpointID), mac: normMac(str(o.MacAddress)), ip: str(o.IPAddress) };
  });
  return {
    id: str(c.Id),
    name: str(c.Name).replace(/^\//, ''),
    running: bool(state.Running),
    sandboxId: str(ns.SandboxID),
    sandboxKey: str(ns.SandboxKey),
    service: labels[LABEL_SERVICE_NAME] ?? '',
    serviceId: labels[LABEL_SERVICE_ID] ?? '',
    task: labels[LABEL_TASK_NAME] ?? '',
    taskId: labels[LABEL_TASK_ID] ?? '',
    nodeId: labels[LABEL_NODE_ID] ?? '',
    stack: labels[LABEL_STACK] ?? '',
    networks,
  };
}

/** Convert one refresh's raw answers. Entries without an id are dropped; an answer that is not a list counts as empty. */
export function parseDockerState(raw: RawDockerState, fetchedAt: number): DockerState {
  const r = obj(raw);
  return {
    fetchedAt,
    info: parseInfo(r.info),
    nodes: arr(r.nodes).map(parseNode).filter((n) => n.id !== ''),
    services: arr(r.services).map(parseService).filter((s) => s.id !== ''),
    networks: arr(r.networks).map(parseNetwork).filter((n) => n.id !== ''),
    containers: arr(r.containers).map(parseContainer).filter((c) => c.id !== ''),
  };
}
