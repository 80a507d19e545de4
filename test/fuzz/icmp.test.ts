// Fuzzing the ICMP side of the overlay probes: a raw socket hands the exporter
// every ICMP datagram of its namespace, so the echo codec and the matching of
// replies to probes see bytes nobody controls. Decoding either succeeds with
// values in their wire range or fails with DecodeError; matching never throws,
// counts each probe at most once, and never reports more answers than probes.
import { describe, expect } from 'vitest';
import { fc, it } from '@fast-check/vitest';
import { decodeEcho, encodeEchoRequest, internetChecksum, stripIpHeader } from '../../src/kernel/icmp/echo.js';
import type { ProbeOutcome } from '../../src/kernel/native.js';
import { DecodeError } from '../../src/kernel/nl/attr.js';
import { type PacketPlan, matchReplies } from '../../src/probes/round.js';
import { TIMEOUT, runs } from './runs.js';

const TARGETS = ['198.19.90.2', '198.19.90.3'];
const PLANS: PacketPlan[] = [0, 0, 0, 1, 1, 1].map((target, i) => ({ target, full: i % 3 === 2 }));
const REQUESTS = PLANS.map((p, seq) => encodeEchoRequest({ ident: 7, seq, round: 3, ipPacketBytes: p.full ? 1450 : 84 }));

/** a request turned into its reply, then mutated: flipped bytes, cut short, or left as is */
const replyish = fc.tuple(fc.nat(REQUESTS.length - 1), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.option(fc.nat(), { nil: undefined }))
  .map(([i, flips, cut]) => {
    const b = Buffer.from(REQUESTS[i]!);
    b[0] = 0;
    b.writeUInt16BE(0, 2);
    b.writeUInt16BE(internetChecksum(b), 2);
    for (const [at, v] of flips) b[at % b.length] = v;
    return cut === undefined ? b : b.subarray(0, cut % (b.length + 1));
  });
const anyBytes = fc.oneof(fc.uint8Array({ maxLength: 64 }).map((u) => Buffer.from(u)), replyish);
const withIp = (b: Buffer) => Buffer.concat([Buffer.from([0x45, 0, 0, 0, 0, 0, 0, 0, 64, 1, 0, 0, 198, 19, 90, 2, 198, 19, 90, 1]), b]);

function decodes(buf: Uint8Array, checksum: boolean): void {
  try {
    const m = decodeEcho(buf, { checksum });
    for (const v of [m.type, m.code]) expect(v >= 0 && v <= 255).toBe(true);
    for (const v of [m.ident, m.seq]) expect(v >= 0 && v <= 0xffff).toBe(true);
    expect(m.length).toBe(buf.length);
  } catch (err) {
    if (!(err instanceof DecodeError)) throw err;
  }
}

describe('ICMP echo codec and reply matching on any bytes', () => {
  it.prop([anyBytes, fc.boolean()], runs())('decodeEcho and stripIpHeader: a message in range, or a DecodeError', (b, checksum) => {
    decodes(b, checksum);
    try {
      decodes(stripIpHeader(b), checksum);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
    }
  }, TIMEOUT);

  it.prop([
    fc.constantFrom<'raw' | 'ping'>('raw', 'ping'),
    fc.array(fc.tuple(fc.constantFrom(...TARGETS, '203.0.113.9'), anyBytes), { maxLength: 12 }),
    fc.array(fc.tuple(fc.constantFrom(...TARGETS), anyBytes, fc.constantFrom('EMSGSIZE', 'EHOSTUNREACH'), fc.integer({ min: 0, max: 3 }), fc.nat(9000)), { maxLength: 4 }),
  ], runs())('matchReplies never throws, answers each probe at most once, and names every failure', (kind, received, errors) => {
    const outcome: ProbeOutcome = {
      kind, ident: 7, sent: REQUESTS.map((_, i) => ({ atNs: 1000 * i })),
      received: received.map(([from, b], i) => ({ from, atNs: 1e6 + i, bytes: kind === 'raw' ? withIp(b) : b })),
      errors: errors.map(([from, bytes, errno, origin, info]) => ({ from, atNs: 0, bytes, errno, origin, type: 3, code: 4, info })),
    };
    const got = matchReplies(outcome, TARGETS, PLANS, { ident: 7, round: 3 });
    expect(got).toHaveLength(TARGETS.length);
    for (const t of got) {
      expect(t.sent).toBe(2);
      expect(t.rttSeconds.length).toBeLessThanOrEqual(2);
      for (const r of t.rttSeconds) expect(Number.isFinite(r) && r >= 0).toBe(true);
      if (!t.fullSize.ok) expect(['timeout', 'EMSGSIZE', 'EHOSTUNREACH']).toContain(t.fullSize.reason);
    }
  }, TIMEOUT);
});
