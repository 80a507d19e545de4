// Captured netlink replies and the ways a reply can go wrong: its framing walked
// (messages, attributes, the nests a decoder reads), and mutations of it as
// fast-check arbitraries: byte flips, truncation, bad nlmsg_len and nla_len,
// retyped attributes, unknown attributes, removed attributes, NLMSG_ERROR and
// NLM_F_DUMP_INTR part-way through a dump, and messages for another request.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fc } from '@fast-check/vitest';

export const NLMSG_HDRLEN = 16;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLM_F_DUMP_INTR = 0x10;
const NLA_HDRLEN = 4;
const align4 = (n: number): number => (n + 3) & ~3;

export interface Capture {
  name: string;
  bytes: Uint8Array;
  seq: number;
  port: number;
  /** the fixed header before a data message's attributes (ifinfomsg 16, ndmsg 12, genlmsghdr 4) */
  fixed: number;
  /** attribute type paths of the nests the decoder always reads (e.g. [[18]]: IFLA_LINKINFO) */
  nests: number[][];
}

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');

export function loadCapture(dir: 'rtnl' | 'ipvs', name: string, fixed: number, nests: number[][] = []): Capture {
  const base = join(FIXTURES, dir, name);
  return {
    name,
    bytes: new Uint8Array(readFileSync(`${base}.bin`)),
    seq: Number(readFileSync(`${base}.seq`, 'utf8')),
    port: Number(readFileSync(`${base}.port`, 'utf8')),
    fixed,
    nests,
  };
}

const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);

export interface MsgSpan {
  off: number;
  len: number;
  type: number;
}

/** The messages of a reply, as far as the framing holds. */
export function messagesOf(b: Uint8Array): MsgSpan[] {
  const v = view(b);
  const out: MsgSpan[] = [];
  let off = 0;
  while (b.length - off >= NLMSG_HDRLEN) {
    const len = v.getUint32(off, true);
    if (len < NLMSG_HDRLEN || off + len > b.length) break;
    out.push({ off, len, type: v.getUint16(off + 4, true) });
    off += align4(len);
  }
  return out;
}

export interface AttrSpan {
  /** offset of the attribute header in the reply */
  off: number;
  len: number;
  /** type path from the message's top level (flags masked) */
  path: number[];
  /** header offsets of the enclosing attributes, outermost first */
  parents: number[];
  /** the enclosing message's offset */
  msg: number;
  /** where the attribute's container ends (the message, or the enclosing attribute) */
  end: number;
}

/** A place attributes can go: a message's top level or a nest the decoder reads. */
export interface Container {
  msg: number;
  parents: number[];
  /** where a new attribute is inserted: after the container's last attribute */
  at: number;
}

const isPrefix = (path: number[], nests: number[][]): boolean =>
  nests.some((n) => n.length === path.length && n.every((t, i) => t === path[i]));

/** Every attribute of every data message, descending into the capture's nests. */
export function attrsOf(b: Uint8Array, cap: Capture): { attrs: AttrSpan[]; containers: Container[] } {
  const v = view(b);
  const attrs: AttrSpan[] = [];
  const containers: Container[] = [];
  const walk = (msg: number, start: number, end: number, path: number[], parents: number[]) => {
    let off = start;
    while (end - off >= NLA_HDRLEN) {
      const len = v.getUint16(off, true);
      const type = v.getUint16(off + 2, true) & 0x3fff;
      if (len < NLA_HDRLEN || off + len > end) return;
      const p = [...path, type];
      attrs.push({ off, len, path: p, parents, msg, end });
      if (isPrefix(p, cap.nests)) walk(msg, off + NLA_HDRLEN, off + len, p, [...parents, off]);
      off += align4(len);
    }
    if (off === end) containers.push({ msg, parents, at: off });
  };
  for (const m of messagesOf(b)) {
    if (m.type === NLMSG_DONE || m.type === NLMSG_ERROR || m.type === 1) continue;
    if (m.len < NLMSG_HDRLEN + cap.fixed) continue;
    walk(m.off, m.off + NLMSG_HDRLEN + cap.fixed, m.off + m.len, [], []);
  }
  return { attrs, containers };
}

