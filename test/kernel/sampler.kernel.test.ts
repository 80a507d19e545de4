// The exporter's numbers against the kernel's own (ip -s -s -j link, bridge -j fdb),
// on a topology this test builds in namespaces of its own.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INTERFACE_STATS } from '../../src/metrics/catalog/kernel.js';
import { type NativeReply, loadNative } from '../../src/kernel/native.js';
import { NETLINK_ROUTE, parseReply } from '../../src/kernel/nl/message.js';
import { decodeLinks, getLinkRequest } from '../../src/kernel/rtnl/link.js';
import { createReaders } from '../../src/kernel/readers/index.js';
import { sampleAll } from '../../src/kernel/sampler.js';
import { one, parseProm, pick, type PromSample } from '../helpers/prom.js';
import { type IpLinkJson, TestNamespaces, bridgeFdb, ipLinks, sh } from '../helpers/netns.js';
import { testExporter } from '../helpers/exporter.js';
import { openFds } from '../harness/processes.js';

const prefix = `swk${process.pid}-`;
const nss = new TestNamespaces(prefix);
const OVERLAY = `${prefix}ov`;
const HOSTS = [1, 2, 3];
const REMOTES = ['203.0.113.2', '203.0.113.3', '203.0.113.4', '203.0.113.5'];

// the ip(8) JSON key of each counter the exporter reports
const ipKey = (field: string): [dir: 'rx' | 'tx', key: string] => {
  const [dir, ...rest] = field.split('_');
  const key = rest.join('_') || 'multicast';
  return field === 'multicast' ? ['rx', 'multicast'] : field === 'collisions' ? ['tx', 'collisions'] : [dir as 'rx' | 'tx', key];
};

function build() {
  nss.add('ov');
  sh(`ip -n ${OVERLAY} link add br0 type bridge
ip -n ${OVERLAY} addr add 198.51.100.254/24 dev br0
ip -n ${OVERLAY} link set br0 up
ip -n ${OVERLAY} link add vxlan0 type vxlan id 4101 dstport 4789 nolearning local 203.0.113.1
ip -n ${OVERLAY} link set vxlan0 master br0 up`);
  // five MACs behind four remote VTEPs (two endpoints on one remote node)
  REMOTES.forEach((ip, i) => sh(`ip netns exec ${OVERLAY} bridge fdb add 02:42:c6:33:71:0${i} dev vxlan0 dst ${ip} self permanent`));
  sh(`ip netns exec ${OVERLAY} bridge fdb add 02:42:c6:33:71:09 dev vxlan0 dst ${REMOTES[0]} self permanent`);
  for (const h of HOSTS) {
    const host = nss.add(`h${h}`);
    sh(`ip -n ${OVERLAY} link add veth${h} type veth peer name eth0 netns ${host}
ip -n ${OVERLAY} link set veth${h} master br0 up
ip -n ${host} addr add 198.51.100.${h}/24 dev eth0
ip -n ${host} link set eth0 up`);
  }
}

function traffic(count: number, size: number) {
  for (const h of HOSTS) {
    const to = (h % HOSTS.length) + 1;
    sh(`ip netns exec ${prefix}h${h} ping -q -c ${count} -i 0.01 -s ${size} -W 1 198.51.100.${to}`);
  }
}

async function scrapeSamples(): Promise<PromSample[]> {
  const { metrics } = exporter!;
  return parseProm((await metrics()).body);
}

const statsOf = (links: IpLinkJson[]) => JSON.stringify(links.map((l) => [l.ifname, l.stats64]));

/**
 * Scrape, bracketed by the kernel's own readings of every namespace. A stray
 * packet (an ARP probe when a neighbour entry ages) may land between two
 * readings: retry until the kernel reads the same before and after our scrape,
 * then the numbers must be equal. Should the links never be quiet, every
 * counter must at least lie between the two readings.
 */
