// The neighbour table codecs against replies captured from a real kernel
// (test/fixtures/neigh, see its README), compared with what iproute2 printed in
// the same moment: `ip -s -j ntable show` and `ip -j neigh show nud all`.
import { describe, expect, it } from 'vitest';
import { neighbourCollector } from '../../src/collectors/neighbour.js';
import { AF_INET, AF_INET6, NUD_PERMANENT, NUD_STALE, countNeighbours, nudStateName } from '../../src/kernel/rtnl/neigh.js';
import { decodeNeighTables, getNeighTableRequest } from '../../src/kernel/rtnl/neightbl.js';
import { DecodeError } from '../../src/kernel/nl/attr.js';
import { FamilySet } from '../../src/metrics/family.js';
import { renderPrometheus } from '../../src/metrics/render.js';
import { captureMessages, fixtureJson, neighCapture } from '../support/captures.js';
import { sampleOf, snapshotOf } from '../support/snapshot.js';

interface NtableJson { family: string; name: string; dev?: string; entries?: number; thresh1?: number; thresh2?: number; thresh3?: number; gc_interval?: number; [k: string]: unknown }
interface NeighJson { dst: string; dev: string; state: string[] }

const tables = () => decodeNeighTables(captureMessages(neighCapture('neightbl'), 'RTM_GETNEIGHTBL'));
const counts = () => countNeighbours(captureMessages(neighCapture('neigh-unspec'), 'RTM_GETNEIGH(unspec)'));
const ntable = fixtureJson<NtableJson[]>('neigh', 'ip-ntable.json').filter((t) => t.entries !== undefined);
const ipNeigh = fixtureJson<NeighJson[]>('neigh', 'ip-neigh.json');

const STAT_KEYS: Record<string, string> = {
  allocs: 'allocs', destroys: 'destroys', hashGrows: 'hash_grows', resFailed: 'res_failed', lookups: 'lookups', hits: 'hits',
  rcvProbesMcast: 'rcv_probes_mcast', rcvProbesUcast: 'rcv_probes_ucast', periodicGcRuns: 'periodic_gc_runs',
  forcedGcRuns: 'forced_gc_runs', tableFulls: 'table_fulls',
};

describe('RTM_GETNEIGHTBL codec', () => {
  it('builds a dump request of struct ndtmsg', () => {
    const req = getNeighTableRequest(7, AF_INET);
    const v = new DataView(req.buffer);
    expect(req.length).toBe(20);
    expect([v.getUint32(0, true), v.getUint16(4, true), v.getUint16(6, true), v.getUint32(8, true), req[16]]).toEqual([20, 66, 0x301, 7, AF_INET]);
  });

  it('decodes the ARP and ND tables as ip -s ntable shows them, skipping the per-device messages', () => {
    const got = tables();
    expect(got.map((t) => t.name).sort()).toEqual(['arp_cache', 'ndisc_cache']);
    expect(got.length).toBe(ntable.length);
    for (const t of got) {
      const ip = ntable.find((x) => x.name === t.name)!;
      expect(t.family).toBe(ip.family === 'inet' ? AF_INET : AF_INET6);
      expect([t.entries, t.thresh1, t.thresh2, t.thresh3, t.gcIntervalMs]).toEqual([ip.entries, ip.thresh1, ip.thresh2, ip.thresh3, ip.gc_interval]);
      for (const [field, key] of Object.entries(STAT_KEYS)) expect(t.stats[field as keyof typeof t.stats], `${t.name} ${key}`).toBe(ip[key]);
    }
  });

  it('reports a truncated ndt_config, not a guess', () => {
    // one table message: ndtmsg + NDTA_CONFIG of 4 bytes
    const payload = new Uint8Array([2, 0, 0, 0, 8, 0, 5, 0, 1, 2, 3, 4]);
    expect(() => decodeNeighTables([{ type: 64, flags: 0, seq: 1, port: 1, payload }])).toThrow(DecodeError);
  });
});

describe('RTM_GETNEIGH AF_UNSPEC counts', () => {
  it('counts every entry by family and state exactly as ip -j neigh show nud all lists them', () => {
    const fromIp = new Map<string, number>();
    for (const n of ipNeigh) {
      const key = `${n.dst.includes(':') ? AF_INET6 : AF_INET}/${n.state.map((s) => s.toLowerCase()).join('_')}`;
      fromIp.set(key, (fromIp.get(key) ?? 0) + 1);
    }
    const got = new Map(counts().map((c) => [`${c.family}/${c.state}`, c.count]));
    expect(got).toEqual(fromIp);
    expect(got.get(`${AF_INET}/permanent`)).toBe(2);
    expect(got.get(`${AF_INET6}/stale`)).toBe(1);
  });

  it('names states as ip does', () => {
    expect([nudStateName(0), nudStateName(NUD_PERMANENT), nudStateName(NUD_STALE | NUD_PERMANENT)]).toEqual(['none', 'permanent', 'stale_permanent']);
  });
});

describe('neighbour collector', () => {
  const host = sampleOf({ name: 'host', kind: 'host', path: null }, { neighTables: tables(), neighCounts: [] });
  const ns = sampleOf({ name: 'a1b2c3d4e5f6', kind: 'sandbox', path: '/x' }, { neighCounts: counts() });
  const fams = new FamilySet();
  neighbourCollector.collect(snapshotOf([host, ns]), fams);
  const text = renderPrometheus(fams.all()).toString('utf8');

  it('exports the global tables once, by family and level', () => {
    const arp = ntable.find((t) => t.name === 'arp_cache')!;
    expect(text).toContain(`swarmnet_neighbour_table_entries{family="ipv4"} ${arp.entries}`);
    expect(text).toContain(`swarmnet_neighbour_table_threshold{family="ipv4",level="3"} ${arp.thresh3}`);
    expect(text).toContain(`swarmnet_neighbour_table_fulls_total{family="ipv6"} ${ntable.find((t) => t.name === 'ndisc_cache')!.table_fulls}`);
    expect(text).toContain(`swarmnet_neighbour_table_forced_gc_runs_total{family="ipv4"} ${arp.forced_gc_runs}`);
  });

  it('exports each namespace\'s entries by family and state, only the states present', () => {
    expect(text).toContain('swarmnet_neighbour_entries{netns="a1b2c3d4e5f6",netns_kind="sandbox",network="",service="",task="",family="ipv4",state="permanent"} 2');
    expect(text).toContain('family="ipv6",state="noarp"} 2');
    expect(text).not.toContain('state="reachable"');
    expect(text).not.toMatch(/swarmnet_neighbour_entries\{netns="host"/);
  });
});
