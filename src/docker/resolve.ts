// From the cached Docker state to the names of kernel objects (pure).
//
// Namespace files are matched by name:
//   1-<first 10 chars of network id>   overlay network
//   lb_<first 9 chars of network id>   the network's load-balancer endpoint
//   ingress_sbox                       the ingress network's routing-mesh sandbox
//   <12 hex chars>                     a container sandbox: the basename of its SandboxKey
//                                      (the sandbox id's prefix, not the container id's)
import { basename } from 'node:path';
import type { NetnsRef } from '../kernel/netns.js';
import type { EndpointOwner, LbService, NameIndex, NetnsIdentity } from '../names.js';
import type { ContainerState, DockerState, NetworkState } from './state.js';

/** How the task label is spelled: the full task name, or "<service>.<slot>" (stable across restarts). */
export type TaskLabelMode = 'full' | 'slot';

export interface ResolveOptions {
  taskLabel?: TaskLabelMode;
}

export type { EndpointOwner };

const EMPTY_ID: NetnsIdentity = Object.freeze({});

/** The namespace file name a ref stands for (its label is the path when names collide across directories). */
export const netnsFileName = (ref: NetnsRef): string => (ref.path ? basename(ref.path) : ref.name);

export const overlayNetnsName = (networkId: string): string => `1-${networkId.slice(0, 10)}`;
export const lbNetnsName = (networkId: string): string => `lb_${networkId.slice(0, 9)}`;

/**
 * The slot of a task from its name "<service>.<slot>.<task id>"; "" for global
 * services, whose middle part is the node id.
 */
export function taskSlot(task: string, service: string, taskId: string): string {
  let middle = task;
  if (service && middle.startsWith(`${service}.`)) middle = middle.slice(service.length + 1);
  if (taskId && middle.endsWith(`.${taskId}`)) middle = middle.slice(0, -taskId.length - 1);
  else middle = middle.slice(0, Math.max(0, middle.lastIndexOf('.')));
  return /^\d+$/.test(middle) ? middle : '';
}

/** Task name as labels show it. "slot" mode: "<service>.<slot>", or "<service>.<node id>" for global tasks. */
export function formatTask(mode: TaskLabelMode, task: string, service: string, taskId = ''): string {
  if (mode === 'full' || !task || !service || !task.startsWith(`${service}.`)) return task;
  const rest = task.slice(service.length + 1);
  const id = taskId && rest.endsWith(`.${taskId}`) ? taskId : rest.slice(rest.lastIndexOf('.') + 1);
  const middle = rest.length > id.length ? rest.slice(0, rest.length - id.length - 1) : rest;
  return `${service}.${middle}`;
}

/** "Target: 80, Publish: 8080" -> protocol/published:target, the protocol taken from the service spec when known. */
export function formatPorts(raw: string[], specPorts: Array<{ protocol: string; published: number; target: number }>): string[] {
  const out: string[] = [];
  for (const p of raw) {
    const target = /Target:\s*(\d+)/.exec(p)?.[1];
    const publish = /Publish(?:ed)?:\s*(\d+)/.exec(p)?.[1];
    if (target === undefined || publish === undefined) {
      out.push(p);
      continue;
    }
    const protos = specPorts.filter((s) => String(s.target) === target && String(s.published) === publish).map((s) => s.protocol);
    if (protos.length === 0) out.push(`${publish}:${target}`);
    for (const proto of new Set(protos)) out.push(`${proto}/${publish}:${target}`);
  }
  return out;
}

