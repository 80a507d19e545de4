// The neighbour table readers where the limits may be changed: a guest kernel of this
// test's own (Debian's under qemu, see ipvs.vm.test.ts). guest-neighbour.mjs lowers
// gc_thresh1-3 to 4/8/16 and fills the ARP table past them; here the exporter's reads
// are compared with ip's (ntable, neigh), table_fulls must have risen by the adds the
// kernel refused, and the shipped alert expressions are evaluated by promtool over the
// values the guest exported. Permanent entries (Docker's for overlay peers) past gc_thresh3
// are accepted without a table full, and the near-full alert leaves them out. A real
// Prometheus then scrapes the guest's three expositions in turn with the shipped rules.
// Needs root, qemu-system-x86, busybox-static, cpio, kmod, xz-utils.
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ROOT } from '../harness/paths.js';
import { freePort } from '../harness/ports.js';
import { type Prometheus, startPrometheus } from '../harness/prometheus.js';
import { waitFor } from '../harness/wait.js';
import { type PromSample, parseProm, pick } from '../harness/prom.js';
import { VM_DIR, type VmRun, cleanup, compileForGuest, guestResult, runVm } from '../harness/vm.js';

interface Ntable { name: string; family: string; entries: number; thresh1: number; thresh2: number; thresh3: number; table_fulls: number; forced_gc_runs: number }
interface Read {
  label: string;
  samples: Array<{ netns: string; error?: string; readerErrors?: string[]; neighCounts?: Array<{ family: number; state: string; count: number }> }>;
  metrics: string;
  ntable: Ntable[];
  neigh: Array<{ dst: string; state: string[] }>;
}
interface Attempts { tried: number; failed: number; errors: string[] }
interface Result { kernel: string; defaults: { thresh: number[] }; permanent: Attempts; fill: Attempts; dmesg: string[]; reads: Read[] }

const TIMEOUT_S = Number(process.env.SWARMNET_VM_TIMEOUT_S ?? 300);
const RULES = join(ROOT, 'deploy', 'prometheus', 'rules', 'swarmnet.rules.yml');
let root: string | undefined;
let run: VmRun | undefined;
let result: Result;
const readOf = (label: string) => result.reads.find((r) => r.label === label)!;
const metricsOf = (label: string): PromSample[] => parseProm(readOf(label).metrics);
const one = (samples: PromSample[], name: string, match: Record<string, string>) => {
  const found = pick(samples, name, match);
  expect(found, `${name} ${JSON.stringify(match)}`).toHaveLength(1);
  return found[0]!.value;
};

