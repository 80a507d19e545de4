// A golden exposition, node_exporter's way: one snapshot built from captured
// state only (node1's namespaces and Docker API answers, the rtnl capture's
// namespace with its counters, an IPVS table from a real kernel), projected by
// every collector and rendered in both formats, compared byte for byte with the
// files committed next to this test. Any change to a name, label, help text,
// ordering or value format shows up here as a diff to review.
//
//   UPDATE_GOLDEN=1 npx vitest run test/golden/    rewrites the files instead
//
// Both files are also checked by the tools Prometheus users have: promtool's
// linter, and the Python client's parsers (strict OpenMetrics for the .om.txt).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { allCollectors } from '../../src/collectors/index.js';
import type { Snapshot } from '../../src/collectors/types.js';
import { allMetricDefs } from '../../src/metrics/catalog/index.js';
import { FamilySet } from '../../src/metrics/family.js';
import { renderOpenMetrics, renderPrometheus } from '../../src/metrics/render.js';
import { capturedScene, ipvsFamily } from '../support/captures.js';
import { dockerViewOf, snapshotOf } from '../support/snapshot.js';
import { promtool, pythonParse } from '../harness/exposition.js';

const dir = import.meta.dirname;
const GOLDEN = { text: join(dir, 'exposition.prom'), openmetrics: join(dir, 'exposition.om.txt') };
const UPDATE = process.env.UPDATE_GOLDEN === '1';

/** the moment of the Docker refresh, and of the scrape 12.5 s later (swarmnet_docker_state_age_seconds) */
const REFRESHED_AT = Date.UTC(2025, 0, 15, 12, 0, 0);
const SCRAPED_AT = REFRESHED_AT + 12_500;

/**
 * Families no collector can produce from these fixtures, and why. The coverage
 * test below checks that every other family of the catalog has a series in the
 * golden, and that none of these has one (so the list stays true).
 */
const NOT_FROM_FIXTURES: Record<string, string> = {
  // written by the Scraper around the collectors, not by a collector; durations and versions vary by run
  swarmnet_scrape_collector_duration_seconds: 'Scraper: timing of each collector',
  swarmnet_scrape_collector_success: 'Scraper: outcome of each collector',
  swarmnet_netns_discovered: 'Scraper: namespace discovery on the filesystem',
  swarmnet_netns_read_failures: 'Scraper: failed namespace reads',
  swarmnet_netns_dir_up: 'Scraper: namespace directory listing',
  swarmnet_scrape_duration_seconds: 'Scraper: timing of the whole scrape',
  swarmnet_build_info: 'Scraper: version, revision and Node.js version of the running build',
  // the links reader's running count of its dumps (counters only or full), kept by a live exporter's LinkFactsCache
  swarmnet_netns_table_reads_total: 'links and fdb readers: reads since start, a live process only (test/kernel/watched-tables, test/kernel/scale)',
  // --probe.overlay (off by default): the prober's rounds send ICMP on a live swarm, nothing a capture holds
  swarmnet_overlay_probe_loss_ratio: 'overlay path probes: off by default, live rounds only (test/e2e/swarm-probes)',
  swarmnet_overlay_probe_rtt_seconds: 'overlay path probes: off by default, live rounds only (test/e2e/swarm-probes)',
  swarmnet_overlay_probe_full_size_ok: 'overlay path probes: off by default, live rounds only (test/e2e/swarm-probes)',
  swarmnet_overlay_probe_mtu_bytes: 'overlay path probes: off by default, live rounds only (test/e2e/swarm-probes)',
  swarmnet_overlay_probe_last_round_timestamp_seconds: 'overlay path probes: off by default, live rounds only (test/e2e/swarm-probes)',
  // the swarm collector writes it from the Docker cache's failure counts; the captured refresh had none
  swarmnet_exporter_errors_total: 'Docker cache failure counts: the captured refresh succeeded (errors empty)',
};

/** One snapshot of captured state, with every family's source present. */
function goldenSnapshot(): Snapshot {
  const { state, names, samples } = capturedScene(REFRESHED_AT);
  return snapshotOf(samples, {
    names,
    docker: dockerViewOf(state, { lastSuccessAt: REFRESHED_AT, lastRefreshSeconds: 0.25 }),
    kernel: { ipvs: { available: true, familyId: ipvsFamily().id, checkedAt: REFRESHED_AT } },
  });
}