async function scrapeAgainstKernel(): Promise<PromSample[]> {
  for (let attempt = 1; ; attempt++) {
    const before = new Map(nss.names.map((ns) => [ns, ipLinks(ns)]));
    const samples = await scrapeSamples();
    const after = new Map(nss.names.map((ns) => [ns, ipLinks(ns)]));
    const quiet = nss.names.every((ns) => statsOf(before.get(ns)!) === statsOf(after.get(ns)!));
    if (quiet || attempt === 10) {
      for (const ns of nss.names) compareWithKernel(samples, ns, before.get(ns)!, after.get(ns)!);
      return samples;
    }
    await new Promise((ok) => setTimeout(ok, 300));
  }
}

function compareWithKernel(samples: PromSample[], ns: string, before: IpLinkJson[], after: IpLinkJson[]) {
  expect(before.length).toBeGreaterThan(1);
  const later = new Map(after.map((l) => [l.ifname, l]));
  for (const l of before) {
    for (const stat of INTERFACE_STATS) {
      const [dir, key] = ipKey(stat.field);
      const low = (l.stats64[dir] as unknown as Record<string, number | undefined>)[key];
      if (low === undefined) continue; // ip(8) does not print this field
      const high = (later.get(l.ifname)!.stats64[dir] as unknown as Record<string, number | undefined>)[key]!;
      const ours = one(samples, `swarmnet_interface_${stat.name}`, { netns: ns, interface: l.ifname }).value;
      const what = `${ns}/${l.ifname} ${stat.name}`;
      if (low === high) expect(ours, what).toBe(low);
      else expect(ours >= low && ours <= high, `${what}: ${ours} not within the kernel's ${low}..${high}`).toBe(true);
    }
    expect(one(samples, 'swarmnet_interface_mtu_bytes', { netns: ns, interface: l.ifname }).value).toBe(l.mtu);
    const info = one(samples, 'swarmnet_interface_info', { netns: ns, interface: l.ifname });
    expect(info.labels.kind).toBe(l.linkinfo?.info_kind ?? '');
    expect(info.labels.master).toBe(l.master ?? '');
    expect(info.labels.operstate).toBe(l.operstate.toLowerCase());
  }
}

let exporter: Awaited<ReturnType<typeof testExporter>> | undefined;
let scratch: string;

beforeAll(async () => {
  build();
  scratch = mkdtempSync(join(tmpdir(), 'swk-'));
  exporter = await testExporter({ netnsDirs: ['/run/netns'], netnsFilter: (r) => r.name.startsWith(prefix) });
});
afterAll(async () => {
  await exporter?.app.close();
  nss.destroy();
  rmSync(scratch, { recursive: true, force: true });
});

describe('interface counters', () => {
  it('equal the kernel\'s after traffic, in every namespace, for every field ip(8) prints', async () => {
    traffic(5, 56);
    const before = await scrapeAgainstKernel();
    // counters moved: the host ends sent and received what ping sent
    expect(one(before, 'swarmnet_interface_transmit_packets_total', { netns: `${prefix}h1`, interface: 'eth0' }).value).toBeGreaterThanOrEqual(5);
    traffic(20, 1200);
    const after = await scrapeAgainstKernel();
    const rxBefore = one(before, 'swarmnet_interface_receive_bytes_total', { netns: OVERLAY, interface: 'veth2' }).value;
    const rxAfter = one(after, 'swarmnet_interface_receive_bytes_total', { netns: OVERLAY, interface: 'veth2' }).value;
    expect(rxAfter - rxBefore).toBeGreaterThanOrEqual(20 * 1200);
  });

  it('pairs each bridge port with the namespace and interface at the other end of its veth', async () => {
    const samples = await scrapeSamples();
    for (const h of HOSTS) {
      const port = one(samples, 'swarmnet_interface_info', { netns: OVERLAY, interface: `veth${h}` });
      expect(port.labels).toMatchObject({ kind: 'veth', master: 'br0', peer_netns: `${prefix}h${h}`, peer_interface: 'eth0' });
      const end = one(samples, 'swarmnet_interface_info', { netns: `${prefix}h${h}`, interface: 'eth0' });
      expect(end.labels).toMatchObject({ peer_netns: OVERLAY, peer_interface: `veth${h}` });
    }
  });
});

