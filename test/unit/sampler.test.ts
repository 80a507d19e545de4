// sampleAll over a NativeBinding that replays captured kernel replies
// (test/support/replay-native.ts): one session per namespace whatever the rounds,
// only the readers asked for, failures classified per namespace and per reader,
// the deadline, and every session closed.
import { describe, expect, it } from 'vitest';
import { fdbCollector } from '../../src/collectors/fdb.js';
import { netdevCollector } from '../../src/collectors/netdev.js';
import { NETLINK_GENERIC, NETLINK_ROUTE } from '../../src/kernel/nl/message.js';
import type { NetnsRef } from '../../src/kernel/netns.js';
import { createReaders, readersFor } from '../../src/kernel/readers/index.js';
import { IpvsReader } from '../../src/kernel/readers/ipvs.js';
import type { NsReader } from '../../src/kernel/readers/types.js';
import { sampleAll } from '../../src/kernel/sampler.js';
import { ipvsTable, neighData, rtnlData, udpData } from '../support/captures.js';
import { ReplayNative, type ReplayOptions, errnoOf } from '../support/replay-native.js';

const ns = (name: string, kind: NetnsRef['kind']): NetnsRef => ({ name, kind, path: `/fixture/netns/${name}` });
const HOST: NetnsRef = { name: 'host', kind: 'host', path: '/fixture/host-netns' };
const REFS: NetnsRef[] = [
  HOST,
  ns('1-abcdefghij', 'overlay'),
  ns('lb_abcdefghi', 'lb'),
  ns('ingress_sbox', 'ingress_sbox'),
  ns('0123456789ab', 'sandbox'),
];
const data = rtnlData();
const table = ipvsTable();
const neigh = neighData();

/** the readers, with IPVS's family resolved as a scrape does first (one session in our own namespace, path null) */
async function readers(native: ReplayNative): Promise<NsReader[]> {
  const all = createReaders();
  const ipvs = all.find((r): r is IpvsReader => r instanceof IpvsReader)!;
  expect(await ipvs.probe(native, 1000)).toMatchObject({ available: true });
  return all;
}

async function sample(opts: ReplayOptions = {}, refs = REFS, deadlineMs = 5000, batchSize = 1) {
  const native = new ReplayNative(opts);
  const rs = await readers(native);
  const samples = await sampleAll(native, refs, { concurrency: 3, timeoutMs: 1000, readers: rs, batchSize }, performance.now() + deadlineMs);
  await native.idle();
  return { native, samples, byName: new Map(samples.map((s) => [s.ref.name, s])) };
}

