// Fuzzing the netlink decoders on mutated real-kernel replies (test/fixtures/rtnl
// and ipvs): whatever the bytes, a decode either succeeds with sane values or
// throws DecodeError, NetlinkError or DumpInterruptedError; and the targeted
// damages (bad lengths, NLMSG_ERROR or NLM_F_DUMP_INTR part-way, another
// request's messages) are refused with the right one of those.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect } from 'vitest';
import { fc, it } from '@fast-check/vitest';
import { DecodeError } from '../../src/kernel/nl/attr.js';
import { DumpInterruptedError, NetlinkError, parseReply } from '../../src/kernel/nl/message.js';
import { decodeLinks } from '../../src/kernel/rtnl/link.js';
import { decodeNeighbours } from '../../src/kernel/rtnl/neigh.js';
import { decodeFamily } from '../../src/kernel/genl/ctrl.js';
import { decodeDests, decodeServices } from '../../src/kernel/genl/ipvs.js';
import { TIMEOUT, runs } from './runs.js';
import {
  type Capture, NLMSG_DONE, NLMSG_ERROR, applyMutations, attrsOf, boundariesOf, errnoCode, errorMessage, insertMessage,
  loadCapture, messagesOf, mutations, unknownAttr,
} from './netlink-mutate.js';
import { checkDest, checkFamily, checkLink, checkNeighbour, checkService, expectNetlinkError } from './invariants.js';

const familyCap = loadCapture('ipvs', 'family', 4);
const FAMILY_ID = decodeFamily(parseReply(familyCap.bytes, familyCap, 'family')).id;
const destKeys = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'ipvs', 'dests-keys.json'), 'utf8')) as Array<{ af: number }>;

interface Target {
  cap: Capture;
  /** type paths of the containers whose every attribute the decoder reads ([]: the message's top level) */
  strict: number[][];
  decode: (bytes: Uint8Array) => unknown[];
  check: (v: unknown) => void;
}

const reply = (cap: Capture, bytes: Uint8Array) => parseReply(bytes, { seq: cap.seq, port: cap.port }, cap.name);

function rtnlTargets(): Target[] {
  const links = loadCapture('rtnl', 'links', 16, [[18], [18, 2]]);
  const neighbours = (name: string): Target[] => {
    const cap = loadCapture('rtnl', name, 12);
    return [
      { cap, strict: [[]], decode: (b) => decodeNeighbours(reply(cap, b)), check: (v) => checkNeighbour(v as never) },
      // the collectors' filter: decided on the fixed header, before the attributes
      { cap, strict: [], decode: (b) => decodeNeighbours(reply(cap, b), (ifindex, flags) => ifindex % 2 === 0 || (flags & 2) !== 0),
        check: (v) => checkNeighbour(v as never) },
    ];
  };
  return [
    { cap: links, strict: [[], [18]], decode: (b) => decodeLinks(reply(links, b)), check: (v) => checkLink(v as never) },
    ...neighbours('fdb'),
    ...neighbours('neigh'),
  ];
}

function genlTargets(): Target[] {
  const services = loadCapture('ipvs', 'services', 4, [[1], [1, 12]]);
  const absent = loadCapture('ipvs', 'family-absent', 4);
  return [
    { cap: familyCap, strict: [[]], decode: (b) => [decodeFamily(reply(familyCap, b))], check: (v) => checkFamily(v as never) },
    { cap: absent, strict: [], decode: (b) => [decodeFamily(reply(absent, b))], check: (v) => checkFamily(v as never) },
    { cap: services, strict: [[], [1], [1, 12]], decode: (b) => decodeServices(reply(services, b), FAMILY_ID), check: (v) => checkService(v as never) },
    ...destKeys.map((key, i): Target => {
      const cap = loadCapture('ipvs', `dests-${i}`, 4, [[2], [2, 12]]);
      return { cap, strict: [[], [2], [2, 12]], decode: (b) => decodeDests(reply(cap, b), FAMILY_ID, key.af), check: (v) => checkDest(v as never, key.af) };
    }),
  ];
}

const targets = [...rtnlTargets(), ...genlTargets()];
const named = targets.map((t, i) => ({ ...t, label: `${t.cap.name}${targets.findIndex((u) => u.cap === t.cap) === i ? '' : ' (filtered)'}` }));

/** Decode; a success must pass the checks, a failure must be one of the documented errors. */
function decodeChecked(t: Target, bytes: Uint8Array): unknown[] | undefined {
  let out: unknown[];
  try {
    out = t.decode(bytes);
  } catch (e) {
    expectNetlinkError(e);
    return undefined;
  }
  for (const v of out) t.check(v);
  return out;
}

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  return undefined;
}

/** The offset of the first DONE or ERROR message: where parseReply stops reading. */
const endOf = (b: Uint8Array): number => {
  const stop = messagesOf(b).find((m) => m.type === NLMSG_DONE || m.type === NLMSG_ERROR);
  return stop ? stop.off : b.length;
};