describe('one trip per namespace', () => {
  const sockets = () => openFds().filter((l) => l.startsWith('socket:')).length;

  it('enters each namespace once per scrape, for links, FDB and neighbours together, and keeps no socket', async () => {
    const native = loadNative();
    const openBefore = sockets();
    const before = native.counters().nsEntries;
    const samples = await scrapeSamples();
    const entered = native.counters().nsEntries - before;
    // every namespace of this test was read (it has series) and entered exactly once
    for (const ns of nss.names) expect(pick(samples, 'swarmnet_interface_up', { netns: ns }).length, ns).toBeGreaterThan(0);
    expect(entered).toBe(nss.names.length);
    expect(sockets()).toBe(openBefore);
  });

  it('openMany gives each namespace of a batch what open() gives it, and fails a bad entry alone', async () => {
    const native = loadNative();
    const openBefore = sockets();
    const linksOf = (r: NativeReply | undefined, port: number) => {
      if (!(r instanceof Uint8Array)) throw new Error(`no reply: ${JSON.stringify(r)}`);
      return decodeLinks(parseReply(r, { seq: 7, port }, 'RTM_GETLINK')).map((l) => [l.name, l.index, l.mtu]);
    };
    const paths = nss.names.map((n) => `/run/netns/${n}`);
    const plainFile = join(scratch, 'not-a-namespace');
    writeFileSync(plainFile, '');
    const entry = (path: string): Parameters<typeof native.open> => [path, [NETLINK_ROUTE], 2000, null, [[NETLINK_ROUTE, getLinkRequest(7)]]];
    const batch = await native.openMany([...paths.map(entry), entry('/run/netns/swk-gone-nowhere'), entry(plainFile)]);
    expect(batch).toHaveLength(paths.length + 2);
    for (const [i, path] of paths.entries()) {
      const alone = await native.open(...entry(path));
      const together = batch[i]!;
      if ('errno' in alone || 'errno' in together) throw new Error(`${path}: ${JSON.stringify([alone, together])}`);
      // the same interfaces, decoded from each reply, and ip(8) agrees
      expect(linksOf(together.replies?.[0], together.ports[0]!)).toEqual(linksOf(alone.replies?.[0], alone.ports[0]!));
      expect(linksOf(together.replies?.[0], together.ports[0]!).map(([name]) => name).sort())
        .toEqual(ipLinks(nss.names[i]!).map((l) => l.ifname).sort());
      native.close(alone.handle);
      native.close(together.handle);
    }
    expect(batch[paths.length]).toMatchObject({ errno: 'ENOENT', namespace: true });
    expect(batch[paths.length + 1]).toMatchObject({ errno: 'EINVAL', syscall: 'nsfs', namespace: true });
    expect(sockets()).toBe(openBefore);
    // what the addon refuses, it refuses before any namespace is entered
    const entries = native.counters().nsEntries;
    expect(() => native.openMany([])).toThrow(TypeError);
    expect(() => native.openMany(Array.from({ length: native.maxBatch + 1 }, () => entry(paths[0]!)))).toThrow(/maxBatch/);
    expect(() => native.openMany([entry(paths[0]!), [paths[0]!, [], 2000] as never])).toThrow(/1 to 4 protocols/);
    expect(native.counters().nsEntries).toBe(entries);
  });

  it('openMany enters no namespace of its batch once its budget is spent, and says so for each', async () => {
    const native = loadNative();
    const openBefore = sockets();
    const before = native.counters().nsEntries;
    const path = `/run/netns/${nss.names[0]}`;
    // 200 openings take far longer than 1 ms: the first is entered, the batch stops some way in
    const batch = await native.openMany(Array.from({ length: 200 }, (): Parameters<typeof native.open> => [path, [NETLINK_ROUTE], 2000]), 1);
    const firstSkipped = batch.findIndex((r) => 'errno' in r);
    expect(firstSkipped).toBeGreaterThan(0);
    for (const [i, r] of batch.entries()) {
      if (i < firstSkipped) {
        if ('errno' in r) throw new Error(`entry ${i}: ${JSON.stringify(r)}`);
        native.close(r.handle);
      } else {
        expect(r, `entry ${i}`).toMatchObject({ errno: 'ETIMEDOUT', syscall: 'deadline', namespace: true });
      }
    }
    expect(native.counters().nsEntries - before).toBe(firstSkipped);
    expect(sockets()).toBe(openBefore);
  });
});

