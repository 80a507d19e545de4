// Remembered link tables and FDBs (kernel/watched-tables.ts) on real
// namespaces: counters read alone (RTM_GETSTATS) give the numbers `ip -s -j
// link` gives, every kind of link and FDB change is seen at the next read, a
// file that names another namespace is not mistaken for the old one, and a
// watch never keeps a deleted namespace alive: the veth peer of a freed
// namespace disappears with it, the kernel's own proof that nothing holds it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WatchedTables } from '../../src/kernel/watched-tables.js';
import { FdbReader } from '../../src/kernel/readers/fdb.js';
import { loadNative } from '../../src/kernel/native.js';
import type { NetnsRef } from '../../src/kernel/netns.js';
import { LinksReader } from '../../src/kernel/readers/links.js';
import type { NsSample } from '../../src/kernel/readers/types.js';
import type { Link } from '../../src/kernel/rtnl/link.js';
import { sampleAll } from '../../src/kernel/sampler.js';
import { TestNamespaces, ipLinks, sh } from '../helpers/netns.js';

const native = loadNative();
const prefix = `swlw${process.pid}-`;
const nss = new TestNamespaces(prefix);
const refOf = (name: string): NetnsRef => ({ name, kind: 'other', path: `/run/netns/${name}` });

/** The links and FDB readers over one WatchedTables (none: full dumps), driven as the Scraper drives them. */
class Readers {
  readonly links: LinksReader;
  readonly fdb: FdbReader;
  constructor(readonly tables?: WatchedTables) {
    this.links = new LinksReader(tables);
    this.fdb = new FdbReader(tables);
  }
}

/** One scrape's worth of reading. */
async function read(r: Readers, names: string[]): Promise<NsSample[]> {
  await r.links.prepare();
  const samples = await sampleAll(native, names.map(refOf), { concurrency: 2, timeoutMs: 2000, readers: [r.links, r.fdb], batchSize: 4 }, performance.now() + 5000);
  r.links.afterScrape();
  for (const s of samples) expect(s.error, s.ref.name).toBeUndefined();
  return samples;
}

/** What full dumps say (nothing remembered): the reference every remembered read must equal. */
async function fullRead(name: string): Promise<NsSample> {
  const [s] = await read(new Readers(), [name]);
  return s!;
}
const fdbKey = (s: NsSample) => s.fdb.map((e) => JSON.stringify(e)).sort();

const facts = (links: Link[]) => links.map(({ stats: _s, ...f }) => f);
const waitFor = async (what: string, cond: () => boolean, ms = 5000) => {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};
const exists = (ns: string, dev: string) => sh(`ip -n ${ns} -j link show`).includes(`"ifname":"${dev}"`);

/**
 * A namespace to watch, with a veth pair to a keeper namespace: the kernel
 * frees a namespace (and the veth pair with it) only once nothing holds it, so
 * the peer end vanishing from the keeper is the proof it was freed.
 */
function watchedWithPeer(tag: string): { watched: string; freed: () => boolean } {
  const keeper = nss.add(`k${tag}`);
  const watched = nss.add(`w${tag}`);
  sh(`ip -n ${watched} link add wv${tag} type veth peer name kv${tag} netns ${keeper}`);
  return { watched, freed: () => !exists(keeper, `kv${tag}`) };
}

beforeAll(() => {
  const a = nss.add('a');
  const b = nss.add('b');
  sh(`ip -n ${a} link add br0 type bridge
ip -n ${a} link set br0 up
ip -n ${a} link add v1 type veth peer name e1 netns ${b}
ip -n ${a} link set v1 master br0 up
ip -n ${a} addr add 192.0.2.1/24 dev br0
ip -n ${b} addr add 192.0.2.2/24 dev e1
ip -n ${b} link set e1 up`);
  sh(`ip netns exec ${b} ping -q -c 5 -i 0.01 -W 1 192.0.2.1`);
});
afterAll(() => nss.destroy());