describe('sampleAll over replayed kernel replies', () => {
  it('decodes every namespace as the codecs decode the captures', async () => {
    const { native, byName } = await sample();
    expect(native.unknown).toEqual([]);
    for (const ref of REFS) {
      const s = byName.get(ref.name)!;
      expect(s.error, ref.name).toBeUndefined();
      expect(s.readerErrors, ref.name).toBeUndefined();
      expect(s.links).toEqual(data.links);
      expect(s.fdb).toEqual(data.fdb);
      expect(s.neigh).toEqual(ref.kind === 'overlay' ? data.neigh : []);
      expect(s.ipvs).toEqual(ref.kind === 'lb' || ref.kind === 'ingress_sbox' ? table : undefined);
      expect(s.neighCounts).toEqual(neigh.counts);
      // the global tables are read in the host namespace only
      expect(s.neighTables).toEqual(ref.kind === 'host' ? neigh.tables : undefined);
      // UDP sockets too (the VXLAN sockets are the host's), with the snmp counters read on entry
      expect(s.udp).toEqual(ref.kind === 'host' ? udpData() : undefined);
    }
  });

  it('enters every namespace once, IPVS destination rounds included', async () => {
    for (const maxRequests of [8, 2]) {
      const { native } = await sample({ maxRequests });
      for (const ref of REFS) expect(native.opensOf(ref.path), `${ref.name}, ${maxRequests} requests a round`).toBe(1);
      // the family lookup is the only session in our own namespace
      expect(native.opensOf(null)).toBe(1);
      for (const lb of ['/fixture/netns/lb_abcdefghi', '/fixture/netns/ingress_sbox']) {
        const kinds = native.kindsSent(lb);
        expect(kinds.slice(0, 4)).toEqual(['links', 'fdb', 'services', 'neighCounts']);
        expect(kinds.slice(4).sort()).toEqual(table.services.map((_, i) => `dests-${i}`).sort());
        // the first round in as few exchanges as the addon allows, then the destinations
        expect(native.exchanges.filter((e) => e.path === lb).length).toBe(maxRequests === 8 ? 2 : 2 + 3);
      }
      expect(native.closes.length).toBe(native.opens.filter((o) => o.ok).length);
      expect(native.openSessions).toBe(0);
    }
  });

  it('sends only the requests of the readers asked for', async () => {
    const native = new ReplayNative();
    const netdevOnly = readersFor(createReaders(), netdevCollector({ extendedStats: false }).needs);
    const samples = await sampleAll(native, REFS, { concurrency: 2, timeoutMs: 1000, readers: netdevOnly }, performance.now() + 5000);
    expect(new Set(native.kindsSent())).toEqual(new Set(['links']));
    expect(native.opens.every((o) => o.protocols.length === 1 && o.protocols[0] === NETLINK_ROUTE)).toBe(true);
    expect(samples.every((s) => s.links.length === data.links.length && s.fdb.length === 0 && s.ipvs === undefined)).toBe(true);

    const noIpvs = new ReplayNative();
    const linksAndFdb = readersFor(createReaders(), fdbCollector.needs);
    await sampleAll(noIpvs, REFS, { concurrency: 2, timeoutMs: 1000, readers: linksAndFdb }, performance.now() + 5000);
    expect(new Set(noIpvs.kindsSent())).toEqual(new Set(['links', 'fdb']));
    expect(noIpvs.opens.some((o) => o.protocols.includes(NETLINK_GENERIC))).toBe(false);
  });

  it('reports a namespace that went away as vanished, and reads the others', async () => {
    const gone = '/fixture/netns/0123456789ab';
    const { native, byName } = await sample({ openError: (p) => (p === gone ? 'ENOENT' : undefined) });
    expect(byName.get('0123456789ab')!.error?.reason).toBe('vanished');
    expect(byName.get('0123456789ab')!.links).toEqual([]);
    for (const ref of REFS.filter((r) => r.path !== gone)) expect(byName.get(ref.name)!.error, ref.name).toBeUndefined();
    expect(native.closes.length).toBe(native.opens.filter((o) => o.ok).length);
  });

  it("keeps a namespace's links when another reader fails, and says which", async () => {
    const overlay = '/fixture/netns/1-abcdefghij';
    const { native, byName } = await sample({
      override: (p, kind) => (p === overlay && kind === 'fdb' ? { netlinkErrno: errnoOf('EPERM') } : undefined),
    });
    const s = byName.get('1-abcdefghij')!;
    expect(s.error).toBeUndefined();
    expect(s.links).toEqual(data.links);
    expect(s.neigh).toEqual(data.neigh);
    expect(s.fdb).toEqual([]);
    expect(s.readerErrors?.map((e) => [e.need, e.error.reason])).toEqual([['fdb', 'permission']]);
    expect(byName.get('0123456789ab')!.fdb).toEqual(data.fdb);
    expect(native.closes.length).toBe(native.opens.filter((o) => o.ok).length);
  });

  it('asks for /proc/net/snmp on entry only where the UDP reader reads, and keeps the sockets when it fails', async () => {
    const { native, byName } = await sample({
      procNetFile: (p, name) => (p === HOST.path && name === 'snmp' ? { errno: 'EACCES', syscall: 'open(proc)', message: 'Permission denied (replayed)' } : undefined),
    });
    for (const o of native.opens.filter((x) => x.path !== null)) expect(o.files, String(o.path)).toEqual(o.path === HOST.path ? ['snmp'] : []);
    const host = byName.get('host')!;
    expect(host.error).toBeUndefined();
    expect(host.udp).toEqual({ sockets: udpData().sockets, snmp: undefined });
    expect(host.readerErrors?.map((e) => [e.need, e.error.reason, e.error.message])).toEqual([['udp', 'permission', 'host: open(proc): /proc/net/snmp: Permission denied (replayed)']]);
    // a file that is not /proc/net/snmp's shape is a decode failure, the sockets stand
    const { byName: garbled } = await sample({ procNetFile: (p) => (p === HOST.path ? Buffer.from('Udp: InDatagrams\nUdp: x\n') : undefined) });
    expect(garbled.get('host')!.udp!.sockets).toEqual(udpData().sockets);
    expect(garbled.get('host')!.readerErrors?.map((e) => [e.need, e.error.reason])).toEqual([['udp', 'decode']]);
  });

  it('fails the namespace when its links cannot be read, and still closes the session', async () => {
    const overlay = '/fixture/netns/1-abcdefghij';
    const { native, byName } = await sample({
      override: (p, kind) => (p === overlay && kind === 'links'
        ? { native: { errno: 'ETIMEDOUT', syscall: 'recv', message: 'timed out (replayed)' } } : undefined),
    });
    expect(byName.get('1-abcdefghij')!.error?.reason).toBe('timeout');
    expect(native.opensOf(overlay)).toBe(1);
    expect(native.closes.filter((p) => p === overlay)).toHaveLength(1);
    expect(native.openSessions).toBe(0);
  });

  it('reports namespaces not read before the deadline with reason deadline, without entering them', async () => {
    const slow = REFS[1]!.path;
    const native = new ReplayNative({ delayMs: (p) => (p === slow ? 1000 : 0) });
    const rs = await readers(native);
    const started = performance.now();
    // one at a time: the host, then the slow overlay namespace that outlives the deadline, then nothing
    const samples = await sampleAll(native, REFS, { concurrency: 1, timeoutMs: 1000, readers: rs }, started + 150);
    expect(performance.now() - started).toBeLessThan(900);
    expect(samples.map((s) => [s.ref.name, s.error?.reason])).toEqual([
      ['host', undefined], ...REFS.slice(1).map((r) => [r.name, 'deadline']),
    ]);
    await native.idle();
    // the late namespace's session is closed once its answer comes; the ones after it were never entered
    for (const ref of REFS.slice(2)) expect(native.opensOf(ref.path), ref.name).toBe(0);
    expect(native.opensOf(slow)).toBe(1);
    expect(native.closes.length).toBe(native.opens.filter((o) => o.ok).length);
    expect(native.openSessions).toBe(0);
  });
});

