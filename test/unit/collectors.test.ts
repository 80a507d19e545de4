// The netdev, fdb and vxlan collectors over the rtnl capture (test/fixtures/rtnl),
// checked against what iproute2 printed for the same namespace at the same moment
// (ip-link.json, bridge-fdb.json); and every collector reads only what it declares
// in `needs`.
import { describe, expect, it } from 'vitest';
import { allCollectors } from '../../src/collectors/index.js';
import { fdbCollector } from '../../src/collectors/fdb.js';
import { netdevCollector } from '../../src/collectors/netdev.js';
import type { Collector, Snapshot } from '../../src/collectors/types.js';
import { vxlanCollector } from '../../src/collectors/vxlan.js';
import type { NetnsRef } from '../../src/kernel/netns.js';
import { NEEDS, type Need, type NsSample } from '../../src/kernel/readers/types.js';
import type { LinkStatName } from '../../src/kernel/rtnl/link.js';
import { INTERFACE_STATS, interfaceInfo, interfaceMtu, interfaceStatMetrics, interfaceUp } from '../../src/metrics/catalog/kernel.js';
import { type Family, FamilySet, type Labels } from '../../src/metrics/family.js';
import { type IpLinkJson, bridgeFdbJson, capturedScene, ipLinkJson, ipvsFamily, rtnlData } from '../support/captures.js';
import { dockerViewOf, sampleOf, snapshotOf } from '../support/snapshot.js';

const ref: NetnsRef = { name: 'swnfix', kind: 'other', path: '/fixture/netns/swnfix' };
const data = rtnlData();
const ipLinks = ipLinkJson();
const bridgeFdb = bridgeFdbJson();

function collect(collectors: Collector[], samples: NsSample[] = [sampleOf(ref, data)]): { out: FamilySet; fam: (name: string) => Family | undefined } {
  const out = new FamilySet();
  const snap = snapshotOf(samples);
  for (const c of collectors) c.collect(snap, out);
  return { out, fam: (name) => out.all().find((f) => f.name === name) };
}
const values = (f: Family | undefined) => new Map((f?.samples ?? []).map((s) => [JSON.stringify(s.labels), Number(s.value)]));
const ifaceLabels = (iface: string): Labels => ({ netns: 'swnfix', netns_kind: 'other', network: '', service: '', task: '', interface: iface });

/** where ip(8)'s stats64 JSON (ip -s, one -s) shows a counter; undefined: it prints it only with -s -s or not at all */
const IP_JSON_KEY: Partial<Record<LinkStatName, ['rx' | 'tx', string]>> = {
  rx_bytes: ['rx', 'bytes'], rx_packets: ['rx', 'packets'], rx_errors: ['rx', 'errors'], rx_dropped: ['rx', 'dropped'],
  rx_over_errors: ['rx', 'over_errors'], multicast: ['rx', 'multicast'],
  tx_bytes: ['tx', 'bytes'], tx_packets: ['tx', 'packets'], tx_errors: ['tx', 'errors'], tx_dropped: ['tx', 'dropped'],
  tx_carrier_errors: ['tx', 'carrier_errors'], collisions: ['tx', 'collisions'],
};

