// The overlay path probes' pure parts: the ICMP echo codec, matching the
// addon's outcome to the probes sent, the plan (which namespace probes which
// endpoint) from a Docker state, the collector's series, and the flags.
// The kernel side is test/kernel/probe.kernel.test.ts, the swarm side
// test/e2e/swarm-probes.e2e.test.ts.
import { describe, expect, it } from 'vitest';
import { probeCollector } from '../../src/collectors/probe.js';
import { loadConfig } from '../../src/config.js';
import { EMPTY_STATE, type DockerState, type NetworkState } from '../../src/docker/state.js';
import {
  ICMP_ECHO_REPLY, decodeEcho, encodeEchoRequest, internetChecksum, payloadBytesFor, stripIpHeader,
} from '../../src/kernel/icmp/echo.js';
import type { ProbeOutcome } from '../../src/kernel/native.js';
import type { NetnsRef } from '../../src/kernel/netns.js';
import { DecodeError } from '../../src/kernel/nl/attr.js';
import { FamilySet } from '../../src/metrics/family.js';
import { renderPrometheus } from '../../src/metrics/render.js';
import { planProbes } from '../../src/probes/plan.js';
import type { NetworkRound } from '../../src/probes/prober.js';
import { type PacketPlan, matchReplies } from '../../src/probes/round.js';
import { snapshotOf } from '../support/snapshot.js';

/** what a peer's kernel sends back: the request with type 0 and the checksum fixed */
function replyTo(req: Uint8Array, opts: { ident?: number } = {}): Buffer {
  const b = Buffer.from(req);
  b[0] = ICMP_ECHO_REPLY;
  if (opts.ident !== undefined) b.writeUInt16BE(opts.ident, 4);
  b.writeUInt16BE(0, 2);
  b.writeUInt16BE(internetChecksum(b), 2);
  return b;
}
const asSentBy = (ident: number, req: Uint8Array): Buffer => {
  const b = Buffer.from(req.subarray(0, 16));
  b.writeUInt16BE(ident, 4);
  return b;
};
const withIpHeader = (icmp: Uint8Array): Buffer => Buffer.concat([Buffer.from([0x45, 0, 0, 0, 0, 0, 0, 0, 64, 1, 0, 0, 198, 19, 90, 3, 198, 19, 90, 2]), icmp]);

describe('ICMP echo codec', () => {
  it('builds a request of the asked IP size with a valid checksum, and reads it back', () => {
    const req = encodeEchoRequest({ ident: 0x1234, seq: 7, round: 42, ipPacketBytes: 1450 });
    expect(req.length).toBe(1450 - 20);
    expect(internetChecksum(req)).toBe(0);
    expect(decodeEcho(req, { checksum: true })).toEqual({ type: 8, code: 0, ident: 0x1234, seq: 7, round: 42, length: 1430 });
    expect(decodeEcho(stripIpHeader(withIpHeader(replyTo(req))), { checksum: true })).toMatchObject({ type: 0, seq: 7, round: 42 });
  });

  it('refuses what is not an echo, cut short or corrupted, with a DecodeError', () => {
    const req = encodeEchoRequest({ ident: 1, seq: 1, round: 1, ipPacketBytes: 84 });
    expect(() => decodeEcho(req.subarray(0, 7))).toThrow(DecodeError);
    const unreach = Buffer.from(req);
    unreach[0] = 3;
    expect(() => decodeEcho(unreach)).toThrow(/ICMP type 3: not an echo/);
    const flipped = Buffer.from(req);
    flipped[20]! ^= 1;
    expect(() => decodeEcho(flipped, { checksum: true })).toThrow(/checksum/);
    expect(() => stripIpHeader(Buffer.from([0x45, 0]))).toThrow(DecodeError);
    expect(() => stripIpHeader(Buffer.from([0x65, ...new Array(30).fill(0)]))).toThrow(/not IPv4/);
    expect(() => stripIpHeader(Buffer.from([0x4f, ...new Array(30).fill(0)]))).toThrow(/header length 60/);
    // someone else's echo: no tag, no round
    expect(decodeEcho(Buffer.from([0, 0, 0, 0, 0, 1, 0, 2])).round).toBeUndefined();
  });

  it('sizes from 36 to 65535 IP bytes', () => {
    expect(payloadBytesFor(36)).toBe(8);
    expect(() => payloadBytesFor(35)).toThrow(RangeError);
    expect(() => payloadBytesFor(65536)).toThrow(RangeError);
  });
});

