// Grafana dashboards and provisioning: structure, datasource by variable,
// queries that name real metric families and defined variables, and JSON that
// matches its generator.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import {
  NON_CATALOG_METRIC, ROOT, allPanels, catalogMetrics, concreteExpr, dashboardFiles, loadDashboard, metricNames,
  alertRules, referencedVariables, ruleFiles, shippedExprs, variableExpr,
} from './promql-exprs.js';

const files = dashboardFiles();
const dashboards = files.map((f) => ({ file: f.slice(ROOT.length + 1), d: loadDashboard(f) }));
const DS_VAR = { type: 'prometheus', uid: '${datasource}' };

/** Series the shipped recording rules make, with the labels they keep (their by-clause). */
const RECORDED = new Map<string, string[]>(ruleFiles().flatMap((f) => {
  const doc = parseYaml(readFileSync(f, 'utf8')) as { groups: Array<{ rules: Array<{ record?: string; expr: string }> }> };
  return doc.groups.flatMap((g) => g.rules).filter((r) => r.record).map((r) => {
    const by = /^\s*(?:sum|count|max|min|avg)\s+by\s*\(([^)]*)\)/.exec(r.expr);
    return [r.record!, by ? by[1]!.split(',').map((l) => l.trim()) : []] as [string, string[]];
  });
}));
const panelExprs = () => shippedExprs().filter((e) => e.kind === 'panel');

