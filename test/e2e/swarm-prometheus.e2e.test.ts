// The shipped monitoring on a real two-node swarm, end to end:
// - a two-node swarm (test/harness/swarm.ts) with an attachable overlay network,
//   a dnsrr service spread over both nodes and a VIP service with a published port;
// - one exporter process per node (the built dist/main.js), each in its node's
//   network namespace at <node address>:<port of deploy/stack.yml>, as a
//   host-mode published port is, over that node's namespace folder and dockerd;
// - Debian's Prometheus in node1's namespace (the root namespace has no route to
//   the nodes) with deploy/prometheus/prometheus.yml at 1 s intervals, its rules
//   from deploy/prometheus/rules, and its swarm discovery first replaced by a
//   file giving the target labels its relabelling gives (the last test runs the
//   shipped discovery and finds the same labels);
// - every dashboard and alert expression parses and runs; every panel returns
//   data except those listed with a reason that is checked (IPVS absent from
//   the kernel), and those whose series exist only under a fault, which return
//   data under that fault;
// - faults: a VXLAN FDB entry deleted and one pointed at the wrong VTEP on node1
//   (the layer-2 alert goes pending, naming the network); a namespace file left
//   as a plain file (read-failure panels); node2's exporter stopped (the
//   exporter-down alert goes pending, the node-without-exporter alert stays
//   quiet: the node still has a target), then its target gone from discovery
//   (the node-without-exporter alert goes pending, naming node2);
// - deploy/stack.yml as it ships, global, on both nodes: the image built from the
//   Dockerfile on a private dockerd (test/harness/exporter-image.ts), saved and
//   loaded into both nodes' dockerds; one task per node answering at <node
//   address>:<port> with exactly that node's namespaces, and that node's own
//   namespace as netns="host" (the stack's bind mount of the host's namespace
//   file, a /proc/<pid>/ns/net as /proc/1/ns/net is); the shipped discovery
//   finds both; both turn healthy; node2's task stopped, the shipped discovery
//   drops it and the node-without-exporter alert goes pending, naming node2.
//
// The two nodes' dockerds have different exec roots (one machine, one mount
// namespace), so their namespace folders and sockets are at different paths,
// and the stack takes one path for each. Swarm expands templates in bind-mount
// sources on each node, so the stack's variables are given as
// <folder>/{{.Node.Hostname}}/netns and <folder>/{{.Node.Hostname}}/docker.sock,
// where <folder>/<hostname>/ holds symlinks to that node's real paths: one
// global service, the stack file unchanged. The host's namespace of a node is
// its dockerd's (/proc/<dockerd pid>/ns/net), given the same way: on a real
// node it is /proc/1/ns/net, the stack's default.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, rm, symlink, writeFile, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type ExporterImage, buildExporterImage } from '../harness/exporter-image.js';
import { type ExporterProcess, startExporter } from '../harness/exporter.js';
import { curlIn } from '../harness/http.js';
import { namespaceFilesIn } from '../harness/mounts.js';
import { ROOT } from '../harness/paths.js';
import { Teardown } from '../harness/processes.js';
import { type PromSample, parseProm, pick } from '../harness/prom.js';
import { type PromAlert, type Prometheus, startPrometheus } from '../harness/prometheus.js';
import { type Swarm, type SwarmNode, startSwarm } from '../harness/swarm.js';
import { eventually as eventuallyOf, waitFor } from '../harness/wait.js';
import { RULES_DIR, type ShippedExpr, alertRules, concreteExpr, metricNames, ruleFiles, shippedExprs } from '../unit/promql-exprs.js';

const started = Date.now();
const STACK_FILE = join(ROOT, 'deploy', 'stack.yml');
const PROM_CONFIG = join(ROOT, 'deploy', 'prometheus', 'prometheus.yml');
const STACK = 'swarmnet';
/** evaluation every second; scrapes every 2 s: a scrape's deadline (its timeout less 10%, at least 250 ms)
 * at 1 s is too short for a machine where other tests hold the kernel's RTNL lock */
const EVAL_INTERVAL = '1s';
const SCRAPE_INTERVAL = '2s';
const JOB = 'swarmnet';
const step = (what: string) => process.stdout.write(`swarm-prometheus e2e: ${what} at ${((Date.now() - started) / 1000).toFixed(1)} s\n`);

// ---------------------------------------------------------------- what the shipped files say

interface StackService { ports: Array<{ target: number; published: string | number; mode: string }>; deploy: { mode: string; labels: Record<string, string> } }
const stackDoc = parseYaml(readFileSync(STACK_FILE, 'utf8')) as { services: Record<string, StackService> };
const [SERVICE_KEY, STACK_SERVICE] = Object.entries(stackDoc.services)[0]!;
/** the service name a `docker stack deploy` gives: what the relabelling puts in swarm_service */
const SWARM_SERVICE = `${STACK}_${SERVICE_KEY}`;
const hostPort = STACK_SERVICE.ports.find((p) => p.mode === 'host')!;
/** the published port: a literal, or the default of ${VAR:-default} */
const PORT = Number(/^\$\{\w+:-(\d+)\}$/.exec(String(hostPort.published))?.[1] ?? hostPort.published);

