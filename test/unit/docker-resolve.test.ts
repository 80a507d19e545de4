// The pure Docker side: raw API JSON captured from the test swarm -> state -> names.
// Expectations are derived from the raw JSON (see test/fixtures/docker/README.md).
import { basename } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildNameIndex, formatPorts, formatTask, lbNetnsName, overlayNetnsName, taskSlot } from '../../src/docker/resolve.js';
import { EMPTY_STATE, parseDockerState } from '../../src/docker/state.js';
import type { NetnsRef } from '../../src/kernel/netns.js';
import { type Json, loadApi, loadKernel } from '../fixtures/docker/load.js';

const node1 = loadApi('node1');
const node2 = loadApi('node2');
const kernel = loadKernel();
const state1 = parseDockerState(node1, 1);
const names1 = buildNameIndex(state1);
const ref = (name: string, kind: NetnsRef['kind']): NetnsRef => ({ name, kind, path: `/somewhere/else/netns/${name}` });
const overlays = (raw: typeof node1): Json[] => raw.networks.filter((n: Json) => n.Driver === 'overlay');
const vni = (n: Json) => Number(n.Options['com.docker.network.driver.overlay.vxlanid_list']);

describe('Docker state from the API', () => {
  it('knows this node: id, hostname, engine, role and swarm address', () => {
    expect(state1.info).toMatchObject({
      nodeId: node1.info.Swarm.NodeID, hostname: node1.info.Name, engineVersion: node1.info.ServerVersion,
      role: 'manager', nodeAddr: kernel.node1Address, swarmState: 'active',
    });
    const state2 = parseDockerState(node2, 1);
    expect(state2.info).toMatchObject({ role: 'worker', nodeAddr: kernel.node2Address, hostname: 'node2' });
    expect(state2.nodes).toEqual([]);
  });

  it("lists the swarm's nodes from a manager, with their addresses", () => {
    expect(state1.nodes.map((n) => [n.hostname, n.address, n.role, n.state, n.availability]).sort()).toEqual([
      ['node1', kernel.node1Address, 'manager', 'ready', 'active'],
      ['node2', kernel.node2Address, 'worker', 'ready', 'active'],
    ]);
    expect(state1.nodes.find((n) => n.hostname === 'node1')?.leader).toBe(true);
  });

  it('reads networks: VNI per subnet, gateways, peers, control-plane services and tasks', () => {
    for (const raw of overlays(node1)) {
      const n = state1.networks.find((x) => x.id === raw.Id)!;
      expect(n.subnets).toEqual(raw.IPAM.Config.map((c: Json) => ({ subnet: c.Subnet, gateway: c.Gateway, vni: vni(raw) })));
      expect(n.verbose).toBe(true);
      expect(n.peers.map((p) => p.ip).sort()).toEqual(raw.Peers.map((p: Json) => p.IP).sort());
      const tasks = Object.values(raw.Services as Record<string, Json>).flatMap((s) => s.Tasks);
      expect(n.services.flatMap((s) => s.tasks).map((t) => [t.name, t.endpointIp, t.hostIp]).sort())
        .toEqual(tasks.map((t: Json) => [t.Name, t.EndpointIP, t.Info['Host IP']]).sort());
    }
    const appnet = state1.networks.find((n) => n.name === 'appnet')!;
    expect(appnet.services.find((s) => s.name === 'web')?.vip).toBe(''); // dnsrr: "<nil>"
    expect(appnet.services.find((s) => s.name === 'pub')?.vip).toMatch(/^198\.19\.77\.\d+$/);
  });

  it('reads containers: sandbox, swarm labels, per-network MAC and IP', () => {
    expect(state1.containers).toHaveLength(node1.containers.length);
    for (const raw of node1.containers) {
      const c = state1.containers.find((x) => x.id === raw.Id)!;
      const labels = raw.Config.Labels;
      expect(c).toMatchObject({
        name: raw.Name.slice(1), running: true, sandboxKey: raw.NetworkSettings.SandboxKey,
        service: labels['com.docker.swarm.service.name'], task: labels['com.docker.swarm.task.name'], nodeId: state1.info.nodeId,
      });
      expect(c.networks.map((n) => [n.network, n.mac, n.ip]).sort())
        .toEqual(Object.entries(raw.NetworkSettings.Networks as Record<string, Json>).map(([k, v]) => [k, v.MacAddress, v.IPAddress]).sort());
    }
  });

  it('survives answers of the wrong shape', () => {
    const s = parseDockerState({ info: null, nodes: [null, 'x', { ID: 'n' }], services: [{}], networks: [42, { Id: 'a', IPAM: 'no', Services: [] }], containers: [[], { Id: 'c', NetworkSettings: { Networks: null } }] }, 5);
    expect(s.info.role).toBe('');
    expect(s.nodes.map((n) => n.id)).toEqual(['n']);
    expect(s.networks.map((n) => [n.id, n.subnets.length])).toEqual([['a', 0]]);
    expect(s.containers.map((c) => [c.id, c.networks.length])).toEqual([['c', 0]]);
    const names = buildNameIndex(s);
    expect(names.netns(ref('0123456789ab', 'sandbox'))).toEqual({});
  });
});

