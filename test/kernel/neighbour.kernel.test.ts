// The neighbour readers against this kernel's own tools: namespaces of this test
// with IPv4 and IPv6 neighbours in several states, counted by the exporter and by
// `ip -j neigh show nud all`; the global ARP/ND tables against `ip -s -j ntable
// show`. The thresholds are global: this test only reads them (the guest kernel
// of test/vm/neighbour.vm.test.ts changes them).
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { neighbourCollector } from '../../src/collectors/neighbour.js';
import { loadNative } from '../../src/kernel/native.js';
import type { NetnsRef } from '../../src/kernel/netns.js';
import { createReaders, readersFor } from '../../src/kernel/readers/index.js';
import type { NsSample } from '../../src/kernel/readers/types.js';
import { sampleAll } from '../../src/kernel/sampler.js';
import { FamilySet } from '../../src/metrics/family.js';
import { renderPrometheus } from '../../src/metrics/render.js';
import { TestNamespaces, sh } from '../helpers/netns.js';
import { parseProm, pick } from '../helpers/prom.js';
import { snapshotOf } from '../support/snapshot.js';

const prefix = `swnb${process.pid}-`;
const nss = new TestNamespaces(prefix);
const native = loadNative();
const readers = readersFor(createReaders(), neighbourCollector.needs);
const HOST: NetnsRef = { name: 'host', kind: 'host', path: null };
let refs: NetnsRef[] = [];

interface NtableJson { family: string; name: string; entries?: number; thresh1?: number; thresh2?: number; thresh3?: number; table_fulls?: number; forced_gc_runs?: number }
interface NeighJson { dst: string; state: string[] }

const ntable = (): NtableJson[] => (JSON.parse(sh('ip -s -j ntable show')) as NtableJson[]).filter((t) => t.entries !== undefined);
const ipNeighCounts = (ns: string): Map<string, number> => {
  const m = new Map<string, number>();
  for (const n of JSON.parse(sh(`ip -n ${ns} -j neigh show nud all`)) as NeighJson[]) {
    const key = `${n.dst.includes(':') ? 'ipv6' : 'ipv4'}/${n.state.map((s) => s.toLowerCase()).join('_')}`;
    m.set(key, (m.get(key) ?? 0) + 1);
  }
  return m;
};
const read = (which: NetnsRef[]): Promise<NsSample[]> =>
  sampleAll(native, which, { concurrency: 2, timeoutMs: 2000, readers }, performance.now() + 10_000);

function build(suffix: string, v4: Array<[string, string]>, v6: Array<[string, string]>): string {
  const ns = nss.add(suffix);
  sh(`ip netns exec ${ns} sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0
ip -n ${ns} link add v0 type veth peer name v1
ip -n ${ns} addr add 10.77.0.1/16 dev v0 && ip -n ${ns} addr add 2001:db8::1/64 dev v0 nodad
ip -n ${ns} link set v0 up && ip -n ${ns} link set v1 up`);
  const lines = [
    ...v4.map(([state, lladdr], i) => `neigh add 10.77.${(10 + i) >> 8}.${(10 + i) & 255} ${lladdr ? `lladdr ${lladdr}` : ''} dev v0 nud ${state}`),
    ...v6.map(([state, lladdr], i) => `neigh add 2001:db8::${(10 + i).toString(16)} ${lladdr ? `lladdr ${lladdr}` : ''} dev v0 nud ${state}`),
  ];
  const batch = join(tmpdir(), `${ns}.batch`);
  writeFileSync(batch, lines.join('\n') + '\n');
  sh(`ip -n ${ns} -batch ${batch}`);
  rmSync(batch);
  return ns;
}

beforeAll(() => {
  const mac = (i: number) => `02:42:c6:33:65:${i.toString(16).padStart(2, '0')}`;
  const a = build('a', [['permanent', mac(1)], ['permanent', mac(2)], ['stale', mac(3)], ['reachable', mac(4)], ['failed', ''], ['noarp', mac(5)]],
    [['permanent', mac(6)], ['stale', mac(7)], ['delay', mac(8)]]);
  // many entries in one namespace: the dump spans several datagrams
  const b = build('b', Array.from({ length: 300 }, (_, i) => ['permanent', mac(i % 250)] as [string, string]), [['probe', mac(9)]]);
  refs = [HOST, ...[a, b].map((n): NetnsRef => ({ name: n, kind: 'other', path: `/run/netns/${n}` }))];
});
afterAll(() => nss.destroy());

