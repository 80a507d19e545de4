// rtnetlink interface addresses (RTM_GETADDR dump, struct ifaddrmsg + IFA_*):
// which interface holds an address, to find the underlay device of a VXLAN
// tunnel from its local (VTEP) address.
import { formatIp } from '../nl/address.js';
import { AttrReader, DecodeError, viewOf } from '../nl/attr.js';
import { NLM_F_DUMP, NLM_F_REQUEST, encodeMessage, type NlMessage } from '../nl/message.js';

export const RTM_NEWADDR = 20;
export const RTM_GETADDR = 22;
const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
/** struct ifaddrmsg: family, prefixlen, flags, scope, index */
const IFADDRMSG_LEN = 8;

export interface IfAddress {
  family: number;
  prefixlen: number;
  ifindex: number;
  /** IFA_LOCAL where present (the interface's own address on point-to-point links), else IFA_ADDRESS */
  address?: string;
}

export function getAddrRequest(seq: number, family = 0): Uint8Array {
  const ifaddrmsg = new Uint8Array(IFADDRMSG_LEN);
  ifaddrmsg[0] = family;
  return encodeMessage(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, seq, [ifaddrmsg]);
}

export function decodeAddr(msg: NlMessage): IfAddress {
  const p = msg.payload;
  if (p.length < IFADDRMSG_LEN) throw new DecodeError(`address message of ${p.length} bytes`);
  const a: IfAddress = { family: p[0]!, prefixlen: p[1]!, ifindex: viewOf(p).getUint32(p.byteOffset + 4, true) };
  let local: string | undefined;
  const r = new AttrReader(p, IFADDRMSG_LEN);
  while (r.next()) {
    if (r.type === IFA_ADDRESS) a.address = formatIp(r.bytes());
    else if (r.type === IFA_LOCAL) local = formatIp(r.bytes());
  }
  if (r.err) throw new DecodeError(`address on ifindex ${a.ifindex}: ${r.err.message}`);
  if (local !== undefined) a.address = local;
  return a;
}

export function decodeAddrs(msgs: NlMessage[]): IfAddress[] {
  return msgs.filter((m) => m.type === RTM_NEWADDR).map(decodeAddr);
}
