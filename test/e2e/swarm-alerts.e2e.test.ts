// The shipped alert rules against faults made for real on a two-node swarm:
// - a two-node swarm (test/harness/swarm.ts) with an overlay network and a
//   service on both nodes, one exporter process per node (the built dist/main.js)
//   at <node address>:<port of deploy/stack.yml> in its node's network namespace,
//   Debian's Prometheus in node1's namespace with deploy/prometheus/prometheus.yml
//   (swarm discovery replaced by a file giving the target labels its relabelling
//   gives, intervals shortened) and the shipped rules, as in
//   swarm-prometheus.e2e.test.ts;
// - node2's exporter reads its namespaces through a symlink standing in for the
//   stack's bind mount of /var/run/docker/netns;
// - faults: node2's dockerd stopped (the Docker-down alert goes pending for node2
//   and no other alert is pending); node2's namespace directory mount gone (the
//   directory alert goes pending for node2, naming the directory and the errno).
// The rules are found by the series they select, not by name.
import { mkdir, rename, symlink, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type ExporterProcess, startExporter } from '../harness/exporter.js';
import { ROOT } from '../harness/paths.js';
import { Teardown } from '../harness/processes.js';
import { type PromAlert, type Prometheus, startPrometheus } from '../harness/prometheus.js';
import { type Swarm, type SwarmNode, startSwarm } from '../harness/swarm.js';
import { waitFor } from '../harness/wait.js';
import { RULES_DIR, alertRules, metricNames, ruleFiles } from '../unit/promql-exprs.js';

const started = Date.now();
const PROM_CONFIG = join(ROOT, 'deploy', 'prometheus', 'prometheus.yml');
const JOB = 'swarmnet';
const EVAL_INTERVAL = '1s';
const SCRAPE_INTERVAL = '2s';
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
const step = (what: string) => process.stdout.write(`swarm-alerts e2e: ${what} at ${elapsed()}\n`);

const stackDoc = parseYaml(readFileSync(join(ROOT, 'deploy', 'stack.yml'), 'utf8')) as { services: Record<string, { ports: Array<{ published: string | number; mode: string }> }> };
const [SERVICE_KEY, STACK_SERVICE] = Object.entries(stackDoc.services)[0]!;
const SWARM_SERVICE = `swarmnet_${SERVICE_KEY}`;
const published = String(STACK_SERVICE.ports.find((p) => p.mode === 'host')!.published);
const PORT = Number(/^\$\{\w+:-(\d+)\}$/.exec(published)?.[1] ?? published);

function ruleSelecting(pred: (names: string[]) => boolean): string {
  const rules = ruleFiles().flatMap(alertRules).filter((r) => pred(metricNames(r.expr)));
  if (rules.length !== 1) throw new Error(`expected one alert rule, found ${rules.map((r) => r.alert).join(', ') || 'none'}`);
  return rules[0]!.alert;
}
const DOCKER_DOWN_ALERT = ruleSelecting((n) => n.includes('swarmnet_docker_up'));
const NETNS_DIR_ALERT = ruleSelecting((n) => n.includes('swarmnet_netns_dir_up'));

let swarm: Swarm | undefined;
let node1: SwarmNode;
let node2: SwarmNode;
let prom: Prometheus | undefined;
const exporters = new Map<string, ExporterProcess>();
/** node2's exporter's --netns.dir: a symlink to node2's namespace folder, as the stack's bind mount */
let node2Mount = '';

async function active(): Promise<PromAlert[]> {
  return (await prom!.alerts()).filter((a) => a.state === 'pending' || a.state === 'firing');
}

beforeAll(async () => {
  swarm = await startSwarm({ nodes: 2 });
  [node1, node2] = swarm.nodes as [SwarmNode, SwarmNode];
  step('swarm up');
  await swarm.docker(['network', 'create', '-d', 'overlay', '--attachable', '--subnet', '198.19.78.0/24', 'alertnet']);
  await swarm.createService({ name: 'web', networks: ['alertnet'], replicas: 2, maxPerNode: 1, endpointMode: 'dnsrr' });
  await swarm.waitTasks('web', 2);
  step('service running');

  const workDir = join(swarm.dir, 'alerts');
  await mkdir(workDir, { recursive: true });
  node2Mount = join(workDir, 'node2-netns');
  await symlink(node2.netnsDir, node2Mount);
  for (const n of [node1, node2]) {
    exporters.set(n.name, await startExporter({
      netnsFile: n.netnsFile, listen: `${n.address}:${PORT}`, dockerHost: n.host, hostNetns: 'none',
      netnsDir: n === node2 ? node2Mount : n.netnsDir,
    }));
  }
  const targetsFile = join(workDir, 'targets.json');
  await writeFile(targetsFile, JSON.stringify([node1, node2].map((n) => ({ targets: [`${n.address}:${PORT}`], labels: { node: n.name, swarm_service: SWARM_SERVICE } }))));

  const cfg = parseYaml(readFileSync(PROM_CONFIG, 'utf8')) as { global: Record<string, string>; rule_files: string[]; scrape_configs: Array<Record<string, any>> };
  cfg.rule_files = cfg.rule_files.map((g) => join(dirname(PROM_CONFIG), g));
  expect(cfg.rule_files).toEqual([join(RULES_DIR, '*.yml')]);
  cfg.global = { ...cfg.global, scrape_interval: SCRAPE_INTERVAL, scrape_timeout: SCRAPE_INTERVAL, evaluation_interval: EVAL_INTERVAL };
  for (const job of cfg.scrape_configs) { job.scrape_interval = SCRAPE_INTERVAL; job.scrape_timeout = SCRAPE_INTERVAL; }
  const job = cfg.scrape_configs.find((j) => j.job_name === JOB)!;
  delete job.dockerswarm_sd_configs;
  delete job.relabel_configs;
  job.file_sd_configs = [{ files: [targetsFile], refresh_interval: EVAL_INTERVAL }];
  const selfTarget = (cfg.scrape_configs.find((j) => j.job_name === 'prometheus')!.static_configs[0].targets[0] as string);
  prom = await startPrometheus({ netnsFile: node1.netnsFile, dir: workDir, port: Number(selfTarget.split(':')[1]), config: cfg });
  await waitFor('ten scrapes of both exporters, all up, Docker up on both', async () => {
    const up = await prom!.series(`count_over_time(up{job="${JOB}"}[1m]) >= 10 and up{job="${JOB}"} == 1`);
    const docker = await prom!.series(`swarmnet_docker_up{job="${JOB}"} == 1`);
    return up.length === 2 && docker.length === 2;
  }, { timeoutMs: 120_000, intervalMs: 1_000 });
  step('prometheus has ten scrapes of each');
}, 420_000);