type PromConfig = {
  global: Record<string, string>;
  rule_files: string[];
  scrape_configs: Array<Record<string, any>>;
};
const shippedPromConfig = () => parseYaml(readFileSync(PROM_CONFIG, 'utf8')) as PromConfig;
const selfTarget = shippedPromConfig().scrape_configs.find((j) => j.job_name === 'prometheus')!.static_configs[0].targets[0] as string;
/** Prometheus listens where the shipped configuration scrapes itself (localhost:9090), inside node1's namespace */
const PROM_PORT = Number(selfTarget.split(':')[1]);

/** An alert of the shipped rules found by what it selects, not by its name. */
function ruleSelecting(pred: (names: string[], expr: string) => boolean): string {
  const rules = ruleFiles().flatMap(alertRules).filter((r) => pred(metricNames(r.expr), r.expr));
  if (rules.length !== 1) throw new Error(`expected one alert rule, found ${rules.map((r) => r.alert).join(', ') || 'none'}`);
  return rules[0]!.alert;
}
const L2_ALERT = ruleSelecting((n) => n.includes('swarmnet_overlay_l2_inconsistencies'));
// up alone: the failing target's rule, not the one for no target at all (absent)
const EXPORTER_DOWN_ALERT = ruleSelecting((n, expr) => n.length === 1 && n[0] === 'up' && !expr.includes('absent('));
const NODE_WITHOUT_EXPORTER_ALERT = ruleSelecting((n) => n.includes('swarmnet_swarm_node_info') && n.includes('up'));

/**
 * Series families that cannot have data on this swarm, or only under a fault.
 * Each panel selecting one is listed with the reason, and the reason is checked.
 */
interface NoDataHere { families: RegExp; reason: string; fault?: 'fdb' | 'unreadable' }
const NO_DATA_HERE: NoDataHere[] = [
  {
    families: /^swarmnet_lb_/,
    reason: 'IPVS load-balancer series: this kernel has no IPVS (swarmnet_ipvs_up is 0 on every node), so swarm programs no load balancer',
  },
  {
    families: /^swarmnet_overlay_(peer_mismatch|l2_inconsistent_endpoint)$/,
    reason: 'exists only while the kernel disagrees with the control plane: checked under the FDB faults',
    fault: 'fdb',
  },
  {
    families: /^swarmnet_overlay_interface_mtu_mismatch_bytes$/,
    reason: 'exists only for an overlay interface whose MTU is not the underlay\'s less 50 bytes: every MTU agrees on this swarm',
  },
  {
    families: /^swarmnet_overlay_probe_/,
    reason: 'the overlay path probes are off unless --probe.overlay is given, and the test stack does not give it',
  },
  {
    families: /^swarmnet_(exporter_errors_total|netns_read_failures)$/,
    reason: 'exists only once a read failed: checked under a namespace file left as a plain file',
    fault: 'unreadable',
  },
];

// ---------------------------------------------------------------- state

let swarm: Swarm | undefined;
let node1: SwarmNode;
let node2: SwarmNode;
let nodes: SwarmNode[] = [];
let imageBuild: Promise<ExporterImage> | undefined;
let prom: Prometheus | undefined;
const exporters = new Map<string, ExporterProcess>();
let workDir = '';
let targetsFile = '';
let stackDeployed = false;
/** panels whose series exist only under a fault, kept for the fault tests */
const faultPanels = { fdb: [] as ShippedExpr[], unreadable: [] as ShippedExpr[] };
/** the target labels (up series) Prometheus gave the exporters from the file-based targets */
let staticTargetLabels: Array<Record<string, string>> = [];
const net = { name: 'appnet', id: '', netns: '' };

const byInstance = (a: Record<string, string>, b: Record<string, string>) => (a.instance ?? '').localeCompare(b.instance ?? '');