describe('matching the outcome to the probes', () => {
  const targets = ['198.19.90.2', '198.19.90.3'];
  const plans: PacketPlan[] = [0, 0, 0, 1, 1, 1].map((target, i) => ({ target, full: i % 3 === 2 }));
  const reqs = plans.map((p, seq) => encodeEchoRequest({ ident: 99, seq, round: 5, ipPacketBytes: p.full ? 1450 : 84 }));
  const sent = reqs.map((_, i) => ({ atNs: 1e9 + i * 1000 }));

  it('raw socket: replies with the IP header, checksummed, ours by ident, round and seq and from the target', () => {
    const stranger = replyTo(encodeEchoRequest({ ident: 99, seq: 0, round: 4, ipPacketBytes: 84 }));
    const outcome: ProbeOutcome = {
      kind: 'raw', ident: 0, sent, errors: [],
      received: [
        { from: targets[0]!, atNs: 1e9 + 2e6, bytes: withIpHeader(replyTo(reqs[0]!)) },
        { from: targets[0]!, atNs: 1e9 + 3e6, bytes: withIpHeader(replyTo(reqs[0]!)) }, // a duplicate counts once
        { from: targets[0]!, atNs: 1e9 + 4e6, bytes: withIpHeader(replyTo(reqs[2]!)) },
        { from: targets[1]!, atNs: 1e9 + 5e6, bytes: withIpHeader(replyTo(reqs[1]!)) }, // seq 1 is target 0's
        { from: targets[0]!, atNs: 1e9 + 5e6, bytes: withIpHeader(stranger) }, // an earlier round's
        { from: targets[0]!, atNs: 1e9 + 5e6, bytes: withIpHeader(replyTo(reqs[1]!, { ident: 100 })) }, // another prober's
        { from: targets[1]!, atNs: 1e9, bytes: Buffer.from([0x45, 1, 2]) }, // garbage: skipped
      ],
    };
    const got = matchReplies(outcome, targets, plans, { ident: 99, round: 5 });
    expect(got[0]).toEqual({ sent: 2, rttSeconds: [0.002], fullSize: { ok: true } });
    expect(got[1]).toEqual({ sent: 2, rttSeconds: [], fullSize: { ok: false, reason: 'timeout' } });
  });

  it('ping socket: the kernel\'s identifier; refusals from the error queue and from sendto name the full-size probe\'s failure', () => {
    const ident = 4242;
    const outcome: ProbeOutcome = {
      kind: 'ping', ident,
      sent: sent.map((s, i) => (i === 5 ? { errno: 'EMSGSIZE', syscall: 'sendto', message: 'Message too long' } : s)),
      received: [3, 4].map((i) => ({ from: targets[1]!, atNs: 1e9 + 1e7, bytes: replyTo(reqs[i]!, { ident }) })),
      errors: [
        // the request as the kernel sent it, with its identifier
        { from: targets[0]!, atNs: 0, bytes: asSentBy(ident, reqs[2]!), errno: 'EMSGSIZE', origin: 2, type: 3, code: 4, info: 1400 },
        { from: targets[1]!, atNs: 0, bytes: Buffer.alloc(20), errno: 'EMSGSIZE', origin: 1, type: 0, code: 0, info: 1450 },
      ],
    };
    const got = matchReplies(outcome, targets, plans, { ident: 1, round: 5 });
    expect(got[0]).toEqual({ sent: 2, rttSeconds: [], fullSize: { ok: false, reason: 'EMSGSIZE', mtu: 1400 } });
    expect(got[1]!.rttSeconds.length).toBe(2);
    expect(got[1]!.fullSize).toEqual({ ok: false, reason: 'EMSGSIZE' });
  });
});