describe('netdev collector on the rtnl capture', () => {
  it('emits every counter of every interface, equal to what ip -s -j link printed', () => {
    const { fam } = collect([netdevCollector({ extendedStats: true })]);
    let compared = 0;
    for (const m of interfaceStatMetrics) {
      const got = values(fam(m.def.name));
      expect([...got.keys()].sort(), m.def.name).toEqual(ipLinks.map((l) => JSON.stringify(ifaceLabels(l.ifname))).sort());
      for (const ip of ipLinks) {
        const v = got.get(JSON.stringify(ifaceLabels(ip.ifname)));
        const key = IP_JSON_KEY[m.field];
        if (key) {
          expect(v, `${m.def.name} ${ip.ifname}`).toBe(ip.stats64[key[0]][key[1]]);
          compared++;
        } else {
          // not in ip's one -s JSON: the decoded IFLA_STATS64 value
          expect(v, `${m.def.name} ${ip.ifname}`).toBe(data.links.find((l) => l.name === ip.ifname)!.stats![m.field]);
        }
      }
    }
    expect(compared).toBe(Object.keys(IP_JSON_KEY).length * ipLinks.length);
    // something moved at capture: the comparison is not all zeros
    expect(values(fam('swarmnet_interface_transmit_bytes_total')).get(JSON.stringify(ifaceLabels('veth0')))).toBeGreaterThan(0);
    expect(values(fam('swarmnet_interface_transmit_dropped_total')).get(JSON.stringify(ifaceLabels('vxlan0')))).toBeGreaterThan(0);
  });

  it('reports state, MTU and facts as ip link printed them', () => {
    const { fam } = collect([netdevCollector({ extendedStats: false })]);
    const up = values(fam(interfaceUp.name));
    const mtu = values(fam(interfaceMtu.name));
    const info = fam(interfaceInfo.name)!.samples;
    expect(info).toHaveLength(ipLinks.length);
    for (const ip of ipLinks) {
      const key = JSON.stringify(ifaceLabels(ip.ifname));
      expect(mtu.get(key), ip.ifname).toBe(ip.mtu);
      // a device without carrier semantics (vxlan, loopback) reports UNKNOWN: then the admin flag decides
      const isUp = ip.operstate === 'UP' || (ip.operstate === 'UNKNOWN' && (ip as IpLink).flags.includes('UP'));
      expect(up.get(key), ip.ifname).toBe(isUp ? 1 : 0);
      const facts = info.find((s) => s.labels.interface === ip.ifname)!;
      expect(facts.value).toBe(1);
      expect(facts.labels).toMatchObject({
        kind: ip.linkinfo?.info_kind ?? '', master: ip.master ?? '', operstate: ip.operstate.toLowerCase(), address: ip.address,
        // both ends of the veth pair live in this namespace: no cross-namespace peer
        peer_netns: '', peer_interface: '',
      });
    }
    // the capture's loopback was never brought up; its vxlan device is UNKNOWN and up
    expect(up.get(JSON.stringify(ifaceLabels('lo')))).toBe(0);
    expect(up.get(JSON.stringify(ifaceLabels('vxlan0')))).toBe(1);
  });

  it('emits the physical-layer counters only with extended stats', () => {
    const extended = new Set(INTERFACE_STATS.filter((s) => s.extended).map((s) => `swarmnet_interface_${s.name}`));
    expect(extended.size).toBeGreaterThan(0);
    const names = (ext: boolean) => collect([netdevCollector({ extendedStats: ext })]).out.all().filter((f) => f.size > 0).map((f) => f.name);
    const without = names(false);
    const withExt = names(true);
    expect(without.filter((n) => extended.has(n))).toEqual([]);
    expect(withExt.filter((n) => extended.has(n)).sort()).toEqual([...extended].sort());
    expect(withExt.filter((n) => !extended.has(n))).toEqual(without);
  });

  it('shares one interned labels object across the families of an interface', () => {
    const { out } = collect([netdevCollector({ extendedStats: true })]);
    const perIface = out.all().filter((f) => f.def.labels.length === 6 && f.def.labels.at(-1) === 'interface');
    expect(perIface.length).toBe(interfaceStatMetrics.length + 2); // counters, up, mtu
    for (const ip of ipLinks) {
      const objs = new Set(perIface.map((f) => f.labelSets.find((l) => l.interface === ip.ifname)));
      expect(objs.size, ip.ifname).toBe(1);
      const [labels] = objs;
      expect(Object.isFrozen(labels)).toBe(true);
      expect(labels).toEqual(ifaceLabels(ip.ifname));
    }
  });

  it('works with only the links read (its one need)', () => {
    expect(netdevCollector({ extendedStats: true }).needs).toEqual(['links']);
    const full = collect([netdevCollector({ extendedStats: true })]);
    const linksOnly = collect([netdevCollector({ extendedStats: true })], [sampleOf(ref, { links: data.links })]);
    const dump = (s: FamilySet) => s.all().map((f) => [f.name, f.samples.map((x) => [x.labels, x.value])]);
    expect(dump(linksOnly.out)).toEqual(dump(full.out));
  });
});

interface IpLink extends IpLinkJson { flags: string[] }

/** bridge(8)'s state word as the collectors name FDB entry states */
const fdbState = (state: string) => (state === 'permanent' ? 'permanent' : state === 'static' ? 'static' : 'dynamic');

describe('fdb collector on the rtnl capture', () => {
  it("counts a bridge's entries by state as bridge -j fdb lists them", () => {
    const { fam } = collect([fdbCollector]);
    const expected = new Map<string, number>();
    for (const e of bridgeFdb) {
      if (!e.master) continue; // a device's own (self) list, not the bridge's database
      const key = JSON.stringify({ netns: 'swnfix', netns_kind: 'other', network: '', service: '', task: '', bridge: e.master, state: fdbState(e.state) });
      expected.set(key, (expected.get(key) ?? 0) + 1);
    }
    expect(expected.size).toBeGreaterThan(1);
    expect(values(fam('swarmnet_bridge_fdb_entries'))).toEqual(expected);
  });

  it('needs the links (to know which master is a bridge) and the FDB, nothing else', () => {
    expect([...fdbCollector.needs].sort()).toEqual(['fdb', 'links']);
    const { fam } = collect([fdbCollector], [sampleOf(ref, { links: data.links, fdb: data.fdb })]);
    expect(fam('swarmnet_bridge_fdb_entries')!.size).toBeGreaterThan(0);
    // without the links no master resolves to a bridge
    expect(collect([fdbCollector], [sampleOf(ref, { fdb: data.fdb })]).fam('swarmnet_bridge_fdb_entries')?.size ?? 0).toBe(0);
  });
});

