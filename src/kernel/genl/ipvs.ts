// IPVS over generic netlink (family "IPVS", include/uapi/linux/ip_vs.h): the
// service dump, the destination dump of one service, and their decoding. Pure
// codec: bytes in, objects out. Only the 64-bit stats are read; the 32-bit ones
// wrap. An attribute the kernel did not send stays undefined, never 0.
import { AttrReader, DecodeError, concat, encodeAttr, u16Attr, u32Attr } from '../nl/attr.js';
import { NLM_F_DUMP, NLM_F_REQUEST, type NlMessage } from '../nl/message.js';
import { formatIp } from '../nl/address.js';
import { decodeGenl, encodeGenlRequest } from './ctrl.js';

export const IPVS_GENL_NAME = 'IPVS';
export const IPVS_GENL_VERSION = 1;

export const IPVS_CMD_NEW_SERVICE = 1;
export const IPVS_CMD_GET_SERVICE = 4;
export const IPVS_CMD_NEW_DEST = 5;
export const IPVS_CMD_GET_DEST = 8;

const IPVS_CMD_ATTR_SERVICE = 1;
const IPVS_CMD_ATTR_DEST = 2;

const IPVS_SVC_ATTR_AF = 1;
const IPVS_SVC_ATTR_PROTOCOL = 2;
const IPVS_SVC_ATTR_ADDR = 3;
const IPVS_SVC_ATTR_PORT = 4;
const IPVS_SVC_ATTR_FWMARK = 5;
const IPVS_SVC_ATTR_SCHED_NAME = 6;
const IPVS_SVC_ATTR_FLAGS = 7;
const IPVS_SVC_ATTR_TIMEOUT = 8;
const IPVS_SVC_ATTR_NETMASK = 9;
const IPVS_SVC_ATTR_PE_NAME = 11;
const IPVS_SVC_ATTR_STATS64 = 12;

const IPVS_DEST_ATTR_ADDR = 1;
const IPVS_DEST_ATTR_PORT = 2;
const IPVS_DEST_ATTR_FWD_METHOD = 3;
const IPVS_DEST_ATTR_WEIGHT = 4;
const IPVS_DEST_ATTR_U_THRESH = 5;
const IPVS_DEST_ATTR_L_THRESH = 6;
const IPVS_DEST_ATTR_ACTIVE_CONNS = 7;
const IPVS_DEST_ATTR_INACT_CONNS = 8;
const IPVS_DEST_ATTR_PERSIST_CONNS = 9;
const IPVS_DEST_ATTR_ADDR_FAMILY = 11;
const IPVS_DEST_ATTR_STATS64 = 12;

export const AF_INET = 2;
export const AF_INET6 = 10;

export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_SCTP = 132;

/** IP_VS_SVC_F_*: service flags */
export const IP_VS_SVC_F_PERSISTENT = 0x0001;
export const IP_VS_SVC_F_HASHED = 0x0002;
export const IP_VS_SVC_F_ONEPACKET = 0x0004;

/** IP_VS_CONN_F_FWD_MASK values: how a destination is reached */
export const FWD_METHODS: Readonly<Record<number, string>> = { 0: 'masq', 1: 'local', 2: 'tunnel', 3: 'route', 4: 'bypass' };

/** IPVS_STATS_ATTR_* in order (1..10); IPVS_STATS_ATTR_PAD (11) is alignment only. */
export const IPVS_STAT_NAMES = ['conns', 'inpkts', 'outpkts', 'inbytes', 'outbytes', 'cps', 'inpps', 'outpps', 'inbps', 'outbps'] as const;
export type IpvsStatName = (typeof IPVS_STAT_NAMES)[number];
/** Totals since the service/destination was added, and the estimator's current rates (per second). */
export type IpvsStats = Partial<Record<IpvsStatName, bigint>>;

export interface IpvsService {
  af?: number;
  /** IPPROTO_*; absent for firewall-mark services */
  protocol?: number;
  address?: string;
  port?: number;
  fwmark?: number;
  scheduler?: string;
  /** persistence engine (e.g. "sip") */
  pe?: string;
  /** IP_VS_SVC_F_* */
  flags?: number;
  /** persistence timeout in seconds */
  timeout?: number;
  /** persistence granularity: a dotted mask for IPv4, the prefix length for IPv6 */
  netmask?: string;
  stats?: IpvsStats;
}

export interface IpvsDest {
  af?: number;
  address?: string;
  port?: number;
  /** IP_VS_CONN_F_FWD_MASK value, see FWD_METHODS */
  fwdMethod?: number;
  weight?: number;
  upperThreshold?: number;
  lowerThreshold?: number;
  activeConns?: number;
  inactiveConns?: number;
  persistentConns?: number;
  stats?: IpvsStats;
}

/** What identifies a service in a request: its firewall mark, or protocol/address/port. */
export type IpvsServiceKey =
  | { af: number; fwmark: number }
  | { af: number; protocol: number; address: string; port: number };

