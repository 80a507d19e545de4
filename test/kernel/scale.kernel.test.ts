// At the size BENCHMARKS.md measures: 400 swarm-shaped namespaces (a bridge, a
// vxlan device with 18 remote MACs and 4 veth pairs each, as the benchmark
// builds them), about 72,000 series, served by the exporter process over
// loopback HTTP. What other clients make of that exposition: promtool's
// linter, the Python client's strict OpenMetrics parser, and gzip holding
// exactly the plain body of the same collection.
import { gunzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExporterProcess, type ScrapeReply, fakeDockerd } from '../../src/bench/exporter-process.js';
import { ensureNamespaces, teardown } from '../../src/bench/scrape-bench.js';
import { promtool, pythonParse } from '../harness/exposition.js';
import { parseProm } from '../harness/prom.js';
import { DIST_MAIN } from '../harness/paths.js';

const N = 400;
const prefix = `sws${process.pid}-`;
const sock = join(tmpdir(), `${prefix}docker.sock`);
const OPENMETRICS = 'application/openmetrics-text; version=1.0.0';
let dockerd: http.Server;
let exporter: ExporterProcess;

const bodyOf = (r: ScrapeReply) => (r.headers['content-encoding'] === 'gzip' ? gunzipSync(r.body) : r.body).toString('utf8');
const seriesLines = (text: string) => text.split('\n').filter((l) => l && !l.startsWith('#'));

beforeAll(async () => {
  ensureNamespaces(N, 4, prefix);
  dockerd = await fakeDockerd(sock);
  exporter = new ExporterProcess(['--netns.dir=/run/netns', '--netns.host=none', `--netns.exclude=^(?!${prefix}\\d+$)`, `--docker.host=unix://${sock}`], [], DIST_MAIN);
  await exporter.start();
}, 180_000);

afterAll(async () => {
  await exporter?.stop();
  dockerd?.closeAllConnections();
  dockerd?.close();
  teardown(prefix);
});

describe(`the exposition at ${N} namespaces`, () => {
  let plain: string;

  it('reads every namespace: its 10 interfaces (lo is left out by default), about 180 series a namespace', async () => {
    plain = bodyOf(await exporter.get('/metrics'));
    const samples = parseProm(plain);
    const up = samples.filter((s) => s.name === 'swarmnet_interface_up');
    expect(new Set(up.map((s) => s.labels.netns)).size).toBe(N);
    expect(up).toHaveLength(N * 10);
    expect(samples.filter((s) => s.name === 'swarmnet_netns_read_failures' && s.value !== 0)).toEqual([]);
    // VXLAN peers as programmed: 6 remote VTEPs in every namespace
    const peers = samples.filter((s) => s.name === 'swarmnet_vxlan_peers');
    expect(peers).toHaveLength(N);
    expect(peers.every((s) => s.value === 6)).toBe(true);
    const series = seriesLines(plain).length;
    expect(series).toBeGreaterThan(N * 170);
    expect(series).toBeLessThan(N * 190);
  });

  it('gzip holds exactly the plain body of the same collection, in either format', async () => {
    for (const accept of [undefined, OPENMETRICS]) {
      const base: Record<string, string> = accept ? { accept } : {};
      // concurrent scrapes share one collection: the two bodies must be the same bytes
      const [p, g] = await Promise.all([
        exporter.get('/metrics', base, true),
        exporter.get('/metrics', { ...base, 'accept-encoding': 'gzip' }, true),
      ]);
      expect(p.headers['content-encoding']).toBeUndefined();
      expect(g.headers['content-encoding']).toBe('gzip');
      expect(g.headers.vary).toMatch(/accept-encoding/i);
      expect(g.body.length).toBeLessThan(p.body.length / 10);
      expect(gunzipSync(g.body).equals(p.body), `${accept ?? 'text'}: gunzipped body differs from the plain one`).toBe(true);
    }
  });

  it('passes promtool check metrics without a complaint', () => {
    const r = promtool(plain);
    expect(r.error).toBeUndefined();
    expect({ status: r.status, output: r.output }).toEqual({ status: 0, output: '' });
  });

  it("parses with the Python client's strict OpenMetrics parser: every family and sample", async () => {
    const om = bodyOf(await exporter.get('/metrics', { accept: OPENMETRICS, 'accept-encoding': 'gzip' }));
    expect(om.endsWith('# EOF\n')).toBe(true);
    const r = pythonParse('openmetrics', om);
    expect(r.error).toBeUndefined();
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    const families = om.split('\n').filter((l) => l.startsWith('# TYPE ')).length;
    expect(JSON.parse(r.stdout)).toMatchObject({ families, samples: seriesLines(om).length });
  });
});