describe('probe plan', () => {
  const id = 'abcdef0123456789abcdef';
  const net = (over: Partial<NetworkState> = {}): NetworkState => ({
    id, name: 'appnet', driver: 'overlay', scope: 'swarm', ingress: false, attachable: false, internal: false, subnets: [], verbose: true,
    peers: [{ name: 'n1-net', ip: '198.18.0.1' }, { name: 'n2-net', ip: '198.18.0.2' }, { name: 'n3-net', ip: '198.18.0.3' }],
    endpoints: [{ key: 'c1', name: 'web.1', endpointId: 'ep-local', mac: '', ipv4: '198.19.90.5' }],
    services: [{ name: 'web', vip: '198.19.90.2', ports: [], localLbIndex: 257, tasks: [
      { name: 'web.1', endpointId: 'ep-local', endpointIp: '198.19.90.5', hostIp: '198.18.0.1' },
      { name: 'web.2', endpointId: 'ep-2', endpointIp: '198.19.90.12', hostIp: '198.18.0.2' },
      { name: 'web.3', endpointId: 'ep-3', endpointIp: '198.19.90.9', hostIp: '198.18.0.2' },
      { name: 'web.4', endpointId: 'ep-4', endpointIp: '198.19.90.7', hostIp: '198.18.0.3' },
    ] }],
    ...over,
  });
  const state = (n: NetworkState, extra: Partial<DockerState> = {}): DockerState => ({
    ...EMPTY_STATE, info: { ...EMPTY_STATE.info, nodeAddr: '198.18.0.1' },
    nodes: [{ id: 'x', hostname: 'node2', address: '198.18.0.2', role: 'worker', state: 'ready', availability: 'active', leader: false }],
    networks: [n], ...extra,
  });
  const ref = (name: string, kind: NetnsRef['kind']): NetnsRef => ({ name, kind, path: `/run/docker/netns/${name}` });
  const overlay = ref(`1-${id.slice(0, 10)}`, 'overlay');
  const lb = ref(`lb_${id.slice(0, 9)}`, 'lb');

  it('sends from lb_, to the lowest endpoint of every other node, named by hostname or networkdb name', () => {
    const { plans, skipped } = planProbes(state(net()), [{ name: 'host', kind: 'host', path: null }, overlay, lb]);
    expect(skipped).toEqual([]);
    expect(plans).toEqual([{ networkId: id, network: 'appnet', source: lb, overlay, targets: [
      { peerNode: 'node2', peerIp: '198.18.0.2', endpointIp: '198.19.90.9' },
      { peerNode: 'n3-net', peerIp: '198.18.0.3', endpointIp: '198.19.90.7' },
    ] }]);
  });

  it('sends from a running task sandbox without lb_, ingress_sbox on ingress; skips networks without a source or a view', () => {
    const sandbox = ref('0123456789ab', 'sandbox');
    const container = {
      id: 'c1', name: 'web.1', running: true, sandboxId: '0123456789abcdef', sandboxKey: '/var/run/docker/netns/0123456789ab', service: 'web',
      serviceId: '', task: '', taskId: '', nodeId: '', stack: '', networks: [{ network: 'appnet', networkId: id, endpointId: 'ep-local', mac: '', ip: '' }],
    };
    expect(planProbes(state(net(), { containers: [container] }), [overlay, sandbox]).plans[0]!.source).toEqual(sandbox);
    const sbox = ref('ingress_sbox', 'ingress_sbox');
    expect(planProbes(state(net({ ingress: true })), [overlay, sbox]).plans[0]!.source).toEqual(sbox);
    expect(planProbes(state(net()), [overlay]).skipped).toEqual([{ network: 'appnet', reason: 'no_source' }]);
    expect(planProbes(state(net({ verbose: false })), [overlay, lb]).skipped).toEqual([{ network: 'appnet', reason: 'no_control_plane_view' }]);
    // a network this node has no namespace of is not this node's to probe
    expect(planProbes(state(net()), [lb])).toEqual({ plans: [], skipped: [] });
  });
});