export const protocolName = (p: number | undefined): string =>
  p === IPPROTO_TCP ? 'tcp' : p === IPPROTO_UDP ? 'udp' : p === IPPROTO_SCTP ? 'sctp' : p === undefined ? '' : String(p);

/** The key of a decoded service, or undefined when the kernel did not identify it. */
export function serviceKey(s: IpvsService): IpvsServiceKey | undefined {
  if (s.af === undefined) return undefined;
  if (s.fwmark !== undefined && s.fwmark !== 0) return { af: s.af, fwmark: s.fwmark };
  if (s.protocol === undefined || s.address === undefined || s.port === undefined) return undefined;
  return { af: s.af, protocol: s.protocol, address: s.address, port: s.port };
}

export function getServicesRequest(family: number, seq: number): Uint8Array {
  return encodeGenlRequest(family, NLM_F_REQUEST | NLM_F_DUMP, seq, { cmd: IPVS_CMD_GET_SERVICE, version: IPVS_GENL_VERSION }, []);
}

/** Dump the destinations of one service (the kernel finds it by the same key ipvsadm uses). */
export function getDestsRequest(family: number, seq: number, key: IpvsServiceKey): Uint8Array {
  const attrs = [u16Attr(IPVS_SVC_ATTR_AF, key.af)];
  if ('fwmark' in key) {
    attrs.push(u32Attr(IPVS_SVC_ATTR_FWMARK, key.fwmark));
  } else {
    const port = new Uint8Array(2);
    new DataView(port.buffer).setUint16(0, key.port, false);
    attrs.push(u16Attr(IPVS_SVC_ATTR_PROTOCOL, key.protocol), encodeAttr(IPVS_SVC_ATTR_ADDR, ipBytes(key.address, key.af)),
      encodeAttr(IPVS_SVC_ATTR_PORT, port));
  }
  return encodeGenlRequest(family, NLM_F_REQUEST | NLM_F_DUMP, seq, { cmd: IPVS_CMD_GET_DEST, version: IPVS_GENL_VERSION },
    [encodeAttr(IPVS_CMD_ATTR_SERVICE, concat(attrs))]);
}

/** A textual address as the 4 or 16 bytes IPVS carries (union nf_inet_addr is 16; 4 is accepted for IPv4). */
export function ipBytes(address: string, af: number): Uint8Array {
  if (af === AF_INET) {
    const parts = address.split('.').map(Number);
    if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`not an IPv4 address: ${address}`);
    return Uint8Array.from(parts);
  }
  if (af !== AF_INET6) throw new Error(`address family ${af} is not IPv4 or IPv6`);
  const [head, tail, extra] = address.split('::');
  if (extra !== undefined) throw new Error(`not an IPv6 address: ${address}`);
  const groups = (s: string | undefined) => (s ? s.split(':').map((g) => parseInt(g, 16)) : []);
  const h = groups(head);
  const t = groups(tail);
  const all = tail === undefined ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  if (all.length !== 8 || all.some((g) => !Number.isInteger(g) || g < 0 || g > 0xffff)) throw new Error(`not an IPv6 address: ${address}`);
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  return out;
}

/** IPVS addresses are 16 bytes (union nf_inet_addr) whatever the family: keep what the family uses. */
function decodeAddress(bytes: Uint8Array, af: number | undefined, what: string): string {
  if (af === AF_INET && bytes.length >= 4) return formatIp(bytes.subarray(0, 4));
  if (af === AF_INET6 && bytes.length === 16) return formatIp(bytes);
  throw new DecodeError(`${what}: address of ${bytes.length} bytes for address family ${af ?? 'unknown'}`);
}

const beU16 = (b: Uint8Array): number => (b[0]! << 8) | b[1]!;

function fixed(r: AttrReader, size: number, what: string): Uint8Array {
  if (r.length !== size) throw new DecodeError(`${what}: attribute ${r.type} needs ${size} bytes, got ${r.length}`);
  return r.bytes();
}

/** IPVS_*_ATTR_STATS64: u64 counters and rates, by IPVS_STATS_ATTR_* number. */
export function decodeStats64(r: AttrReader): IpvsStats {
  const stats: IpvsStats = {};
  while (r.next()) {
    const name = IPVS_STAT_NAMES[r.type - 1];
    if (name) stats[name] = r.u64();
  }
  return stats;
}