describe('vxlan collector on the rtnl capture', () => {
  const vx = ipLinks.find((l) => l.linkinfo?.info_kind === 'vxlan')!;
  const own = bridgeFdb.filter((e) => e.ifname === vx.ifname && e.flags.includes('self'));

  it('counts as peers the distinct dst of the device entries bridge fdb printed', () => {
    const { fam } = collect([vxlanCollector]);
    const peers = new Set(own.map((e) => e.dst).filter((d) => d !== undefined));
    expect(peers.size).toBe(3);
    expect(fam('swarmnet_vxlan_peers')!.samples).toEqual([
      { labels: { ...ifaceLabels(vx.ifname), vni: String(vx.linkinfo!.info_data!.id) }, value: peers.size },
    ]);
  });

  it("counts the device's own entries by state, every state present", () => {
    const { fam } = collect([vxlanCollector]);
    const byState = values(fam('swarmnet_vxlan_fdb_entries'));
    const vni = String(vx.linkinfo!.info_data!.id);
    for (const state of ['permanent', 'static', 'dynamic']) {
      expect(byState.get(JSON.stringify({ ...ifaceLabels(vx.ifname), vni, state })), state)
        .toBe(own.filter((e) => fdbState(e.state) === state).length);
    }
    expect(byState.size).toBe(3);
  });

  it('reports the device parameters ip -d link printed', () => {
    const { fam } = collect([vxlanCollector]);
    const d = vx.linkinfo!.info_data!;
    expect(fam('swarmnet_vxlan_info')!.samples).toEqual([{
      labels: { ...ifaceLabels(vx.ifname), vni: String(d.id), port: String(d.port), local: d.local, learning: String(d.learning) },
      value: 1,
    }]);
  });

  it('carries the same interface label values as netdev (from the one interned object)', () => {
    const { out } = collect([netdevCollector({ extendedStats: false }), vxlanCollector]);
    const netdevLabels = out.all().find((f) => f.name === interfaceUp.name)!.labelSets.find((l) => l.interface === vx.ifname)!;
    for (const name of ['swarmnet_vxlan_info', 'swarmnet_vxlan_fdb_entries', 'swarmnet_vxlan_peers']) {
      for (const l of out.all().find((f) => f.name === name)!.labelSets) {
        for (const [k, v] of Object.entries(netdevLabels)) expect(l[k], `${name} ${k}`).toBe(v);
      }
    }
  });

  it('needs the links (to find vxlan devices) and the FDB, nothing else', () => {
    expect([...vxlanCollector.needs].sort()).toEqual(['fdb', 'links']);
    const { fam } = collect([vxlanCollector], [sampleOf(ref, { links: data.links, fdb: data.fdb })]);
    expect(fam('swarmnet_vxlan_peers')!.samples[0]!.value).toBe(3);
  });
});

describe("every collector reads only what its needs declare, and all of it", () => {
  // the golden test's scene: node1's namespaces, an IPVS table, the rtnl capture's namespace
  const scene = capturedScene(Date.UTC(2025, 0, 15));

  /** the samples as seen through a guard that records each NsData key read, and refuses undeclared ones */
  function guarded(needs: readonly Need[], read: Set<Need>): NsSample[] {
    return scene.samples.map((s) => new Proxy(s, {
      get(target, prop, receiver) {
        if ((NEEDS as readonly PropertyKey[]).includes(prop)) {
          const need = prop as Need;
          if (!needs.includes(need)) throw new Error(`read ${need} without declaring it`);
          read.add(need);
        }
        return Reflect.get(target, prop, receiver);
      },
    }));
  }

  for (const collector of allCollectors({ netdevExtendedStats: true })) {
    it(`${collector.name}: needs [${collector.needs.join(', ')}]`, () => {
      const read = new Set<Need>();
      const base = snapshotOf(scene.samples, {
        names: scene.names,
        docker: dockerViewOf(scene.state),
        kernel: { ipvs: { available: true, familyId: ipvsFamily().id } },
      });
      // veth pairing happens before the collectors, over whatever was read
      const samples = guarded(collector.needs, read);
      const snap: Snapshot = { ...base, samples, byNetns: new Map(samples.map((s) => [s.ref.name, s])) };
      const out = new FamilySet();
      collector.collect(snap, out);
      expect(out.all().some((f) => f.size > 0)).toBe(true);
      expect([...read].sort()).toEqual([...collector.needs].sort());
    });
  }
});