describe('names of namespaces', () => {
  it('names every namespace node1 had at capture time', () => {
    for (const s of kernel.samples) {
      const id = names1.netns(s.ref);
      if (s.ref.kind === 'host') continue;
      if (s.ref.kind === 'sandbox') expect(id.container, s.ref.name).toBeTruthy();
      else expect(id.network, s.ref.name).toBeTruthy();
    }
  });

  it('overlay 1-<10 chars> and lb_<9 chars> by network id prefix; ingress_sbox is the ingress network', () => {
    for (const raw of overlays(node1)) {
      expect(names1.netns(ref(`1-${raw.Id.slice(0, 10)}`, 'overlay'))).toEqual({ network: raw.Name, networkId: raw.Id });
      expect(names1.netns(ref(`lb_${raw.Id.slice(0, 9)}`, 'lb'))).toEqual({ network: raw.Name, networkId: raw.Id });
      expect(overlayNetnsName(raw.Id)).toBe(`1-${raw.Id.slice(0, 10)}`);
      expect(lbNetnsName(raw.Id)).toBe(`lb_${raw.Id.slice(0, 9)}`);
    }
    const ingress = node1.networks.find((n: Json) => n.Ingress);
    expect(names1.netns(ref('ingress_sbox', 'ingress_sbox'))).toEqual({ network: 'ingress', networkId: ingress.Id });
    expect(names1.netns(ref('1-0000000000', 'overlay'))).toEqual({});
  });

  it('sandboxes by the basename of SandboxKey (the sandbox id, not the container id)', () => {
    for (const raw of node1.containers) {
      const file = basename(raw.NetworkSettings.SandboxKey);
      expect(file).toBe(raw.NetworkSettings.SandboxID.slice(0, 12));
      expect(file).not.toBe(raw.Id.slice(0, 12));
      const labels = raw.Config.Labels;
      const task = labels['com.docker.swarm.task.name'];
      const service = labels['com.docker.swarm.service.name'];
      expect(names1.netns(ref(file, 'sandbox'))).toEqual({
        container: raw.Name.slice(1), containerId: raw.Id, service, task,
        slot: new RegExp(`^${service}\\.(\\d+)\\.`).exec(task)![1],
        nodeId: labels['com.docker.swarm.node.id'],
        ...(labels['com.docker.stack.namespace'] ? { stack: labels['com.docker.stack.namespace'] } : {}),
      });
    }
    expect(state1.containers.filter((c) => c.stack === 'shop').map((c) => c.service)).toContain('web');
  });

  it('names each sandbox interface after the network its MAC is on, docker_gwbridge included', () => {
    const gw = node1.networks.find((n: Json) => n.Name === 'docker_gwbridge');
    for (const raw of node1.containers) {
      const r = ref(basename(raw.NetworkSettings.SandboxKey), 'sandbox');
      for (const [network, v] of Object.entries(raw.NetworkSettings.Networks as Record<string, Json>)) {
        expect(names1.networkOfSandboxInterface(r, v.MacAddress.toUpperCase())).toBe(network);
      }
      expect(names1.networkOfSandboxInterface(r, gw.Containers[raw.Id].MacAddress)).toBe('docker_gwbridge');
      expect(names1.networkOfSandboxInterface(r, '02:00:00:00:00:00')).toBeUndefined();
    }
    // and against the kernel: every non-loopback interface of every sandbox resolves
    for (const s of kernel.samples.filter((x) => x.ref.kind === 'sandbox')) {
      for (const l of s.links.filter((x) => x.name !== 'lo')) expect(names1.networkOfSandboxInterface(s.ref, l.address), `${s.ref.name}/${l.name}`).toBeTruthy();
    }
    // the load balancer and routing-mesh sandboxes too
    for (const s of kernel.samples.filter((x) => x.ref.kind === 'lb' || x.ref.kind === 'ingress_sbox')) {
      const nets = s.links.filter((x) => x.name !== 'lo').map((l) => names1.networkOfSandboxInterface(s.ref, l.address));
      expect(nets.sort()).toEqual(s.ref.kind === 'lb' ? [names1.netns(s.ref).network] : ['docker_gwbridge', 'ingress']);
    }
  });
});

