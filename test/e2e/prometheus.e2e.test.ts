// Every shipped PromQL expression through a real Prometheus (Debian's
// /usr/bin/prometheus) that scrapes a real exporter (test/harness/exporter-target.ts):
// - the exporter is scraped (up == 1) and Prometheus loads the alerting rules
//   and evaluates every one of them without error;
// - every panel, variable and alert expression parses and runs (/api/v1/query,
//   variables on "All", rate windows at 1m);
// - a panel or variable whose every input selector has data returns data: a
//   join, filter or aggregation that loses everything is a broken query. Panels
//   whose inputs the target does not have (no dockerd, no IPVS here) are listed.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ExporterTarget, startExporterTarget } from '../harness/exporter-target.js';
import { freePort } from '../harness/ports.js';
import { type Prometheus, startPrometheus } from '../harness/prometheus.js';
import { waitFor } from '../harness/wait.js';
import { RULES_DIR, concreteExpr, metricNames, shippedExprs } from '../unit/promql-exprs.js';

const SCRAPE_INTERVAL_S = 2;

let target: ExporterTarget | undefined;
let prom: Prometheus | undefined;
let dir = '';

/** Poll `fn` until it returns a value; a Prometheus that exited fails at once, with its log. */
async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  return waitFor(what, async () => {
    if (!prom!.running()) throw new Error('prometheus exited');
    return fn();
  }, { timeoutMs, intervalMs: 500 }).catch((err: Error) => {
    throw new Error(`${err.message}; prometheus log:\n${prom!.log().slice(-3000)}`);
  });
}

/** The vector selectors of an expression: each metric name with its matchers, as written. */
function selectors(expr: string): string[] {
  const out = new Set<string>();
  for (const name of metricNames(expr)) {
    for (const m of expr.matchAll(new RegExp(`(?<![\\w:])${name}(\\{[^}]*\\})?`, 'g'))) out.add(m[0]);
  }
  return [...out];
}

beforeAll(async () => {
  target = await startExporterTarget();
  dir = mkdtempSync(join(tmpdir(), 'swarmnet-prometheus-'));
  prom = await startPrometheus({
    dir,
    port: await freePort(),
    config: {
      global: { scrape_interval: `${SCRAPE_INTERVAL_S}s`, scrape_timeout: `${SCRAPE_INTERVAL_S * 1000 - 500}ms`, evaluation_interval: `${SCRAPE_INTERVAL_S}s` },
      rule_files: [join(RULES_DIR, '*.yml')],
      scrape_configs: [{
        job_name: 'swarmnet',
        scheme: target.scheme,
        metrics_path: target.metricsPath,
        static_configs: [{ targets: [target.address], labels: target.labels }],
      }],
    },
  });
  // enough scrapes for rate() over 1m windows
  await until('five successful scrapes', async () => {
    const r = await prom!.query('count_over_time(up{job="swarmnet"}[1m]) >= 5 and up{job="swarmnet"} == 1');
    return (r.data?.result.length ?? 0) > 0 ? true : undefined;
  });
}, 180_000);

afterAll(async () => {
  await prom?.stop();
  await target?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('shipped PromQL on a real Prometheus', () => {
  it('scrapes the exporter with the target labels the swarm relabelling gives', async () => {
    const r = await prom!.query('up{job="swarmnet"}');
    expect(r.status).toBe('success');
    expect(r.data!.result).toHaveLength(1);
    const s = r.data!.result[0]!;
    expect(s.value[1]).toBe('1');
    expect(s.metric).toMatchObject(target!.labels);
    const info = await prom!.query('swarmnet_build_info{job="swarmnet"}');
    expect(info.data!.result).toHaveLength(1);
  });

  it('loads every alerting rule and evaluates each without error', async () => {
    const expected = shippedExprs().filter((e) => e.kind === 'alert').length;
    const rules = await until('every rule evaluated', async () => {
      const all = await prom!.rules();
      return all.length === expected && all.every((r) => r.health !== 'unknown') ? all : undefined;
    });
    expect(rules.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.lastError}`)).toEqual([]);
  });

  it('runs every panel, variable and alert expression; panels and variables whose inputs have data return data', async () => {
    const exprs = shippedExprs();
    const failures: string[] = [];
    const empty: string[] = [];
    const withoutInputs: string[] = [];
    let dataChecked = 0;
    const presence = new Map<string, boolean>();
    for (const e of exprs) {
      const q = concreteExpr(e.expr);
      const r = await prom!.query(q);
      if (r.status !== 'success') {
        failures.push(`${e.source}: ${r.error} in ${q}`);
        continue;
      }
      if (e.kind === 'alert') continue;
      const inputs = selectors(q);
      let allPresent = inputs.length > 0;
      for (const sel of inputs) {
        if (!presence.has(sel)) presence.set(sel, ((await prom!.query(`count(${sel})`)).data?.result.length ?? 0) > 0);
        if (!presence.get(sel)) allPresent = false;
      }
      if (!allPresent) {
        withoutInputs.push(`${e.source} (${inputs.filter((s) => !presence.get(s)).join(', ')})`);
        continue;
      }
      dataChecked++;
      if (r.data!.result.length === 0) empty.push(`${e.source}: ${q}`);
    }
    expect(failures).toEqual([]);
    expect(empty).toEqual([]);
    // the target always has the exporter's own, host and overlay-namespace series
    expect(dataChecked).toBeGreaterThanOrEqual(30);
    process.stdout.write(`prometheus e2e: ${exprs.length} expressions ran, ${dataChecked} checked for data; ` +
      `${withoutInputs.length} without input data on this target:\n  ${withoutInputs.join('\n  ')}\n`);
  });
});
