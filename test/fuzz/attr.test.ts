// Fuzzing the attribute reader and the address formatters directly, and every
// netlink decoder on replies built from scratch (synthetic.ts): the reader never
// throws and never reads outside its bounds, typed reads give values of their
// type or a sticky DecodeError, and the decoders give sane values or a
// documented error.
import { describe, expect, test } from 'vitest';
import { fc, it } from '@fast-check/vitest';
import { AttrReader, DecodeError } from '../../src/kernel/nl/attr.js';
import { formatIp, formatMac } from '../../src/kernel/nl/address.js';
import { parseReply } from '../../src/kernel/nl/message.js';
import { decodeLinks } from '../../src/kernel/rtnl/link.js';
import { decodeNeighbours } from '../../src/kernel/rtnl/neigh.js';
import { decodeFamily } from '../../src/kernel/genl/ctrl.js';
import {
  AF_INET, AF_INET6, type IpvsServiceKey, decodeDests, decodeServiceAttrs, decodeServices, getDestsRequest, ipBytes, serviceKey,
} from '../../src/kernel/genl/ipvs.js';
import { TIMEOUT, runs } from './runs.js';
import { type Kind, attrSoup, syntheticReply } from './synthetic.js';
import {
  IPV4, MAC, checkDest, checkFamily, checkLink, checkNeighbour, checkService, expectNetlinkError, isIpv6,
} from './invariants.js';

const FAMILY_ID = 0x20;
const SEQ = 4242;
const PORT = 31337;

/** Bytes inside a larger buffer (the reader must honour byteOffset), with a window to read. */
const framed = fc.tuple(fc.uint8Array({ maxLength: 8 }), fc.oneof(attrSoup, fc.uint8Array({ maxLength: 96 })), fc.uint8Array({ maxLength: 8 }))
  .chain(([pre, body, post]) => {
    const whole = new Uint8Array([...pre, ...body, ...post]);
    const buf = whole.subarray(pre.length, pre.length + body.length);
    return fc.tuple(fc.constant(buf), fc.nat({ max: buf.length }), fc.nat({ max: buf.length }))
      .map(([b, x, y]) => ({ buf: b, start: Math.min(x, y), end: Math.max(x, y) }));
  });

type Read = 'u8' | 'u16' | 'u16be' | 'u32' | 'i32' | 'u64' | 'str' | 'bytes' | 'stats' | 'nested';
const READS: Read[] = ['u8', 'u16', 'u16be', 'u32', 'i32', 'u64', 'str', 'bytes', 'stats', 'nested'];

/**
 * Read every attribute with the given reads in turn, checking each value and
 * that its payload lies inside the window [lo, hi) of the underlying buffer;
 * returns how many attributes there were.
 */
function readAll(r: AttrReader, reads: Read[], lo: number, hi: number, depth = 0): number {
  let n = 0;
  while (r.next()) {
    n++;
    if (n > (hi - lo) / 4 + 1) throw new Error('more attributes than the bytes can hold');
    expect(r.type).toBeGreaterThanOrEqual(0);
    expect(r.type).toBeLessThanOrEqual(0x3fff);
    const payload = r.bytes();
    expect(payload.byteOffset).toBeGreaterThanOrEqual(lo + 4);
    expect(payload.byteOffset + payload.length).toBeLessThanOrEqual(hi);
    const read = reads[(n - 1) % reads.length]!;
    const len = r.length;
    const size = { u8: 1, u16: 2, u16be: 2, u32: 4, i32: 4, u64: 8 } as Record<string, number>;
    switch (read) {
      case 'u8': case 'u16': case 'u16be': case 'u32': {
        const v = r[read]();
        expect(Number.isInteger(v) && v >= 0 && v < 2 ** (8 * size[read]!)).toBe(true);
        break;
      }
      case 'i32': expect(Number.isInteger(r.i32())).toBe(true); break;
      case 'u64': {
        const v = r.u64();
        expect(typeof v === 'bigint' && v >= 0n && v < 2n ** 64n).toBe(true);
        break;
      }
      case 'str': {
        const s = r.str();
        expect(typeof s).toBe('string');
        expect(s.includes('\0')).toBe(false);
        expect(Buffer.byteLength(s.replace(/\uFFFD/g, '?'))).toBeLessThanOrEqual(len * 3);
        break;
      }
      case 'bytes': expect(r.bytes().length).toBe(len); break;
      case 'stats': {
        const v = r.u64sAsNumbers(1);
        if (v) for (const x of v) expect(Number.isFinite(x) && x >= 0 && Number.isInteger(x)).toBe(true);
        else expect(r.err).toBeInstanceOf(DecodeError);
        break;
      }
      case 'nested': if (depth < 4) r.nested((inner) => readAll(inner, reads, payload.byteOffset, payload.byteOffset + len, depth + 1)); break;
    }
    if (read !== 'str' && read !== 'bytes' && read !== 'nested' && read !== 'stats' && len !== size[read]) {
      expect(r.err).toBeInstanceOf(DecodeError);
    }
    if (r.err) break;
  }
  if (r.err !== undefined) {
    expect(r.err).toBeInstanceOf(DecodeError);
    // the first error sticks: no more attributes
    expect(r.next()).toBe(false);
  }
  return n;
}

