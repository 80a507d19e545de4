// Prometheus configuration, alerting rules and their unit tests, checked by
// Debian's promtool; plus what promtool cannot see: the rules file is the
// generator's output (deploy/prometheus/generate.mjs), every alert's labels and
// annotations, a firing and a quiet test case per alert, and stack files that
// wire the same paths and labels.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ROOT, alertRules, ruleFiles } from './promql-exprs.js';

const PROMTOOL = '/usr/bin/promtool';
const PROM_DIR = join(ROOT, 'deploy', 'prometheus');
const GENERATOR = join(PROM_DIR, 'generate.mjs');
const TEST_DIR = join(PROM_DIR, 'tests');
const testFiles = readdirSync(TEST_DIR).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => join(TEST_DIR, f));

function promtool(...args: string[]): string {
  try {
    return execFileSync(PROMTOOL, args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { status?: number; stdout?: string; stderr?: string };
    throw new Error(`promtool ${args.join(' ')} exited ${e.status}:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

const EXPECTED_ALERTS = [
  'SwarmnetVxlanDropsRising', 'SwarmnetOverlayPeersMissing', 'SwarmnetOverlayL2Inconsistent', 'SwarmnetFdbGrowth',
  'SwarmnetLbBackendDown', 'SwarmnetLbBackendDrainingTooLong', 'SwarmnetLbServiceMissingBackends', 'SwarmnetLbVipWithoutBackends',
  'SwarmnetExporterDown', 'SwarmnetExporterAbsent', 'SwarmnetDockerDown', 'SwarmnetNetnsDirUnreadable',
  'SwarmnetCollectorFailing', 'SwarmnetNodeWithoutExporter',
  // the kernel signals
  'SwarmnetNeighbourTableNearFull', 'SwarmnetNeighbourTableOverflow', 'SwarmnetVxlanSocketDrops',
  'SwarmnetOverlayMtuTooLarge',
  // the overlay path probes
  'SwarmnetOverlayPathDown', 'SwarmnetOverlayFullSizePathBroken', 'SwarmnetOverlayPathLossy', 'SwarmnetOverlayProbeStalled',
];
/** the only alerts that page: breakage users of the swarm's services see */
const CRITICAL = ['SwarmnetOverlayPeersMissing', 'SwarmnetOverlayL2Inconsistent', 'SwarmnetLbBackendDown', 'SwarmnetLbVipWithoutBackends',
  // a full neighbour table drops packets to new neighbours: connections fail
  'SwarmnetNeighbourTableOverflow',
  // probes that do not get through: tasks on two nodes cannot talk, or not with full-size packets
  'SwarmnetOverlayPathDown', 'SwarmnetOverlayFullSizePathBroken'];
/** alerts about no target at all: there is no node to name */
const NO_NODE = ['SwarmnetExporterAbsent'];
const rules = ruleFiles().flatMap((f) => alertRules(f));

describe('promtool', () => {
  it('check config: deploy/prometheus/prometheus.yml and the rule files it loads (every file in rules/)', () => {
    const out = promtool('check', 'config', join(PROM_DIR, 'prometheus.yml'));
    expect(out).toContain('SUCCESS');
    expect(ruleFiles().length).toBeGreaterThan(0);
    expect(out).toMatch(new RegExp(`${ruleFiles().length} rule files found`));
  });

  it('every rule file has a test file that loads it, and every test file is run', () => {
    const loaded = testFiles.flatMap((f) => (parseYaml(readFileSync(f, 'utf8')) as { rule_files: string[] }).rule_files.map((r) => join(TEST_DIR, r)));
    expect([...new Set(loaded)].sort()).toEqual(ruleFiles());
  });

  it('check rules: every rule file', () => {
    const out = promtool('check', 'rules', ...ruleFiles());
    const found = [...out.matchAll(/SUCCESS: (\d+) rules found/g)].map((m) => Number(m[1]));
    expect(found).toHaveLength(ruleFiles().length);
    // the alerts, and the recording rules the overview dashboard reads
    const recording = ruleFiles().flatMap((f) => (parseYaml(readFileSync(f, 'utf8')) as { groups: Array<{ rules: Array<{ record?: string }> }> })
      .groups.flatMap((g) => g.rules).filter((r) => r.record));
    expect(recording.length).toBeGreaterThan(0);
    expect(found.reduce((a, b) => a + b, 0)).toBe(EXPECTED_ALERTS.length + recording.length);
  });

  it('test rules: every test file passes', () => {
    expect(testFiles.length).toBeGreaterThan(0);
    const out = promtool('test', 'rules', ...testFiles);
    expect(out).toContain('SUCCESS');
    expect(out).not.toContain('FAILED');
  });
});

function generate(...args: string[]): string {
  return execFileSync(process.execPath, [GENERATOR, '--out', '-', ...args], { cwd: ROOT, encoding: 'utf8' });
}

describe('rules generator (deploy/prometheus/generate.mjs)', () => {
  it('wrote the committed rules file (run `node deploy/prometheus/generate.mjs` when this fails)', () => {
    expect(ruleFiles()).toContain(join(PROM_DIR, 'rules', 'swarmnet.rules.yml'));
    expect(readFileSync(join(PROM_DIR, 'rules', 'swarmnet.rules.yml'), 'utf8')).toBe(generate());
  });

  it('puts another selector in every series selector of every rule, and promtool accepts the result', () => {
    const selector = 'job="swarm-net", cluster="eu1"';
    const text = generate('--selector', selector);
    expect(text).not.toContain('job="swarmnet"');
    const doc = parseYaml(text) as { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> };
    const all = doc.groups.flatMap((g) => g.rules);
    expect(all.map((r) => r.alert).sort()).toEqual([...EXPECTED_ALERTS].sort());
    for (const r of all) {
      const selectors = [...r.expr.replace(/"(?:[^"\\]|\\.)*"/g, (m) => m.replace(/[{}]/g, '')).matchAll(/\{([^}]*)\}/g)].map((m) => m[1]!);
      expect(selectors.length, r.alert).toBeGreaterThan(0);
      for (const sel of selectors) expect(sel, r.alert).toContain(selector);
    }
    const dir = mkdtempSync(join(tmpdir(), 'swarmnet-rules-'));
    try {
      writeFileSync(join(dir, 'rules.yml'), text);
      expect(promtool('check', 'rules', join(dir, 'rules.yml'))).toMatch(new RegExp(`SUCCESS: ${EXPECTED_ALERTS.length} rules found`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects an unknown option', () => {
    expect(() => execFileSync(process.execPath, [GENERATOR, '--out', '-', '--selecter', 'x'], { stdio: 'pipe' })).toThrow(/unknown option --selecter/);
  });
});

describe('alerting rules', () => {
  it('are the expected alerts, once each', () => {
    expect(rules.map((r) => r.alert).sort()).toEqual([...EXPECTED_ALERTS].sort());
  });

  it('each has for, a severity, a summary and description naming its place, and a runbook anchor', () => {
    for (const r of rules) {
      expect(r.for, r.alert).toMatch(/^\d+[smh]$/);
      expect(['critical', 'warning', 'info'], r.alert).toContain(r.labels?.severity);
      const a = r.annotations ?? {};
      expect(a.summary, r.alert).toBeTruthy();
      expect(a.description, r.alert).toBeTruthy();
      if (!NO_NODE.includes(r.alert)) expect(`${a.summary} ${a.description}`, `${r.alert} names a node`).toContain('{{ $labels.node }}');
      expect(a.runbook_url, r.alert).toMatch(new RegExp(`^https://\\S+/README\\.md#runbook-${r.alert.toLowerCase()}$`));
    }
    for (const name of ['SwarmnetVxlanDropsRising', 'SwarmnetOverlayPeersMissing', 'SwarmnetOverlayL2Inconsistent', 'SwarmnetFdbGrowth']) {
      expect(rules.find((r) => r.alert === name)!.annotations!.summary, name).toContain('{{ $labels.network }}');
    }
    for (const name of ['SwarmnetOverlayPathDown', 'SwarmnetOverlayFullSizePathBroken', 'SwarmnetOverlayPathLossy']) {
      const summary = rules.find((r) => r.alert === name)!.annotations!.summary;
      expect(summary, name).toContain('{{ $labels.network }}');
      expect(summary, name).toContain('{{ $labels.peer_node }}');
    }
    for (const name of ['SwarmnetLbBackendDown', 'SwarmnetLbBackendDrainingTooLong', 'SwarmnetLbServiceMissingBackends', 'SwarmnetLbVipWithoutBackends']) {
      expect(rules.find((r) => r.alert === name)!.annotations!.summary, name).toContain('{{ $labels.service }}');
    }
  });

  it('page (critical) only for breakage users see; the exporter\'s own health is a warning', () => {
    expect(rules.filter((r) => r.labels?.severity === 'critical').map((r) => r.alert).sort()).toEqual([...CRITICAL].sort());
    for (const r of rules.filter((x) => !CRITICAL.includes(x.alert))) expect(r.labels?.severity, r.alert).toBe('warning');
  });

  it('no expression depends on the target label node (it is only named in annotations)', () => {
    for (const r of rules) {
      // by (node, ...) on a label the alert makes itself (label_replace) aside
      const expr = r.expr.replace(/label_replace\([\s\S]*?"\(\.\+\)"\s*\)/g, '').replace(/max by \(node, node_id\)/g, '');
      expect(expr, r.alert).not.toMatch(/\bnode\b/);
    }
  });

  it('each is tested firing on a fault and quiet on healthy series', () => {
    interface AlertTest { eval_time: string; alertname: string; exp_alerts?: unknown[] }
    const cases = testFiles.flatMap((f) => {
      const doc = parseYaml(readFileSync(f, 'utf8')) as { tests: Array<{ alert_rule_test?: AlertTest[] }> };
      return doc.tests.flatMap((t) => t.alert_rule_test ?? []);
    });
    for (const name of EXPECTED_ALERTS) {
      const mine = cases.filter((c) => c.alertname === name);
      expect(mine.some((c) => (c.exp_alerts ?? []).length > 0), `${name} has no firing case`).toBe(true);
      expect(mine.some((c) => (c.exp_alerts ?? []).length === 0), `${name} has no quiet case`).toBe(true);
    }
  });
});