afterAll(async () => {
  const teardown = new Teardown();
  await teardown.step('prometheus', async () => prom?.stop());
  for (const [name, e] of exporters) await teardown.step(`exporter on ${name}`, () => e.stop());
  await teardown.step('swarm down', async () => swarm?.down());
  process.stdout.write(`swarm-alerts e2e wall time: ${elapsed()}\n`);
  teardown.done();
}, 240_000);

describe('the shipped alert rules on a real swarm', () => {
  test('no alert is active on the healthy swarm', async () => {
    await waitFor('every rule evaluated and healthy, no alert active', async () => {
      const rules = await prom!.rules();
      if (rules.length !== ruleFiles().flatMap(alertRules).length || rules.some((r) => r.health !== 'ok')) return false;
      return (await active()).length === 0;
    }, { timeoutMs: 60_000, intervalMs: 1_000 });
  }, 90_000);

  test(`node2's dockerd stopped: ${DOCKER_DOWN_ALERT} goes pending for node2, and nothing else`, async () => {
    const t0 = Date.now();
    await node2.stopDaemon();
    try {
      const alerts = await waitFor(`${DOCKER_DOWN_ALERT} pending for node2`, async () => {
        const a = (await active()).filter((x) => x.labels.alertname === DOCKER_DOWN_ALERT);
        return a.length > 0 ? a : undefined;
      }, { timeoutMs: 180_000, intervalMs: 1_000 });
      step(`${DOCKER_DOWN_ALERT} pending ${((Date.now() - t0) / 1000).toFixed(1)} s after dockerd stopped`);
      expect(alerts.map((a) => [a.state, a.labels.node, a.labels.instance, a.labels.severity])).toEqual([['pending', node2.name, `${node2.address}:${PORT}`, 'warning']]);
      expect(alerts[0]!.annotations.summary).toContain(node2.name);
      // the exporter itself keeps answering; the docker collector is not counted twice
      const others = (await active()).filter((x) => x.labels.alertname !== DOCKER_DOWN_ALERT);
      expect(others.map((a) => `${a.labels.alertname} ${JSON.stringify(a.labels)}`)).toEqual([]);
      expect((await prom!.series(`up{job="${JOB}"} == 1`)).length).toBe(2);
    } finally {
      await node2.startDaemon(60_000);
    }
    await waitFor('node2\'s exporter to reach dockerd again', async () =>
      (await prom!.series(`swarmnet_docker_up{job="${JOB}", node="${node2.name}"} == 1`)).length === 1, { timeoutMs: 90_000, intervalMs: 1_000 });
    step('dockerd back on node2');
  }, 360_000);

  test(`node2's namespace directory mount gone: ${NETNS_DIR_ALERT} goes pending for node2, naming the directory and the error`, async () => {
    const t0 = Date.now();
    // the stack's bind mount replaced by nothing: the path the exporter lists is gone
    const aside = `${node2Mount}.aside`;
    await rename(node2Mount, aside);
    try {
      const alerts = await waitFor(`${NETNS_DIR_ALERT} pending for node2`, async () => {
        const a = (await active()).filter((x) => x.labels.alertname === NETNS_DIR_ALERT);
        return a.length > 0 ? a : undefined;
      }, { timeoutMs: 60_000, intervalMs: 1_000 });
      step(`${NETNS_DIR_ALERT} pending ${((Date.now() - t0) / 1000).toFixed(1)} s after the mount went`);
      expect(alerts.map((a) => [a.state, a.labels.node, a.labels.dir, a.labels.reason, a.labels.severity])).toEqual([['pending', node2.name, node2Mount, 'ENOENT', 'warning']]);
      expect(alerts[0]!.annotations.description).toContain(node2Mount);
      // node1 is fine
      expect((await prom!.series(`swarmnet_netns_dir_up{job="${JOB}", node="${node1.name}"} == 1`)).length).toBe(1);
    } finally {
      await rename(aside, node2Mount);
    }
    await waitFor('node2\'s directory listed again', async () =>
      (await prom!.series(`swarmnet_netns_dir_up{job="${JOB}", node="${node2.name}"} == 1`)).length === 1, { timeoutMs: 30_000, intervalMs: 1_000 });
  }, 120_000);
});
