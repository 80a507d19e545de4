// rtnetlink neighbours (RTM_GETNEIGH dump): the bridge forwarding database
// (family AF_BRIDGE; on a vxlan device, NDA_DST is the remote VTEP) and the
// IPv4 neighbour table (permanent entries that overlay drivers program).
import { AttrReader, DecodeError, viewOf } from '../nl/attr.js';
import {
  NLM_F_DUMP, NLM_F_REQUEST, encodeMessage, type NlMessage, payloadBytes, payloadEnd, payloadStart,
} from '../nl/message.js';
import { attrIp, attrMac } from '../nl/address.js';

export const RTM_NEWNEIGH = 28;
export const RTM_GETNEIGH = 30;
export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_BRIDGE = 7;
export const AF_INET6 = 10;

const NDA_DST = 1;
const NDA_LLADDR = 2;
const NDA_VLAN = 5;
const NDA_VNI = 7;
const NDA_MASTER = 9;

export const NUD_INCOMPLETE = 0x01;
export const NUD_REACHABLE = 0x02;
export const NUD_STALE = 0x04;
export const NUD_DELAY = 0x08;
export const NUD_PROBE = 0x10;
export const NUD_FAILED = 0x20;
export const NUD_NOARP = 0x40;
export const NUD_PERMANENT = 0x80;

export const NTF_SELF = 0x02;
export const NTF_MASTER = 0x04;
export const NTF_EXT_LEARNED = 0x10;

export interface Neighbour {
  family: number;
  ifindex: number;
  state: number;
  flags: number;
  lladdr?: string;
  /** NDA_DST: for AF_BRIDGE on vxlan, the remote VTEP; for AF_INET, the neighbour IP */
  dst?: string;
  master?: number;
  vlan?: number;
  vni?: number;
}

export function getNeighRequest(seq: number, family: number): Uint8Array {
  // struct ndmsg: family, pad1, pad2, ifindex, state, flags, type
  const ndmsg = new Uint8Array(12);
  ndmsg[0] = family;
  return encodeMessage(RTM_GETNEIGH, NLM_F_REQUEST | NLM_F_DUMP, seq, [ndmsg]);
}

export function decodeNeighbour(msg: NlMessage): Neighbour {
  // read in place: no view of the payload per message
  const p = payloadBytes(msg);
  const start = payloadStart(msg);
  const end = payloadEnd(msg);
  if (end - start < 12) throw new DecodeError(`neighbour message of ${end - start} bytes`);
  const view = viewOf(p);
  const n: Neighbour = {
    family: p[start]!,
    ifindex: view.getInt32(p.byteOffset + start + 4, true),
    state: view.getUint16(p.byteOffset + start + 8, true),
    flags: p[start + 10]!,
  };
  if (n.ifindex < 0) throw new DecodeError(`neighbour message with ifindex ${n.ifindex}`);
  const r = new AttrReader(p, start + 12, end);
  while (r.next()) {
    switch (r.type) {
      case NDA_DST: n.dst = attrIp(r); break;
      case NDA_LLADDR: if (r.length === 6) n.lladdr = attrMac(r); break;
      case NDA_MASTER: n.master = r.u32(); break;
      case NDA_VLAN: n.vlan = r.u16(); break;
      case NDA_VNI: n.vni = r.u32(); break;
    }
  }
  if (r.err) throw new DecodeError(`neighbour on ifindex ${n.ifindex}: ${r.err.message}`);
  return n;
}

/**
 * keep: decided from the fixed header alone, before any attribute is decoded
 * (a dump holds many entries no collector reads, e.g. ports' multicast lists).
 */
export function decodeNeighbours(msgs: NlMessage[], keep?: (ifindex: number, flags: number) => boolean): Neighbour[] {
  const out: Neighbour[] = [];
  for (const m of msgs) {
    if (m.type !== RTM_NEWNEIGH) continue;
    if (keep) {
      const p = payloadBytes(m);
      const start = payloadStart(m);
      if (payloadEnd(m) - start >= 12 && !keep(viewOf(p).getInt32(p.byteOffset + start + 4, true), p[start + 10]!)) continue;
    }
    out.push(decodeNeighbour(m));
  }
  return out;
}

/** FDB entry state as `bridge fdb` names it (permanent, static, or learned). */
export type FdbType = 'permanent' | 'static' | 'dynamic';
export const FDB_TYPES: readonly FdbType[] = ['permanent', 'static', 'dynamic'];
/** fdbEntryType() as an index into FDB_TYPES: for counting without a string key per entry */
export function fdbTypeIndex(n: Neighbour): number {
  if (n.state & NUD_PERMANENT) return 0;
  if (n.state & NUD_NOARP) return 1;
  return 2;
}
export function fdbEntryType(n: Neighbour): FdbType {
  return FDB_TYPES[fdbTypeIndex(n)]!;
}

/** ndm_state as ip(8) prints it, lower case: the state's bit, "none" for 0, bits joined by "_" if several are set. */
const NUD_NAMES: ReadonlyArray<[number, string]> = [
  [NUD_INCOMPLETE, 'incomplete'], [NUD_REACHABLE, 'reachable'], [NUD_STALE, 'stale'], [NUD_DELAY, 'delay'],
  [NUD_PROBE, 'probe'], [NUD_FAILED, 'failed'], [NUD_NOARP, 'noarp'], [NUD_PERMANENT, 'permanent'],
];
export function nudStateName(state: number): string {
  if (state === 0) return 'none';
  const names = NUD_NAMES.filter(([bit]) => (state & bit) !== 0).map(([, n]) => n);
  return names.length > 0 ? names.join('_') : `0x${state.toString(16)}`;
}

export interface NeighbourCount {
  family: number;
  /** nudStateName() of ndm_state */
  state: string;
  count: number;
}

/**
 * Entries of a neighbour dump (RTM_GETNEIGH over AF_UNSPEC: ARP and ND) by
 * family and state, from the fixed header alone: nothing else is decoded.
 */
export function countNeighbours(msgs: NlMessage[]): NeighbourCount[] {
  const counts = new Map<number, NeighbourCount>();
  for (const m of msgs) {
    if (m.type !== RTM_NEWNEIGH) continue;
    const p = payloadBytes(m);
    const start = payloadStart(m);
    const len = payloadEnd(m) - start;
    if (len < 12) throw new DecodeError(`neighbour message of ${len} bytes`);
    const state = viewOf(p).getUint16(p.byteOffset + start + 8, true);
    const key = p[start]! * 0x10000 + state;
    const c = counts.get(key);
    if (c) c.count++;
    else counts.set(key, { family: p[start]!, state: nudStateName(state), count: 1 });
  }
  return [...counts.values()];
}
