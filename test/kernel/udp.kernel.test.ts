// The UDP socket reader against this kernel's own tools: a namespace of this test
// with a VXLAN device on port 4789 (the kernel's UDP socket) and a process holding
// a small-buffered socket on 4790 that never reads, flooded until it drops. The
// exporter's sockets are compared with `ss -uamn`, its UDP counters with the
// namespace's /proc/net/snmp (`ip netns exec NS cat /proc/net/snmp`), read
// through the namespace file as through a process in it. Needs root and python3.
import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { udpCollector } from '../../src/collectors/udp.js';
import { loadNative } from '../../src/kernel/native.js';
import type { NetnsRef } from '../../src/kernel/netns.js';
import { createReaders, readersFor } from '../../src/kernel/readers/index.js';
import type { NsSample } from '../../src/kernel/readers/types.js';
import { sampleAll } from '../../src/kernel/sampler.js';
import { parseSnmp } from '../../src/kernel/proc-snmp.js';
import { FamilySet } from '../../src/metrics/family.js';
import { renderPrometheus } from '../../src/metrics/render.js';
import { TestNamespaces, sh } from '../helpers/netns.js';
import { parseProm, pick } from '../helpers/prom.js';
import { snapshotOf } from '../support/snapshot.js';

const prefix = `swud${process.pid}-`;
const nss = new TestNamespaces(prefix);
const native = loadNative();
const readers = readersFor(createReaders({ udpKinds: ['other'] }), udpCollector().needs);
let ns = '';
let holder: ChildProcess | undefined;
let byPid: NetnsRef;
let byFile: NetnsRef;

interface SsSocket { port: number; recvQ: number; skmem: Record<string, number> }
function ss(): SsSocket[] {
  const lines = sh(`ip netns exec ${ns} ss -uamn`).split('\n');
  const out: SsSocket[] = [];
  for (let i = 1; i < lines.length; i++) {
    const f = lines[i]!.trim().split(/\s+/);
    if (f.length < 5 || !/^\d+$/.test(f[1]!)) continue;
    const mem = /skmem:\(([^)]*)\)/.exec(lines[i + 1] ?? '')![1]!;
    out.push({
      port: Number(f[3]!.slice(f[3]!.lastIndexOf(':') + 1)), recvQ: Number(f[1]),
      skmem: Object.fromEntries(mem.split(',').map((kv) => { const m = /^([a-z]+)(\d+)$/.exec(kv)!; return [m[1]!, Number(m[2])]; })),
    });
  }
  return out;
}
const read = (refs: NetnsRef[]): Promise<NsSample[]> =>
  sampleAll(native, refs, { concurrency: 2, timeoutMs: 2000, readers }, performance.now() + 10_000);
const flood = (n: number) => sh(`ip netns exec ${ns} python3 -c "
import socket
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(${n}): c.sendto(b'x' * 300, ('127.0.0.1', 4790))"`);