// ---- editing a reply

/** Insert bytes at `at`, growing the message at `msg` and the attributes at `parents` by as much. */
function insertAt(b: Uint8Array, at: number, bytes: Uint8Array, msg: number, parents: number[]): Uint8Array {
  const out = new Uint8Array(b.length + bytes.length);
  out.set(b.subarray(0, at), 0);
  out.set(bytes, at);
  out.set(b.subarray(at), at + bytes.length);
  const v = view(out);
  v.setUint32(msg, v.getUint32(msg, true) + bytes.length, true);
  for (const p of parents) v.setUint16(p, v.getUint16(p, true) + bytes.length, true);
  return out;
}

/** Remove `count` bytes at `at`, shrinking the message and the enclosing attributes. */
function removeAt(b: Uint8Array, at: number, count: number, msg: number, parents: number[]): Uint8Array {
  const out = new Uint8Array(b.length - count);
  out.set(b.subarray(0, at), 0);
  out.set(b.subarray(at + count), at);
  const v = view(out);
  v.setUint32(msg, v.getUint32(msg, true) - count, true);
  for (const p of parents) v.setUint16(p, v.getUint16(p, true) - count, true);
  return out;
}

export function encodeAttr(type: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(align4(NLA_HDRLEN + payload.length));
  view(out).setUint16(0, NLA_HDRLEN + payload.length, true);
  view(out).setUint16(2, type, true);
  out.set(payload, NLA_HDRLEN);
  return out;
}

/** A netlink message addressed to seq/port. */
export function encodeMessage(type: number, flags: number, seq: number, port: number, payload: Uint8Array): Uint8Array {
  const len = NLMSG_HDRLEN + payload.length;
  const out = new Uint8Array(align4(len));
  const v = view(out);
  v.setUint32(0, len, true);
  v.setUint16(4, type, true);
  v.setUint16(6, flags, true);
  v.setUint32(8, seq, true);
  v.setUint32(12, port, true);
  out.set(payload, NLMSG_HDRLEN);
  return out;
}

/** NLMSG_ERROR carrying `code` (0: an ACK) and, as the kernel does, the request's header. */
export function errorMessage(cap: Capture, code: number, short = false): Uint8Array {
  const payload = new Uint8Array(short ? 2 : 4 + NLMSG_HDRLEN);
  if (!short) view(payload).setInt32(0, code, true);
  return encodeMessage(NLMSG_ERROR, 0, cap.seq, cap.port, payload);
}

export function insertMessage(b: Uint8Array, boundary: number, msg: Uint8Array): Uint8Array {
  const out = new Uint8Array(b.length + msg.length);
  out.set(b.subarray(0, boundary), 0);
  out.set(msg, boundary);
  out.set(b.subarray(boundary), boundary + msg.length);
  return out;
}

/** The message boundaries of a reply: 0, each message's end, the reply's end. */
export function boundariesOf(b: Uint8Array): number[] {
  const ms = messagesOf(b);
  return [0, ...ms.map((m) => Math.min(b.length, m.off + align4(m.len)))];
}

// ---- mutations

export type Mutation =
  | { kind: 'byte'; at: number; value: number }
  | { kind: 'bit'; at: number; bit: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'nlmsgLen'; msg: number; len: LenChoice }
  | { kind: 'nlaLen'; attr: number; len: LenChoice }
  | { kind: 'nlaType'; attr: number; type: number }
  | { kind: 'fixedField'; msg: number; at: number; value: number }
  | { kind: 'attrFill'; attr: number; fill: number }
  | { kind: 'unknownAttr'; where: number; type: number; payload: Uint8Array }
  | { kind: 'removeAttr'; attr: number }
  | { kind: 'error'; boundary: number; code: number; short: boolean }
  | { kind: 'doneErrno'; code: number }
  | { kind: 'dumpIntr'; msg: number }
  | { kind: 'seq' | 'port'; msg: number; delta: number }
  | { kind: 'dupMsg' | 'dropMsg'; msg: number };

