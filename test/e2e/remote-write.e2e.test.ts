// Past one Prometheus, on a real two-node swarm: two Prometheus agents
// remote-write the two nodes' exporters to a central Prometheus, which runs
// the shipped rules and answers the shipped dashboards' queries.
// - a two-node swarm (test/harness/swarm.ts) with an overlay network and a
//   dnsrr service spread over both nodes; one exporter process per node (the
//   built dist/main.js) at <node address>:<port of deploy/stack.yml>, with the
//   node's own namespace as its host namespace;
// - the receiver: Debian's Prometheus in node1's namespace at <node1>:<port>,
//   started with the flags of deploy/stack-monitoring.yml's Prometheus (its web
//   configuration made by deploy/make-secrets.sh: basic auth; no lifecycle API)
//   plus --web.enable-remote-write-receiver, loading every file of
//   deploy/prometheus/rules (alerts and recording rules);
// - two agents: Debian's Prometheus with --enable-feature=agent and
//   deploy/prometheus/prometheus-agent.yml, one in each node's namespace,
//   each scraping its own node's exporter (the target labels the shipped
//   relabelling gives, in place of the swarm discovery: as the config's shards
//   would split them) and remote-writing across the underlay to the receiver
//   with the shipped basic auth;
// - the receiver refuses requests without credentials (401: queries, its own
//   metrics and the write endpoint), refuses the lifecycle API with them (403);
//   both nodes' series arrive with the agents' external label; the recording
//   rules make series for both nodes; every alerting rule evaluates cleanly;
//   every panel and variable query of the shipped dashboards runs, and those
//   that have data on a scraping Prometheus (test/e2e/swarm-prometheus.e2e.test.ts)
//   have data here too.
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type ExporterProcess, startExporter } from '../harness/exporter.js';
import { ROOT } from '../harness/paths.js';
import { type ManagedProcess, startProcess } from '../harness/processes.js';
import { PROMETHEUS_BIN, type PromSeries } from '../harness/prometheus.js';
import { run } from '../harness/run.js';
import { type Swarm, type SwarmNode, startSwarm } from '../harness/swarm.js';
import { eventually as eventuallyOf, waitFor } from '../harness/wait.js';
import { RULES_DIR, alertRules, concreteExpr, metricNames, ruleFiles, shippedExprs } from '../unit/promql-exprs.js';

