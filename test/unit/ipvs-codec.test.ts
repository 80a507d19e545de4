// The IPVS generic netlink codec on replies captured from a real IPVS kernel
// (test/fixtures/ipvs, see its README), compared with the ipvsadm listings taken
// at the same moment; then on corrupted and truncated copies of them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GENL_HDRLEN, decodeFamily, decodeGenl } from '../../src/kernel/genl/ctrl.js';
import {
  AF_INET, AF_INET6, IPVS_CMD_GET_DEST, IPVS_CMD_GET_SERVICE, IPVS_GENL_VERSION, type IpvsDest,
  type IpvsServiceKey, decodeDests, decodeServiceAttrs, decodeServices, getDestsRequest, getServicesRequest, ipBytes, serviceKey,
} from '../../src/kernel/genl/ipvs.js';
import { DecodeError } from '../../src/kernel/nl/attr.js';
import { DumpInterruptedError, NLM_F_DUMP, NLM_F_REQUEST, NetlinkError, parseReply } from '../../src/kernel/nl/message.js';
import { formatIp } from '../../src/kernel/nl/address.js';
import { type ListingKind, compareWithListing } from '../vm/ipvsadm.js';

const dir = join(import.meta.dirname, '..', 'fixtures', 'ipvs');
const fixture = (name: string) => ({
  bytes: new Uint8Array(readFileSync(join(dir, `${name}.bin`))),
  seq: Number(readFileSync(join(dir, `${name}.seq`), 'utf8')),
  // the capturing socket's port id, as the kernel addressed its replies (README)
  port: Number(readFileSync(join(dir, `${name}.port`), 'utf8')),
});
const text = (name: string) => readFileSync(join(dir, name), 'utf8');
const keys = JSON.parse(text('dests-keys.json')) as IpvsServiceKey[];

const family = decodeFamily(parseReply(fixture('family').bytes, fixture('family'), 'family'));
const servicesFx = fixture('services');
const decodeSvc = (bytes: Uint8Array) => decodeServices(parseReply(bytes, servicesFx, 'services'), family.id);
const decodeDest = (i: number, bytes = fixture(`dests-${i}`).bytes, af = AF_INET) =>
  decodeDests(parseReply(bytes, fixture(`dests-${i}`), 'dests'), family.id, af);
const sameKey = (a: IpvsServiceKey | undefined, b: IpvsServiceKey) => JSON.stringify(a) === JSON.stringify(b);

/** Offsets of the attributes inside the first message's nest (service or destination). */
function nestAttrs(bytes: Uint8Array): Map<number, number> {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const nestAt = 16 + GENL_HDRLEN;
  const end = nestAt + v.getUint16(nestAt, true);
  const out = new Map<number, number>();
  for (let o = nestAt + 4; o < end; o += (v.getUint16(o, true) + 3) & ~3) out.set(v.getUint16(o + 2, true), o);
  return out;
}
const patched = (bytes: Uint8Array, patch: (v: DataView, b: Uint8Array) => void) => {
  const b = bytes.slice();
  patch(new DataView(b.buffer), b);
  return b;
};

describe('IPVS replies captured from the kernel', () => {
  const services = decodeSvc(servicesFx.bytes);
  const withDests = services.map((s) => {
    const i = keys.findIndex((k) => sameKey(serviceKey(s), k));
    return { ...s, destinations: i >= 0 ? decodeDest(i) : [] as IpvsDest[] };
  });

  it('resolves the family: CTRL_CMD_GETFAMILY answered for "IPVS", and its id tags the dumps', () => {
    expect(family.name).toBe('IPVS');
    expect(family.version).toBe(IPVS_GENL_VERSION);
    expect(family.id).toBeGreaterThan(0x10);
    const msgs = parseReply(servicesFx.bytes, servicesFx, 'services');
    expect(msgs.every((m) => m.type === family.id)).toBe(true);
  });

  it('reports an absent family as ENOENT', () => {
    const absent = fixture('family-absent');
    expect(() => parseReply(absent.bytes, absent, 'family')).toThrow(NetlinkError);
    try { parseReply(absent.bytes, absent, 'family'); } catch (e) { expect((e as NetlinkError).code).toBe('ENOENT'); }
  });

  it('asked for the destinations of every service it decoded', () => {
    expect(services.map(serviceKey)).toEqual(expect.arrayContaining(keys));
    expect(keys).toHaveLength(services.length);
  });

  for (const kind of ['stats', 'rate', 'list', 'thresholds', 'persistent-conn'] as ListingKind[]) {
    it(`decodes every service and destination as ipvsadm ${kind} listed them`, () => {
      expect(compareWithListing(withDests, kind, text(`ipvsadm-${kind}.txt`))).toBeGreaterThan(20);
    });
  }

  it('leaves attributes the kernel did not send undefined, not 0', () => {
    const fwm = services.find((s) => s.fwmark)!;
    expect(fwm).toMatchObject({ af: AF_INET, fwmark: 257, scheduler: 'lc' });
    expect([fwm.protocol, fwm.address, fwm.port, fwm.pe]).toEqual([undefined, undefined, undefined, undefined]);
    const tcp = services.find((s) => s.protocol === 6)!;
    expect(tcp.fwmark).toBeUndefined();
    // every 64-bit counter and rate is there, as bigint
    expect(Object.keys(tcp.stats!).sort()).toEqual(['conns', 'cps', 'inbps', 'inbytes', 'inpkts', 'inpps', 'outbps', 'outbytes', 'outpkts', 'outpps']);
    expect(typeof tcp.stats!.inbytes).toBe('bigint');
  });

  it('decodes an empty destination dump (a service without backends)', () => {
    const empty = keys.map((_, j) => decodeDest(j)).filter((d) => d.length === 0);
    expect(empty).toHaveLength(1);
    expect(withDests.filter((s) => s.destinations.length === 0)).toHaveLength(1);
  });
});

