// Netlink replies built from scratch: messages with well-formed headers for the
// expected request and attributes shaped after what each decoder reads (its
// attribute types, mostly with the payload sizes it expects, sometimes not, and
// unknown ones), so that random input gets past the framing into the typed
// reads, and often all the way to a successful decode whose values are checked.
import { fc } from '@fast-check/vitest';
import { encodeAttr, encodeMessage } from './netlink-mutate.js';

const concat = (parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};

const bytesOf = (n: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: n, maxLength: n });

/** Strings the decoders compare with, and any text; NUL-terminated or not. */
const text: fc.Arbitrary<Uint8Array> = fc.tuple(
  fc.oneof(fc.constantFrom('vxlan', 'bridge', 'veth', 'IPVS', 'rr', 'eth0', ''), fc.string({ maxLength: 20 }), fc.string({ unit: 'binary', maxLength: 8 })),
  fc.boolean(),
).map(([s, nul]) => new Uint8Array(Buffer.from(nul ? `${s}\0` : s, 'utf8')));

/** Any payload: the sizes typed reads and addresses check, and any other. */
const anyPayload: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.constantFrom(0, 1, 2, 3, 4, 5, 6, 8, 16, 184, 192, 200).chain(bytesOf),
  fc.uint8Array({ maxLength: 48 }),
  text,
);

const soups = fc.letrec<{ soup: Uint8Array; attr: Uint8Array }>((tie) => ({
  soup: fc.array(tie('attr'), { maxLength: 5 }).map(concat),
  attr: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.tuple(fc.integer({ min: 0, max: 0xffff }), anyPayload).map(([t, p]) => encodeAttr(t, p)),
    fc.tuple(fc.integer({ min: 0, max: 0xffff }), tie('soup')).map(([t, p]) => encodeAttr(t, p)),
  ),
}));

/** A run of attributes of any type, nests included. */
export const attrSoup: fc.Arbitrary<Uint8Array> = soups.soup;

/** What a decoder reads at one level: attribute type -> its payload. */
type Spec = Record<number, fc.Arbitrary<Uint8Array>>;

const u8 = bytesOf(1);
const u16 = bytesOf(2);
const u32 = fc.oneof(bytesOf(4), fc.integer({ min: 0, max: 300 }).map((n) => Uint8Array.of(n & 0xff, n >> 8, 0, 0)));
const u64 = bytesOf(8);
const ip = fc.oneof(bytesOf(4), bytesOf(16));
const af = fc.constantFrom(Uint8Array.of(2, 0), Uint8Array.of(10, 0));

/** Attributes of a spec (mostly the right size, now and then any), with unknown ones mixed in. */
function attrs(spec: Spec, maxLength = 8): fc.Arbitrary<Uint8Array> {
  const types = Object.keys(spec).map(Number);
  const known = fc.constantFrom(...types).chain((t) =>
    fc.oneof({ arbitrary: spec[t]!, weight: 8 }, anyPayload).map((p) => encodeAttr(t | (p.length % 7 === 0 ? 0x8000 : 0), p)));
  return fc.array(fc.oneof({ arbitrary: known, weight: 8 }, soups.attr), { maxLength }).map(concat);
}

