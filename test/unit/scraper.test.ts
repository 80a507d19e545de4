// The Scraper over a namespace directory of plain files and a NativeBinding that
// replays captured kernel replies (test/support/replay-native.ts): what it reads
// for the enabled collectors, how failures show in its own health series, the
// deadline, shared collections, and sessions always closed.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { allCollectors } from '../../src/collectors/index.js';
import type { Collector } from '../../src/collectors/types.js';
import { NETLINK_GENERIC } from '../../src/kernel/nl/message.js';
import { type FamilySet, type Labels } from '../../src/metrics/family.js';
import { type ScrapeOptions, Scraper } from '../../src/scrape.js';
import { rtnlData } from '../support/captures.js';
import { ReplayNative, type ReplayOptions, errnoOf } from '../support/replay-native.js';

const dir = mkdtempSync(join(tmpdir(), 'swarmnet-scraper-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
// plain files: the replay never looks at them, discovery only lists them
const FILES = ['1-abcdefghij', 'lb_abcdefghi', 'ingress_sbox', '0123456789ab'];
for (const f of FILES) writeFileSync(join(dir, f), '');
const HOST = '/fixture/host-netns';
const PATHS = [HOST, ...FILES.map((f) => join(dir, f))];
const pathOf = (name: string) => join(dir, name);
const links = rtnlData().links;

function scraper(opts: ReplayOptions = {}, collectors: Collector[] = allCollectors(), extra: Partial<ScrapeOptions> = {}) {
  const native = new ReplayNative(opts);
  const s = new Scraper({
    netnsDirs: [dir],
    hostNetns: HOST,
    collectors,
    concurrency: 2,
    defaultTimeoutMs: 5000,
    version: { version: 'test', revision: 'test' },
    ...extra,
  }, { native }, pino({ level: 'silent' }));
  return { native, s };
}

const series = (out: FamilySet, name: string): Array<{ labels: Labels; value: number }> =>
  (out.all().find((f) => f.name === name)?.samples ?? []).map((x) => ({ labels: x.labels, value: Number(x.value) }));
const value = (out: FamilySet, name: string, match: Labels): number[] =>
  series(out, name).filter((x) => Object.entries(match).every(([k, v]) => x.labels[k] === v)).map((x) => x.value);
const success = (out: FamilySet) => Object.fromEntries(series(out, 'swarmnet_scrape_collector_success').map((x) => [x.labels.collector, x.value]));

const enabled = (...names: string[]) => allCollectors().filter((c) => names.includes(c.name));

describe('Scraper over replayed kernel replies', () => {
  it('enters every namespace once a scrape, and closes every session', async () => {
    const { native, s } = scraper();
    for (let scrape = 1; scrape <= 2; scrape++) {
      const { families } = await s.scrape();
      for (const p of PATHS) expect(native.opensOf(p), `${p}, scrape ${scrape}`).toBe(scrape);
      // the IPVS family is looked up in our own namespace once, then cached
      expect(native.opensOf(null)).toBe(1);
      expect(native.closes.length).toBe(native.opens.length);
      expect(native.openSessions).toBe(0);
      expect(native.unknown).toEqual([]);
      expect(success(families)).toMatchObject({ netns: 1, netdev: 1, fdb: 1, vxlan: 1, ipvs: 1 });
      // the load balancers were read to their destinations
      expect(value(families, 'swarmnet_lb_service_backends', { netns: 'lb_abcdefghi' }).length).toBeGreaterThan(0);
    }
  });

  it('reads only what the enabled collectors need', async () => {
    const netdev = scraper({}, enabled('netdev'));
    expect(netdev.s.readers.map((r) => r.need)).toEqual(['links']);
    const { families } = await netdev.s.scrape();
    expect(new Set(netdev.native.kindsSent())).toEqual(new Set(['links']));
    expect(netdev.native.opens.some((o) => o.protocols.includes(NETLINK_GENERIC))).toBe(false);
    expect(series(families, 'swarmnet_interface_up').length).toBe(PATHS.length * links.length);

    const noIpvs = scraper({}, allCollectors().filter((c) => c.name !== 'ipvs'));
    expect(noIpvs.s.readers.map((r) => r.need)).toEqual(['links', 'fdb', 'neigh', 'neighCounts', 'neighTables', 'udp', 'addrs']);
    await noIpvs.s.scrape();
    expect(noIpvs.native.opens.some((o) => o.protocols.includes(NETLINK_GENERIC))).toBe(false);
    expect(new Set(noIpvs.native.kindsSent())).toEqual(new Set(['links', 'fdb', 'neigh', 'neighCounts', 'neighTables', 'udp4', 'udp6', 'addrs']));
  });

  it('counts a vanished namespace as churn: no failed collector, no series of it', async () => {
    const gone = pathOf('0123456789ab');
    const { native, s } = scraper({ openError: (p) => (p === gone ? 'ENOENT' : undefined) });
    const { families } = await s.scrape();
    expect(value(families, 'swarmnet_netns_read_failures', { netns_kind: 'sandbox', reason: 'vanished' })).toEqual([1]);
    expect(Object.values(success(families)).every((v) => v === 1)).toBe(true);
    expect(value(families, 'swarmnet_interface_up', { netns: '0123456789ab' })).toEqual([]);
    expect(value(families, 'swarmnet_interface_up', { netns: '1-abcdefghij' }).length).toBe(links.length);
    expect(native.closes.length).toBe(native.opens.filter((o) => o.ok).length);
  });

  it("fails the collectors that need a reader that failed, keeps the namespace's interfaces", async () => {
    const overlay = pathOf('1-abcdefghij');
    const { native, s } = scraper({
      override: (p, kind) => (p === overlay && kind === 'fdb' ? { netlinkErrno: errnoOf('EPERM') } : undefined),
    });
    const { families } = await s.scrape();
    expect(success(families)).toMatchObject({ netns: 1, netdev: 1, fdb: 0, vxlan: 0, overlay: 0, ipvs: 1, swarm: 1 });
    expect(value(families, 'swarmnet_interface_up', { netns: '1-abcdefghij' }).length).toBe(links.length);
    expect(value(families, 'swarmnet_interface_transmit_bytes_total', { netns: '1-abcdefghij', interface: 'veth0' }))
      .toEqual([links.find((l) => l.name === 'veth0')!.stats!.tx_bytes]);
    // the other namespaces' FDB is still exported; the failed one is not counted as empty
    expect(value(families, 'swarmnet_bridge_fdb_entries', { netns: '0123456789ab' }).length).toBeGreaterThan(0);
    expect(value(families, 'swarmnet_bridge_fdb_entries', { netns: '1-abcdefghij' })).toEqual([]);
    expect(value(families, 'swarmnet_exporter_errors_total', { source: 'fdb', reason: 'permission' })).toEqual([1]);
    expect(series(families, 'swarmnet_netns_read_failures')).toEqual([]);
    expect(native.closes.length).toBe(native.opens.length);
  });

  it('reports the namespaces not read before the deadline', async () => {
    // one at a time, one per trip (batches: sampler.test.ts); the host namespace answers after the budget has passed
    const { native, s } = scraper({ delayMs: (p) => (p === HOST ? 1000 : 0) }, allCollectors(), { concurrency: 1, batchSize: 1 });
    const started = performance.now();
    const { families } = await s.scrape(150);
    expect(performance.now() - started).toBeLessThan(900);
    const late = series(families, 'swarmnet_netns_read_failures').filter((x) => x.labels.reason === 'deadline');
    expect(late.reduce((n, x) => n + x.value, 0)).toBe(PATHS.length);
    expect(success(families).netns).toBe(0);
    await native.idle();
    for (const p of PATHS.slice(1)) expect(native.opensOf(p), p).toBe(0);
    expect(native.closes.length).toBe(native.opens.length);
    expect(native.openSessions).toBe(0);
  });

  it('shares one collection between concurrent scrapes', async () => {
    const { native, s } = scraper({ delayMs: () => 20 });
    const [a, b, c] = await Promise.all([s.scrape(), s.scrape(), s.scrape()]);
    expect(b).toBe(a);
    expect(c).toBe(a);
    for (const p of PATHS) expect(native.opensOf(p), p).toBe(1);
    // the next scrape is a new collection
    const d = await s.scrape();
    expect(d).not.toBe(a);
    for (const p of PATHS) expect(native.opensOf(p), p).toBe(2);
    expect(native.closes.length).toBe(native.opens.length);
  });

  it('closes every session whatever failed', async () => {
    const fail: ReplayOptions = {
      openError: (p) => (p === pathOf('ingress_sbox') ? 'EACCES' : undefined),
      override: (p, kind) => {
        if (p === pathOf('1-abcdefghij') && kind === 'links') return { native: { errno: 'ETIMEDOUT', syscall: 'recv', message: 'timed out (replayed)' } };
        if (p === pathOf('lb_abcdefghi') && kind.startsWith('dests-')) return { netlinkErrno: errnoOf('EINVAL') };
        if (p === HOST && kind === 'fdb') return { netlinkErrno: errnoOf('EPERM') };
        return undefined;
      },
    };
    const { native, s } = scraper(fail);
    const { families } = await s.scrape();
    expect(value(families, 'swarmnet_netns_read_failures', { netns_kind: 'ingress_sbox', reason: 'permission' })).toEqual([1]);
    expect(value(families, 'swarmnet_netns_read_failures', { netns_kind: 'overlay', reason: 'timeout' })).toEqual([1]);
    expect(success(families)).toMatchObject({ netns: 0, netdev: 1, fdb: 0, ipvs: 0 });
    expect(native.opens.filter((o) => !o.ok).map((o) => o.path)).toEqual([pathOf('ingress_sbox')]);
    expect(native.closes.length).toBe(native.opens.filter((o) => o.ok).length);
    expect(native.openSessions).toBe(0);
  });
});