function promConfig(discovery: 'file' | 'swarm'): PromConfig {
  const cfg = shippedPromConfig();
  // rule files are relative to the configuration file: the shipped rules, where they are
  cfg.rule_files = cfg.rule_files.map((g) => join(dirname(PROM_CONFIG), g));
  expect(cfg.rule_files).toEqual([join(RULES_DIR, '*.yml')]);
  cfg.global = { ...cfg.global, scrape_interval: SCRAPE_INTERVAL, scrape_timeout: SCRAPE_INTERVAL, evaluation_interval: EVAL_INTERVAL };
  for (const job of cfg.scrape_configs) {
    job.scrape_interval = SCRAPE_INTERVAL;
    job.scrape_timeout = SCRAPE_INTERVAL;
    // Prometheus's own scrape authenticates (the stack's web config); this one has none, any password does
    if (job.basic_auth?.password_file) {
      job.basic_auth.password_file = join(workDir, 'prometheus-password');
      writeFileSync(job.basic_auth.password_file, 'unused');
    }
  }
  const job = cfg.scrape_configs.find((j) => j.job_name === JOB);
  if (!job) throw new Error(`${PROM_CONFIG} has no job ${JOB}`);
  if (discovery === 'file') {
    delete job.dockerswarm_sd_configs;
    delete job.relabel_configs;
    job.file_sd_configs = [{ files: [targetsFile], refresh_interval: EVAL_INTERVAL }];
  } else {
    expect(job.dockerswarm_sd_configs).toHaveLength(1);
    job.dockerswarm_sd_configs[0].host = node1.host;
    job.dockerswarm_sd_configs[0].refresh_interval = EVAL_INTERVAL;
  }
  return cfg;
}

/** The targets file: the exporters of these nodes, with the labels the shipped relabelling gives. */
async function writeTargets(of: SwarmNode[]) {
  const groups = of.map((n) => ({ targets: [`${n.address}:${PORT}`], labels: { node: n.name, swarm_service: SWARM_SERVICE } }));
  await writeFile(`${targetsFile}.tmp`, JSON.stringify(groups));
  await rename(`${targetsFile}.tmp`, targetsFile);
}

/** A stat's expression without its `or vector(0)` fallback: what it counts. */
const withoutZero = (q: string) => q.replace(/\s+or\s+vector\(0\)\s*$/, '');

async function activeAlerts(name: string): Promise<PromAlert[]> {
  return (await prom!.alerts()).filter((a) => a.labels.alertname === name);
}

/** Poll `check` (which asserts) until it passes; its value. */
const eventually = <T>(what: string, check: () => Promise<T>, timeoutMs = 30_000): Promise<T> =>
  eventuallyOf(what, check, { timeoutMs, intervalMs: 500 });

async function scrapeNode(n: SwarmNode): Promise<PromSample[]> {
  return parseProm(await curlIn(node1.netnsFile, `http://${n.address}:${PORT}/metrics`));
}

async function vxlanOf(nsFile: string): Promise<string> {
  const links = JSON.parse(await node1.nsenter(nsFile, ['ip', '-j', '-d', 'link', 'show'])) as Array<{ ifname: string; linkinfo?: { info_kind?: string } }>;
  const vx = links.filter((l) => l.linkinfo?.info_kind === 'vxlan');
  expect(vx).toHaveLength(1);
  return vx[0]!.ifname;
}

interface RemoteTask { task: string; ip: string; mac: string }
async function tasksOn(n: SwarmNode, service: string, network: string): Promise<RemoteTask[]> {
  const ids = await swarm!.taskContainers(n, service);
  if (ids.length === 0) return [];
  const raw = JSON.parse(await n.docker(['inspect', ...ids])) as Array<{ Config: { Labels: Record<string, string> }; NetworkSettings: { Networks: Record<string, { IPAddress: string; MacAddress: string }> } }>;
  return raw.map((c) => ({ task: c.Config.Labels['com.docker.swarm.task.name']!, ip: c.NetworkSettings.Networks[network]!.IPAddress, mac: c.NetworkSettings.Networks[network]!.MacAddress }));
}

// ---------------------------------------------------------------- setup and teardown

beforeAll(async () => {
  // the image builds on its own daemon while the swarm comes up; awaited by the stack test
  imageBuild = buildExporterImage();
  imageBuild.catch(() => undefined); // reported where it is awaited

  // the stack mounts each node's namespace folder with propagation rslave, which
  // needs a shared (or slave) source mount ("/" is private here)
  swarm = await startSwarm({ nodes: 2, sharedNetnsDirs: true });
  nodes = swarm.nodes;
  step('swarm up');
  [node1, node2] = nodes as [SwarmNode, SwarmNode];

  await swarm.docker(['network', 'create', '-d', 'overlay', '--attachable', '--subnet', '198.19.77.0/24', net.name]);
  await swarm.createService({ name: 'web', networks: [net.name], replicas: 4, maxPerNode: 2, endpointMode: 'dnsrr' });
  // VIP mode with a published port: lb_ and ingress_sbox get their fwmarks (IPVS, where the kernel has it)
  await swarm.createService({ name: 'pub', networks: [net.name], replicas: 1, publish: ['8080:80'], command: ['sleep', '100000'] });
  await Promise.all([swarm.waitTasks('web', 4), swarm.waitTasks('pub', 1)]);
  net.id = await swarm.docker(['network', 'inspect', '-f', '{{.Id}}', net.name]);
  net.netns = `1-${net.id.slice(0, 10)}`;
  for (const n of nodes) expect((await tasksOn(n, 'web', net.name)).length, `web tasks on ${n.name}`).toBe(2);
  step('services running');

  for (const n of nodes) {
    exporters.set(n.name, await startExporter({ netnsFile: n.netnsFile, listen: `${n.address}:${PORT}`, netnsDir: n.netnsDir, dockerHost: n.host, hostNetns: n.netnsFile }));
  }

  // inside the swarm's folder: a crashed run's leftovers go with the swarm's (cleanupLeftovers)
  workDir = join(swarm.dir, 'monitoring');
  await mkdir(workDir, { recursive: true });
  targetsFile = join(workDir, 'targets.json');
  await writeTargets(nodes);
  step('exporters up');
  prom = await startPrometheus({ netnsFile: node1.netnsFile, dir: workDir, port: PROM_PORT, config: promConfig('file') });
  // enough scrapes of both for rate() over 1m windows
  await waitFor('five scrapes of every exporter, all up', async () => {
    const r = await prom!.series(`count_over_time(up{job="${JOB}"}[1m]) >= 5 and up{job="${JOB}"} == 1`);
    return r.length === nodes.length;
  }, { timeoutMs: 120_000, intervalMs: 1_000 });
  step('prometheus has five scrapes of each');
}, 420_000);

