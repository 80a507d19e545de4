// rtnetlink links (RTM_GETLINK dump): names, kinds, masters, veth peers,
// vxlan parameters and the 64-bit interface statistics.
import { attrMac, formatIp } from '../nl/address.js';
import { AttrReader, DecodeError, viewOf } from '../nl/attr.js';
import {
  NLM_F_DUMP, NLM_F_REQUEST, encodeMessage, type NlMessage, payloadBytes, payloadEnd, payloadStart,
} from '../nl/message.js';

export const RTM_NEWLINK = 16;
export const RTM_GETLINK = 18;
export const RTM_NEWSTATS = 92;
export const RTM_GETSTATS = 94;

const IFLA_STATS_LINK_64 = 1;

const IFLA_ADDRESS = 1;
const IFLA_IFNAME = 3;
const IFLA_MTU = 4;
const IFLA_LINK = 5;
const IFLA_MASTER = 10;
const IFLA_OPERSTATE = 16;
const IFLA_LINKINFO = 18;
const IFLA_STATS64 = 23;
const IFLA_LINK_NETNSID = 37;

const IFLA_INFO_KIND = 1;
const IFLA_INFO_DATA = 2;
const IFLA_INFO_SLAVE_KIND = 4;

const IFLA_VXLAN_ID = 1;
const IFLA_VXLAN_LINK = 3;
const IFLA_VXLAN_LOCAL = 4;
const IFLA_VXLAN_LEARNING = 7;
const IFLA_VXLAN_PORT = 15;
const IFLA_VXLAN_LOCAL6 = 17;

/** IF_OPER_* names as `ip link` prints them. */
export const OPERSTATES = ['unknown', 'notpresent', 'down', 'lowerlayerdown', 'testing', 'dormant', 'up'] as const;

/** rtnl_link_stats64 field order; newer kernels append fields, older ones lack the tail. */
export const LINK_STATS64_FIELDS = [
  'rx_packets', 'tx_packets', 'rx_bytes', 'tx_bytes', 'rx_errors', 'tx_errors', 'rx_dropped', 'tx_dropped',
  'multicast', 'collisions', 'rx_length_errors', 'rx_over_errors', 'rx_crc_errors', 'rx_frame_errors',
  'rx_fifo_errors', 'rx_missed_errors', 'tx_aborted_errors', 'tx_carrier_errors', 'tx_fifo_errors',
  'tx_heartbeat_errors', 'tx_window_errors', 'rx_compressed', 'tx_compressed', 'rx_nohandler',
  'rx_otherhost_dropped',
] as const;
export type LinkStatName = (typeof LINK_STATS64_FIELDS)[number];
export type LinkStats = Partial<Record<LinkStatName, number>>;
const MIN_STATS64_FIELDS = 23; // 184 bytes: every kernel since 3.x

export interface VxlanInfo {
  vni?: number;
  port?: number;
  local?: string;
  learning?: boolean;
  /** ifindex of the underlay device, if bound to one */
  link?: number;
}

export interface Link {
  index: number;
  name: string;
  flags: number;
  kind?: string;
  slaveKind?: string;
  mtu?: number;
  operstate?: (typeof OPERSTATES)[number];
  master?: number;
  /** IFLA_LINK: the peer's ifindex for veth (in the namespace given by linkNetnsId) */
  link?: number;
  linkNetnsId?: number;
  address?: string;
  stats?: LinkStats;
  vxlan?: VxlanInfo;
}

export function getLinkRequest(seq: number): Uint8Array {
  // struct ifinfomsg: family, pad, type, index, flags, change
  const ifinfomsg = new Uint8Array(16);
  return encodeMessage(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, seq, [ifinfomsg]);
}

function decodeVxlan(r: AttrReader): VxlanInfo {
  const v: VxlanInfo = {};
  while (r.next()) {
    switch (r.type) {
      case IFLA_VXLAN_ID: v.vni = r.u32(); break;
      case IFLA_VXLAN_LINK: v.link = r.u32(); break;
      case IFLA_VXLAN_LOCAL: case IFLA_VXLAN_LOCAL6: v.local = formatIp(r.bytes()); break;
      case IFLA_VXLAN_LEARNING: v.learning = r.u8() === 1; break;
      case IFLA_VXLAN_PORT: v.port = r.u16be(); break;
    }
  }
  return v;
}

function decodeLinkInfo(r: AttrReader, link: Link): void {
  let data: Uint8Array | undefined;
  while (r.next()) {
    switch (r.type) {
      case IFLA_INFO_KIND: link.kind = r.str(); break;
      case IFLA_INFO_SLAVE_KIND: link.slaveKind = r.str(); break;
      case IFLA_INFO_DATA: data = r.bytes(); break;
    }
  }
  // the kind decides how INFO_DATA reads, whichever came first; a later
  // IFLA_LINKINFO that changes the kind takes the earlier vxlan data with it
  if (link.vxlan && link.kind !== 'vxlan') delete link.vxlan;
  if (data && link.kind === 'vxlan') {
    const inner = new AttrReader(data);
    link.vxlan = decodeVxlan(inner);
    if (inner.err) throw inner.err;
  }
}

/**
 * rtnl_link_stats64 as one object literal of a fixed shape (every link's
 * stats share a hidden class), read straight from the attribute: building it
 * field by field made it a dictionary and cost most of the decode garbage.
 * Fields past the kernel's struct are undefined (absent, not zero).
 */
function decodeStats64(r: AttrReader, n: number): LinkStats {
  return statsObject((i: number) => (i < n ? r.u64AsNumberAt(i) : undefined));
}