describe('IPVS requests', () => {
  it('encodes the service dump', () => {
    const msg = getServicesRequest(family.id, 42);
    const [m] = parseReplyAsRequest(msg);
    expect(m).toMatchObject({ type: family.id, flags: NLM_F_REQUEST | NLM_F_DUMP, seq: 42 });
    expect(decodeGenl(m!)).toMatchObject({ cmd: IPVS_CMD_GET_SERVICE, version: IPVS_GENL_VERSION });
  });

  it('encodes the destination dump with the service key the kernel looks up', () => {
    for (const key of keys) {
      const [m] = parseReplyAsRequest(getDestsRequest(family.id, 7, key));
      const g = decodeGenl(m!);
      expect(g).toMatchObject({ cmd: IPVS_CMD_GET_DEST, version: IPVS_GENL_VERSION });
      expect(g.attrs.next()).toBe(true);
      expect(g.attrs.type).toBe(1); // IPVS_CMD_ATTR_SERVICE
      expect(serviceKey(g.attrs.nested(decodeServiceAttrs)!)).toEqual(key);
    }
  });

  it('turns addresses back into bytes', () => {
    for (const a of ['203.0.113.10', '0.0.0.0', '255.255.255.255']) expect(formatIp(ipBytes(a, AF_INET))).toBe(a);
    for (const a of ['2001:db8::1', '::', '::1', 'fe80::1:2:3:4', '2001:db8:0:1:1:1:1:1']) expect(formatIp(ipBytes(a, AF_INET6))).toBe(a);
    expect(() => ipBytes('203.0.113', AF_INET)).toThrow();
    expect(() => ipBytes('1::2::3', AF_INET6)).toThrow();
  });
});

// a request has the framing of a reply message, minus the answer
function parseReplyAsRequest(msg: Uint8Array) {
  const v = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
  return parseReply(msg, { seq: v.getUint32(8, true), port: v.getUint32(12, true) }, 'request');
}

describe('corrupt and truncated IPVS replies', () => {
  const { bytes, seq, port } = servicesFx;
  const svc = nestAttrs(bytes);

  it('refuses a truncated reply', () => {
    expect(() => decodeSvc(bytes.subarray(0, 200))).toThrow(DecodeError);
    expect(() => decodeSvc(bytes.subarray(0, 10))).toThrow(DecodeError);
  });

  it('refuses a message cut inside its attributes (lengths shortened to match)', () => {
    const cut = patched(bytes.subarray(0, 100), (v) => v.setUint32(0, 100, true));
    expect(() => decodeSvc(cut)).toThrow(/bad length|needs/);
  });

  it('refuses a nested attribute that runs past its parent', () => {
    const bad = patched(bytes, (v) => v.setUint16(svc.get(7)!, 0x400, true)); // IPVS_SVC_ATTR_FLAGS
    expect(() => decodeSvc(bad)).toThrow(/bad length/);
  });

  it('refuses a 64-bit counter that is not 8 bytes', () => {
    const bad = patched(bytes, (v) => v.setUint16(svc.get(12)! + 4, 8, true)); // first attribute in STATS64
    expect(() => decodeSvc(bad)).toThrow(/u64 needs 8 bytes/);
  });

  it('refuses a port that is not 2 bytes, and an address of an unknown family', () => {
    const first = decodeSvc(bytes)[0]!;
    expect(first.port).toBeDefined();
    expect(() => decodeSvc(patched(bytes, (v) => v.setUint16(svc.get(4)!, 8, true)))).toThrow(/needs 2 bytes/);
    expect(() => decodeSvc(patched(bytes, (v) => v.setUint16(svc.get(1)! + 4, 99, true)))).toThrow(/address family 99/);
  });

  it('refuses a message of another family or command, or without its nest', () => {
    expect(() => decodeSvc(patched(bytes, (v) => v.setUint16(4, family.id + 1, true)))).toThrow(/expected the IPVS family/);
    expect(() => decodeSvc(patched(bytes, (_, b) => { b[16] = 99; }))).toThrow(/unexpected command 99/);
    expect(() => decodeSvc(patched(bytes, (v) => v.setUint16(22, 9, true)))).toThrow(/without its nested attribute/);
  });

  it('refuses a destination with a corrupt weight, and checks the reply sequence', () => {
    const i = keys.findIndex((k) => 'port' in k && k.port === 80); // the service with three backends
    const { bytes: d, seq: dseq, port: dport } = fixture(`dests-${i}`);
    expect(decodeDest(i)).toHaveLength(3);
    const at = nestAttrs(d);
    expect(() => decodeDest(i, patched(d, (v) => v.setUint16(at.get(4)!, 6, true)))).toThrow(/u32 needs 4 bytes/); // IPVS_DEST_ATTR_WEIGHT
    expect(() => parseReply(d, { seq: dseq + 1, port: dport }, 'dests')).toThrow(DecodeError);
    // a reply addressed to another socket is not ours, even with our sequence number
    expect(() => parseReply(d, { seq: dseq, port: dport + 1 }, 'dests')).toThrow(/port id/);
  });

  it('flags an interrupted dump, and a dump that failed part-way', () => {
    expect(() => parseReply(patched(bytes, (v) => v.setUint16(6, v.getUint16(6, true) | 0x10, true)), { seq, port }, 's')).toThrow(DumpInterruptedError);
    const i = keys.findIndex((_, j) => decodeDest(j).length === 0);
    const done = fixture(`dests-${i}`); // the empty dump: DONE alone
    expect(() => parseReply(patched(done.bytes, (v) => v.setInt32(16, -22, true)), done, 'dests')).toThrow(/EINVAL/);
  });
});

