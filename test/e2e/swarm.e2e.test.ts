// End to end on a real two-node swarm (test/harness/swarm.ts): the Docker state
// cache against node1's dockerd, the real kernel sampler over node1's netns
// directory, the scrape pipeline and /metrics through fastify inject.
// Ground truth comes from the docker CLI and iproute2, never from the code under test.
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { allCollectors } from '../../src/collectors/index.js';
import { DockerStateCache } from '../../src/docker/cache.js';
import { fetchRawState } from '../../src/docker/fetch.js';
import { createDockerApi } from '../../src/docker/client.js';
import { loadNative } from '../../src/kernel/native.js';
import { discoverNetns } from '../../src/kernel/netns.js';
import { createReaders } from '../../src/kernel/readers/index.js';
import { sampleAll } from '../../src/kernel/sampler.js';
import { testExporter } from '../harness/exporter.js';
import { ROOT } from '../harness/paths.js';
import { type PromSample, one as oneOf, parseProm, pick } from '../harness/prom.js';
import { run } from '../harness/run.js';
import { type Swarm, type SwarmNode, startSwarm } from '../harness/swarm.js';
import { eventually as eventuallyOf, waitFor } from '../harness/wait.js';

const one = (m: PromSample[], name: string, match: Record<string, string> = {}) => oneOf(m, name, match);
const select = (m: PromSample[], name: string, match: Record<string, string> = {}) => pick(m, name, match);

const FIXTURES = join(ROOT, 'test', 'fixtures', 'docker');
const CAPTURE = process.env.SWARMNET_CAPTURE_FIXTURES === '1';

interface LocalTask {
  id: string;
  name: string;
  service: string;
  task: string;
  running: boolean;
  sandbox: string;
  networks: Record<string, { ip: string; mac: string; networkId: string }>;
}