function statsObject(at: (i: number) => number | undefined): LinkStats {
  return {
    rx_packets: at(0), tx_packets: at(1), rx_bytes: at(2), tx_bytes: at(3), rx_errors: at(4), tx_errors: at(5),
    rx_dropped: at(6), tx_dropped: at(7), multicast: at(8), collisions: at(9), rx_length_errors: at(10),
    rx_over_errors: at(11), rx_crc_errors: at(12), rx_frame_errors: at(13), rx_fifo_errors: at(14),
    rx_missed_errors: at(15), tx_aborted_errors: at(16), tx_carrier_errors: at(17), tx_fifo_errors: at(18),
    tx_heartbeat_errors: at(19), tx_window_errors: at(20), rx_compressed: at(21), tx_compressed: at(22),
    rx_nohandler: at(23), rx_otherhost_dropped: at(24),
  };
}
// One object of that shape with every field absent, made once: V8 then keeps
// the fields as tagged values, so a counter that fits a small integer (most of
// them: errors and drops are mostly 0) is stored in the object itself instead
// of in a heap number of its own.
statsObject(() => undefined);

export function decodeLink(msg: NlMessage): Link {
  // read in place: no view of the payload per message
  const p = payloadBytes(msg);
  const start = payloadStart(msg);
  const end = payloadEnd(msg);
  if (end - start < 16) throw new DecodeError(`link message of ${end - start} bytes`);
  const view = viewOf(p);
  const at = p.byteOffset + start;
  const link: Link = { index: view.getInt32(at + 4, true), flags: view.getUint32(at + 8, true), name: '' };
  // ifi_index is an int, but no interface has a negative one
  if (link.index < 0) throw new DecodeError(`link message with ifindex ${link.index}`);
  const r = new AttrReader(p, start + 16, end);
  while (r.next()) {
    switch (r.type) {
      case IFLA_IFNAME: link.name = r.str(); break;
      case IFLA_MTU: link.mtu = r.u32(); break;
      case IFLA_LINK: link.link = r.u32(); break;
      case IFLA_MASTER: link.master = r.u32(); break;
      case IFLA_OPERSTATE: link.operstate = OPERSTATES[r.u8()] ?? 'unknown'; break;
      case IFLA_LINK_NETNSID: link.linkNetnsId = r.i32(); break;
      case IFLA_ADDRESS: if (r.length === 6) link.address = attrMac(r); break;
      case IFLA_LINKINFO: {
        const bytes = r.bytes();
        const inner = new AttrReader(bytes);
        decodeLinkInfo(inner, link);
        if (inner.err) throw new DecodeError(`link ${link.index} linkinfo: ${inner.err.message}`);
        break;
      }
      case IFLA_STATS64: {
        const n = r.u64Count;
        if (n < MIN_STATS64_FIELDS) {
          r.u64sAsNumbers(MIN_STATS64_FIELDS); // records the error
          break;
        }
        link.stats = decodeStats64(r, n);
        break;
      }
    }
  }
  if (r.err) throw new DecodeError(`link ${link.index}: ${r.err.message}`);
  if (!link.name) throw new DecodeError(`link ${link.index} has no IFLA_IFNAME`);
  return link;
}

export function decodeLinks(msgs: NlMessage[]): Link[] {
  const out: Link[] = [];
  for (const m of msgs) if (m.type === RTM_NEWLINK) out.push(decodeLink(m));
  return out;
}

/**
 * RTM_GETSTATS dump of each link's rtnl_link_stats64 alone: the counters
 * without the link's facts, a quarter of a full link dump's kernel time and an
 * eighth of its bytes (BENCHMARKS.md "Lean, fourth pass").
 */
export function getLinkStatsRequest(seq: number): Uint8Array {
  // struct if_stats_msg: family, pad1, pad2 (u16), ifindex, filter_mask
  const ifstatsmsg = new Uint8Array(12);
  new DataView(ifstatsmsg.buffer).setUint32(8, 1 << (IFLA_STATS_LINK_64 - 1), true);
  return encodeMessage(RTM_GETSTATS, NLM_F_REQUEST | NLM_F_DUMP, seq, [ifstatsmsg]);
}

/** Counters by ifindex, from an RTM_GETSTATS dump (getLinkStatsRequest). */
export function decodeLinkStats(msgs: NlMessage[]): Map<number, LinkStats> {
  const out = new Map<number, LinkStats>();
  for (const m of msgs) {
    if (m.type !== RTM_NEWSTATS) continue;
    const p = payloadBytes(m);
    const start = payloadStart(m);
    const end = payloadEnd(m);
    if (end - start < 12) throw new DecodeError(`stats message of ${end - start} bytes`);
    const index = viewOf(p).getInt32(p.byteOffset + start + 4, true);
    if (index < 0) throw new DecodeError(`stats message with ifindex ${index}`);
    const r = new AttrReader(p, start + 12, end);
    let stats: LinkStats | undefined;
    while (r.next()) {
      if (r.type !== IFLA_STATS_LINK_64) continue;
      const n = r.u64Count;
      if (n < MIN_STATS64_FIELDS) {
        r.u64sAsNumbers(MIN_STATS64_FIELDS); // records the error
        break;
      }
      stats = decodeStats64(r, n);
    }
    if (r.err) throw new DecodeError(`stats of link ${index}: ${r.err.message}`);
    if (!stats) throw new DecodeError(`stats of link ${index} without IFLA_STATS_LINK_64`);
    out.set(index, stats);
  }
  return out;
}