describe('Grafana dashboards', () => {
  it('there are the four dashboards: overview, node, load balancer, exporter', () => {
    expect(dashboards.map((x) => x.d.uid).sort()).toEqual(['swarmnet-exporter', 'swarmnet-lb', 'swarmnet-node', 'swarmnet-overview']);
  });

  it('have unique uids and titles, and unique panel ids within each', () => {
    const uids = dashboards.map((x) => x.d.uid);
    expect(new Set(uids).size).toBe(uids.length);
    for (const uid of uids) expect(uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
    const titles = dashboards.map((x) => x.d.title);
    expect(new Set(titles).size).toBe(titles.length);
    for (const { file, d } of dashboards) {
      const ids = allPanels(d).map((p) => p.id);
      expect(ids.every((id) => Number.isInteger(id) && id > 0), file).toBe(true);
      expect(new Set(ids).size, `${file}: duplicate panel ids`).toBe(ids.length);
    }
  });

  it('lay panels out on the 24-column grid without overlap', () => {
    for (const { file, d } of dashboards) {
      const cells = new Set<string>();
      for (const p of allPanels(d)) {
        const g = p.gridPos;
        expect(g.x >= 0 && g.w > 0 && g.x + g.w <= 24 && g.h > 0, `${file}: ${p.title}`).toBe(true);
        for (let x = g.x; x < g.x + g.w; x++) {
          for (let y = g.y; y < g.y + g.h; y++) {
            const key = `${x},${y}`;
            expect(cells.has(key), `${file}: ${p.title} overlaps at ${key}`).toBe(false);
            cells.add(key);
          }
        }
      }
    }
  });

  it('every panel uses the datasource variable and has at least one target with an expression', () => {
    for (const { file, d } of dashboards) {
      for (const p of allPanels(d)) {
        if (p.type === 'row') continue;
        expect(p.datasource, `${file}: ${p.title}`).toEqual(DS_VAR);
        const targets = p.targets ?? [];
        expect(targets.length, `${file}: ${p.title} has no target`).toBeGreaterThan(0);
        expect(targets.some((t) => typeof t.expr === 'string' && t.expr.trim() !== ''), `${file}: ${p.title} has no expr`).toBe(true);
        for (const t of targets) {
          if (t.datasource !== undefined) expect(t.datasource, `${file}: ${p.title} [${t.refId}]`).toEqual(DS_VAR);
        }
        const refIds = targets.map((t) => t.refId);
        expect(new Set(refIds).size, `${file}: ${p.title} refIds`).toBe(refIds.length);
      }
    }
  });

  it('define the datasource, node, network and service variables, queried through the datasource variable', () => {
    for (const { file, d } of dashboards) {
      const vars = new Map(d.templating.list.map((v) => [v.name, v]));
      const ds = vars.get('datasource');
      expect(ds, file).toMatchObject({ type: 'datasource', query: 'prometheus' });
      for (const name of ['node', 'network', 'service']) {
        const v = vars.get(name);
        expect(v, `${file}: $${name}`).toBeDefined();
        expect(v!.type).toBe('query');
        expect(v!.multi && v!.includeAll && v!.allValue === '.*', `${file}: $${name} multi-value with All = .*`).toBe(true);
      }
      for (const v of d.templating.list) {
        if (v.type !== 'query') continue;
        expect(v.datasource, `${file}: $${v.name}`).toEqual(DS_VAR);
        const q = (v.query as { query: string }).query;
        expect(q, `${file}: $${v.name}`).toMatch(/^label_values\(.+, [a-z_]+\)$/);
        expect(variableExpr(v), `${file}: $${v.name}`).toMatch(/^[a-z_]+(\{.*\})?$/);
      }
    }
  });

  it('queries refer only to variables that exist, and use multi-value variables with =~', () => {
    for (const { file, d } of dashboards) {
      const defined = new Set(d.templating.list.map((v) => v.name));
      const exprs = [
        ...allPanels(d).flatMap((p) => (p.targets ?? []).map((t) => ({ where: p.title, expr: t.expr ?? '' }))),
        ...d.templating.list.filter((v) => v.type === 'query').map((v) => ({ where: `$${v.name}`, expr: variableExpr(v) ?? '' })),
      ];
      for (const { where, expr } of exprs) {
        for (const name of referencedVariables(expr)) {
          expect(defined.has(name), `${file}: ${where} uses undefined $${name}`).toBe(true);
          expect(expr, `${file}: ${where}: $${name} needs =~`).toMatch(new RegExp(`=~"\\$${name}"`));
        }
      }
    }
  });

  it('every metric a query or alert names is one the exporter declares (or Prometheus / prom-client provide)', () => {
    const catalog = catalogMetrics();
    expect(catalog.size).toBeGreaterThan(40);
    const unknown: string[] = [];
    const exprs = shippedExprs();
    expect(exprs.filter((e) => e.kind === 'panel').length).toBeGreaterThan(50);
    expect(exprs.filter((e) => e.kind === 'alert').length).toBe(ruleFiles().flatMap((f) => alertRules(f)).length);
    expect(exprs.filter((e) => e.kind === 'alert').length).toBeGreaterThanOrEqual(10);
    for (const e of exprs) {
      const names = metricNames(e.expr);
      expect(names.length, `${e.source}: no metric in ${e.expr}`).toBeGreaterThan(0);
      for (const n of names) if (!catalog.has(n) && !NON_CATALOG_METRIC.test(n) && !RECORDED.has(n)) unknown.push(`${e.source}: ${n}`);
    }
    expect(unknown).toEqual([]);
  });

  it('label matchers use labels the metric has', () => {
    const catalog = catalogMetrics();
    const target = new Set(['job', 'instance', 'node', 'swarm_service', 'exported_node']);
    const bad: string[] = [];
    for (const e of shippedExprs()) {
      for (const m of e.expr.matchAll(/\b([a-z_][a-z0-9_]*)\{([^}]*)\}/g)) {
        const labels = catalog.get(m[1]!)?.labels ?? RECORDED.get(m[1]!);
        if (!labels) continue;
        for (const lm of m[2]!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)/g)) {
          const label = lm[1]!;
          if (!labels.includes(label) && !target.has(label)) bad.push(`${e.source}: ${m[1]} has no label ${label}`);
        }
      }
    }
    expect(bad).toEqual([]);
  });

  it('metricNames() finds metric names and skips functions, keywords, labels and durations', () => {
    expect(metricNames('sum by (network) (rate(swarmnet_x_total{job=~"$job", a="b"}[$__rate_interval]) and on (job, instance) swarmnet_y_info{kind="vxlan"}) > 0.1')).toEqual(['swarmnet_x_total', 'swarmnet_y_info']);
    expect(metricNames('label_replace(max by (exported_node) (a{b="c"}), "node", "$1", "exported_node", "(.+)") unless on (node) up{job="x"}')).toEqual(['a', 'up']);
    expect(metricNames('sum(x offset 1h) > 1.5 * count(y)')).toEqual(['x', 'y']);
    expect(concreteExpr('rate(a{node=~"$node"}[$__rate_interval])')).toBe('rate(a{node=~".*"}[1m])');
  });

  it('stats read 0, not "No data", when nothing matches: counts of bad things count the bad series', () => {
    const stats = dashboards.flatMap(({ file, d }) => allPanels(d).filter((p) => p.type === 'stat').flatMap((p) => (p.targets ?? []).map((t) => ({ where: `${file}: ${p.title}`, expr: t.expr ?? '' }))));
    expect(stats.length).toBeGreaterThan(10);
    for (const s of stats) {
      expect(s.expr, s.where).toMatch(/ or vector\(0\)$/);
      // count(x) - sum(x) is "No data" when x is absent, and hides nothing count(x == 0) does not show
      expect(s.expr, s.where).not.toMatch(/count\(([^()]*)\) - sum\(\1\)/);
    }
  });

  it('"Overlay peers missing" counts the missing-peer series, not expected minus present', () => {
    const missing = panelExprs().filter((e) => e.source.includes('Overlay peers missing'));
    expect(missing).toHaveLength(1);
    expect(missing[0]!.expr).not.toMatch(/peers_expected|peers_present/);
    const [name] = metricNames(missing[0]!.expr);
    const rule = ruleFiles().flatMap((f) => (parseYaml(readFileSync(f, 'utf8')) as { groups: Array<{ rules: Array<{ record?: string; expr: string }> }> }).groups.flatMap((g) => g.rules)).find((r) => r.record === name);
    expect(rule?.expr).toMatch(/^count by \([^)]*\) \(swarmnet_overlay_peer_mismatch\{state="missing"\}\)$/);
  });

  it('graphs per interface or per namespace keep the busiest series only (topk), so "All" stays bounded', () => {
    for (const { file, d } of dashboards) {
      for (const p of allPanels(d)) {
        if (p.type !== 'timeseries') continue;
        for (const t of p.targets ?? []) {
          const e = t.expr ?? '';
          const perInterface = /interface=~"\$interface"/.test(e) && !/^sum by \((?!.*\b(interface|netns)\b)[^)]*\)/.test(e);
          if (perInterface) expect(e, `${file}: ${p.title}`).toMatch(/^topk\(\d+, /);
        }
      }
    }
  });

  it('the overview reads the recording rules, not the per-interface families', () => {
    const overview = panelExprs().filter((e) => e.source.startsWith('grafana/dashboards/swarmnet-overview.json') && !e.instant);
    const graphs = overview.filter((e) => !/up\{|swarmnet_overlay_(peers_expected|peers_present|l2_inconsistencies)/.test(e.expr));
    expect(graphs.length).toBeGreaterThan(8);
    for (const e of graphs) for (const n of metricNames(e.expr)) expect(RECORDED.has(n), `${e.source}: ${n}`).toBe(true);
  });

  it('the JSON files are what grafana/generate.mjs writes', async () => {
    const gen = (await import(join(ROOT, 'grafana', 'generate.mjs'))) as { DASHBOARDS: Record<string, unknown>; render(d: unknown): string };
    expect(Object.keys(gen.DASHBOARDS).sort()).toEqual(files.map((f) => f.slice(f.lastIndexOf('/') + 1)).sort());
    for (const [name, d] of Object.entries(gen.DASHBOARDS)) {
      expect(readFileSync(join(ROOT, 'grafana', 'dashboards', name), 'utf8'), `${name} is stale: run node grafana/generate.mjs`).toBe(gen.render(d));
    }
  });
});

describe('Grafana provisioning', () => {
  it('provisions the Prometheus datasource and the dashboards folder the stack mounts', () => {
    const ds = parseYaml(readFileSync(join(ROOT, 'grafana/provisioning/datasources/swarmnet.yml'), 'utf8')) as { apiVersion: number; datasources: Array<Record<string, unknown>> };
    expect(ds.apiVersion).toBe(1);
    expect(ds.datasources).toHaveLength(1);
    expect(ds.datasources[0]).toMatchObject({ type: 'prometheus', access: 'proxy', url: 'http://prometheus:9090', isDefault: true });
    const dash = parseYaml(readFileSync(join(ROOT, 'grafana/provisioning/dashboards/swarmnet.yml'), 'utf8')) as { apiVersion: number; providers: Array<{ type: string; options: { path: string } }> };
    expect(dash.apiVersion).toBe(1);
    const path = dash.providers[0]!.options.path;
    expect(dash.providers[0]!.type).toBe('file');
    const stack = readFileSync(join(ROOT, 'deploy/stack-monitoring.yml'), 'utf8');
    for (const f of files) expect(stack, `stack-monitoring.yml mounts ${f}`).toContain(`${path}/${f.slice(f.lastIndexOf('/') + 1)}`);
  });
});
