// The sock_diag codec and the /proc snmp parser against what a real kernel said
// (test/fixtures/diag, see its README), compared with `ss -uamn` and the snmp
// file captured in the same moment; and the udp collector over them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { udpCollector, vxlanPorts } from '../../src/collectors/udp.js';
import { AF_INET, AF_INET6, IPPROTO_UDP, decodeInetSockets, getInetSocketsRequest } from '../../src/kernel/diag/inet.js';
import { parseSnmp } from '../../src/kernel/proc-snmp.js';
import { FamilySet } from '../../src/metrics/family.js';
import { renderPrometheus } from '../../src/metrics/render.js';
import { captureMessages, diagCapture } from '../support/captures.js';
import { sampleOf, snapshotOf } from '../support/snapshot.js';

const DIR = join(import.meta.dirname, '..', 'fixtures', 'diag');
const sockets = () => [
  ...decodeInetSockets(captureMessages(diagCapture('udp4'), 'udp4')),
  ...decodeInetSockets(captureMessages(diagCapture('udp6'), 'udp6')),
];
const snmpText = readFileSync(join(DIR, 'snmp.txt'), 'utf8');

/** ss -uamn: per socket, local address:port, Recv-Q, Send-Q and the skmem fields */
function ssSockets(): Array<{ local: string; port: number; recvQ: number; sendQ: number; skmem: Record<string, number> }> {
  const lines = readFileSync(join(DIR, 'ss-uamn.txt'), 'utf8').split('\n');
  const out = [];
  for (let i = 1; i < lines.length; i++) {
    const f = lines[i]!.trim().split(/\s+/);
    if (f.length < 5 || !/^\d+$/.test(f[1]!)) continue;
    const mem = /skmem:\(([^)]*)\)/.exec(lines[i + 1] ?? '')![1]!;
    const skmem = Object.fromEntries(mem.split(',').map((kv) => { const m = /^([a-z]+)(\d+)$/.exec(kv)!; return [m[1]!, Number(m[2])]; }));
    const local = f[3]!;
    out.push({ local, port: Number(local.slice(local.lastIndexOf(':') + 1)), recvQ: Number(f[1]), sendQ: Number(f[2]), skmem });
  }
  return out;
}

describe('sock_diag inet codec', () => {
  it('asks for one protocol and family, every state, with SKMEMINFO, optionally one local port', () => {
    const req = getInetSocketsRequest(5, AF_INET6, IPPROTO_UDP, 4789);
    const v = new DataView(req.buffer);
    expect([v.getUint32(0, true), v.getUint16(4, true), v.getUint16(6, true)]).toEqual([72, 20, 0x301]);
    expect([req[16], req[17], req[18], v.getUint32(20, true), v.getUint16(24, false)]).toEqual([AF_INET6, 17, 1 << 6, 0xffffffff, 4789]);
  });

  it('decodes every UDP socket with the queue and memory counters ss -uam shows', () => {
    const got = sockets();
    const ss = ssSockets();
    expect(got.map((s) => s.srcPort).sort()).toEqual(ss.map((s) => s.port).sort());
    for (const want of ss) {
      const s = got.find((x) => x.srcPort === want.port)!;
      expect(s.rqueue, `${want.port} Recv-Q`).toBe(want.recvQ);
      expect(s.wqueue, `${want.port} Send-Q`).toBe(want.sendQ);
      const m = s.meminfo!;
      expect([m.rmemAlloc, m.rcvbuf, m.wmemAlloc, m.sndbuf, m.fwdAlloc, m.wmemQueued, m.optmem, m.backlog, m.drops], `${want.port} skmem`)
        .toEqual(['r', 'rb', 't', 'tb', 'f', 'w', 'o', 'bl', 'd'].map((k) => want.skmem[k]));
    }
    // the VXLAN device's kernel socket, and the flooded one that dropped
    const vxlan = got.find((s) => s.srcPort === 4789)!;
    expect([vxlan.family, vxlan.src, vxlan.state]).toEqual([AF_INET, '0.0.0.0', 7]);
    const flooded = got.find((s) => s.srcPort === 4790)!;
    expect([flooded.family, flooded.src]).toEqual([AF_INET6, '::']);
    expect(flooded.meminfo!.drops).toBeGreaterThan(0);
  });
});

describe('/proc net/snmp', () => {
  it('parses the Udp section as the file lists it', () => {
    const udp = parseSnmp(snmpText, 'Udp')!;
    const [names, values] = snmpText.split('\n').filter((l) => l.startsWith('Udp: ')).map((l) => l.split(/\s+/).slice(1));
    expect(Object.keys(udp)).toEqual(names);
    expect(Object.values(udp)).toEqual(values!.map(Number));
    expect(udp.RcvbufErrors).toBe(sockets().find((s) => s.srcPort === 4790)!.meminfo!.drops);
    expect(parseSnmp(snmpText, 'Nope')).toBeUndefined();
  });

  it('finds no section in a file cut short, or one whose value line does not match its header', () => {
    const header = snmpText.split('\n').find((l) => l.startsWith('Udp: '))!;
    expect(parseSnmp(header, 'Udp')).toBeUndefined();
    expect(parseSnmp(`${header}\nUdp: 1 2\n`, 'Udp')).toBeUndefined();
    expect(parseSnmp(`${header}\n${header}\n`, 'Udp')).toBeUndefined();
  });
});

describe('udp collector', () => {
  const host = sampleOf({ name: 'host', kind: 'host', path: null }, { udp: { sockets: sockets(), snmp: parseSnmp(snmpText, 'Udp') } });
  const render = (ports: number[], samples = [host]) => {
    const out = new FamilySet();
    udpCollector({ ports }).collect(snapshotOf(samples), out);
    return renderPrometheus(out.all()).toString('utf8');
  };

  it('reports the sockets on the configured ports, and the namespace\'s UDP errors', () => {
    const text = render([4789, 4790]);
    expect(text).toContain('swarmnet_udp_socket_drops_total{netns="host",port="4789"} 0');
    expect(text).toContain('swarmnet_udp_socket_drops_total{netns="host",port="4790"} 194');
    expect(text).toContain('swarmnet_udp_socket_receive_queue_bytes{netns="host",port="4790"} 7680');
    expect(text).toContain('swarmnet_udp_socket_receive_buffer_bytes{netns="host",port="4789"} 212992');
    expect(text).toContain('swarmnet_udp_receive_buffer_errors_total{netns="host"} 194');
    expect(text).toContain('swarmnet_udp_receive_errors_total{netns="host"} 194');
  });

  it('leaves out other ports, and adds the ports of the VXLAN devices it sees', () => {
    expect(render([4789])).not.toContain('port="4790"');
    const overlay = sampleOf({ name: '1-abc', kind: 'overlay', path: '/x' }, {
      links: [{ index: 5, name: 'vxlan0', kind: 'vxlan', flags: 0, vxlan: { port: 4790 } } as never],
    });
    expect([...vxlanPorts(snapshotOf([host, overlay]), [4789])].sort()).toEqual([4789, 4790]);
    expect(render([4789], [host, overlay])).toContain('port="4790"');
  });
});