describe.each(named)('netlink fuzz: $label', (t) => {
  const original = t.cap.name === 'family-absent' ? undefined : t.decode(t.cap.bytes);
  const msgs = messagesOf(t.cap.bytes);
  const dataMsgs = msgs.filter((m) => m.off < endOf(t.cap.bytes));

  it.prop([mutations()], runs())('any mutation: sane values or a documented error', (ms) => {
    decodeChecked(t, applyMutations(t.cap, ms));
  }, TIMEOUT);

  it.prop([mutations(12)], runs(0.5))('many mutations at once: sane values or a documented error', (ms) => {
    decodeChecked(t, applyMutations(t.cap, ms));
  }, TIMEOUT);

  if (original) {
    it.prop([fc.array(unknownAttr(), { minLength: 1, maxLength: 3 })], runs())('unknown attributes are skipped: the same decode', (ms) => {
      const bytes = applyMutations(t.cap, ms);
      expect(t.decode(bytes)).toEqual(original);
    }, TIMEOUT);
  }

  it.prop([fc.nat(), errnoCode(), fc.boolean()], runs(0.5))('NLMSG_ERROR part-way: NetlinkError with its errno, an ACK ends the reply', (i, code, short) => {
    const bounds = boundariesOf(t.cap.bytes);
    const at = bounds[i % bounds.length]!;
    const bytes = insertMessage(t.cap.bytes, at, errorMessage(t.cap, code, short));
    const e = thrown(() => t.decode(bytes));
    if (at > endOf(t.cap.bytes)) {
      // after DONE: never read
      expect(thrown(() => t.decode(t.cap.bytes))?.constructor).toBe(e?.constructor);
    } else if (short) {
      expect(e).toBeInstanceOf(DecodeError);
    } else if (code !== 0) {
      expect(e).toBeInstanceOf(NetlinkError);
      expect((e as NetlinkError).errno).toBe(-code);
      expect(typeof (e as NetlinkError).code).toBe('string');
    } else {
      // an ACK: the messages before it
      const before = reply(t.cap, bytes);
      expect(before.length).toBe(dataMsgs.filter((m) => m.off < at).length);
      decodeChecked(t, bytes);
    }
  }, TIMEOUT);

  if (original) {
    it.prop([fc.nat()], runs(0.25))('NLM_F_DUMP_INTR on any message: DumpInterruptedError', (i) => {
      const bytes = applyMutations(t.cap, [{ kind: 'dumpIntr', msg: i }]);
      expect(thrown(() => t.decode(bytes))).toBeInstanceOf(DumpInterruptedError);
    }, TIMEOUT);

    it.prop([fc.nat(), fc.constantFrom('seq' as const, 'port' as const), fc.integer({ min: 1, max: 0xffffffff })], runs(0.25))(
      'a message for another request or socket: DecodeError', (i, kind, delta) => {
        const bytes = applyMutations(t.cap, [{ kind, msg: i, delta }]);
        expect(thrown(() => t.decode(bytes))).toBeInstanceOf(DecodeError);
      }, TIMEOUT);

    it.prop([fc.nat(), fc.oneof(fc.integer({ min: 0, max: 15 }), fc.integer({ min: 1, max: 0xffffffff }))], runs(0.5))(
      'nlmsg_len under the header or past the reply: DecodeError', (i, x) => {
        const m = msgs[i % msgs.length]!;
        const len = x < 16 ? x : t.cap.bytes.length - m.off + x;
        if (len > 0xffffffff) return;
        const bytes = t.cap.bytes.slice();
        new DataView(bytes.buffer).setUint32(m.off, len, true);
        expect(thrown(() => t.decode(bytes))).toBeInstanceOf(DecodeError);
      }, TIMEOUT);

    it.prop([fc.nat()], runs(0.5))('a reply cut inside a message: DecodeError', (x) => {
      const inside = msgs.filter((m) => m.off < endOf(t.cap.bytes) || m.type === NLMSG_DONE);
      const m = inside[x % inside.length]!;
      const cut = m.off + 1 + (x % (m.len - 1));
      expect(thrown(() => t.decode(t.cap.bytes.slice(0, cut)))).toBeInstanceOf(DecodeError);
    }, TIMEOUT);

    const strictAttrs = attrsOf(t.cap.bytes, t.cap).attrs.filter((a) => t.strict.some((p) => p.length === a.path.length - 1 && p.every((x, j) => x === a.path[j])));
    if (strictAttrs.length > 0) {
      it.prop([fc.nat(), fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 0xffff }))], runs(0.5))(
        'nla_len under the header or past its container: DecodeError', (i, x) => {
          const a = strictAttrs[i % strictAttrs.length]!;
          const len = x < 4 ? x : a.end - a.off + x;
          if (len > 0xffff) return;
          const bytes = t.cap.bytes.slice();
          new DataView(bytes.buffer).setUint16(a.off, len, true);
          expect(thrown(() => t.decode(bytes))).toBeInstanceOf(DecodeError);
        }, TIMEOUT);
    }
  }
});