/** The tasks' containers on a node, from `docker inspect` (ground truth). */
async function localContainers(node: SwarmNode): Promise<LocalTask[]> {
  const ids = (await node.docker(['ps', '-q', '--no-trunc'])).split('\n').filter(Boolean);
  if (ids.length === 0) return [];
  const raw = JSON.parse(await node.docker(['inspect', ...ids])) as Array<Record<string, any>>;
  return raw.map((c) => ({
    id: c.Id,
    name: String(c.Name).replace(/^\//, ''),
    service: c.Config.Labels['com.docker.swarm.service.name'] ?? '',
    task: c.Config.Labels['com.docker.swarm.task.name'] ?? '',
    running: c.State.Running,
    sandbox: basename(c.NetworkSettings.SandboxKey),
    networks: Object.fromEntries(Object.entries(c.NetworkSettings.Networks as Record<string, any>).map(([n, v]) => [n, { ip: v.IPAddress, mac: v.MacAddress, networkId: v.NetworkID }])),
  }));
}

interface KernelLink { ifindex: number; ifname: string; linkinfo?: { info_kind?: string } }

describe('swarm identity and overlay consistency on a real two-node swarm', { timeout: 120_000 }, () => {
  const started = Date.now();
  let swarm: Swarm | undefined;
  let cache: DockerStateCache | undefined;
  let exporter: Awaited<ReturnType<typeof testExporter>> | undefined;
  const logLines: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => { logLines.push(JSON.parse(line)); } });
  let node1: SwarmNode;
  let node2: SwarmNode;
  const net: Record<string, { id: string; vni: string; gateway: string; netns: string }> = {};

  const scrape = async (): Promise<PromSample[]> => {
    const samples = parseProm((await exporter!.metrics()).body);
    // no collector may fail, whatever the swarm is doing; the docker collector says whether dockerd answers
    const dockerUp = select(samples, 'swarmnet_docker_up')[0]?.value;
    for (const s of select(samples, 'swarmnet_scrape_collector_success')) {
      const expected = s.labels.collector === 'docker' ? dockerUp : 1;
      if (s.labels.collector !== 'netns') expect(s, `collector ${s.labels.collector}`).toMatchObject({ value: expected });
    }
    return samples;
  };
  /** scrape until `check` passes (it throws/expects otherwise) */
  const eventually = <T>(what: string, check: (m: PromSample[]) => T | Promise<T>, timeoutMs = 30_000): Promise<T> =>
    eventuallyOf(what, async () => check(await scrape()), { timeoutMs, intervalMs: 300 });

  const vxlanOf = async (netnsFile: string): Promise<string> => {
    const links = JSON.parse(await node1.nsenter(netnsFile, ['ip', '-j', '-d', 'link', 'show'])) as KernelLink[];
    const vx = links.filter((l) => l.linkinfo?.info_kind === 'vxlan');
    expect(vx).toHaveLength(1);
    return vx[0]!.ifname;
  };

  beforeAll(async () => {
    swarm = await startSwarm({ nodes: 2 });
    [node1, node2] = swarm.nodes as [SwarmNode, SwarmNode];
    await swarm.docker(['network', 'create', '-d', 'overlay', '--attachable', '--subnet', '198.19.77.0/24', 'appnet']);
    await swarm.docker(['network', 'create', '-d', 'overlay', '--subnet', '198.19.78.0/24', 'backnet']);
    await swarm.createService({ name: 'web', networks: ['appnet'], replicas: 4, maxPerNode: 2, endpointMode: 'dnsrr', labels: { 'com.docker.stack.namespace': 'shop' } });
    await swarm.createService({ name: 'api', networks: ['backnet', 'appnet'], replicas: 2, maxPerNode: 1, endpointMode: 'dnsrr' });
    // VIP mode with a published port: starts here (no IPVS), gives lb_ and ingress their fwmarks
    await swarm.createService({ name: 'pub', networks: ['appnet'], replicas: 1, publish: ['8080:80'], command: ['sleep', '100000'] });
    await Promise.all([swarm.waitTasks('web', 4), swarm.waitTasks('api', 2), swarm.waitTasks('pub', 1)]);
    for (const name of ['appnet', 'backnet', 'ingress']) {
      const [id, vni, gateway] = (await swarm.docker(['network', 'inspect', '-f',
        '{{.Id}} {{index .Options "com.docker.network.driver.overlay.vxlanid_list"}} {{(index .IPAM.Config 0).Gateway}}', name])).split(' ') as [string, string, string];
      net[name] = { id, vni, gateway, netns: `1-${id.slice(0, 10)}` };
    }

    cache = new DockerStateCache({
      host: node1.host, logger: log, debounceMs: 100, refreshIntervalMs: 1_000, resyncIntervalMs: 10_000, backoffInitialMs: 200, backoffMaxMs: 1_000,
    });
    cache.start();
    expect(await cache.whenSynced(20_000)).toBe(true);
    exporter = await testExporter({
      netnsDirs: [node1.netnsDir],
      hostNetns: node1.netnsFile,
      collectors: allCollectors(),
    }, { docker: cache });
  }, 240_000);

  afterAll(async () => {
    try {
      await exporter?.app.close();
      await cache?.stop();
    } finally {
      await swarm?.down();
      // eslint-disable-next-line no-console
      console.log(`swarm e2e wall time: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }
  }, 120_000);

  test('docker up, this node, the swarm nodes and networks with VNI and subnet', async () => {
    const m = await scrape();
    expect(one(m, 'swarmnet_docker_up').value).toBe(1);
    const nodeId = await node1.docker(['info', '-f', '{{.Swarm.NodeID}}']);
    const engine = await node1.docker(['version', '-f', '{{.Server.Version}}']);
    one(m, 'swarmnet_node_info', { node_id: nodeId, hostname: 'node1', engine_version: engine, role: 'manager' });
    for (const n of [node1, node2]) {
      const id = await swarm!.docker(['node', 'inspect', '-f', '{{.ID}}', n.name]);
      one(m, 'swarmnet_swarm_node_info', { node: n.name, node_id: id, address: n.address, role: n === node1 ? 'manager' : 'worker', state: 'ready', availability: 'active' });
    }
    for (const [name, subnet] of [['appnet', '198.19.77.0/24'], ['backnet', '198.19.78.0/24']] as const) {
      const info = one(m, 'swarmnet_network_info', { network: name });
      expect(info.labels).toEqual({ network: name, network_id: net[name]!.id, driver: 'overlay', scope: 'swarm', vni: net[name]!.vni, subnet, gateway: net[name]!.gateway, netns: net[name]!.netns });
      // the kernel's own VXLAN device carries the same VNI
      const vx = select(m, 'swarmnet_vxlan_info', { netns: net[name]!.netns });
      expect(vx.map((s) => s.labels.vni)).toEqual([net[name]!.vni]);
      expect(vx[0]!.labels.network).toBe(name);
    }
    expect(one(m, 'swarmnet_network_info', { network: 'ingress' }).labels.netns).toBe(net.ingress!.netns);
    expect(select(m, 'swarmnet_scrape_collector_success', { collector: 'swarm' })[0]?.value).toBe(1);
  });

  test('every namespace of node1 is named: overlay, lb, ingress_sbox and task sandboxes', async () => {
    const m = await scrape();
    for (const name of ['appnet', 'backnet']) {
      one(m, 'swarmnet_netns_info', { netns: net[name]!.netns, netns_kind: 'overlay', network: name });
      one(m, 'swarmnet_netns_info', { netns: `lb_${net[name]!.id.slice(0, 9)}`, netns_kind: 'lb', network: name });
    }
    one(m, 'swarmnet_netns_info', { netns: 'ingress_sbox', netns_kind: 'ingress_sbox', network: 'ingress' });
    const local = await localContainers(node1);
    expect(local.filter((c) => c.service === 'web')).toHaveLength(2);
    for (const c of local) {
      const s = one(m, 'swarmnet_netns_info', { netns: c.sandbox });
      const slot = /^[^.]+\.(\d+)\./.exec(c.task)?.[1] ?? '';
      expect(s.labels).toEqual({
        netns: c.sandbox, netns_kind: 'sandbox', network: '', container: c.name, container_id: c.id, service: c.service, task: c.task,
        slot, stack: c.service === 'web' ? 'shop' : '',
      });
      // each interface of the sandbox is named after the network its MAC belongs to
      for (const [network, { mac }] of Object.entries(c.networks)) {
        const ifs = select(m, 'swarmnet_interface_info', { netns: c.sandbox, address: mac });
        expect(ifs.map((i) => [i.labels.network, i.labels.task]), `${c.name} on ${network}`).toEqual([[network, c.task]]);
      }
      // and the hidden docker_gwbridge leg too: no interface but lo is left unnamed
      const ifs = select(m, 'swarmnet_interface_info', { netns: c.sandbox }).filter((i) => i.labels.interface !== 'lo');
      expect(ifs.map((i) => i.labels.network).sort()).toEqual([...Object.keys(c.networks), 'docker_gwbridge'].sort());
    }
  });

  test("the overlay bridge's veth ports are paired with the tasks behind them", async () => {
    const m = await scrape();
    const local = await localContainers(node1);
    for (const name of ['appnet', 'backnet']) {
      const ports = select(m, 'swarmnet_interface_info', { netns: net[name]!.netns, kind: 'veth' });
      const onNet = local.filter((c) => c.networks[name]);
      // one port per local task on the network, plus the network's lb endpoint
      expect(ports).toHaveLength(onNet.length + 1);
      const bySandbox = new Map(ports.map((p) => [p.labels.peer_netns, p]));
      for (const c of onNet) {
        const port = bySandbox.get(c.sandbox);
        expect(port, `${c.name}'s port on ${name}`).toBeDefined();
        expect(port!.labels).toMatchObject({ network: name, service: c.service, task: c.task, master: 'br0' });
      }
      expect(bySandbox.get(`lb_${net[name]!.id.slice(0, 9)}`)?.labels.task).toBe('');
    }
  });

  test('per-task traffic across nodes is counted on the veth port, the sandbox and the vxlan device', async () => {
    const [a] = (await localContainers(node1)).filter((c) => c.service === 'web');
    const [b] = (await localContainers(node2)).filter((c) => c.service === 'web');
    const ns = net.appnet!.netns;
    const vx = await vxlanOf(join(node1.netnsDir, ns));
    const read = (m: PromSample[]) => ({
      port: one(m, 'swarmnet_interface_transmit_bytes_total', { netns: ns, task: a!.task }).value,
      sandbox: one(m, 'swarmnet_interface_receive_bytes_total', { netns: a!.sandbox, network: 'appnet' }).value,
      vxlan: one(m, 'swarmnet_interface_receive_bytes_total', { netns: ns, interface: vx }).value,
    });
    const before = read(await scrape());
    const body = await node1.docker(['exec', a!.id, 'wget', '-qO-', `http://${b!.networks.appnet!.ip}/big`], { timeoutMs: 30_000 });
    expect(body.length).toBeGreaterThanOrEqual(256 * 1024 - 1); // trimmed trailing whitespace aside
    const after = read(await scrape());
    for (const k of ['port', 'sandbox', 'vxlan'] as const) expect(after[k] - before[k], k).toBeGreaterThanOrEqual(256 * 1024);
  });

  test("VXLAN peers in the kernel equal the control plane's", async () => {
    const m = await scrape();
    for (const name of ['appnet', 'backnet']) {
      const peers = JSON.parse(await swarm!.docker(['network', 'inspect', '--verbose', '-f', '{{json .Peers}}', name])) as Array<{ IP: string }>;
      const remote = peers.filter((p) => p.IP !== node1.address);
      expect(remote.length).toBeGreaterThan(0);
      const base = { network: name, netns: net[name]!.netns };
      expect(one(m, 'swarmnet_overlay_peers_expected', base).value).toBe(remote.length);
      expect(one(m, 'swarmnet_overlay_peers_present', base).value).toBe(remote.length);
      expect(one(m, 'swarmnet_vxlan_peers', { netns: net[name]!.netns }).value).toBe(remote.length);
      expect(select(m, 'swarmnet_overlay_peer_mismatch', base)).toEqual([]);
      expect(select(m, 'swarmnet_overlay_l2_inconsistencies', base).map((s) => [s.labels.kind, s.value]).sort()).toEqual([['missing_fdb', 0], ['wrong_vtep', 0]]);
    }
    expect(select(m, 'swarmnet_overlay_l2_inconsistent_endpoint')).toEqual([]);
  });

  test('a deleted FDB entry and one pointing at the wrong VTEP are reported for exactly that network and endpoint', async () => {
    const ns = net.appnet!.netns;
    const nsFile = join(node1.netnsDir, ns);
    const vx = await vxlanOf(nsFile);
    const remote = (await localContainers(node2)).filter((c) => c.service === 'web');
    expect(remote).toHaveLength(2);
    const [x, y] = remote as [LocalTask, LocalTask];
    const neigh = JSON.parse(await node1.nsenter(nsFile, ['ip', '-j', 'neigh', 'show', 'dev', vx])) as Array<{ dst: string; lladdr: string }>;
    const macOf = (ip: string) => neigh.find((n) => n.dst === ip)?.lladdr;
    const mx = macOf(x.networks.appnet!.ip)!;
    const my = macOf(y.networks.appnet!.ip)!;
    expect(mx).toBe(x.networks.appnet!.mac);
    expect(my).toBe(y.networks.appnet!.mac);

    await node1.nsenter(nsFile, ['bridge', 'fdb', 'del', mx, 'dev', vx, 'dst', node2.address, 'self']);
    await node1.nsenter(nsFile, ['bridge', 'fdb', 'replace', my, 'dev', vx, 'dst', '198.18.0.9', 'self', 'permanent']);
    try {
      const m = await scrape();
      const base = { network: 'appnet', netns: ns };
      const found = select(m, 'swarmnet_overlay_l2_inconsistent_endpoint').map((s) => s.labels).sort((p, q) => p.kind!.localeCompare(q.kind!));
      expect(found).toEqual([
        { ...base, endpoint_ip: x.networks.appnet!.ip, mac: mx, kind: 'missing_fdb', task: x.task, vtep: '', expected_vtep: node2.address },
        { ...base, endpoint_ip: y.networks.appnet!.ip, mac: my, kind: 'wrong_vtep', task: y.task, vtep: '198.18.0.9', expected_vtep: node2.address },
      ]);
      expect(one(m, 'swarmnet_overlay_l2_inconsistencies', { ...base, kind: 'missing_fdb' }).value).toBe(1);
      expect(one(m, 'swarmnet_overlay_l2_inconsistencies', { ...base, kind: 'wrong_vtep' }).value).toBe(1);
      for (const s of select(m, 'swarmnet_overlay_l2_inconsistencies', { network: 'backnet' })) expect(s.value).toBe(0);
      // the wrong VTEP is a peer the control plane does not know
      expect(select(m, 'swarmnet_overlay_peer_mismatch').map((s) => s.labels)).toEqual([{ ...base, peer_node: '', peer_ip: '198.18.0.9', state: 'unknown' }]);
      if (CAPTURE) await captureFixtures({ missing_fdb: { ip: x.networks.appnet!.ip, mac: mx }, wrong_vtep: { ip: y.networks.appnet!.ip, mac: my, vtep: '198.18.0.9' } });
    } finally {
      await node1.nsenter(nsFile, ['bridge', 'fdb', 'replace', my, 'dev', vx, 'dst', node2.address, 'self', 'permanent']);
      await node1.nsenter(nsFile, ['bridge', 'fdb', 'append', mx, 'dev', vx, 'dst', node2.address, 'self', 'permanent']);
    }
    const m = await scrape();
    expect(select(m, 'swarmnet_overlay_l2_inconsistent_endpoint')).toEqual([]);
    expect(select(m, 'swarmnet_overlay_peer_mismatch')).toEqual([]);
  });

  test('labels follow scaling down, up and a removed service; vanished tasks leave no series', async () => {
    const tasksIn = (m: PromSample[], service: string) =>
      new Set(select(m, 'swarmnet_netns_info', { netns_kind: 'sandbox', service }).map((s) => s.labels.task ?? ''));
    const everyTask = (m: PromSample[]) => new Set(m.map((s) => s.labels.task).filter((t): t is string => !!t));
    const settled = (service: string) => eventually(`node1's ${service} tasks to match docker ps`, async (m) => {
      const truth = new Set((await localContainers(node1)).filter((c) => c.service === service && c.running).map((c) => c.task));
      expect(tasksIn(m, service)).toEqual(truth);
      return m;
    });

    const before = tasksIn(await scrape(), 'web');
    await swarm!.docker(['service', 'scale', '-d', 'web=1']);
    await swarm!.waitTasks('web', 1);
    await waitFor('one web container left on both nodes', async () =>
      (await Promise.all([node1, node2].map(localContainers))).flat().filter((c) => c.service === 'web' && c.running).length === 1);
    let m = await settled('web');
    const gone = [...before].filter((t) => !tasksIn(m, 'web').has(t));
    expect(gone.length).toBeGreaterThan(0);
    await eventually('vanished web tasks to leave no series', (mm) => {
      for (const t of gone) expect(everyTask(mm).has(t), t).toBe(false);
    });

    await swarm!.docker(['service', 'scale', '-d', 'web=4']);
    await swarm!.waitTasks('web', 4);
    m = await settled('web');
    expect(tasksIn(m, 'web').size).toBe(2);

    const apiTasks = tasksIn(await scrape(), 'api');
    expect(apiTasks.size).toBe(1);
    await swarm!.docker(['service', 'rm', 'api']);
    await eventually('api to vanish from node1', (mm) => {
      expect(select(mm, 'swarmnet_netns_info', { service: 'api' })).toEqual([]);
      for (const t of apiTasks) expect(everyTask(mm).has(t)).toBe(false);
      // backnet has no endpoint left here: its namespace goes, the network stays known
      expect(select(mm, 'swarmnet_netns_info', { network: 'backnet', netns_kind: 'overlay' })).toEqual([]);
      expect(one(mm, 'swarmnet_network_info', { network: 'backnet' }).labels.netns).toBe('');
    }, 60_000);
    // remote tasks came and went: the control plane and the kernel still agree
    await eventually('appnet to be consistent after the churn', (mm) => {
      const base = { network: 'appnet', netns: net.appnet!.netns };
      expect(select(mm, 'swarmnet_overlay_l2_inconsistent_endpoint')).toEqual([]);
      expect(one(mm, 'swarmnet_overlay_peers_present', base).value).toBe(one(mm, 'swarmnet_overlay_peers_expected', base).value);
    });
  }, 180_000);

  test('dockerd down: up=0, last names kept, logged once; back up: reconnects by itself', async () => {
    const overlayRef = { name: net.appnet!.netns, kind: 'overlay' as const, path: join(node1.netnsDir, net.appnet!.netns) };
    expect(cache!.names().netns(overlayRef).network).toBe('appnet');
    const warnings = () => logLines.filter((l) => l.component === 'docker' && l.level === 40).length;
    const warnsBefore = warnings();
    const errorsBefore = [...cache!.state().errors.values()].reduce((a, b) => a + b, 0);

    await node1.stopDaemon();
    await waitFor('the cache to notice dockerd is gone', () => !cache!.state().up, { timeoutMs: 15_000 });
    // let a few reconnect attempts fail
    await waitFor('reconnect attempts', () => [...cache!.state().errors.values()].reduce((a, b) => a + b, 0) >= errorsBefore + 3, { timeoutMs: 15_000 });
    // a scrape never waits on the Docker API
    const t0 = performance.now();
    const m = await scrape();
    expect(performance.now() - t0).toBeLessThan(2_000);
    expect(one(m, 'swarmnet_docker_up').value).toBe(0);
    one(m, 'swarmnet_node_info', { hostname: 'node1', role: 'manager' });
    one(m, 'swarmnet_network_info', { network: 'appnet' });
    expect(select(m, 'swarmnet_exporter_errors_total', { source: 'docker' }).reduce((a, s) => a + s.value, 0)).toBeGreaterThan(errorsBefore);
    expect(cache!.names().netns(overlayRef).network).toBe('appnet');
    expect(warnings() - warnsBefore).toBe(1);

    const refreshes = cache!.refreshes;
    await node1.startDaemon();
    await waitFor('the cache to reconnect', () => cache!.state().up && cache!.refreshes > refreshes, { timeoutMs: 30_000 });
    expect(warnings() - warnsBefore).toBe(1);
    expect(logLines.filter((l) => l.component === 'docker' && l.msg === 'docker API reachable again')).toHaveLength(1);
    // the events stream works again: node1's restarted tasks get their names
    await eventually('node1 tasks named after the restart', async (mm) => {
      expect(one(mm, 'swarmnet_docker_up').value).toBe(1);
      const local = (await localContainers(node1)).filter((c) => c.service === 'web' && c.running);
      expect(local.length).toBeGreaterThan(0);
      for (const c of local) expect(one(mm, 'swarmnet_netns_info', { netns: c.sandbox }).labels.task).toBe(c.task);
    }, 90_000);
  }, 180_000);

  /** Save the Docker API answers and node1's kernel state as unit-test fixtures (SWARMNET_CAPTURE_FIXTURES=1). */
  async function captureFixtures(manipulated: Record<string, unknown>) {
    await mkdir(FIXTURES, { recursive: true });
    for (const node of [node1, node2]) {
      const { raw } = await fetchRawState(createDockerApi(node.host), { full: true });
      await writeFile(join(FIXTURES, `${node.name}-api.json`), `${JSON.stringify(raw, null, 1)}\n`);
    }
    const { namespaces } = await discoverNetns([node1.netnsDir], false);
    const samples = await sampleAll(loadNative(), namespaces, { concurrency: 2, timeoutMs: 5_000, readers: createReaders() }, performance.now() + 10_000);
    const kernel = samples.filter((s) => !s.error).map((s) => ({
      ref: { name: s.ref.name, kind: s.ref.kind, path: join('/fixture/netns', basename(s.ref.path ?? s.ref.name)) },
      links: s.links.map(({ stats: _stats, ...l }) => l),
      fdb: s.fdb,
      neigh: s.neigh,
    }));
    const ip = (await run('ip', ['-V'])).stdout.trim();
    await writeFile(join(FIXTURES, 'node1-kernel.json'), `${JSON.stringify({
      captured: new Date().toISOString(), engine: await node1.docker(['version', '-f', '{{.Server.Version}}']), iproute2: ip,
      node1Address: node1.address, node2Address: node2.address, manipulated, samples: kernel,
    }, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 1)}\n`);
  }
});