/** The attributes inside IPVS_CMD_ATTR_SERVICE (a reply, or the key of a request). */
export function decodeServiceAttrs(r: AttrReader): IpvsService {
  const s: IpvsService = {};
  let addr: Uint8Array | undefined;
  let netmask: Uint8Array | undefined;
  while (r.next()) {
    switch (r.type) {
      case IPVS_SVC_ATTR_AF: s.af = r.u16(); break;
      case IPVS_SVC_ATTR_PROTOCOL: s.protocol = r.u16(); break;
      case IPVS_SVC_ATTR_ADDR: addr = r.bytes(); break;
      case IPVS_SVC_ATTR_PORT: s.port = beU16(fixed(r, 2, 'service port')); break;
      case IPVS_SVC_ATTR_FWMARK: s.fwmark = r.u32(); break;
      case IPVS_SVC_ATTR_SCHED_NAME: s.scheduler = r.str(); break;
      case IPVS_SVC_ATTR_PE_NAME: s.pe = r.str(); break;
      // struct ip_vs_flags { flags, mask }
      case IPVS_SVC_ATTR_FLAGS: {
        const b = fixed(r, 8, 'service flags');
        s.flags = new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true);
        break;
      }
      case IPVS_SVC_ATTR_TIMEOUT: s.timeout = r.u32(); break;
      case IPVS_SVC_ATTR_NETMASK: netmask = fixed(r, 4, 'service netmask'); break;
      case IPVS_SVC_ATTR_STATS64: s.stats = r.nested(decodeStats64); break;
    }
  }
  if (r.err) throw new DecodeError(`IPVS service: ${r.err.message}`);
  if (addr) s.address = decodeAddress(addr, s.af, 'IPVS service');
  if (netmask) {
    // a be32 mask for IPv4; the prefix length, in host order, for IPv6
    s.netmask = s.af === AF_INET6
      ? String(new DataView(netmask.buffer, netmask.byteOffset, 4).getUint32(0, true))
      : formatIp(netmask);
  }
  return s;
}

/** The attributes inside IPVS_CMD_ATTR_DEST. svcAf stands in for kernels without IPVS_DEST_ATTR_ADDR_FAMILY. */
export function decodeDestAttrs(r: AttrReader, svcAf?: number): IpvsDest {
  const d: IpvsDest = {};
  let addr: Uint8Array | undefined;
  while (r.next()) {
    switch (r.type) {
      case IPVS_DEST_ATTR_ADDR: addr = r.bytes(); break;
      case IPVS_DEST_ATTR_PORT: d.port = beU16(fixed(r, 2, 'destination port')); break;
      case IPVS_DEST_ATTR_FWD_METHOD: d.fwdMethod = r.u32(); break;
      case IPVS_DEST_ATTR_WEIGHT: d.weight = r.u32(); break;
      case IPVS_DEST_ATTR_U_THRESH: d.upperThreshold = r.u32(); break;
      case IPVS_DEST_ATTR_L_THRESH: d.lowerThreshold = r.u32(); break;
      case IPVS_DEST_ATTR_ACTIVE_CONNS: d.activeConns = r.u32(); break;
      case IPVS_DEST_ATTR_INACT_CONNS: d.inactiveConns = r.u32(); break;
      case IPVS_DEST_ATTR_PERSIST_CONNS: d.persistentConns = r.u32(); break;
      case IPVS_DEST_ATTR_ADDR_FAMILY: d.af = r.u16(); break;
      case IPVS_DEST_ATTR_STATS64: d.stats = r.nested(decodeStats64); break;
    }
  }
  if (r.err) throw new DecodeError(`IPVS destination: ${r.err.message}`);
  if (addr) d.address = decodeAddress(addr, d.af ?? svcAf, 'IPVS destination');
  return d;
}

/** Find the one nested attribute of a reply message and decode it. */
function decodeNest<T>(msg: NlMessage, family: number, cmd: number, attr: number, what: string, decode: (r: AttrReader) => T): T {
  if (msg.type !== family) throw new DecodeError(`${what}: message type ${msg.type}, expected the IPVS family ${family}`);
  const g = decodeGenl(msg);
  if (g.cmd !== cmd) throw new DecodeError(`${what}: unexpected command ${g.cmd}`);
  let out: T | undefined;
  const r = g.attrs;
  while (r.next()) {
    if (r.type === attr) out = r.nested(decode);
  }
  if (r.err) throw new DecodeError(`${what}: ${r.err.message}`);
  if (out === undefined) throw new DecodeError(`${what}: message without its nested attribute ${attr}`);
  return out;
}

/** A GET_SERVICE dump reply (messages of the IPVS family id), in kernel order. */
export function decodeServices(msgs: NlMessage[], family: number): IpvsService[] {
  return msgs.map((m) => decodeNest(m, family, IPVS_CMD_NEW_SERVICE, IPVS_CMD_ATTR_SERVICE, 'IPVS service message', decodeServiceAttrs));
}

/** A GET_DEST dump reply for one service. */
export function decodeDests(msgs: NlMessage[], family: number, svcAf?: number): IpvsDest[] {
  return msgs.map((m) => decodeNest(m, family, IPVS_CMD_NEW_DEST, IPVS_CMD_ATTR_DEST, 'IPVS destination message', (r) => decodeDestAttrs(r, svcAf)));
}