describe('FDB and VXLAN', () => {
  it('bridge FDB sizes by state equal bridge(8)\'s', async () => {
    const samples = await scrapeSamples();
    const fdb = bridgeFdb(OVERLAY).filter((e) => e.master === 'br0');
    for (const state of ['permanent', 'static', 'dynamic']) {
      const kernel = fdb.filter((e) => (e.state || 'dynamic') === state).length;
      const ours = pick(samples, 'swarmnet_bridge_fdb_entries', { netns: OVERLAY, bridge: 'br0', state });
      expect(ours.length ? ours[0]!.value : 0, state).toBe(kernel);
    }
    // learned entries exist after traffic
    expect(one(samples, 'swarmnet_bridge_fdb_entries', { netns: OVERLAY, bridge: 'br0', state: 'dynamic' }).value).toBeGreaterThan(0);
  });

  it('counts VXLAN FDB entries and distinct remote VTEPs, with the VNI', async () => {
    const samples = await scrapeSamples();
    const own = bridgeFdb(OVERLAY).filter((e) => e.ifname === 'vxlan0' && e.flags.includes('self'));
    expect(one(samples, 'swarmnet_vxlan_fdb_entries', { netns: OVERLAY, interface: 'vxlan0', state: 'permanent' }).value)
      .toBe(own.filter((e) => e.state === 'permanent').length);
    const peers = one(samples, 'swarmnet_vxlan_peers', { netns: OVERLAY, interface: 'vxlan0' });
    expect(peers.value).toBe(new Set(own.map((e) => e.dst).filter(Boolean)).size);
    expect(peers.value).toBe(REMOTES.length);
    expect(peers.labels.vni).toBe('4101');
    expect(one(samples, 'swarmnet_vxlan_info', { netns: OVERLAY, interface: 'vxlan0' }).labels)
      .toMatchObject({ vni: '4101', port: '4789', local: '203.0.113.1', learning: 'false' });
    // a peer removed in the kernel is gone on the next scrape
    sh(`ip netns exec ${OVERLAY} bridge fdb del 02:42:c6:33:71:03 dev vxlan0 dst ${REMOTES[3]} self`);
    const after = await scrapeSamples();
    expect(one(after, 'swarmnet_vxlan_peers', { netns: OVERLAY, interface: 'vxlan0' }).value).toBe(REMOTES.length - 1);
  });
});