const started = Date.now();
const step = (what: string) => process.stdout.write(`remote-write e2e: ${what} at ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
const JOB = 'swarmnet';
const STACK = parseYaml(readFileSync(join(ROOT, 'deploy/stack.yml'), 'utf8')) as { services: Record<string, { ports: Array<{ published: string; mode: string }> }> };
const [SERVICE_KEY, EXPORTER] = Object.entries(STACK.services)[0]!;
const SWARM_SERVICE = `swarmnet_${SERVICE_KEY}`;
const PORT = Number(/(\d+)\}?$/.exec(String(EXPORTER.ports.find((p) => p.mode === 'host')!.published))![1]);
const MONITORING = parseYaml(readFileSync(join(ROOT, 'deploy/stack-monitoring.yml'), 'utf8')) as { services: { prometheus: { command: string[]; ports: Array<{ target: number; mode: string }> } } };
const AGENT_CONFIG = parseYaml(readFileSync(join(ROOT, 'deploy/prometheus/prometheus-agent.yml'), 'utf8')) as Record<string, any>;
const AGENT_STACK = parseYaml(readFileSync(join(ROOT, 'deploy/stack-agent.yml'), 'utf8')) as { services: { agent: { command: string[] } } };
const RECEIVER_PORT = MONITORING.services.prometheus.ports[0]!.target;
const PASSWORD = 'e2e-remote-write-secret';
const USER = 'swarmnet';

let swarm: Swarm | undefined;
let nodes: SwarmNode[] = [];
let node1: SwarmNode;
let dir = '';
const exporters: ExporterProcess[] = [];
const agents: ManagedProcess[] = [];
let receiver: ManagedProcess | undefined;
let receiverUrl = '';

const eventually = <T>(what: string, check: () => Promise<T>, timeoutMs = 60_000): Promise<T> =>
  eventuallyOf(what, check, { timeoutMs, intervalMs: 1_000 });

/** curl in node1's namespace: the status code and the body */
async function request(path: string, opts: { auth?: boolean; method?: string; form?: Record<string, string> } = {}): Promise<{ status: number; body: string }> {
  const args = ['--net=' + node1.netnsFile, '--', 'curl', '-sS', '--max-time', '15', '-o', '-', '-w', '\n%{http_code}'];
  if (opts.auth) args.push('-u', `${USER}:${PASSWORD}`);
  if (opts.method) args.push('-X', opts.method);
  for (const [k, v] of Object.entries(opts.form ?? {})) args.push('--data-urlencode', `${k}=${v}`);
  args.push(`${receiverUrl}${path}`);
  const out = (await run('nsenter', args, { timeoutMs: 20_000 })).stdout;
  const i = out.lastIndexOf('\n');
  return { status: Number(out.slice(i + 1)), body: out.slice(0, i) };
}

async function query(expr: string): Promise<{ status: string; error?: string; data?: { result: PromSeries[] } }> {
  return JSON.parse((await request('/api/v1/query', { auth: true, form: { query: expr } })).body);
}
async function series(expr: string): Promise<PromSeries[]> {
  const r = await query(expr);
  if (r.status !== 'success') throw new Error(`query failed: ${r.error}: ${expr}`);
  return r.data!.result;
}
const withoutZero = (q: string) => q.replace(/\s+or\s+vector\(0\)\s*$/, '');

beforeAll(async () => {
  swarm = await startSwarm({ nodes: 2 });
  nodes = swarm.nodes;
  node1 = nodes[0]!;
  step('swarm up');
  await swarm.docker(['network', 'create', '-d', 'overlay', '--attachable', '--subnet', '198.19.78.0/24', 'rwnet']);
  await swarm.createService({ name: 'web', networks: ['rwnet'], replicas: 4, maxPerNode: 2, endpointMode: 'dnsrr' });
  await swarm.waitTasks('web', 4);
  step('service running');
  for (const n of nodes) {
    exporters.push(await startExporter({ netnsFile: n.netnsFile, listen: `${n.address}:${PORT}`, netnsDir: n.netnsDir, dockerHost: n.host, hostNetns: n.netnsFile }));
  }
  dir = join(swarm.dir, 'remote-write');
  await mkdir(dir, { recursive: true });

  // the secrets as deploy/make-secrets.sh makes them
  await run('sh', [join(ROOT, 'deploy/make-secrets.sh'), '--out', join(dir, 'secrets')], { env: { PROMETHEUS_PASSWORD: PASSWORD, GRAFANA_ADMIN_PASSWORD: 'unused' } });

  // the receiver: the stack's Prometheus flags, its paths here
  const flags = MONITORING.services.prometheus.command.map((f) => f
    .replace(/^--config\.file=.*/, `--config.file=${join(dir, 'receiver.yml')}`)
    .replace(/^--storage\.tsdb\.path=.*/, `--storage.tsdb.path=${join(dir, 'receiver-data')}`)
    .replace(/^--web\.config\.file=\/run\/secrets\/(.*)/, `--web.config.file=${join(dir, 'secrets', '$1')}`));
  expect(flags.some((f) => f.startsWith('--web.config.file='))).toBe(true);
  expect(flags.some((f) => f.startsWith('--web.enable-lifecycle') || f.startsWith('--web.enable-admin-api'))).toBe(false);
  writeFileSync(join(dir, 'receiver.yml'), JSON.stringify({ global: { evaluation_interval: '1s' }, rule_files: [join(RULES_DIR, '*.yml')] }));
  receiverUrl = `http://${node1.address}:${RECEIVER_PORT}`;
  receiver = startProcess([PROMETHEUS_BIN, ...flags, '--web.enable-remote-write-receiver', `--web.listen-address=${node1.address}:${RECEIVER_PORT}`, '--log.level=warn'], { netnsFile: node1.netnsFile });
  await waitFor('the receiver ready', async () => {
    if (!receiver!.running()) throw new Error(`receiver exited: ${receiver!.log().slice(-2000)}`);
    return (await request('/-/ready', { auth: true }).catch(() => ({ status: 0 }))).status === 200;
  }, { timeoutMs: 60_000, intervalMs: 500 });
  step('receiver ready');

  // the agents: the shipped agent configuration, one node each
  expect(AGENT_STACK.services.agent.command).toContain('--enable-feature=agent');
  for (const [i, n] of nodes.entries()) {
    const cfg = structuredClone(AGENT_CONFIG);
    cfg.global = { ...cfg.global, scrape_interval: '2s', scrape_timeout: '2s' };
    const job = (cfg.scrape_configs as Array<Record<string, any>>).find((j) => j.job_name === JOB)!;
    expect(job.dockerswarm_sd_configs).toHaveLength(1);
    delete job.dockerswarm_sd_configs;
    delete job.relabel_configs;
    job.static_configs = [{ targets: [`${n.address}:${PORT}`], labels: { node: n.name, swarm_service: SWARM_SERVICE } }];
    expect(cfg.remote_write).toHaveLength(1);
    const rw = cfg.remote_write[0];
    expect(rw.basic_auth.username).toBe(USER);
    expect(rw.basic_auth.password_file).toBe('/run/secrets/swarmnet_remote_write_password');
    rw.url = `${receiverUrl}/api/v1/write`;
    rw.basic_auth.password_file = join(dir, 'secrets', 'swarmnet_prometheus_password');
    rw.queue_config = { ...rw.queue_config, batch_send_deadline: '1s' };
    const file = join(dir, `agent${i + 1}.yml`);
    writeFileSync(file, JSON.stringify(cfg));
    const flagsOf = AGENT_STACK.services.agent.command.map((f) => f
      .replace(/^--config\.file=.*/, `--config.file=${file}`)
      .replace(/^--storage\.agent\.path=.*/, `--storage.agent.path=${join(dir, `agent${i + 1}-wal`)}`));
    agents.push(startProcess([PROMETHEUS_BIN, ...flagsOf, `--web.listen-address=127.0.0.1:${19190 + i}`, '--log.level=warn'], { netnsFile: n.netnsFile }));
  }
  step('agents started');
}, 300_000);