/** A new length relative to the old one and to the room its container has. */
export type LenChoice =
  | { rel: 'zero' | 'underHeader' | 'headerOnly' | 'toEnd' | 'pastEnd' | 'max' }
  | { rel: 'delta'; by: number }
  | { rel: 'any'; value: number };

const lenChoice: fc.Arbitrary<LenChoice> = fc.oneof(
  fc.constantFrom<LenChoice>({ rel: 'zero' }, { rel: 'underHeader' }, { rel: 'headerOnly' }, { rel: 'toEnd' }, { rel: 'pastEnd' }, { rel: 'max' }),
  fc.record({ rel: fc.constant('delta' as const), by: fc.integer({ min: -16, max: 16 }).filter((d) => d !== 0) }),
  fc.record({ rel: fc.constant('any' as const), value: fc.nat() }),
);

function resolveLen(c: LenChoice, old: number, header: number, room: number, max: number): number {
  switch (c.rel) {
    case 'zero': return 0;
    case 'underHeader': return header - 1;
    case 'headerOnly': return header;
    case 'toEnd': return room;
    case 'pastEnd': return room + 1;
    case 'max': return max;
    case 'delta': return Math.min(max, Math.max(0, old + c.by));
    case 'any': return c.value % (max + 1);
  }
}

const index = fc.nat({ max: 1 << 16 });

/** Values that sit on the edges of the integer types. */
const interestingU32: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fff_ffff, 0x8000_0000, 0xffff_fffe, 0xffff_ffff),
  fc.integer({ min: 0, max: 0xffff_ffff }),
);

/** Any one mutation. */
export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('byte' as const), at: index, value: fc.integer({ min: 0, max: 255 }) }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('bit' as const), at: index, bit: fc.integer({ min: 0, max: 7 }) }), weight: 2 },
  fc.record({ kind: fc.constant('truncate' as const), at: index }),
  { arbitrary: fc.record({ kind: fc.constant('nlmsgLen' as const), msg: index, len: lenChoice }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('nlaLen' as const), attr: index, len: lenChoice }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('nlaType' as const), attr: index, type: fc.integer({ min: 0, max: 0xffff }) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('fixedField' as const), msg: index, at: index, value: interestingU32 }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('attrFill' as const), attr: index, fill: fc.constantFrom(0, 0xff, 0x80, 0x7f) }), weight: 2 },
  { arbitrary: unknownAttr(), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('removeAttr' as const), attr: index }), weight: 2 },
  fc.record({ kind: fc.constant('error' as const), boundary: index, code: errnoCode(), short: fc.boolean() }),
  fc.record({ kind: fc.constant('doneErrno' as const), code: errnoCode() }),
  fc.record({ kind: fc.constant('dumpIntr' as const), msg: index }),
  fc.record({ kind: fc.constantFrom('seq' as const, 'port' as const), msg: index, delta: fc.integer({ min: 1, max: 0xffffffff }) }),
  fc.record({ kind: fc.constantFrom('dupMsg' as const, 'dropMsg' as const), msg: index }),
);

/** An errno as the kernel sends it: usually small and negative, sometimes 0 or anything. */
export function errnoCode(): fc.Arbitrary<number> {
  return fc.oneof(fc.integer({ min: -140, max: -1 }), fc.constant(0), fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff }));
}

/** An attribute of a type no decoder knows (high numbers, any flags), with any payload. */
export function unknownAttr(): fc.Arbitrary<Extract<Mutation, { kind: 'unknownAttr' }>> {
  return fc.record({
    kind: fc.constant('unknownAttr' as const),
    where: index,
    type: fc.tuple(fc.integer({ min: 0x100, max: 0x3fff }), fc.constantFrom(0, 0x4000, 0x8000, 0xc000)).map(([t, f]) => t | f),
    payload: fc.uint8Array({ maxLength: 40 }),
  });
}

export const mutations = (maxLength = 4): fc.Arbitrary<Mutation[]> => fc.array(mutation, { minLength: 1, maxLength });

const pick = <T>(xs: readonly T[], i: number): T | undefined => (xs.length === 0 ? undefined : xs[i % xs.length]);