describe('namespaces that go away', () => {
  it('a file that vanished or is no longer a namespace is skipped and counted, not a failed scrape', async () => {
    const plain = join(scratch, 'deadbeef0000');
    writeFileSync(plain, ''); // what a removed container leaves behind for a while
    const refs = [
      { name: 'gone', kind: 'other' as const, path: join(scratch, 'does-not-exist') },
      { name: 'deadbeef0000', kind: 'sandbox' as const, path: plain },
      { name: OVERLAY, kind: 'overlay' as const, path: `/run/netns/${OVERLAY}` },
    ];
    const samples = await sampleAll(loadNative(), refs, { concurrency: 2, timeoutMs: 2000, readers: createReaders() }, performance.now() + 5000);
    expect(samples.map((s) => s.error?.reason)).toEqual(['vanished', 'vanished', undefined]);
    expect(samples[2]!.links.length).toBeGreaterThan(3);
  });

  it('namespaces deleted while a scrape runs leave the scrape whole and no stale series', async () => {
    const victims = Array.from({ length: 40 }, (_, i) => nss.add(`v${i}`));
    for (const v of victims) sh(`ip -n ${v} link add d0 type bridge`);
    const { scraper } = exporter!;
    const scraping = scraper.scrape(10_000);
    // delete them while the scrape is under way
    execFileSync('sh', ['-c', victims.map((v) => `ip netns del ${v}`).join('; ')]);
    for (const v of victims) nss.names.splice(nss.names.indexOf(v), 1);
    const { families } = await scraping;
    const fam = (name: string) => families.all().find((f) => f.name === name)!;
    const netnsOk = fam('swarmnet_scrape_collector_success').samples.find((s) => s.labels.collector === 'netns')!;
    expect(netnsOk.value).toBe(1);
    const failures = fam('swarmnet_netns_read_failures')?.samples ?? [];
    expect(failures.every((s) => s.labels.reason === 'vanished')).toBe(true);
    // the next scrape has none of them
    const next = await scrapeSamples();
    expect(next.filter((s) => s.labels.netns?.startsWith(`${prefix}v`))).toEqual([]);
    expect(pick(next, 'swarmnet_exporter_errors_total', { source: 'netns', reason: 'deadline' })).toEqual([]);
  });

  it('a scrape whose deadline has passed reports what it could not read', async () => {
    const refs = [{ name: OVERLAY, kind: 'overlay' as const, path: `/run/netns/${OVERLAY}` }];
    const samples = await sampleAll(loadNative(), refs, { concurrency: 1, timeoutMs: 1000, readers: createReaders() }, performance.now() - 1);
    expect(samples[0]!.error?.reason).toBe('deadline');
  });
});

describe('exposition', () => {
  it('passes promtool check metrics, in the text format', async () => {
    const body = (await exporter!.metrics()).body;
    execFileSync('promtool', ['check', 'metrics'], { input: body });
  });

  it('serves OpenMetrics when asked, ending in # EOF, counters typed without _total', async () => {
    const res = await exporter!.metrics({ accept: 'application/openmetrics-text; version=1.0.0' });
    expect(res.headers['content-type']).toContain('application/openmetrics-text');
    expect(res.body.endsWith('# EOF\n')).toBe(true);
    expect(res.body).toContain('# TYPE swarmnet_interface_receive_bytes counter\n');
    expect(res.body).toMatch(/\nswarmnet_interface_receive_bytes_total\{/);
  });

  it('counts nothing twice: concurrent scrapes share one collection', async () => {
    const { scraper } = exporter!;
    const [a, b] = await Promise.all([scraper.scrape(5000), scraper.scrape(5000)]);
    expect(a).toBe(b);
  });
});

describe('concurrent scrapes', () => {
  it('share one collection and one rendering, in each format', async () => {
    const { app } = exporter!;
    const get = (accept?: string) => app.inject({ method: 'GET', url: '/metrics', headers: accept ? { accept } : {} });
    const [a, b, c] = await Promise.all([get(), get(), get('application/openmetrics-text; version=1.0.0')]);
    expect(a.statusCode).toBe(200);
    expect(a.body).toBe(b.body);
    expect(c.headers['content-type']).toContain('openmetrics');
    expect(c.body.endsWith('# EOF\n')).toBe(true);
    // the same collection: the same scrape duration sample in both formats
    const dur = (body: string) => /\nswarmnet_scrape_duration_seconds (\S+)\n/.exec(body)![1];
    expect(dur(a.body)).toBe(dur(c.body));
  });
});