function collectAll(snap: Snapshot): FamilySet {
  const out = new FamilySet();
  for (const c of allCollectors({ netdevExtendedStats: true })) c.collect(snap, out);
  return out;
}

interface Rendered {
  families: number;
  samples: number;
  names: Set<string>;
  text: string;
  openmetrics: string;
}

function render(): Rendered {
  const set = collectAll(goldenSnapshot());
  const families = set.all().filter((f) => f.size > 0);
  return {
    families: families.length,
    samples: families.reduce((n, f) => n + f.size, 0),
    names: new Set(families.map((f) => f.name)),
    text: renderPrometheus(families, '').toString('utf8'),
    openmetrics: renderOpenMetrics(families, '# EOF\n').toString('utf8'),
  };
}

const lines = (s: string) => s.split('\n');

describe('golden exposition from captured state', () => {
  let rendered: Rendered;

  beforeAll(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(SCRAPED_AT);
    // rendering must not throw, updating or not
    rendered = render();
    if (UPDATE) {
      writeFileSync(GOLDEN.text, rendered.text);
      writeFileSync(GOLDEN.openmetrics, rendered.openmetrics);
    }
  });
  afterAll(() => {
    vi.useRealTimers();
  });

  it('renders the same bytes twice (nothing depends on the clock or on the previous scrape)', () => {
    const again = render();
    expect(again.text).toBe(rendered.text);
    expect(again.openmetrics).toBe(rendered.openmetrics);
  });

  it('matches the committed Prometheus text exposition byte for byte', () => {
    const golden = readFileSync(GOLDEN.text, 'utf8');
    expect(lines(rendered.text)).toEqual(lines(golden));
    expect(rendered.text === golden).toBe(true);
  });

  it('matches the committed OpenMetrics exposition byte for byte', () => {
    const golden = readFileSync(GOLDEN.openmetrics, 'utf8');
    expect(lines(rendered.openmetrics)).toEqual(lines(golden));
    expect(rendered.openmetrics === golden).toBe(true);
  });

  it('has a series of every family the fixtures can produce, and none of the ones they cannot', () => {
    const catalog = allMetricDefs().map((d) => d.name);
    for (const name of Object.keys(NOT_FROM_FIXTURES)) expect(catalog, `${name} is not in the catalog any more`).toContain(name);
    const expected = catalog.filter((n) => !(n in NOT_FROM_FIXTURES)).sort();
    expect([...rendered.names].sort()).toEqual(expected);
  });

  it('passes promtool check metrics (Prometheus text)', () => {
    const r = promtool(readFileSync(GOLDEN.text, 'utf8'));
    expect(r.error).toBeUndefined();
    expect({ status: r.status, output: r.output }).toEqual({ status: 0, output: '' });
  });

  it('passes promtool check metrics (OpenMetrics), as far as promtool reads OpenMetrics', () => {
    const golden = readFileSync(GOLDEN.openmetrics, 'utf8');
    const r = promtool(golden);
    expect(r.error).toBeUndefined();
    if (r.status === 0) {
      expect(r.output).toBe('');
      return;
    }
    // promtool 2.42 (Debian 12) lints with the Prometheus text parser only: it knows no "info" type and stops at the
    // first one. That is the tool's limit, not the file's (the strict OpenMetrics parser below reads it all); the
    // text file, with the same families, names and help, passes promtool's lint above. Any other complaint fails here.
    const firstInfo = lines(golden).findIndex((l) => /^# TYPE \S+ info$/.test(l)) + 1;
    expect(firstInfo).toBeGreaterThan(0);
    expect({ status: r.status, output: r.output })
      .toEqual({ status: 1, output: `error while linting: text format parsing error in line ${firstInfo}: unknown metric type "info"\n` });
  });

  it("parses with the Python client's text parser: every family and sample", () => {
    const r = pythonParse('text', readFileSync(GOLDEN.text, 'utf8'));
    expect(r.error).toBeUndefined();
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    expect(JSON.parse(r.stdout)).toMatchObject({ families: rendered.families, samples: rendered.samples });
  });

  it("parses with the Python client's strict OpenMetrics parser: every family and sample", () => {
    const r = pythonParse('openmetrics', readFileSync(GOLDEN.openmetrics, 'utf8'));
    expect(r.error).toBeUndefined();
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    expect(JSON.parse(r.stdout)).toMatchObject({ families: rendered.families, samples: rendered.samples, types: ['counter', 'gauge', 'info'] });
  });
});
