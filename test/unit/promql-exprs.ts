// Every PromQL expression the project ships: Grafana panel targets, Grafana
// variable queries (label_values(EXPR, label) unwrapped to EXPR) and alerting
// rule expressions. Unit tests check them against the metric catalog; the e2e
// test runs each through a real Prometheus (/api/v1/query).
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import type { MetricDef } from '../../src/metrics/family.js';
import * as ipvsCatalog from '../../src/metrics/catalog/ipvs.js';
import * as kernelCatalog from '../../src/metrics/catalog/kernel.js';
import { allMetricDefs } from '../../src/metrics/catalog/index.js';
import * as selfCatalog from '../../src/metrics/catalog/self.js';
import * as swarmCatalog from '../../src/metrics/catalog/swarm.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DASHBOARD_DIR = join(ROOT, 'grafana', 'dashboards');
export const RULES_DIR = join(ROOT, 'deploy', 'prometheus', 'rules');

export type ExprKind = 'panel' | 'variable' | 'alert';

export interface ShippedExpr {
  kind: ExprKind;
  /** where it comes from: "<file>: <panel title> [refId]", "<file>: $<variable>", "<file>: <alert>" */
  source: string;
  /** the expression as written (Grafana variables not substituted) */
  expr: string;
  /** panels: an instant table panel (true) or a range graph (false) */
  instant?: boolean;
}

export interface GrafanaTarget { refId?: string; expr?: string; datasource?: unknown; instant?: boolean; format?: string }
export interface GrafanaPanel { id: number; type: string; title: string; datasource?: unknown; targets?: GrafanaTarget[]; gridPos: { x: number; y: number; w: number; h: number }; panels?: GrafanaPanel[] }
export interface GrafanaVariable { name: string; type: string; query?: unknown; definition?: string; datasource?: unknown; multi?: boolean; includeAll?: boolean; allValue?: string }
export interface GrafanaDashboard { uid: string; title: string; panels: GrafanaPanel[]; templating: { list: GrafanaVariable[] } }

export interface AlertRule { alert: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }

export function dashboardFiles(): string[] {
  return readdirSync(DASHBOARD_DIR).filter((f) => f.endsWith('.json')).sort().map((f) => join(DASHBOARD_DIR, f));
}

export function loadDashboard(path: string): GrafanaDashboard {
  return JSON.parse(readFileSync(path, 'utf8')) as GrafanaDashboard;
}

/** Panels, rows' nested panels included. */
export function allPanels(d: GrafanaDashboard): GrafanaPanel[] {
  return d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}

export function ruleFiles(): string[] {
  return readdirSync(RULES_DIR).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => join(RULES_DIR, f));
}

export function alertRules(path: string): AlertRule[] {
  const doc = parseYaml(readFileSync(path, 'utf8')) as { groups: Array<{ name: string; rules: AlertRule[] }> };
  return doc.groups.flatMap((g) => g.rules).filter((r) => r.alert);
}

/** The query of a Grafana query variable, with label_values(EXPR, label) unwrapped to EXPR. */
export function variableExpr(v: GrafanaVariable): string | undefined {
  const q = typeof v.query === 'string' ? v.query : (v.query as { query?: string } | undefined)?.query;
  if (!q) return undefined;
  const m = /^\s*label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$/s.exec(q);
  if (m) return m[1]!.trim();
  const qr = /^\s*query_result\((.*)\)\s*$/s.exec(q);
  if (qr) return qr[1]!.trim();
  return q;
}

/** Every expression the project ships. */
export function shippedExprs(): ShippedExpr[] {
  const out: ShippedExpr[] = [];
  for (const file of dashboardFiles()) {
    const d = loadDashboard(file);
    const name = file.slice(ROOT.length + 1);
    for (const p of allPanels(d)) {
      for (const t of p.targets ?? []) {
        if (t.expr) out.push({ kind: 'panel', source: `${name}: ${p.title} [${t.refId ?? '?'}]`, expr: t.expr, instant: t.instant === true });
      }
    }
    for (const v of d.templating.list) {
      if (v.type !== 'query') continue;
      const expr = variableExpr(v);
      if (expr) out.push({ kind: 'variable', source: `${name}: $${v.name}`, expr });
    }
  }
  for (const file of ruleFiles()) {
    const name = file.slice(ROOT.length + 1);
    for (const r of alertRules(file)) out.push({ kind: 'alert', source: `${name}: ${r.alert}`, expr: r.expr.trim() });
  }
  return out;
}

/** Grafana's built-in variables and the values an "All" selection gives. */
const BUILTINS: Record<string, string> = {
  __rate_interval: '1m',
  __interval: '15s',
  __range: '1h',
};

/**
 * The expression as Prometheus would receive it from Grafana with every
 * variable on "All" (allValue ".*"), rate intervals at 1m. `values` overrides.
 */
export function concreteExpr(expr: string, values: Record<string, string> = {}): string {
  return expr.replace(/\$\{?([a-zA-Z_][a-zA-Z0-9_]*)\}?/g, (_m, name: string) => values[name] ?? BUILTINS[name] ?? '.*');
}

/** Variables an expression refers to ($name or ${name}), builtins excluded. */
export function referencedVariables(expr: string): string[] {
  return [...new Set([...expr.matchAll(/\$\{?([a-zA-Z_][a-zA-Z0-9_]*)\}?/g)].map((m) => m[1]!))].filter((n) => !(n in BUILTINS));
}

/** Metric names an expression selects (identifiers followed by a selector, a range or an operator, not label names or functions). */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // string literals (label values, label_replace args)
    .replace(/\{[^}]*\}/g, '{}') // label matchers
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ''); // label lists
  const names = new Set<string>();
  for (const m of stripped.matchAll(/(?<![\w:$])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()/g)) {
    const id = m[1]!;
    if (KEYWORDS.has(id) || /^\d/.test(id)) continue;
    names.add(id);
  }
  return [...names];
}

const KEYWORDS = new Set(['and', 'or', 'unless', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'bool', 'inf', 'nan', 'Inf', 'NaN', 'atan2']);

function defsOf(mod: Record<string, unknown>): MetricDef[] {
  const isDef = (v: unknown): v is MetricDef => typeof v === 'object' && v !== null && 'name' in v && 'type' in v && 'labels' in v;
  const out: MetricDef[] = [];
  for (const v of Object.values(mod)) {
    if (isDef(v)) out.push(v);
    else if (Array.isArray(v)) for (const x of v) if (isDef((x as { def?: unknown })?.def)) out.push((x as { def: MetricDef }).def);
  }
  return out;
}

/** Every metric family the exporter declares, by name. */
export function catalogMetrics(): Map<string, MetricDef> {
  // every catalog module the README table lists, plus the modules named here
  const all = [...allMetricDefs(), ...[kernelCatalog, selfCatalog, swarmCatalog, ipvsCatalog].flatMap((m) => defsOf(m as Record<string, unknown>))];
  return new Map(all.map((d) => [d.name, d]));
}

/** Series that are not the exporter's own families but that Prometheus or prom-client provide. */
export const NON_CATALOG_METRIC = /^(up|scrape_[a-z_]+|process_[a-z_]+|nodejs_[a-z0-9_]+)$/;