describe('neighbour readers on this kernel', () => {
  it('count every namespace\'s entries by family and state as ip -j neigh show nud all does', async () => {
    // IPv6 adds entries of its own a moment after links come up (multicast, noarp):
    // read until ip(8) reads the same before and after ours, then they must agree
    const names = refs.slice(1).map((r) => r.name);
    let samples = await read(refs.slice(1));
    let kernel = new Map(names.map((n) => [n, ipNeighCounts(n)]));
    for (let attempt = 1; attempt < 20; attempt++) {
      const before = JSON.stringify(names.map((n) => [...ipNeighCounts(n)]));
      samples = await read(refs.slice(1));
      kernel = new Map(names.map((n) => [n, ipNeighCounts(n)]));
      if (JSON.stringify(names.map((n) => [...kernel.get(n)!])) === before) break;
      await new Promise((ok) => setTimeout(ok, 200));
    }
    for (const s of samples) {
      expect(s.error, s.ref.name).toBeUndefined();
      expect(s.readerErrors, s.ref.name).toBeUndefined();
      const got = new Map(s.neighCounts!.map((c) => [`${c.family === 2 ? 'ipv4' : 'ipv6'}/${c.state}`, c.count]));
      expect(got, s.ref.name).toEqual(kernel.get(s.ref.name));
      expect(s.neighTables, 'tables are read in the host namespace only').toBeUndefined();
    }
    const b = samples.find((s) => s.ref.name === `${prefix}b`)!;
    expect(b.neighCounts!.find((c) => c.family === 2 && c.state === 'permanent')?.count).toBe(300);
  });

  it('read the global ARP and ND tables as ip -s ntable shows them', async () => {
    // entries move as other namespaces' neighbours come and go: retry until ip reads the same before and after
    for (let attempt = 1; ; attempt++) {
      const before = ntable();
      const [host] = await read([HOST]);
      const after = ntable();
      if (JSON.stringify(before) !== JSON.stringify(after) && attempt < 20) continue;
      expect(host!.error).toBeUndefined();
      const tables = host!.neighTables!;
      expect(tables.map((t) => t.name).sort()).toEqual(['arp_cache', 'ndisc_cache']);
      for (const t of tables) {
        const [b, a] = [before, after].map((x) => x.find((y) => y.name === t.name)!);
        expect([t.thresh1, t.thresh2, t.thresh3]).toEqual([a!.thresh1, a!.thresh2, a!.thresh3]);
        for (const [mine, key] of [[t.entries, 'entries'], [t.stats.tableFulls, 'table_fulls'], [t.stats.forcedGcRuns, 'forced_gc_runs']] as const) {
          const lo = Math.min(b![key]!, a![key]!);
          const hi = Math.max(b![key]!, a![key]!);
          expect(mine, `${t.name} ${key}`).toBeGreaterThanOrEqual(lo);
          expect(mine, `${t.name} ${key}`).toBeLessThanOrEqual(hi);
        }
      }
      return;
    }
  });

  it('export it: global series once, entries per namespace, summing to what ip lists', async () => {
    // read until ip(8) reads the same before and after ours (IPv6 adds entries of its own now and then)
    const names = refs.slice(1).map((r) => r.name);
    const totals = () => JSON.stringify(names.map((n) => [...ipNeighCounts(n).values()].reduce((a, v) => a + v, 0)));
    let samples = await read(refs);
    for (let attempt = 1; attempt < 20; attempt++) {
      const before = totals();
      samples = await read(refs);
      if (totals() === before) break;
      await new Promise((ok) => setTimeout(ok, 200));
    }
    const out = new FamilySet();
    neighbourCollector.collect(snapshotOf(samples), out);
    const prom = parseProm(renderPrometheus(out.all()).toString('utf8'));
    for (const family of ['ipv4', 'ipv6']) {
      expect(pick(prom, 'swarmnet_neighbour_table_threshold', { family }).map((s) => s.labels.level).sort()).toEqual(['1', '2', '3']);
      expect(pick(prom, 'swarmnet_neighbour_table_entries', { family })).toHaveLength(1);
      expect(pick(prom, 'swarmnet_neighbour_table_fulls_total', { family })).toHaveLength(1);
      expect(pick(prom, 'swarmnet_neighbour_table_forced_gc_runs_total', { family })).toHaveLength(1);
    }
    const arp3 = pick(prom, 'swarmnet_neighbour_table_threshold', { family: 'ipv4', level: '3' })[0]!.value;
    expect(arp3).toBe(Number(sh('cat /proc/sys/net/ipv4/neigh/default/gc_thresh3').trim()));
    for (const ns of refs.slice(1).map((r) => r.name)) {
      const total = pick(prom, 'swarmnet_neighbour_entries', { netns: ns }).reduce((n, s) => n + s.value, 0);
      expect(total, ns).toBe([...ipNeighCounts(ns).values()].reduce((n, v) => n + v, 0));
    }
  });
});