const STATS64: Spec = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [i + 1, u64]));
const VXLAN: Spec = { 1: u32, 3: u32, 4: bytesOf(4), 7: u8, 15: u16, 17: bytesOf(16) };
const LINKINFO: Spec = {
  1: fc.constantFrom('vxlan\0', 'bridge\0', 'veth\0', 'vxlan').map((s) => new Uint8Array(Buffer.from(s))),
  2: attrs(VXLAN),
  4: text,
};
const LINK: Spec = {
  1: bytesOf(6), 3: text, 4: u32, 5: u32, 10: u32, 16: u8, 37: u32, 18: attrs(LINKINFO, 4),
  23: fc.constantFrom(184, 192, 200).chain(bytesOf),
};
const NEIGH: Spec = { 1: ip, 2: bytesOf(6), 5: u16, 7: u32, 9: u32 };
const CTRL: Spec = { 1: u16, 2: text, 3: u32, 4: u32, 5: u32 };
const SERVICE: Spec = {
  1: af, 2: u16, 3: ip, 4: u16, 5: u32, 6: text, 7: u64, 8: u32, 9: bytesOf(4), 11: text, 12: attrs(STATS64, 12),
};
const DEST: Spec = {
  1: ip, 2: u16, 3: u32, 4: u32, 5: u32, 6: u32, 7: u32, 8: u32, 9: u32, 11: af, 12: attrs(STATS64, 12),
};

export type Kind = 'link' | 'neigh' | 'ctrl' | 'service' | 'dest';

/** One data message of a kind: its type, fixed header and attributes. */
function message(kind: Kind, familyId: number): fc.Arbitrary<{ type: number; body: Uint8Array }> {
  const nonNegative = (b: Uint8Array) => { b[7]! &= 0x7f; return b; };
  const genl = (cmd: number) => fc.oneof({ arbitrary: fc.constant(cmd), weight: 8 }, fc.integer({ min: 0, max: 255 }))
    .map((c) => Uint8Array.of(c, 1, 0, 0));
  switch (kind) {
    case 'link': {
      // a link must have a name: usually give it one, anywhere among its attributes
      const name = fc.option(fc.stringMatching(/^[a-z0-9]{1,15}$/).map((n) => encodeAttr(3, new Uint8Array(Buffer.from(`${n}\0`)))), { freq: 5 });
      return fc.tuple(bytesOf(16).map(nonNegative), attrs(LINK, 12), name, attrs(LINK, 4))
        .map(([h, a, n, b]) => ({ type: 16, body: concat([h, a, n ?? new Uint8Array(0), b]) }));
    }
    case 'neigh': return fc.tuple(bytesOf(12).map(nonNegative), attrs(NEIGH)).map(([h, a]) => ({ type: 28, body: concat([h, a]) }));
    case 'ctrl': return fc.tuple(genl(1), attrs(CTRL)).map(([h, a]) => ({ type: 0x10, body: concat([h, a]) }));
    case 'service': return fc.tuple(genl(1), attrs(SERVICE, 12), attrSoup)
      .map(([h, a, more]) => ({ type: familyId, body: concat([h, encodeAttr(1, a), more]) }));
    case 'dest': return fc.tuple(genl(5), attrs(DEST, 12), attrSoup)
      .map(([h, a, more]) => ({ type: familyId, body: concat([h, encodeAttr(2, a), more]) }));
  }
}

/** Any message at all: any type, a fixed header of any size, any attributes. */
const stray = fc.record({ type: fc.integer({ min: 0, max: 0xffff }), body: fc.tuple(fc.uint8Array({ maxLength: 20 }), attrSoup).map(concat) });

/**
 * A reply of a kind to request seq on socket port: its data messages, now and
 * then a stray one, and usually NLMSG_DONE at the end.
 */
export function syntheticReply(kind: Kind, seq: number, port: number, familyId: number): fc.Arbitrary<Uint8Array> {
  const msg = fc.record({
    m: fc.oneof({ arbitrary: message(kind, familyId), weight: 12 }, stray),
    flags: fc.oneof({ arbitrary: fc.constant(2), weight: 4 }, fc.integer({ min: 0, max: 0xffff }).map((f) => f & ~0x10)),
  }).map(({ m, flags }) => encodeMessage(m.type, flags, seq, port, m.body));
  const done = encodeMessage(3, 2, seq, port, new Uint8Array(4));
  return fc.tuple(fc.array(msg, { minLength: 1, maxLength: 4 }), fc.boolean()).map(([ms, end]) => concat(end ? [...ms, done] : ms));
}