describe('probe collector', () => {
  it('projects the last round: loss, mean RTT of the answered, full-size outcome, MTU, round time', () => {
    const round: NetworkRound = {
      networkId: 'x', network: 'appnet', netns: 'lb_abcdef012', mtuBytes: 1450, finishedAt: 1_700_000_000_500, peers: [
        { peerNode: 'node2', peerIp: '198.18.0.2', endpointIp: '198.19.90.9', sent: 3, rttSeconds: [0.001, 0.003], fullSize: { ok: true } },
        { peerNode: 'node3', peerIp: '198.18.0.3', endpointIp: '198.19.90.7', sent: 3, rttSeconds: [], fullSize: { ok: false, reason: 'timeout' } },
      ],
    };
    const out = new FamilySet();
    probeCollector({ results: () => [round] }).collect(snapshotOf([]), out);
    const text = renderPrometheus(out.all()).toString('utf8');
    const l2 = 'network="appnet",netns="lb_abcdef012",peer_node="node2",peer_ip="198.18.0.2"';
    const l3 = 'network="appnet",netns="lb_abcdef012",peer_node="node3",peer_ip="198.18.0.3"';
    for (const line of [
      `swarmnet_overlay_probe_loss_ratio{${l2}} 0.33333333333333337`, `swarmnet_overlay_probe_loss_ratio{${l3}} 1`,
      `swarmnet_overlay_probe_rtt_seconds{${l2}} 0.002`, `swarmnet_overlay_probe_full_size_ok{${l2}} 1`, `swarmnet_overlay_probe_full_size_ok{${l3}} 0`,
      `swarmnet_overlay_probe_mtu_bytes{${l3}} 1450`, 'swarmnet_overlay_probe_last_round_timestamp_seconds{network="appnet",netns="lb_abcdef012"} 1700000000.5',
    ]) expect(text).toContain(line);
    expect(text).not.toContain(`swarmnet_overlay_probe_rtt_seconds{${l3}}`);
    // --network.include / --network.exclude keep or drop a network's probes as they do its namespaces
    const render = (opts: Parameters<typeof probeCollector>[1]) => {
      const set = new FamilySet();
      probeCollector({ results: () => [round, { ...round, network: 'backnet' }] }, opts).collect(snapshotOf([]), set);
      return [...new Set(set.all().flatMap((f) => f.samples.map((s) => s.labels.network)))];
    };
    expect(render({})).toEqual(['appnet', 'backnet']);
    expect(render({ networkInclude: /^back/ })).toEqual(['backnet']);
    expect(render({ networkExclude: /^back/ })).toEqual(['appnet']);
  });
});

describe('probe flags', () => {
  it('are off by default, and take interval, timeout and count', () => {
    expect(loadConfig([]).probe).toBeUndefined();
    expect(loadConfig(['--probe.overlay']).probe).toEqual({ intervalMs: 15_000, timeoutMs: 1_000, count: 3 });
    expect(loadConfig(['--probe.overlay', '--probe.overlay.interval=5s', '--probe.overlay.timeout=200ms', '--probe.overlay.count=5']).probe)
      .toEqual({ intervalMs: 5_000, timeoutMs: 200, count: 5 });
  });
  it('refuse a timeout not under the interval and a count out of range', () => {
    expect(() => loadConfig(['--probe.overlay', '--probe.overlay.timeout=15s'])).toThrow(/--probe.overlay.timeout: from 10ms to less than --probe.overlay.interval/);
    expect(() => loadConfig(['--probe.overlay', '--probe.overlay.count=0'])).toThrow(/--probe.overlay.count: "0"/);
    expect(() => loadConfig(['--probe.overlay', '--probe.overlay.interval=500ms'])).toThrow(/at least 1s/);
  });
});