describe('attribute reader fuzz', () => {
  it.prop([framed, fc.array(fc.constantFrom(...READS), { minLength: 1, maxLength: 6 })], runs(2))(
    'never throws, stays inside its window, typed reads give their type or a sticky DecodeError', ({ buf, start, end }, reads) => {
      readAll(new AttrReader(buf, start, end), reads, buf.byteOffset + start, buf.byteOffset + end);
    }, TIMEOUT);

  it.prop([attrSoup], runs())('a soup of well-formed attributes reads to its end without error', (soup) => {
    const r = new AttrReader(soup);
    readAll(r, ['bytes'], soup.byteOffset, soup.byteOffset + soup.length);
    expect(r.err).toBeUndefined();
  }, TIMEOUT);
});

describe('address formatting fuzz', () => {
  it.prop([fc.uint8Array({ maxLength: 20 })], runs())('formatIp: dotted IPv4, inet_ntop IPv6, DecodeError for other sizes', (b) => {
    if (b.length === 4) expect(formatIp(b)).toMatch(IPV4);
    else if (b.length === 16) expect(isIpv6(formatIp(b))).toBe(true);
    else expect(() => formatIp(b)).toThrow(DecodeError);
  }, TIMEOUT);

  it.prop([fc.oneof(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.uint8Array({ minLength: 16, maxLength: 16 }),
    fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => b.map((x, i) => (i % 5 === 0 ? x : 0))))], runs())(
    'formatIp and ipBytes round-trip', (b) => {
      const af = b.length === 4 ? AF_INET : AF_INET6;
      expect(ipBytes(formatIp(b), af)).toEqual(b);
    }, TIMEOUT);

  it.prop([fc.uint8Array({ minLength: 6, maxLength: 6 })], runs(0.5))('formatMac: six lower-case hex pairs', (b) => {
    expect(formatMac(b)).toMatch(MAC);
  }, TIMEOUT);

  const key: fc.Arbitrary<IpvsServiceKey> = fc.oneof(
    fc.record({ af: fc.constantFrom(AF_INET, AF_INET6), fwmark: fc.integer({ min: 1, max: 0xffff_ffff }) }),
    fc.oneof(
      fc.record({ af: fc.constant(AF_INET), a: fc.uint8Array({ minLength: 4, maxLength: 4 }) }),
      fc.record({ af: fc.constant(AF_INET6), a: fc.uint8Array({ minLength: 16, maxLength: 16 }) }),
    ).chain(({ af, a }) => fc.record({
      af: fc.constant(af), address: fc.constant(formatIp(a)), protocol: fc.integer({ min: 0, max: 0xffff }), port: fc.integer({ min: 0, max: 0xffff }),
    })),
  );
  it.prop([key, fc.integer({ min: 0x10, max: 0xffff }), fc.nat()], runs())('a destination request carries the service key it was built from', (k, family, seq) => {
    const msg = getDestsRequest(family, seq, k);
    const [m] = parseReply(msg, { seq, port: 0 }, 'request');
    const r = new AttrReader(m!.payload, 4);
    expect(r.next()).toBe(true);
    expect(serviceKey(r.nested(decodeServiceAttrs)!)).toEqual(k);
  }, TIMEOUT);
});

describe('netlink decoders on synthetic replies', () => {
  /** Decode: a success must pass the checks, a failure must be a documented error. */
  const check = <T>(decode: () => T[], each: (v: T) => void) => {
    let out: T[];
    try {
      out = decode();
    } catch (e) {
      expectNetlinkError(e);
      return;
    }
    out.forEach(each);
  };
  const msgsOf = (bytes: Uint8Array) => parseReply(bytes, { seq: SEQ, port: PORT }, 'synthetic');
  const decoders: Record<Kind, (bytes: Uint8Array) => void> = {
    link: (b) => check(() => decodeLinks(msgsOf(b)), checkLink),
    neigh: (b) => {
      check(() => decodeNeighbours(msgsOf(b)), checkNeighbour);
      check(() => decodeNeighbours(msgsOf(b), (i) => i % 3 !== 0), checkNeighbour);
    },
    ctrl: (b) => check(() => [decodeFamily(msgsOf(b))], checkFamily),
    service: (b) => check(() => decodeServices(msgsOf(b), FAMILY_ID), checkService),
    dest: (b) => {
      for (const af of [undefined, AF_INET, AF_INET6]) check(() => decodeDests(msgsOf(b), FAMILY_ID, af), (d) => checkDest(d, af));
    },
  };

  test.each(Object.keys(decoders) as Kind[])('%s', (kind) => {
    fc.assert(fc.property(syntheticReply(kind, SEQ, PORT, FAMILY_ID), (bytes) => decoders[kind](bytes)), runs(2));
  }, TIMEOUT);
});
