// sock_diag for inet sockets (NETLINK_SOCK_DIAG, SOCK_DIAG_BY_FAMILY): a dump
// request (struct inet_diag_req_v2) and its replies (struct inet_diag_msg with
// INET_DIAG_SKMEMINFO, the socket's memory counters and drops), as ss -m reads
// them (linux/inet_diag.h, linux/sock_diag.h).
import { AttrReader, DecodeError, viewOf } from '../nl/attr.js';
import { formatIp } from '../nl/address.js';
import { NLM_F_DUMP, NLM_F_REQUEST, encodeMessage, type NlMessage } from '../nl/message.js';

export const NETLINK_SOCK_DIAG = 4;
export const SOCK_DIAG_BY_FAMILY = 20;
export const IPPROTO_UDP = 17;
export const AF_INET = 2;
export const AF_INET6 = 10;

const INET_DIAG_SKMEMINFO = 7;
/** struct inet_diag_req_v2: family, protocol, ext, pad, states, sockid (48) */
const REQ_LEN = 56;
/** struct inet_diag_msg: family, state, timer, retrans, sockid (48), expires, rqueue, wqueue, uid, inode */
const MSG_LEN = 72;

/** SK_MEMINFO_* in order; drops came last (Linux 4.x) */
export const SK_MEMINFO = ['rmemAlloc', 'rcvbuf', 'wmemAlloc', 'sndbuf', 'fwdAlloc', 'wmemQueued', 'optmem', 'backlog', 'drops'] as const;
export type SkMeminfoName = typeof SK_MEMINFO[number];

export interface InetSocket {
  family: number;
  state: number;
  srcPort: number;
  dstPort: number;
  src?: string;
  dst?: string;
  /** bound device, 0 for none */
  ifindex: number;
  /** bytes queued to be read (for UDP, sk_rmem_alloc) */
  rqueue: number;
  wqueue: number;
  uid: number;
  /** 0 for a kernel socket with no file (a VXLAN device's) */
  inode: number;
  meminfo?: Partial<Record<SkMeminfoName, number>>;
}

/**
 * Dump every socket of `protocol` over `family` in every state, with
 * INET_DIAG_SKMEMINFO; `srcPort` (non-zero) asks the kernel for that local port only.
 */
export function getInetSocketsRequest(seq: number, family: number, protocol: number, srcPort = 0): Uint8Array {
  const req = new Uint8Array(REQ_LEN);
  const v = new DataView(req.buffer);
  req[0] = family;
  req[1] = protocol;
  req[2] = 1 << (INET_DIAG_SKMEMINFO - 1);
  v.setUint32(4, 0xffffffff, true);
  v.setUint16(8, srcPort, false);
  return encodeMessage(SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, seq, [req]);
}

export function decodeInetSocket(msg: NlMessage): InetSocket {
  const p = msg.payload;
  if (p.length < MSG_LEN) throw new DecodeError(`inet_diag_msg of ${p.length} bytes`);
  const v = viewOf(p);
  const o = p.byteOffset;
  const family = p[0]!;
  const addrLen = family === AF_INET6 ? 16 : 4;
  const s: InetSocket = {
    family,
    state: p[1]!,
    srcPort: v.getUint16(o + 4, false),
    dstPort: v.getUint16(o + 6, false),
    src: formatIp(p.subarray(8, 8 + addrLen)),
    dst: formatIp(p.subarray(24, 24 + addrLen)),
    ifindex: v.getUint32(o + 40, true),
    rqueue: v.getUint32(o + 56, true),
    wqueue: v.getUint32(o + 60, true),
    uid: v.getUint32(o + 64, true),
    inode: v.getUint32(o + 68, true),
  };
  const r = new AttrReader(p, MSG_LEN);
  while (r.next()) {
    if (r.type !== INET_DIAG_SKMEMINFO) continue;
    const b = r.bytes();
    if (b.length < 8 * 4 || b.length % 4 !== 0) throw new DecodeError(`socket on port ${s.srcPort}: skmeminfo of ${b.length} bytes`);
    const m: Partial<Record<SkMeminfoName, number>> = {};
    SK_MEMINFO.forEach((name, i) => { if (i * 4 < b.length) m[name] = v.getUint32(b.byteOffset + i * 4, true); });
    s.meminfo = m;
  }
  if (r.err) throw new DecodeError(`socket on port ${s.srcPort}: ${r.err.message}`);
  return s;
}

export function decodeInetSockets(msgs: NlMessage[]): InetSocket[] {
  return msgs.filter((m) => m.type === SOCK_DIAG_BY_FAMILY).map(decodeInetSocket);
}