describe('load balancer names', () => {
  const appnet = node1.networks.find((n: Json) => n.Name === 'appnet');
  const ingress = node1.networks.find((n: Json) => n.Ingress);

  it('lb_ namespaces map firewall marks (LocalLBIndex) to their services, VIP and backends', () => {
    const lb = names1.lbServices(ref(`lb_${appnet.Id.slice(0, 9)}`, 'lb'));
    const raw = Object.entries(appnet.Services as Record<string, Json>);
    expect([...lb.keys()].sort()).toEqual(raw.map(([, s]) => s.LocalLBIndex).sort());
    for (const [name, s] of raw) {
      const svc = lb.get(s.LocalLBIndex)!;
      expect(svc.service).toBe(name);
      expect(svc.vip ?? '<nil>').toBe(s.VIP);
      expect(svc.tasks.map((t) => [t.task, t.endpointIp, t.nodeIp])).toEqual(s.Tasks.map((t: Json) => [t.Name, t.EndpointIP, t.Info['Host IP']]));
      expect(svc.serviceId).toBe(node1.services!.find((x: Json) => x.Spec.Name === name).ID);
    }
  });

  it('ingress_sbox maps published services; the ingress endpoints themselves (mark 0) are left out', () => {
    const lb = names1.lbServices(ref('ingress_sbox', 'ingress_sbox'));
    const pub = ingress.Services.pub;
    expect([...lb.keys()]).toEqual([pub.LocalLBIndex]);
    expect(lb.get(pub.LocalLBIndex)).toMatchObject({ service: 'pub', vip: pub.VIP, ports: ['tcp/8080:80'] });
    // a worker has no service specs: the protocol is unknown there
    const names2 = buildNameIndex(parseDockerState(node2, 1));
    const lb2 = names2.lbServices(ref('ingress_sbox', 'ingress_sbox'));
    const pub2 = node2.networks.find((n: Json) => n.Ingress).Services.pub;
    expect(lb2.get(pub2.LocalLBIndex)?.ports).toEqual(['8080:80']);
    expect(names1.lbServices(ref('6cf139cd62ac', 'sandbox')).size).toBe(0);
  });

  it('finds the task that owns an endpoint IP, local or remote', () => {
    for (const raw of [appnet, ingress]) {
      for (const [service, s] of Object.entries(raw.Services as Record<string, Json>)) {
        for (const t of s.Tasks) {
          for (const r of [ref(`lb_${raw.Id.slice(0, 9)}`, 'lb'), ref(`1-${raw.Id.slice(0, 10)}`, 'overlay')]) {
            expect(names1.taskOfEndpoint(r, t.EndpointIP)).toEqual({ task: t.Name, service, running: true });
          }
        }
      }
    }
    expect(names1.taskOfEndpoint(ref(`lb_${appnet.Id.slice(0, 9)}`, 'lb'), '198.51.100.1')).toBeUndefined();
  });

  it('a stopped container still holding an IP does not mark the running owner of that IP dead', () => {
    const live = state1.containers.find((c) => c.running && c.task && c.networks.some((n) => n.networkId === appnet.Id && n.ip))!;
    const ip = live.networks.find((n) => n.networkId === appnet.Id)!.ip;
    const stale = { ...live, id: 'f'.repeat(64), name: 'stale', running: false, task: `${live.service}.9.deadbeef`, taskId: 'deadbeef' };
    for (const containers of [[stale, ...state1.containers], [...state1.containers, stale]]) {
      const names = buildNameIndex({ ...state1, containers });
      expect(names.taskOfEndpoint(ref(`lb_${appnet.Id.slice(0, 9)}`, 'lb'), ip)).toMatchObject({ task: live.task, running: true });
    }
  });
});