/** Apply one mutation; one that finds nothing to act on leaves the reply as it was. */
export function applyMutation(b: Uint8Array, m: Mutation, cap: Capture): Uint8Array {
  if (b.length === 0) return b;
  const out = b.slice();
  const v = view(out);
  switch (m.kind) {
    case 'byte': out[m.at % out.length] = m.value; return out;
    case 'bit': out[m.at % out.length]! ^= 1 << m.bit; return out;
    case 'truncate': return out.slice(0, m.at % out.length);
    case 'nlmsgLen': {
      const msg = pick(messagesOf(b), m.msg);
      if (!msg) return out;
      v.setUint32(msg.off, resolveLen(m.len, msg.len, NLMSG_HDRLEN, b.length - msg.off, 0xffff_ffff), true);
      return out;
    }
    case 'nlaLen': {
      const a = pick(attrsOf(b, cap).attrs, m.attr);
      if (!a) return out;
      v.setUint16(a.off, resolveLen(m.len, a.len, NLA_HDRLEN, a.end - a.off, 0xffff), true);
      return out;
    }
    case 'nlaType': {
      const a = pick(attrsOf(b, cap).attrs, m.attr);
      if (a) v.setUint16(a.off + 2, m.type, true);
      return out;
    }
    case 'fixedField': {
      // a u32 anywhere in a data message's fixed header (ifindex, flags, state, genl command...)
      const msg = pick(messagesOf(b).filter((x) => x.len >= NLMSG_HDRLEN + cap.fixed && x.type > NLMSG_DONE), m.msg);
      if (!msg || cap.fixed < 4) return out;
      v.setUint32(msg.off + NLMSG_HDRLEN + (m.at % (cap.fixed - 3)), m.value, true);
      return out;
    }
    case 'attrFill': {
      const a = pick(attrsOf(b, cap).attrs, m.attr);
      if (a) out.fill(m.fill, a.off + NLA_HDRLEN, Math.min(a.off + a.len, a.end));
      return out;
    }
    case 'unknownAttr': {
      const c = pick(attrsOf(b, cap).containers, m.where);
      if (!c) return out;
      return insertAt(b, c.at, encodeAttr(m.type, m.payload), c.msg, c.parents);
    }
    case 'removeAttr': {
      const a = pick(attrsOf(b, cap).attrs, m.attr);
      if (!a) return out;
      return removeAt(b, a.off, Math.min(align4(a.len), a.end - a.off), a.msg, a.parents);
    }
    case 'error': {
      const at = pick(boundariesOf(b), m.boundary)!;
      return insertMessage(b, at, errorMessage(cap, m.code, m.short));
    }
    case 'doneErrno': {
      const done = messagesOf(b).find((x) => x.type === NLMSG_DONE && x.len >= NLMSG_HDRLEN + 4);
      if (done) v.setInt32(done.off + NLMSG_HDRLEN, m.code, true);
      return out;
    }
    case 'dumpIntr': {
      const msg = pick(messagesOf(b), m.msg);
      if (msg) v.setUint16(msg.off + 6, v.getUint16(msg.off + 6, true) | NLM_F_DUMP_INTR, true);
      return out;
    }
    case 'seq': case 'port': {
      const msg = pick(messagesOf(b), m.msg);
      if (!msg) return out;
      const at = msg.off + (m.kind === 'seq' ? 8 : 12);
      v.setUint32(at, (v.getUint32(at, true) + m.delta) >>> 0, true);
      return out;
    }
    case 'dupMsg': case 'dropMsg': {
      const msg = pick(messagesOf(b), m.msg);
      if (!msg) return out;
      const span = b.slice(msg.off, Math.min(b.length, msg.off + align4(msg.len)));
      if (m.kind === 'dupMsg') return insertMessage(b, msg.off, span);
      return Uint8Array.from([...b.subarray(0, msg.off), ...b.subarray(msg.off + span.length)]);
    }
  }
}

export function applyMutations(cap: Capture, ms: Mutation[]): Uint8Array {
  return ms.reduce((b, m) => applyMutation(b, m, cap), cap.bytes);
}