describe('stack files', () => {
  interface Service { image: string; command?: string[]; cap_add?: string[]; ports?: Array<Record<string, unknown>>; volumes?: Array<Record<string, unknown>>; healthcheck?: { test: string[] }; deploy: Record<string, unknown>; configs?: Array<{ source: string; target: string }>; networks?: string[] }
  const stack = parseYaml(readFileSync(join(ROOT, 'deploy/stack.yml'), 'utf8')) as { services: Record<string, Service>; networks: Record<string, unknown> };
  const mon = parseYaml(readFileSync(join(ROOT, 'deploy/stack-monitoring.yml'), 'utf8')) as { services: Record<string, Service>; configs: Record<string, { file: string }> };
  const prom = parseYaml(readFileSync(join(PROM_DIR, 'prometheus.yml'), 'utf8')) as { scrape_configs: Array<{ job_name: string; relabel_configs: Array<Record<string, unknown>>; dockerswarm_sd_configs?: Array<Record<string, unknown>> }> };

  it('run the exporter globally with the capabilities, mounts and host-mode port it needs', () => {
    const ex = stack.services.exporter!;
    expect(ex.deploy.mode).toBe('global');
    expect(ex.cap_add!.sort()).toEqual(['NET_ADMIN', 'SYS_ADMIN']);
    expect(ex.ports).toEqual([{ target: 9477, published: '${SWARMNET_PORT:-9477}', protocol: 'tcp', mode: 'host' }]);
    const sock = ex.volumes!.find((v) => v.target === '/var/run/docker.sock')!;
    expect(sock).toMatchObject({ type: 'bind', read_only: true });
    const netns = ex.volumes!.find((v) => v.target === '/var/run/docker/netns')!;
    expect(netns).toMatchObject({ type: 'bind', bind: { propagation: 'rslave' } });
    expect(ex.healthcheck!.test).toEqual(['CMD', '/app/healthcheck']);
    expect((ex.deploy.update_config as Record<string, unknown>).order).toBe('stop-first');
    expect((ex.deploy.resources as { limits: Record<string, unknown> }).limits).toMatchObject({ memory: expect.any(String), cpus: expect.any(String) });
  });

  it('label the exporter service the way the Prometheus relabelling keeps it', () => {
    const labels = stack.services.exporter!.deploy.labels as Record<string, string>;
    const job = prom.scrape_configs.find((j) => j.job_name === 'swarmnet')!;
    expect(job.dockerswarm_sd_configs![0]).toMatchObject({ role: 'tasks', host: 'unix:///var/run/docker.sock' });
    const keep = job.relabel_configs.find((r) => r.action === 'keep' && (r.source_labels as string[])[0]!.startsWith('__meta_dockerswarm_service_label_'))!;
    const metaName = (keep.source_labels as string[])[0]!.slice('__meta_dockerswarm_service_label_'.length);
    const labelName = Object.keys(labels).find((k) => k.replace(/[^a-zA-Z0-9_]/g, '_') === metaName);
    expect(labelName, `no service label sanitises to ${metaName}`).toBeDefined();
    expect(labels[labelName!]).toMatch(new RegExp(`^${keep.regex as string}$`));
    expect(job.relabel_configs.some((r) => r.target_label === 'node' && (r.source_labels as string[])[0] === '__meta_dockerswarm_node_hostname')).toBe(true);
  });

  it('give Prometheus its config, rules and the Docker socket, and Grafana its provisioning and dashboards', () => {
    for (const c of Object.values(mon.configs)) {
      expect(() => readFileSync(join(ROOT, 'deploy', c.file)), c.file).not.toThrow();
    }
    const p = mon.services.prometheus!;
    expect(p.configs!.map((c) => c.target).sort()).toEqual(
      ['/etc/prometheus/prometheus.yml', ...ruleFiles().map((f) => `/etc/prometheus/rules/${basename(f)}`)].sort());
    expect(p.volumes!.some((v) => v.target === '/var/run/docker.sock')).toBe(true);
    expect(((p.deploy.placement as { constraints: string[] }).constraints)).toContain('node.role == manager');
    const ruleTargets = p.configs!.filter((c) => c.target.startsWith('/etc/prometheus/rules/')).map((c) => mon.configs[c.source]!.file);
    expect(ruleTargets.map((f) => join(ROOT, 'deploy', f)).sort()).toEqual(ruleFiles().sort());
    const g = mon.services.grafana!;
    const dashboards = g.configs!.filter((c) => c.target.endsWith('.json'));
    expect(dashboards).toHaveLength(readdirSync(join(ROOT, 'grafana/dashboards')).filter((f) => f.endsWith('.json')).length);
  });
});