describe('remembered link tables', () => {
  it('reads in full once, then counters only, with the numbers ip -s -j link gives', async () => {
    const cache = new WatchedTables(native);
    const reader = new Readers(cache);
    const [a, b] = nss.names as [string, string];
    try {
      await read(reader, [a, b]);
      expect(cache.reads).toEqual({ linksFull: 2, linksCounters: 0, fdbFull: 2, fdbRemembered: 0 });
      expect(cache.size).toBe(2);
      for (let i = 0; i < 3; i++) {
        const before = ipLinks(a);
        const [s] = await read(reader, [a]);
        const after = ipLinks(a);
        // nothing moves in these namespaces between the two readings of ip(8)
        expect(JSON.stringify(after.map((l) => l.stats64))).toBe(JSON.stringify(before.map((l) => l.stats64)));
        for (const l of after) {
          const mine = s!.links.find((x) => x.index === l.ifindex)!;
          expect(mine.name).toBe(l.ifname);
          expect([mine.stats?.rx_bytes, mine.stats?.tx_bytes, mine.stats?.rx_packets, mine.stats?.tx_packets, mine.stats?.rx_dropped])
            .toEqual([l.stats64.rx.bytes, l.stats64.tx.bytes, l.stats64.rx.packets, l.stats64.tx.packets, l.stats64.rx.dropped]);
        }
        const full = await fullRead(a);
        expect(s!.links).toEqual(full.links);
        expect(fdbKey(s!)).toEqual(fdbKey(full));
      }
      // b was not read in those three scrapes: its watch was closed at the end of the first
      expect(cache.reads).toEqual({ linksFull: 2, linksCounters: 3, fdbFull: 2, fdbRemembered: 3 });
      expect(cache.size).toBe(1);
      expect((await fullRead(a)).links.find((l) => l.name === 'v1')!.stats!.tx_packets).toBeGreaterThan(4);
    } finally {
      cache.close();
    }
  });

  it('sees every kind of link and FDB change at the next read', async () => {
    const cache = new WatchedTables(native);
    const reader = new Readers(cache);
    const [a] = nss.names as [string];
    // operstate follows up/down through the kernel's linkwatch, a moment later: wait for ip(8) to show it first
    const changes: Array<[cmd: string, operstate?: string]> = [
      [`ip -n ${a} link set v1 mtu 1400`],
      [`ip -n ${a} link set v1 nomaster`],
      [`ip -n ${a} link set v1 master br0`],
      [`ip -n ${a} link set v1 down`, 'DOWN'],
      [`ip -n ${a} link set v1 name v1x`],
      [`ip -n ${a} link set v1x name v1`],
      [`ip -n ${a} link set v1 up`, 'UP'],
      [`ip -n ${a} link add v2 type veth peer name v2p`],
      [`ip -n ${a} link del v2`],
      [`ip -n ${a} link set br0 address 02:00:00:00:00:42`],
      [`ip -n ${a} link add vx0 type vxlan id 42 dstport 4789 local 192.0.2.1 nolearning`],
      [`ip netns exec ${a} bridge fdb add 02:42:c6:00:00:01 dev vx0 dst 198.51.100.1 self permanent`],
      [`ip netns exec ${a} bridge fdb replace 02:42:c6:00:00:01 dev vx0 dst 198.51.100.2 self permanent`],
      [`ip netns exec ${a} bridge fdb del 02:42:c6:00:00:01 dev vx0 self`],
      [`ip netns exec ${a} bridge fdb add 02:42:c6:00:00:02 dev v1 master static`],
      [`ip netns exec ${a} bridge fdb del 02:42:c6:00:00:02 dev v1 master`],
      [`ip -n ${a} link set vx0 master br0`],
      [`ip -n ${a} link del vx0`],
    ];
    try {
      await read(reader, [a]);
      for (const [change, operstate] of changes) {
        const reads = { ...cache.reads };
        sh(change);
        if (operstate) await waitFor(`v1 ${operstate}`, () => ipLinks(a).find((l) => l.ifname === 'v1')!.operstate === operstate);
        const [s] = await read(reader, [a]);
        const full = await fullRead(a);
        expect(facts(s!.links), change).toEqual(facts(full.links));
        expect(fdbKey(s!), change).toEqual(fdbKey(full));
        // what changed was read again: an FDB change may leave the links as they were, never the other way round
        expect(cache.reads.fdbFull, `${change}: FDB dumped`).toBe(reads.fdbFull + 1);
        if (!change.includes(' fdb ')) expect(cache.reads.linksFull, `${change}: links read in full`).toBe(reads.linksFull + 1);
        // and counters only again once the kernel has said all it had to say about it
        let settled = false;
        for (let i = 0; i < 5 && !settled; i++) {
          const before = { ...cache.reads };
          const [again] = await read(reader, [a]);
          const reference = await fullRead(a);
          expect(facts(again!.links), change).toEqual(facts(reference.links));
          expect(fdbKey(again!), change).toEqual(fdbKey(reference));
          settled = cache.reads.linksCounters === before.linksCounters + 1 && cache.reads.fdbRemembered === before.fdbRemembered + 1;
          if (!settled) await new Promise((r) => setTimeout(r, 200));
        }
        expect(settled, `${change}: counters only once it settled`).toBe(true);
      }
      const v1 = ipLinks(a).find((l) => l.ifname === 'v1')!;
      const [last] = await read(reader, [a]);
      expect(last!.links.find((l) => l.name === 'v1')).toMatchObject({ mtu: v1.mtu, operstate: v1.operstate.toLowerCase() });
    } finally {
      cache.close();
    }
  });

  it('more changes than a watch queues: everything is read in full, and right', async () => {
    const cache = new WatchedTables(native);
    const reader = new Readers(cache);
    const [a] = nss.names as [string];
    try {
      sh(`ip -n ${a} link add vx9 type vxlan id 99 dstport 4789 local 192.0.2.1 nolearning`);
      await read(reader, [a]);
      await read(reader, [a]);
      const before = { ...cache.reads };
      // 200 FDB entries: far more notifications than the watch's small buffer holds (ENOBUFS)
      const batch = Array.from({ length: 200 }, (_, i) => `fdb add 02:42:c6:01:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')} dev vx9 dst 198.51.100.9 self permanent`);
      sh(`printf '%s\\n' ${batch.map((l) => `'${l}'`).join(' ')} | ip netns exec ${a} bridge -batch -`);
      const [s] = await read(reader, [a]);
      expect(cache.reads.linksFull).toBe(before.linksFull + 1);
      expect(cache.reads.fdbFull).toBe(before.fdbFull + 1);
      const full = await fullRead(a);
      expect(fdbKey(s!)).toEqual(fdbKey(full));
      expect(s!.fdb.filter((e) => e.dst === '198.51.100.9')).toHaveLength(200);
    } finally {
      cache.close();
      sh(`ip -n ${a} link del vx9`);
    }
  });

  it('does not take another namespace behind the same file for the watched one', async () => {
    // no file checks between reads: only the inode the addon reports tells the two apart
    const cache = new WatchedTables(native, { checkIntervalMs: 0 });
    const reader = new Readers(cache);
    const r = nss.add('r');
    try {
      sh(`ip -n ${r} link add old0 type bridge`);
      await read(reader, [r]);
      expect((await read(reader, [r]))[0]!.links.map((l) => l.name)).toContain('old0');
      nss.delete(r);
      nss.add('r');
      sh(`ip -n ${r} link add new0 type bridge`);
      const [s] = await read(reader, [r]);
      expect(s!.links.map((l) => l.name).sort()).toEqual(ipLinks(r).map((l) => l.ifname).sort());
      expect(fdbKey(s!)).toEqual(fdbKey(await fullRead(r)));
      expect(s!.links.map((l) => l.name)).toContain('new0');
    } finally {
      cache.close();
    }
  });

  it('keeps no deleted namespace alive: a removed file closes its watch at once', async () => {
    // the once-a-second check far away: only inotify on the directory can close it this soon
    const cache = new WatchedTables(native, { checkIntervalMs: 60_000 });
    const reader = new Readers(cache);
    const { watched, freed } = watchedWithPeer('1');
    try {
      await read(reader, [watched]);
      expect(cache.size).toBe(1);
      const open = native.counters().watches!;
      nss.delete(watched);
      await waitFor('the watch closed', () => cache.size === 0, 500);
      await waitFor('the deleted namespace freed', freed, 5000);
      expect(cache.size).toBe(0);
      expect(native.counters().watches).toBe(open - 1);
    } finally {
      cache.close();
    }
  });

  it('keeps no unmounted namespace alive (Docker unmounts first and removes the file later)', async () => {
    const cache = new WatchedTables(native);
    const reader = new Readers(cache);
    const { watched, freed } = watchedWithPeer('2');
    try {
      await read(reader, [watched]);
      sh(`umount /run/netns/${watched}`);
      await waitFor('the unmounted namespace freed', freed, 5000);
      expect(cache.size).toBe(0);
    } finally {
      cache.close();
      sh(`rm -f /run/netns/${watched}`);
      nss.names.splice(nss.names.indexOf(watched), 1);
    }
  });

  it('without its file checks, the watch would hold the namespace: the check is what frees it', async () => {
    // the control for the two tests above: the same deletion, checks off
    const cache = new WatchedTables(native, { checkIntervalMs: 0 });
    const reader = new Readers(cache);
    const { watched, freed } = watchedWithPeer('3');
    try {
      await read(reader, [watched]);
      nss.delete(watched);
      await new Promise((r) => setTimeout(r, 1500));
      expect(freed(), 'held by the watch').toBe(false);
      // the next scrape does not read it (its file is gone): the watch is closed at its end
      await read(reader, []);
      await waitFor('freed once the scrape let go', freed, 5000);
    } finally {
      cache.close();
    }
  });
});