describe('neighbour table overflow in a guest kernel', () => {
  beforeAll(async () => {
    root = await compileForGuest(['kernel/readers/neigh-tables.js', 'collectors/neighbour.js', 'metrics/render.js']);
    run = await runVm(join(VM_DIR, 'guest-neighbour.mjs'), [join(root, 'dist'), '/out'], TIMEOUT_S);
    console.log(`VM run: ${run.accel}, ${run.wallSeconds.toFixed(1)} s`);
    result = guestResult<Result>(run);
    const arp = (label: string) => readOf(label).ntable.find((t) => t.name === 'arp_cache')!;
    console.log(`guest ${result.kernel}: fill ${JSON.stringify(result.fill)}; arp_cache table_fulls ${arp('lowered').table_fulls} -> ${arp('filled').table_fulls}, entries ${arp('lowered').entries} -> ${arp('filled').entries}; ${result.dmesg.join(' | ')}`);
  }, (TIMEOUT_S + 120) * 1000);
  afterAll(() => cleanup(root, run?.out));

  it('reads every namespace without error', () => {
    for (const r of result.reads) for (const s of r.samples) expect([s.error, s.readerErrors], `${r.label} ${s.netns}`).toEqual([undefined, undefined]);
  });

  it('exports the lowered thresholds, the entries and the counters as ip -s ntable shows them', () => {
    for (const r of result.reads) {
      const m = parseProm(r.metrics);
      const arp = r.ntable.find((t) => t.name === 'arp_cache')!;
      if (r.label === 'lowered') expect([arp.thresh1, arp.thresh2, arp.thresh3]).toEqual([4, 8, 16]);
      for (const [level, v] of [['1', arp.thresh1], ['2', arp.thresh2], ['3', arp.thresh3]] as const) {
        expect(one(m, 'swarmnet_neighbour_table_threshold', { family: 'ipv4', level })).toBe(v);
      }
      // nothing else runs in the guest: ip's reading right after ours is the same
      expect(one(m, 'swarmnet_neighbour_table_entries', { family: 'ipv4' }), r.label).toBe(arp.entries);
      expect(one(m, 'swarmnet_neighbour_table_fulls_total', { family: 'ipv4' }), r.label).toBe(arp.table_fulls);
      expect(one(m, 'swarmnet_neighbour_table_forced_gc_runs_total', { family: 'ipv4' }), r.label).toBe(arp.forced_gc_runs);
    }
    // the kernel's defaults were the usual ones before the test lowered them
    expect(result.defaults.thresh).toEqual([128, 512, 1024]);
  });

  it('counts a table full for every entry the kernel refused past gc_thresh3', () => {
    const fulls = (label: string) => one(metricsOf(label), 'swarmnet_neighbour_table_fulls_total', { family: 'ipv4' });
    // every refusal is the kernel's "table full" (ENOBUFS), and counted as one
    expect(result.fill.errors).toEqual(['ENOBUFS']);
    expect(result.fill.failed).toBeGreaterThan(0);
    expect(fulls('filled') - fulls('lowered')).toBe(result.fill.failed);
    // the namespace holds what the table let in: gc_thresh3 at most
    const entries = one(metricsOf('filled'), 'swarmnet_neighbour_entries', { netns: 'nbfill', family: 'ipv4', state: 'stale' });
    expect(entries).toBe(result.fill.tried - result.fill.failed);
    expect(entries).toBeLessThanOrEqual(16);
    expect(one(metricsOf('filled'), 'swarmnet_neighbour_table_entries', { family: 'ipv4' })).toBeGreaterThanOrEqual(16);
  });

  it('accepts permanent entries past gc_thresh3 without a table full: the kernel does not count them', () => {
    expect(result.permanent).toEqual({ tried: 40, failed: 0, errors: [] });
    const m = (label: string) => metricsOf(label);
    expect(one(m('permanent'), 'swarmnet_neighbour_entries', { netns: 'nbperm', family: 'ipv4', state: 'permanent' })).toBe(40);
    expect(one(m('permanent'), 'swarmnet_neighbour_table_entries', { family: 'ipv4' })).toBeGreaterThan(one(m('permanent'), 'swarmnet_neighbour_table_threshold', { family: 'ipv4', level: '3' }));
    expect(one(m('permanent'), 'swarmnet_neighbour_table_fulls_total', { family: 'ipv4' })).toBe(one(m('lowered'), 'swarmnet_neighbour_table_fulls_total', { family: 'ipv4' }));
  });

  it('counts the namespace\'s entries as ip -j neigh show nud all lists them', () => {
    for (const r of result.reads) {
      const byState = new Map<string, number>();
      for (const n of r.neigh) {
        const key = `${n.dst.includes(':') ? 'ipv6' : 'ipv4'} ${n.state.join('_').toLowerCase()}`;
        byState.set(key, (byState.get(key) ?? 0) + 1);
      }
      const mine = pick(parseProm(r.metrics), 'swarmnet_neighbour_entries', { netns: 'nbfill' });
      expect(new Map(mine.map((s) => [`${s.labels.family} ${s.labels.state}`, s.value])), r.label).toEqual(byState);
    }
  });

  it('fires both alert expressions on the guest\'s values, and neither before the fill (promtool)', () => {
    const rules = (parseYaml(readFileSync(RULES, 'utf8')) as { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> }).groups.flatMap((g) => g.rules);
    const expr = (alert: string) => rules.find((r) => r.alert === alert)!.expr.trim();
    const target = 'job="swarmnet",instance="guest:9477",node="guest"';
    // minutes 0-2 the lowered state, 3-9 with the permanent entries, 10-19 filled; a sample a minute
    const STAGES = [['lowered', 3], ['permanent', 7], ['filled', 10]] as const;
    const labelText = (labels: Record<string, string>) => Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',');
    const series = (name: string, match: Record<string, string>) => ({
      series: `${name}{${target},${labelText(match)}}`,
      values: STAGES.map(([label, n]) => `${one(metricsOf(label), name, match)}x${n - 1}`).join(' '),
    });
    // each namespace's permanent entries, absent ('_') in a stage where the namespace has none
    const permanent = [...new Set(STAGES.flatMap(([label]) => pick(metricsOf(label), 'swarmnet_neighbour_entries', { state: 'permanent' })
      .map((x) => labelText(x.labels))))].map((labels) => ({
      series: `swarmnet_neighbour_entries{${target},${labels}}`,
      values: STAGES.map(([label, n]) => {
        const found = pick(metricsOf(label), 'swarmnet_neighbour_entries', { state: 'permanent' }).find((x) => labelText(x.labels) === labels);
        return Array.from({ length: n }, () => (found ? String(found.value) : '_')).join(' ');
      }).join(' '),
    }));
    expect(permanent.map((p) => p.series)).toContainEqual(expect.stringContaining('netns="nbperm"'));
    const raw = 'swarmnet_neighbour_table_entries / ignoring (level) swarmnet_neighbour_table_threshold{level="3"} > 0.9';
    const test = {
      rule_files: [RULES],
      evaluation_interval: '1m',
      tests: [{
        interval: '1m',
        input_series: [
          series('swarmnet_neighbour_table_entries', { family: 'ipv4' }),
          series('swarmnet_neighbour_table_fulls_total', { family: 'ipv4' }),
          ...['1', '2', '3'].map((level) => series('swarmnet_neighbour_table_threshold', { family: 'ipv4', level })),
          ...permanent,
        ],
        promql_expr_test: [
          { expr: `count by (family) (${expr('SwarmnetNeighbourTableOverflow')})`, eval_time: '9m', exp_samples: [] },
          { expr: `count by (family) (${expr('SwarmnetNeighbourTableOverflow')})`, eval_time: '12m', exp_samples: [{ labels: '{family="ipv4"}', value: 1 }] },
          // the permanent entries put the table's entries past gc_thresh3: counted raw, that would page
          { expr: `count by (family) (${raw})`, eval_time: '9m', exp_samples: [{ labels: '{family="ipv4"}', value: 1 }] },
          // the kernel refused nothing for them, and the shipped alert leaves them out
          { expr: `count by (family) (${expr('SwarmnetNeighbourTableNearFull')})`, eval_time: '9m', exp_samples: [] },
          { expr: `count by (family) (${expr('SwarmnetNeighbourTableNearFull')})`, eval_time: '12m', exp_samples: [{ labels: '{family="ipv4"}', value: 1 }] },
        ],
      }],
    };
    const dir = mkdtempSync(join(tmpdir(), 'swarmnet-nb-promtool-'));
    try {
      const file = join(dir, 'guest.test.yml');
      writeFileSync(file, JSON.stringify(test, null, 1));
      const out = execFileSync('/usr/bin/promtool', ['test', 'rules', file], { encoding: 'utf8' });
      expect(out).toContain('SUCCESS');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('in a real Prometheus scraping the guest\'s expositions in turn: quiet through the permanent entries, both alerts pending once the table overflowed', async () => {
    // the guest has no network to scrape: its three expositions are served here, one after the other
    let current = readOf('lowered').metrics;
    const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(current));
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const dir = mkdtempSync(join(tmpdir(), 'swarmnet-nb-prom-'));
    let prom: Prometheus | undefined;
    try {
      prom = await startPrometheus({
        dir,
        port: await freePort(),
        config: {
          global: { scrape_interval: '1s', scrape_timeout: '900ms', evaluation_interval: '1s' },
          rule_files: [RULES],
          scrape_configs: [{ job_name: 'swarmnet', static_configs: [{ targets: [`127.0.0.1:${(server.address() as AddressInfo).port}`], labels: { node: 'guest' } }] }],
        },
      });
      const p = prom;
      const active = async () => (await p.alerts()).filter((a) => a.labels.alertname?.startsWith('SwarmnetNeighbourTable') && a.state !== 'inactive')
        .map((a) => `${a.labels.alertname} ${a.labels.family}`).sort();
      const scraped = (expr: string) => waitFor(expr, async () => ((await p.series(expr)).length > 0 ? true : undefined), { timeoutMs: 30_000, intervalMs: 500 });
      await scraped('swarmnet_neighbour_table_threshold{level="3"} == 16');
      current = readOf('permanent').metrics;
      await scraped('swarmnet_neighbour_entries{netns="nbperm",state="permanent"} == 40');
      // evaluations over the permanent entries: the table's entries exceed gc_thresh3, nothing is pending
      await new Promise((ok) => setTimeout(ok, 5_000));
      expect((await p.series('swarmnet_neighbour_table_entries{family="ipv4"} > 16')).length).toBe(1);
      expect(await active()).toEqual([]);
      current = readOf('filled').metrics;
      const alerts = await waitFor('both neighbour alerts pending', async () => {
        const a = await active();
        return a.length === 2 ? a : undefined;
      }, { timeoutMs: 30_000, intervalMs: 500 });
      expect(alerts).toEqual(['SwarmnetNeighbourTableNearFull ipv4', 'SwarmnetNeighbourTableOverflow ipv4']);
    } finally {
      await prom?.stop();
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