afterAll(async () => {
  for (const a of agents) await a.stop().catch(() => undefined);
  await receiver?.stop().catch(() => undefined);
  for (const e of exporters) await e.stop().catch(() => undefined);
  await swarm?.down();
  process.stdout.write(`remote-write e2e wall time: ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}, 180_000);

describe('Prometheus agents remote-writing two nodes to a central Prometheus', () => {
  test('the receiver asks for credentials (401) on queries, its metrics and the write endpoint; the lifecycle API is off (403)', async () => {
    for (const [path, method] of [['/api/v1/query?query=up', 'GET'], ['/metrics', 'GET'], ['/api/v1/write', 'POST'], ['/graph', 'GET'], ['/-/reload', 'POST']] as const) {
      const r = await request(path, { method });
      expect(r.status, `${method} ${path} without credentials`).toBe(401);
    }
    expect((await request('/api/v1/query?query=up', { auth: true, method: 'GET' })).status).toBe(200);
    const wrong = await run('nsenter', ['--net=' + node1.netnsFile, '--', 'curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}', '-u', `${USER}:wrong`, `${receiverUrl}/api/v1/query?query=up`]);
    expect(wrong.stdout).toBe('401');
    for (const path of ['/-/reload', '/-/quit']) expect((await request(path, { auth: true, method: 'POST' })).status, `POST ${path}`).toBe(403);
    expect((await request('/api/v1/admin/tsdb/snapshot', { auth: true, method: 'POST' })).status).not.toBe(200);
  });

  test('both nodes\' series arrive through the agents, with the target labels and the agents\' external label', async () => {
    await eventually('up of both exporters, written by their agents', async () => {
      const up = await series(`up{job="${JOB}"}`);
      expect(up.map((s) => [s.metric.node, s.metric.instance, s.metric.swarm_service, s.metric.swarm, s.value[1]]).sort())
        .toEqual(nodes.map((n) => [n.name, `${n.address}:${PORT}`, SWARM_SERVICE, AGENT_CONFIG.global.external_labels.swarm, '1']));
    }, 120_000);
    await eventually('each node\'s own series, its host namespace among them', async () => {
      const info = await series(`swarmnet_node_info{job="${JOB}"}`);
      expect(info.map((s) => [s.metric.node, s.metric.hostname]).sort()).toEqual(nodes.map((n) => [n.name, n.name]));
      const host = await series(`count by (node) (swarmnet_interface_info{job="${JOB}", netns="host"})`);
      expect(host.map((s) => s.metric.node).sort()).toEqual(nodes.map((n) => n.name));
    });
    step('series arrived');
  }, 180_000);

  test('the shipped recording rules make series for both nodes; every alerting rule evaluates without error, none active', async () => {
    const recorded = ruleFiles().flatMap((f) => (parseYaml(readFileSync(f, 'utf8')) as { groups: Array<{ rules: Array<{ record?: string }> }> }).groups.flatMap((g) => g.rules)).map((r) => r.record).filter((r): r is string => !!r);
    expect(recorded.length).toBeGreaterThan(5);
    // missing peers have no series on a healthy swarm: counted only under a fault
    const healthy = recorded.filter((r) => !r.includes('peers_missing'));
    await eventually('every recording rule with series for both nodes', async () => {
      const missing: string[] = [];
      for (const r of healthy) {
        const nodesWith = [...new Set((await series(r)).map((s) => s.metric.node))].sort();
        if (nodesWith.join() !== nodes.map((n) => n.name).join()) missing.push(`${r}: ${nodesWith.join(',') || 'none'}`);
      }
      expect(missing).toEqual([]);
    }, 90_000);
    const rules = JSON.parse((await request('/api/v1/rules', { auth: true })).body) as { data: { groups: Array<{ rules: Array<{ name: string; type: string; health: string; lastError?: string }> }> } };
    const all = rules.data.groups.flatMap((g) => g.rules);
    expect(all.filter((r) => r.type === 'alerting')).toHaveLength(ruleFiles().flatMap(alertRules).length);
    expect(all.filter((r) => r.type === 'recording')).toHaveLength(recorded.length);
    expect(all.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.health} ${r.lastError ?? ''}`)).toEqual([]);
    const alerts = JSON.parse((await request('/api/v1/alerts', { auth: true })).body) as { data: { alerts: Array<{ labels: Record<string, string> }> } };
    expect(alerts.data.alerts.map((a) => a.labels.alertname)).toEqual([]);
    step('rules evaluated');
  }, 150_000);

  test('every dashboard query runs against the receiver; those with data on a scraping Prometheus have data here', async () => {
    // what cannot have data on this swarm (as in swarm-prometheus.e2e.test.ts): no IPVS in this kernel,
    // and series that exist only under a fault
    // (and, as there too, an MTU mismatch that does not exist)
    const cannot = /^swarmnet_(lb_|overlay_(peer_mismatch|l2_inconsistent_endpoint|interface_mtu_mismatch_bytes)$|overlay_probe_|exporter_errors_total$|netns_read_failures$)/;
    const exprs = shippedExprs().filter((e) => e.kind !== 'alert');
    expect(exprs.length).toBeGreaterThan(50);
    let empty: string[] = [];
    let failed: string[] = [];
    await eventually('every dashboard query with data', async () => {
      empty = [];
      failed = [];
      for (const e of exprs) {
        const q = concreteExpr(e.expr);
        const r = await query(q);
        if (r.status !== 'success') { failed.push(`${e.source}: ${r.error}`); continue; }
        if (metricNames(q).some((n) => cannot.test(n))) continue;
        if (r.data!.result.length === 0) empty.push(`${e.source}: ${q}`);
        if (q !== withoutZero(q)) expect(r.data!.result, `${e.source} reads a value`).toHaveLength(1);
      }
      expect(failed).toEqual([]);
      expect(empty).toEqual([]);
    }, 60_000);
    process.stdout.write(`remote-write e2e: ${exprs.length} dashboard queries ran on the receiver\n`);
  }, 120_000);

  test('what remote write costs: bytes per sample and series per node, from the agents\' own counters', async () => {
    for (const [i, n] of nodes.entries()) {
      const text = (await run('nsenter', ['--net=' + n.netnsFile, '--', 'curl', '-sS', `http://127.0.0.1:${19190 + i}/metrics`])).stdout;
      const value = (name: string) => text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `)).reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
      const bytes = value('prometheus_remote_storage_bytes_total');
      const samples = value('prometheus_remote_storage_samples_total');
      const scraped = (await series(`scrape_samples_scraped{job="${JOB}", node="${n.name}"}`))[0]?.value[1];
      expect(samples).toBeGreaterThan(0);
      expect(bytes).toBeGreaterThan(0);
      process.stdout.write(`remote-write e2e: ${n.name}: ${scraped} series a scrape; sent ${samples} samples in ${bytes} bytes: ${(bytes / samples).toFixed(2)} bytes a sample\n`);
    }
  });
});