afterAll(async () => {
  const teardown = new Teardown();
  const attempt = (what: string, fn: () => Promise<unknown>) => teardown.step(what, fn);
  await attempt('prometheus', async () => prom?.stop());
  for (const [name, e] of exporters) await attempt(`exporter on ${name}`, () => e.stop());
  if (stackDeployed && swarm) {
    // remove the stack first so that the dockerds have no exporter task to stop on their way down
    await attempt('stack rm', async () => {
      await swarm!.docker(['stack', 'rm', STACK], { timeoutMs: 30_000 });
      await waitFor('the exporter tasks gone', async () => {
        for (const n of nodes) if ((await swarm!.taskContainers(n, SWARM_SERVICE)).length > 0) return false;
        return true;
      }, { timeoutMs: 60_000, intervalMs: 500 });
    });
  }
  step('teardown: processes and stack gone');
  await attempt('swarm down', async () => swarm?.down());
  step('teardown: swarm down');
  await attempt('image daemon', async () => { if (imageBuild) await (await imageBuild.catch(() => undefined))?.stop(); });
  process.stdout.write(`swarm-prometheus e2e wall time: ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  teardown.done();
}, 240_000);

// ---------------------------------------------------------------- tests

describe('the shipped dashboards and alerts on a real two-node swarm, through a real Prometheus', () => {
  test('both exporters are up, each with its own node, and the manager exports the node list', async () => {
    staticTargetLabels = await eventually('both targets up with the relabelling\'s labels', async () => {
      const up = await prom!.series(`up{job="${JOB}"}`);
      const labels = up.map((s) => s.metric).sort(byInstance);
      expect(labels).toEqual(nodes.map((n) => ({ __name__: 'up', job: JOB, instance: `${n.address}:${PORT}`, node: n.name, swarm_service: SWARM_SERVICE })));
      expect(up.map((s) => s.value[1])).toEqual(nodes.map(() => '1'));
      return labels;
    });
    await eventually('each node\'s own series under its node label', async () => {
      // each target reports its own node (the exporter's hostname is its dockerd's)
      const info = await prom!.series(`swarmnet_node_info{job="${JOB}"}`);
      expect(info.map((s) => [s.metric.node, s.metric.hostname, s.metric.role]).sort()).toEqual([[node1.name, node1.name, 'manager'], [node2.name, node2.name, 'worker']]);
      // the swarm's node list comes from the manager only; its node label became exported_node
      const listed = await prom!.series(`swarmnet_swarm_node_info{job="${JOB}"}`);
      expect(listed.map((s) => [s.metric.node, s.metric.exported_node, s.metric.state]).sort()).toEqual(nodes.map((n) => [node1.name, n.name, 'ready']));
      // the overlay network's namespace on each node has the other node as its one VXLAN peer
      const vx = await prom!.series(`swarmnet_vxlan_peers{job="${JOB}", network="${net.name}"}`);
      expect(vx.map((s) => [s.metric.node, s.metric.netns, s.value[1]]).sort()).toEqual(nodes.map((n) => [n.name, net.netns, '1']));
    });
  });

  test('every alerting rule loads and evaluates without error; none is active on the healthy swarm', async () => {
    const expected = ruleFiles().flatMap(alertRules).length;
    const rules = await waitFor('every rule evaluated', async () => {
      const all = await prom!.rules();
      return all.length === expected && all.every((r) => r.health !== 'unknown') ? all : undefined;
    }, { timeoutMs: 30_000, intervalMs: 500 });
    expect(rules.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.lastError}`)).toEqual([]);
    await eventually('no active alert', async () => {
      expect((await prom!.alerts()).map((a) => `${a.labels.alertname} ${a.state} ${JSON.stringify(a.labels)}`)).toEqual([]);
    });
  });

  test('every panel, variable and alert expression runs; every panel returns data but those listed with a reason', async () => {
    // the reason given for the load-balancer panels holds: no node has IPVS
    await eventually('swarmnet_ipvs_up 0 on every node', async () => {
      const ipvs = await prom!.series(`swarmnet_ipvs_up{job="${JOB}"}`);
      expect(ipvs.map((s) => [s.metric.node, s.value[1]]).sort()).toEqual(nodes.map((n) => [n.name, '0']));
    });

    const failures: string[] = [];
    const mustHaveData: ShippedExpr[] = [];
    const listed: string[] = [];
    for (const e of shippedExprs()) {
      const q = concreteExpr(e.expr);
      const r = await prom!.query(q);
      // a stat that falls back to 0 reads 0, never "No data"
      if (r.status === 'success' && q !== withoutZero(q)) expect(r.data!.result.length, `${e.source} reads a value`).toBe(1);
      if (r.status !== 'success') {
        failures.push(`${e.source}: ${r.error} in ${q}`);
        continue;
      }
      if (e.kind === 'alert') continue; // quiet on the healthy swarm (above); under faults (below)
      const names = metricNames(q);
      const why = NO_DATA_HERE.find((x) => names.some((n) => x.families.test(n)));
      if (!why) {
        mustHaveData.push(e);
        continue;
      }
      listed.push(`${e.source}: ${why.reason}`);
      if (why.fault) faultPanels[why.fault].push(e);
      // cannot have data on this kernel: if it has, the reason is wrong
      else expect(await prom!.series(withoutZero(q)), `${e.source} has data, but was listed: ${why.reason}`).toEqual([]);
    }
    expect(failures).toEqual([]);
    // a scrape cut short by its deadline (a busy machine) can miss a series for a moment: poll
    let empty: string[] = [];
    await waitFor('every other panel and variable to return data', async () => {
      empty = [];
      for (const e of mustHaveData) if ((await prom!.series(concreteExpr(e.expr))).length === 0) empty.push(`${e.source}: ${concreteExpr(e.expr)}`);
      return empty.length === 0;
    }, { timeoutMs: 30_000, intervalMs: 1_000 }).catch(() => undefined);
    expect(empty).toEqual([]);
    expect(mustHaveData.length).toBeGreaterThan(listed.length);
    expect(faultPanels.fdb.length).toBeGreaterThan(0);
    expect(faultPanels.unreadable.length).toBeGreaterThan(0);
    process.stdout.write(`swarm-prometheus e2e: ${mustHaveData.length} panels and variables returned data; ${listed.length} cannot here:\n  ${listed.join('\n  ')}\n`);
  }, 120_000);

  test(`FDB faults on node1: ${L2_ALERT} goes pending naming the network; the fault panels show the endpoints`, async () => {
    const nsFile = join(node1.netnsDir, net.netns);
    const vx = await vxlanOf(nsFile);
    const [x, y] = await tasksOn(node2, 'web', net.name) as [RemoteTask, RemoteTask];
    const neigh = JSON.parse(await node1.nsenter(nsFile, ['ip', '-j', 'neigh', 'show', 'dev', vx])) as Array<{ dst: string; lladdr: string }>;
    for (const t of [x, y]) expect(neigh.find((n) => n.dst === t.ip)?.lladdr, `node1's neighbour entry for ${t.task}`).toBe(t.mac);
    // a VTEP no node has (test-only range), that node1 has no route to
    const wrongVtep = '203.0.113.9';

    await node1.nsenter(nsFile, ['bridge', 'fdb', 'del', x.mac, 'dev', vx, 'dst', node2.address, 'self']);
    await node1.nsenter(nsFile, ['bridge', 'fdb', 'replace', y.mac, 'dev', vx, 'dst', wrongVtep, 'self', 'permanent']);
    try {
      await eventually(`${L2_ALERT} pending for both kinds on node1's ${net.name}`, async () => {
        const alerts = (await activeAlerts(L2_ALERT)).filter((a) => a.state === 'pending' || a.state === 'firing');
        expect(alerts.map((a) => [a.labels.node, a.labels.network, a.labels.kind, a.labels.netns, a.labels.instance, Number(a.value)]).sort()).toEqual([
          [node1.name, net.name, 'missing_fdb', net.netns, `${node1.address}:${PORT}`, 1],
          [node1.name, net.name, 'wrong_vtep', net.netns, `${node1.address}:${PORT}`, 1],
        ]);
        for (const a of alerts) expect(a.annotations.summary).toContain(net.name);
      }, 60_000);
      // the panels that only have data under a fault name the endpoints and the unknown VTEP
      await eventually('the fault panels to show the endpoints and the unknown VTEP', async () => {
        const all: Array<Record<string, string>> = [];
        for (const e of faultPanels.fdb) {
          const series = (await prom!.series(withoutZero(concreteExpr(e.expr)))).map((s) => s.metric);
          expect(series.length, `${e.source} under the fault`).toBeGreaterThan(0);
          for (const s of series) expect(s, e.source).toMatchObject({ node: node1.name, network: net.name });
          all.push(...series);
        }
        expect(all.filter((s) => s.__name__ === 'swarmnet_overlay_l2_inconsistent_endpoint').map((s) => [s.kind, s.endpoint_ip, s.task]).sort())
          .toEqual([['missing_fdb', x.ip, x.task], ['wrong_vtep', y.ip, y.task]]);
        expect(all.filter((s) => s.__name__ === 'swarmnet_overlay_peer_mismatch').map((s) => [s.peer_ip, s.state])).toEqual([[wrongVtep, 'unknown']]);
      });
    } finally {
      await node1.nsenter(nsFile, ['bridge', 'fdb', 'replace', y.mac, 'dev', vx, 'dst', node2.address, 'self', 'permanent']);
      await node1.nsenter(nsFile, ['bridge', 'fdb', 'append', x.mac, 'dev', vx, 'dst', node2.address, 'self', 'permanent']);
    }
    await waitFor(`${L2_ALERT} to clear`, async () => (await activeAlerts(L2_ALERT)).length === 0, { timeoutMs: 60_000, intervalMs: 500 });
  }, 180_000);

  test('a namespace file left as a plain file (a removed container\'s): the read-failure and error panels show it', async () => {
    // named like a sandbox no container has; not an nsfs mount, so it cannot be entered
    let name = '';
    do name = randomBytes(6).toString('hex'); while (existsSync(join(node1.netnsDir, name)));
    const file = join(node1.netnsDir, name);
    await writeFile(file, '');
    try {
      await eventually('the read-failure and error panels to show it on node1', async () => {
        for (const e of faultPanels.unreadable) {
          const series = await prom!.series(withoutZero(concreteExpr(e.expr)));
          expect(series.length, e.source).toBeGreaterThan(0);
        }
        // what a namespace gone between listing and reading gives: normal churn, reason "vanished"
        const failures = await prom!.series(`swarmnet_netns_read_failures{job="${JOB}", reason="vanished"}`);
        expect(failures.map((s) => [s.metric.node, s.metric.netns_kind, s.value[1]])).toEqual([[node1.name, 'sandbox', '1']]);
        const errors = await prom!.series(`rate(swarmnet_exporter_errors_total{job="${JOB}", source="netns", reason="vanished"}[1m]) > 0`);
        expect(errors.map((s) => s.metric.node)).toEqual([node1.name]);
      });
    } finally {
      await rm(file, { force: true });
    }
    await eventually('the read failure to clear', async () => {
      expect(await prom!.series(`swarmnet_netns_read_failures{job="${JOB}", reason="vanished"}`)).toEqual([]);
    });
  }, 120_000);

  test(`node2's exporter stopped: ${EXPORTER_DOWN_ALERT} pending, ${NODE_WITHOUT_EXPORTER_ALERT} quiet; its target gone: ${NODE_WITHOUT_EXPORTER_ALERT} pending`, async () => {
    const node2Id = await swarm!.docker(['node', 'inspect', '-f', '{{.ID}}', node2.name]);
    expect(await activeAlerts(NODE_WITHOUT_EXPORTER_ALERT)).toEqual([]);

    await exporters.get(node2.name)!.stop();
    await eventually(`${EXPORTER_DOWN_ALERT} pending for node2`, async () => {
      const down = (await activeAlerts(EXPORTER_DOWN_ALERT)).filter((a) => a.labels.node === node2.name);
      expect(down.map((a) => [a.state, a.labels.instance, a.labels.swarm_service])).toEqual([['pending', `${node2.address}:${PORT}`, SWARM_SERVICE]]);
    }, 60_000);
    // a target that fails is the exporter-down alert's: the node still has its target
    await waitFor('node2 down for a few evaluations', async () =>
      (await prom!.series(`count_over_time((up{job="${JOB}", node="${node2.name}"} == 0)[1m:${EVAL_INTERVAL}]) >= 3`)).length === 1, { timeoutMs: 30_000, intervalMs: 500 });
    expect(await activeAlerts(NODE_WITHOUT_EXPORTER_ALERT)).toEqual([]);

    // the global service's task gone from node2: discovery has no target there any more
    await writeTargets([node1]);
    await eventually(`${NODE_WITHOUT_EXPORTER_ALERT} pending for node2 only`, async () => {
      const alerts = await activeAlerts(NODE_WITHOUT_EXPORTER_ALERT);
      expect(alerts.map((a) => [a.state, a.labels.node, a.labels.node_id])).toEqual([['pending', node2.name, node2Id]]);
    }, 60_000);
    await eventually(`${EXPORTER_DOWN_ALERT} of the vanished target to clear`, async () => {
      expect((await activeAlerts(EXPORTER_DOWN_ALERT)).filter((a) => a.labels.node === node2.name)).toEqual([]);
    });
  }, 180_000);

  test('deploy/stack.yml, global: one exporter task per node at <node address>:<port> with its node\'s namespaces, found by the shipped discovery, healthy; a stopped task leaves its node without exporter', async () => {
    const image = await imageBuild!;
    step(`image built (base images ${image.baseSeconds.toFixed(1)} s, docker build ${image.buildSeconds.toFixed(1)} s)`);
    // the host-mode port is the stack's now
    for (const e of exporters.values()) await e.stop();

    // from the private build daemon into both nodes' daemons
    const tar = join(workDir, 'image.tar');
    await image.save(tar);
    await Promise.all(nodes.map((n) => n.docker(['load', '-i', tar], { timeoutMs: 180_000 })));
    await rm(tar, { force: true });
    step('image loaded into both nodes');

    // per-node paths through swarm's own template expansion of bind-mount sources
    const links = join(workDir, 'nodes');
    for (const n of nodes) {
      await mkdir(join(links, n.name), { recursive: true });
      await symlink(n.netnsDir, join(links, n.name, 'netns'));
      await symlink(n.socket, join(links, n.name, 'docker.sock'));
      await symlink(`/proc/${n.pid()}/ns/net`, join(links, n.name, 'hostns'));
    }
    stackDeployed = true;
    await swarm!.docker(['stack', 'deploy', '--resolve-image', 'never', '-c', STACK_FILE, STACK], {
      timeoutMs: 60_000,
      env: {
        SWARMNET_IMAGE: image.image,
        SWARMNET_NETNS_DIR: join(links, '{{.Node.Hostname}}', 'netns'),
        SWARMNET_DOCKER_SOCKET: join(links, '{{.Node.Hostname}}', 'docker.sock'),
        SWARMNET_HOST_NETNS: join(links, '{{.Node.Hostname}}', 'hostns'),
      },
    });
    expect(STACK_SERVICE.deploy.mode).toBe('global');
    expect(await swarm!.docker(['service', 'inspect', '-f', '{{if .Spec.Mode.Global}}global{{end}}', SWARM_SERVICE])).toBe('global');
    const containers = new Map<string, string>();
    await waitFor('one exporter container on each node', async () => {
      for (const n of nodes) {
        const ids = await swarm!.taskContainers(n, SWARM_SERVICE);
        if (ids.length !== 1) return false;
        containers.set(n.name, ids[0]!);
      }
      return true;
    }, { timeoutMs: 120_000, intervalMs: 500 });
    step('stack containers started');
    // each task mounts its own node's folder and socket, resolved from the template
    for (const n of nodes) {
      const mounts = JSON.parse(await n.docker(['inspect', '-f', '{{json .Mounts}}', containers.get(n.name)!])) as Array<{ Source: string; Destination: string; Propagation: string }>;
      expect(mounts.map((m) => [m.Destination, m.Source, m.Propagation]).sort()).toEqual([
        ['/var/run/docker.sock', join(links, n.name, 'docker.sock'), 'rprivate'],
        ['/var/run/docker/netns', join(links, n.name, 'netns'), 'rslave'],
        ['/host/proc/1/ns/net', join(links, n.name, 'hostns'), 'rprivate'],
      ].sort());
      const hc = JSON.parse(await n.docker(['inspect', '-f', '{{json .HostConfig}}', containers.get(n.name)!])) as { CapAdd: string[]; CapDrop: string[]; ReadonlyRootfs: boolean };
      expect([hc.CapDrop, hc.CapAdd.sort(), hc.ReadonlyRootfs]).toEqual([['ALL'], ['CAP_NET_ADMIN', 'CAP_SYS_ADMIN'], true]);
    }

    // each node's exporter, at its address, reports that node's namespaces and dockerd
    for (const n of nodes) {
      await waitFor(`${n.name}'s exporter task to report exactly ${n.name}'s namespaces`, async () => {
        const m = await scrapeNode(n);
        expect(pick(m, 'swarmnet_node_info', {}).map((s) => s.labels.hostname)).toEqual([n.name]);
        expect(pick(m, 'swarmnet_docker_up', {})[0]?.value).toBe(1);
        const reported = [...new Set(pick(m, 'swarmnet_netns_info', {}).map((s) => s.labels.netns!))].sort();
        expect(reported).toEqual(['host', ...namespaceFilesIn(n.netnsDir)].sort());
        // the host's namespace is the node's own: its interfaces, the underlay and docker_gwbridge among them
        const links = (JSON.parse(await n.nsenter(n.netnsFile, ['ip', '-j', 'link', 'show'])) as Array<{ ifname: string }>).map((l) => l.ifname).filter((i) => i !== 'lo').sort(); // loopbacks are left out by default
        const hostIfs = pick(m, 'swarmnet_interface_info', { netns: 'host' }).map((s) => s.labels.interface!).sort();
        expect(hostIfs).toEqual(links);
        expect(hostIfs).toContain('docker_gwbridge');
        // the underlay: the node's link to the other node, carrying the VXLAN traffic
        const underlay = pick(m, 'swarmnet_interface_receive_bytes_total', { netns: 'host', netns_kind: 'host', interface: `veth-${n.name.replace('node', 'n')}` });
        expect(underlay.map((s) => s.value > 0)).toEqual([true]);
        // its own sandbox among them, named after its task
        const own = pick(m, 'swarmnet_netns_info', { netns_kind: 'sandbox', service: SWARM_SERVICE });
        expect(own.map((s) => s.labels.container_id)).toEqual([containers.get(n.name)]);
        // the node's web tasks, by name
        const tasks = pick(m, 'swarmnet_netns_info', { netns_kind: 'sandbox', service: 'web' }).map((s) => s.labels.task).sort();
        expect(tasks).toEqual((await tasksOn(n, 'web', net.name)).map((t) => t.task).sort());
        return true;
      }, { timeoutMs: 60_000, intervalMs: 1_000 });
    }
    step('both stack exporters report their node');

    // the shipped configuration's own swarm discovery and relabelling: the same target labels as the file gave
    await prom!.reload(promConfig('swarm'));
    await waitFor('both stack tasks discovered and up', async () => {
      const r = await prom!.series(`up{job="${JOB}"}`);
      const targets = (await prom!.activeTargets()).filter((t) => t.labels.job === JOB);
      expect(targets.map((t) => t.discoveredLabels.__meta_dockerswarm_node_hostname).sort()).toEqual(nodes.map((n) => n.name));
      expect(r.map((s) => s.metric).sort(byInstance)).toEqual(staticTargetLabels);
      expect(r.map((s) => s.value[1])).toEqual(nodes.map(() => '1'));
      return true;
    }, { timeoutMs: 90_000, intervalMs: 1_000 });
    await waitFor(`${NODE_WITHOUT_EXPORTER_ALERT} and ${EXPORTER_DOWN_ALERT} quiet again`, async () =>
      (await activeAlerts(NODE_WITHOUT_EXPORTER_ALERT)).length === 0 && (await activeAlerts(EXPORTER_DOWN_ALERT)).length === 0, { timeoutMs: 30_000, intervalMs: 500 });
    step('discovered by the shipped configuration');

    // swarm reports a task with a health check as running once it is healthy (first check: the stack's interval)
    await waitFor('both exporter tasks running and healthy', async () => {
      const tasks = (await swarm!.docker(['service', 'ps', SWARM_SERVICE, '--filter', 'desired-state=running', '--format', '{{.Node}} {{.CurrentState}}'])).split('\n').filter(Boolean);
      if (tasks.length !== nodes.length || !tasks.every((t) => /^\S+ Running/.test(t))) return false;
      for (const n of nodes) if (await n.docker(['inspect', '-f', '{{.State.Health.Status}}', containers.get(n.name)!]) !== 'healthy') return false;
      return tasks.map((t) => t.split(' ')[0]).sort().join() === nodes.map((n) => n.name).join();
    }, { timeoutMs: 120_000, intervalMs: 1_000 });
    step('stack tasks running and healthy');

    // node2's exporter task stopped for real: swarm replaces it (restart delay, then the
    // health check), and until then the shipped discovery has no target on node2
    const node2Id = await swarm!.docker(['node', 'inspect', '-f', '{{.ID}}', node2.name]);
    await node2.docker(['stop', containers.get(node2.name)!], { timeoutMs: 60_000 });
    await eventually(`${NODE_WITHOUT_EXPORTER_ALERT} pending for node2 through the shipped discovery`, async () => {
      const alerts = await activeAlerts(NODE_WITHOUT_EXPORTER_ALERT);
      expect(alerts.map((a) => [a.state, a.labels.node, a.labels.node_id])).toEqual([['pending', node2.name, node2Id]]);
    }, 60_000);
    // the target is gone, not failing
    expect(await activeAlerts(EXPORTER_DOWN_ALERT)).toEqual([]);
    step('node2\'s exporter task stopped: node without exporter pending');
    const slowest = await prom!.series(`max by (node) (max_over_time(scrape_duration_seconds{job="${JOB}"}[10m]))`);
    process.stdout.write(`swarm-prometheus e2e: slowest scrape by node: ${slowest.map((s) => `${s.metric.node} ${Number(s.value[1]).toFixed(3)} s`).join(', ')}\n`);
  }, 420_000);
});