export function buildNameIndex(state: DockerState, opts: ResolveOptions = {}): NameIndex {
  const taskMode = opts.taskLabel ?? 'full';
  const byNetnsFile = new Map<string, NetworkState>();
  let ingress: NetworkState | undefined;
  for (const n of state.networks) {
    if (n.driver !== 'overlay') continue;
    byNetnsFile.set(overlayNetnsName(n.id), n);
    byNetnsFile.set(lbNetnsName(n.id), n);
    if (n.ingress) ingress = n;
  }
  if (ingress) byNetnsFile.set('ingress_sbox', ingress);
  const gwbridge = state.networks.find((n) => n.name === 'docker_gwbridge');

  // sandboxes: by SandboxKey basename (what the file is called), else by sandbox id prefix
  const sandboxes = new Map<string, ContainerState>();
  for (const c of state.containers) {
    const key = c.sandboxKey ? basename(c.sandboxKey) : c.sandboxId.slice(0, 12);
    if (!key) continue;
    // a stopped container keeps its old SandboxKey: a running one wins the name
    const prev = sandboxes.get(key);
    if (!prev || (!prev.running && c.running)) sandboxes.set(key, c);
  }

  const identities = new Map<string, NetnsIdentity>();
  for (const [file, n] of byNetnsFile) identities.set(file, Object.freeze({ network: n.name, networkId: n.id }));
  for (const [file, c] of sandboxes) {
    const id: NetnsIdentity = { container: c.name, containerId: c.id };
    if (c.service) id.service = c.service;
    if (c.task) {
      id.task = formatTask(taskMode, c.task, c.service, c.taskId);
      const slot = taskSlot(c.task, c.service, c.taskId);
      if (slot) id.slot = slot;
    }
    if (c.stack) id.stack = c.stack;
    if (c.nodeId) id.nodeId = c.nodeId;
    identities.set(file, Object.freeze(id));
  }

  // interface MAC -> network, per namespace file
  const macs = new Map<string, Map<string, string>>();
  const addMac = (file: string, mac: string, network: string) => {
    if (!mac) return;
    let m = macs.get(file);
    if (!m) macs.set(file, (m = new Map()));
    m.set(mac.toLowerCase(), network);
  };
  const sandboxOfContainer = new Map<string, string>();
  for (const [file, c] of sandboxes) {
    sandboxOfContainer.set(c.id, file);
    for (const net of c.networks) addMac(file, net.mac, net.network);
  }
  for (const n of state.networks) {
    for (const e of n.endpoints) {
      if (e.key === `lb-${n.name}`) addMac(lbNetnsName(n.id), e.mac, n.name);
      else if (e.key === 'ingress-sbox') addMac('ingress_sbox', e.mac, n.name);
      else if (n === gwbridge) {
        // the hidden docker_gwbridge leg of a sandbox is listed only here
        const file = sandboxOfContainer.get(e.key);
        if (file) addMac(file, e.mac, n.name);
      }
    }
  }

  // services by IPVS firewall mark, and endpoint owners, per network id
  const specByName = new Map(state.services.map((s) => [s.name, s]));
  const localService = new Map<string, string>(); // service name -> id, from local containers
  for (const c of state.containers) if (c.service && c.serviceId) localService.set(c.service, c.serviceId);
  const lbByNetwork = new Map<string, Map<number, LbService>>();
  const ownersByNetwork = new Map<string, Map<string, EndpointOwner>>();
  for (const n of state.networks) {
    const lb = new Map<number, LbService>();
    const owners = new Map<string, EndpointOwner>();
    for (const s of n.services) {
      const spec = specByName.get(s.name);
      const serviceId = spec?.id ?? localService.get(s.name);
      if (s.localLbIndex > 0 && s.name !== '') {
        const svc: LbService = {
          service: s.name,
          ports: formatPorts(s.ports, spec?.ports ?? []),
          fwmark: s.localLbIndex,
          tasks: s.tasks.map((t) => ({
            task: formatTask(taskMode, t.name, s.name),
            endpointIp: t.endpointIp,
            ...(t.hostIp ? { nodeIp: t.hostIp } : {}),
          })),
        };
        if (serviceId) svc.serviceId = serviceId;
        if (s.vip) svc.vip = s.vip;
        lb.set(s.localLbIndex, svc);
      }
      for (const t of s.tasks) {
        if (t.endpointIp) owners.set(t.endpointIp, { task: formatTask(taskMode, t.name, s.name), service: s.name, running: true });
      }
    }
    lbByNetwork.set(n.id, lb);
    ownersByNetwork.set(n.id, owners);
  }
  // local containers know better whether their task still runs
  for (const c of state.containers) {
    for (const net of c.networks) {
      if (!net.ip) continue;
      const owners = ownersByNetwork.get(net.networkId);
      const task = c.task ? formatTask(taskMode, c.task, c.service, c.taskId) : c.name;
      // a stopped container that still holds an IP must not mark its new, running owner dead
      const prev = owners?.get(net.ip);
      if (!c.running && prev?.running && prev.task !== task) continue;
      owners?.set(net.ip, { task, service: c.service, running: c.running });
    }
  }

  const networkOf = (ref: NetnsRef): NetworkState | undefined =>
    ref.kind === 'overlay' || ref.kind === 'lb' || ref.kind === 'ingress_sbox' ? byNetnsFile.get(netnsFileName(ref)) : undefined;

  const empty = new Map<number, LbService>();
  return {
    netns: (ref) => identities.get(netnsFileName(ref)) ?? EMPTY_ID,
    networkOfSandboxInterface: (ref, mac) => (mac ? macs.get(netnsFileName(ref))?.get(mac.toLowerCase()) : undefined),
    lbServices: (ref) => {
      if (ref.kind !== 'lb' && ref.kind !== 'ingress_sbox') return empty;
      const n = networkOf(ref);
      return (n && lbByNetwork.get(n.id)) ?? empty;
    },
    taskOfEndpoint: (ref, ip) => {
      const n = networkOf(ref);
      return n ? ownersByNetwork.get(n.id)?.get(ip) : undefined;
    },
    networkOf,
  };
}