describe('sampleAll in batches (one trip to the pool for several namespaces)', () => {
  it('decodes every namespace as one at a time does, with each namespace entered once', async () => {
    const one = await sample();
    const batched = await sample({}, REFS, 5000, 2);
    // 5 namespaces, 3 workers: batches of 2 (a batch never leaves a worker idle); the last one alone is a plain open
    expect(batched.native.batches).toEqual([2, 2]);
    expect(batched.native.unknown).toEqual([]);
    for (const ref of REFS) {
      const { durationSeconds: _a, ...a } = one.byName.get(ref.name)!;
      const { durationSeconds: _b, ...b } = batched.byName.get(ref.name)!;
      expect(b, ref.name).toEqual(a);
      expect(batched.native.opensOf(ref.path), ref.name).toBe(1);
    }
    expect(batched.native.openSessions).toBe(0);
  });

  it('never makes batches larger than the addon takes', async () => {
    const refs = Array.from({ length: 12 }, (_, i) => ns(`0123456789${String(i).padStart(2, '0')}`, 'sandbox'));
    const { native, samples } = await sample({ maxBatch: 3 }, refs, 5000, 16);
    expect(native.batches).toEqual([3, 3, 3, 3]);
    expect(samples.every((s) => s.error === undefined && s.links.length === data.links.length)).toBe(true);
    expect(native.openSessions).toBe(0);
  });

  it('a namespace that went away fails alone; the rest of its batch is read', async () => {
    const gone = REFS[1]!.path;
    const { native, byName } = await sample({ openError: (p) => (p === gone ? 'ENOENT' : undefined) }, REFS, 5000, 2);
    expect(byName.get(REFS[1]!.name)!.error?.reason).toBe('vanished');
    for (const ref of REFS.filter((r) => r.path !== gone)) {
      expect(byName.get(ref.name)!.error, ref.name).toBeUndefined();
      expect(byName.get(ref.name)!.links, ref.name).toEqual(data.links);
    }
    expect(native.openSessions).toBe(0);
  });

  it('a namespace whose links fail fails alone, and every session of the batch is closed', async () => {
    const overlay = '/fixture/netns/1-abcdefghij';
    const { native, byName } = await sample({
      override: (p, kind) => (p === overlay && kind === 'links'
        ? { native: { errno: 'ETIMEDOUT', syscall: 'recv', message: 'timed out (replayed)' } } : undefined),
    }, REFS, 5000, 2);
    expect(byName.get('1-abcdefghij')!.error?.reason).toBe('timeout');
    expect(byName.get('host')!.error).toBeUndefined();
    expect(native.closes.length).toBe(native.opens.filter((o) => o.ok).length);
    expect(native.openSessions).toBe(0);
  });

  it('a batch that outlives the deadline is reported whole with reason deadline, and the batches after it are never entered', async () => {
    const slow = REFS[1]!.path;
    const native = new ReplayNative({ delayMs: (p) => (p === slow ? 1000 : 0) });
    const rs = await readers(native);
    const started = performance.now();
    // one worker, batches of 2: host + the slow overlay namespace, then the deadline has passed
    const samples = await sampleAll(native, REFS, { concurrency: 1, timeoutMs: 1000, readers: rs, batchSize: 2 }, started + 150);
    expect(performance.now() - started).toBeLessThan(900);
    expect(samples.map((s) => [s.ref.name, s.error?.reason])).toEqual(REFS.map((r) => [r.name, 'deadline']));
    await native.idle();
    for (const ref of REFS.slice(2)) expect(native.opensOf(ref.path), ref.name).toBe(0);
    expect(native.closes.length).toBe(native.opens.filter((o) => o.ok).length);
    expect(native.openSessions).toBe(0);
  });

  it('a batch stops entering namespaces once its budget is spent: a stalled namespace holds it no longer', async () => {
    const slow = new Set([REFS[0]!.path, REFS[1]!.path]);
    const native = new ReplayNative({ delayMs: (p) => (slow.has(p) ? 300 : 0) });
    const rs = await readers(native);
    const started = performance.now();
    // one batch of all five, budget 150 ms: the first namespace stalls past it, the others are not entered
    const samples = await sampleAll(native, REFS, { concurrency: 1, timeoutMs: 150, readers: rs, batchSize: 5 }, started + 150);
    await native.idle();
    expect(performance.now() - started).toBeLessThan(550);
    expect(samples.map((s) => s.error?.reason)).toEqual(REFS.map(() => 'deadline'));
    expect(native.opensOf(REFS[0]!.path)).toBe(1);
    for (const ref of REFS.slice(1)) expect(native.opensOf(ref.path), ref.name).toBe(0);
    expect(native.openSessions).toBe(0);
  });
});