describe('task label spelling', () => {
  it('full names by default; "<service>.<slot>" in slot mode, stable across restarts', () => {
    const slotNames = buildNameIndex(state1, { taskLabel: 'slot' });
    for (const c of state1.containers) {
      const id = slotNames.netns(ref(basename(c.sandboxKey), 'sandbox'));
      expect(id.task).toBe(`${c.service}.${id.slot}`);
    }
    const appnet = state1.networks.find((n) => n.name === 'appnet')!;
    const lb = slotNames.lbServices(ref(lbNetnsName(appnet.id), 'lb'));
    for (const s of lb.values()) for (const t of s.tasks) expect(t.task).toMatch(new RegExp(`^${s.service}\\.\\d+$`));
  });

  it('slots of replicated and global tasks', () => {
    expect(taskSlot('web.3.abc', 'web', 'abc')).toBe('3');
    expect(taskSlot('my.app.12.x1y2', 'my.app', 'x1y2')).toBe('12');
    expect(taskSlot('agent.nodeid123.taskid', 'agent', 'taskid')).toBe('');
    expect(taskSlot('web.3.abc', 'web', '')).toBe('3');
    expect(formatTask('slot', 'agent.nodeid123.taskid', 'agent')).toBe('agent.nodeid123');
    expect(formatTask('slot', 'my.app.12.x1y2', 'my.app', 'x1y2')).toBe('my.app.12');
    expect(formatTask('full', 'web.3.abc', 'web')).toBe('web.3.abc');
    expect(formatTask('slot', 'plain-container', '')).toBe('plain-container');
  });

  it('ports: protocol from the service spec, several protocols on one port pair', () => {
    expect(formatPorts(['Target: 53, Publish: 5353'], [{ protocol: 'udp', published: 5353, target: 53 }, { protocol: 'tcp', published: 5353, target: 53 }]))
      .toEqual(['udp/5353:53', 'tcp/5353:53']);
    expect(formatPorts(['something else'], [])).toEqual(['something else']);
  });
});

describe('edge cases', () => {
  it('a stopped container keeping an old SandboxKey does not take the name of a running one', () => {
    const running = state1.containers[0]!;
    const stale = { ...running, id: 'f'.repeat(64), name: 'old', running: false, task: '', service: '' };
    for (const containers of [[stale, running], [running, stale]]) {
      const names = buildNameIndex({ ...state1, containers });
      expect(names.netns(ref(basename(running.sandboxKey), 'sandbox')).container).toBe(running.name);
    }
  });

  it('an empty state names nothing and never throws', () => {
    const names = buildNameIndex(EMPTY_STATE);
    for (const s of kernel.samples) {
      expect(names.netns(s.ref)).toEqual({});
      expect(names.lbServices(s.ref).size).toBe(0);
      expect(names.taskOfEndpoint(s.ref, '198.19.77.2')).toBeUndefined();
      expect(names.networkOfSandboxInterface(s.ref, undefined)).toBeUndefined();
    }
  });

  it('namespace labels that are paths (duplicate names across directories) resolve by file name', () => {
    const raw = overlays(node1)[0];
    const file = `1-${raw.Id.slice(0, 10)}`;
    expect(names1.netns({ name: `/other/dir/${file}`, kind: 'overlay', path: `/other/dir/${file}` }).network).toBe(raw.Name);
  });
});