beforeAll(async () => {
  ns = nss.add('v');
  sh(`ip netns exec ${ns} sysctl -qw net.ipv6.conf.all.disable_ipv6=0
ip -n ${ns} link add vxlan0 type vxlan id 4242 dstport 4789 local 127.0.0.1 nolearning
ip -n ${ns} link set vxlan0 up`);
  holder = spawn('ip', ['netns', 'exec', ns, 'python3', '-c', `
import socket, time
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.bind(('::', 4790))
print('bound', flush=True)
time.sleep(600)`], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((ok) => holder!.stdout!.once('data', ok));
  const pid = sh(`ip netns pids ${ns}`).trim().split('\n')[0]!;
  byPid = { name: `${ns}-pid`, kind: 'other', path: `/proc/${pid}/ns/net` };
  byFile = { name: ns, kind: 'other', path: `/run/netns/${ns}` };
  flood(300);
});
afterAll(() => {
  holder?.kill();
  nss.destroy();
});

describe('UDP socket reader on this kernel', () => {
  it('reads the VXLAN device\'s kernel socket and the flooded one as ss -uam shows them', async () => {
    for (let attempt = 1; ; attempt++) {
      const before = ss();
      const [s] = await read([byFile]);
      const after = ss();
      if (JSON.stringify(before) !== JSON.stringify(after) && attempt < 10) continue;
      expect(s!.error).toBeUndefined();
      expect(s!.readerErrors).toBeUndefined();
      const socks = s!.udp!.sockets;
      expect(socks.map((x) => x.srcPort).sort()).toEqual(after.map((x) => x.port).sort());
      for (const want of after) {
        const got = socks.find((x) => x.srcPort === want.port)!;
        expect(got.rqueue, `${want.port} Recv-Q`).toBe(want.recvQ);
        const m = got.meminfo!;
        expect([m.rmemAlloc, m.rcvbuf, m.sndbuf, m.drops], `${want.port}`).toEqual([want.skmem.r, want.skmem.rb, want.skmem.tb, want.skmem.d]);
      }
      expect(socks.find((x) => x.srcPort === 4789)!.inode).toBeGreaterThanOrEqual(0);
      expect(socks.find((x) => x.srcPort === 4790)!.meminfo!.drops).toBeGreaterThan(0);
      return;
    }
  });

  const snmpOf = () => parseSnmp(sh(`ip netns exec ${ns} cat /proc/net/snmp`), 'Udp')!;

  it('reads the namespace\'s UDP counters inside it, through its file as through a process in it, as its /proc/net/snmp lists them', async () => {
    for (const ref of [byFile, byPid]) {
      const before = snmpOf();
      const entered = native.counters().nsEntries;
      const [s] = await read([ref]);
      // one entry for the sockets and the counters together
      expect(native.counters().nsEntries - entered, ref.name).toBe(1);
      expect(s!.readerErrors, ref.name).toBeUndefined();
      expect(snmpOf(), 'nothing else sends here: the file holds still').toEqual(before);
      expect(s!.udp!.snmp, ref.name).toEqual(before);
      expect(before.RcvbufErrors).toBeGreaterThan(0);
      expect(s!.udp!.snmp!.RcvbufErrors).toBe(s!.udp!.sockets.find((x) => x.srcPort === 4790)!.meminfo!.drops);
    }
    // the host's counters are not the namespace's
    const [host] = await read([{ name: 'host', kind: 'other', path: null }]);
    expect(host!.udp!.snmp).toEqual(parseSnmp(sh('cat /proc/net/snmp'), 'Udp'));
    expect(host!.udp!.snmp).not.toEqual(snmpOf());
  });

  it('follows RcvbufErrors and InErrors of a Docker-style namespace file as its flood raises them, as the kernel counts them', async () => {
    const before = snmpOf();
    const [s0] = await read([byFile]);
    flood(50);
    const after = snmpOf();
    const [s1] = await read([byFile]);
    expect(s0!.udp!.snmp).toEqual(before);
    expect(s1!.udp!.snmp).toEqual(after);
    expect(after.RcvbufErrors! - before.RcvbufErrors!).toBe(50);
    expect(after.InErrors! - before.InErrors!).toBe(50);
  });

  it('exports drops, queue and buffer of the VXLAN ports only, and the counters rise with more drops', async () => {
    const render = async (ports: number[]) => {
      const out = new FamilySet();
      udpCollector({ ports }).collect(snapshotOf(await read([byFile])), out);
      return parseProm(renderPrometheus(out.all()).toString('utf8'));
    };
    const only4789 = await render([4789]);
    expect(pick(only4789, 'swarmnet_udp_socket_drops_total', {}).map((x) => x.labels.port)).toEqual(['4789']);
    expect(pick(only4789, 'swarmnet_udp_socket_receive_buffer_bytes', { port: '4789' })[0]!.value)
      .toBe(ss().find((x) => x.port === 4789)!.skmem.rb);
    const before = await render([4789, 4790]);
    flood(100);
    const after = await render([4789, 4790]);
    const v = (m: typeof before, name: string, labels: Record<string, string>) => pick(m, name, labels)[0]!.value;
    const dropped = v(after, 'swarmnet_udp_socket_drops_total', { port: '4790' }) - v(before, 'swarmnet_udp_socket_drops_total', { port: '4790' });
    expect(dropped).toBe(100); // the queue was already full
    expect(v(after, 'swarmnet_udp_receive_buffer_errors_total', {}) - v(before, 'swarmnet_udp_receive_buffer_errors_total', {})).toBe(100);
    expect(v(after, 'swarmnet_udp_receive_errors_total', {}) - v(before, 'swarmnet_udp_receive_errors_total', {})).toBe(100);
    expect(v(after, 'swarmnet_udp_socket_receive_queue_bytes', { port: '4790' })).toBe(ss().find((x) => x.port === 4790)!.recvQ);
  });
});
