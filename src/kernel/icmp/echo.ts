// ICMP echo (RFC 792) for the overlay path probes: the requests the addon sends
// and the replies and errors it hands back, as bytes. Pure: no I/O.
//
// A ping socket (SOCK_DGRAM/IPPROTO_ICMP) takes and returns bare ICMP messages
// and sets the identifier and checksum itself; a raw socket (SOCK_RAW) returns
// every ICMP datagram of its namespace with the IP header in front, and sends
// ours as built here, checksum included. Either way the request built here is
// the same bytes.
import { DecodeError } from '../nl/attr.js';

export const ICMP_ECHO_REPLY = 0;
export const ICMP_DEST_UNREACH = 3;
export const ICMP_ECHO_REQUEST = 8;
export const ICMP_FRAG_NEEDED = 4; // code of DEST_UNREACH
export const IPV4_HEADER_BYTES = 20;
export const ICMP_HEADER_BYTES = 8;
/** what the probe's own payload starts with: a tag, so a reply is told from someone else's echo */
const MAGIC = 0x73776e70; // "swnp"
/** the smallest payload: the tag and a round number */
export const MIN_PAYLOAD = 8;

/** RFC 1071 Internet checksum over `buf`. */
export function internetChecksum(buf: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i + 1 < buf.length; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
  if (buf.length % 2 === 1) sum += buf[buf.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export interface EchoRequest {
  ident: number;
  seq: number;
  /** ties the payload to one round (replies of an earlier round that arrive late are not this round's) */
  round: number;
  /** bytes of the whole IPv4 packet: 20 (IP) + 8 (ICMP) + payload; the overlay MTU for the full-size probe */
  ipPacketBytes: number;
}

/** The ICMP payload size that makes an IPv4 packet (no options) of `ipPacketBytes`. */
export function payloadBytesFor(ipPacketBytes: number): number {
  const n = ipPacketBytes - IPV4_HEADER_BYTES - ICMP_HEADER_BYTES;
  if (!Number.isInteger(ipPacketBytes) || n < MIN_PAYLOAD || ipPacketBytes > 65535) {
    throw new RangeError(`an echo request of ${ipPacketBytes} IP bytes: from ${IPV4_HEADER_BYTES + ICMP_HEADER_BYTES + MIN_PAYLOAD} to 65535`);
  }
  return n;
}

/** An ICMP echo request: type 8, identifier, sequence number, our tag and round, then a pattern up to the size. */
export function encodeEchoRequest(r: EchoRequest): Uint8Array {
  const out = new Uint8Array(ICMP_HEADER_BYTES + payloadBytesFor(r.ipPacketBytes));
  const v = new DataView(out.buffer);
  v.setUint8(0, ICMP_ECHO_REQUEST);
  v.setUint16(4, r.ident & 0xffff);
  v.setUint16(6, r.seq & 0xffff);
  v.setUint32(8, MAGIC);
  v.setUint32(12, r.round >>> 0);
  for (let i = 16; i < out.length; i++) out[i] = i & 0xff;
  v.setUint16(2, internetChecksum(out));
  return out;
}

export interface EchoMessage {
  type: number;
  code: number;
  ident: number;
  seq: number;
  /** our tag's round, when the payload carries it (undefined: not one of our probes) */
  round?: number;
  /** bytes of the ICMP message */
  length: number;
}

/** Strip a raw socket's IPv4 header (its length from IHL). */
export function stripIpHeader(buf: Uint8Array): Uint8Array {
  if (buf.length < IPV4_HEADER_BYTES) throw new DecodeError(`IPv4 packet of ${buf.length} bytes: shorter than its header`);
  if (buf[0]! >> 4 !== 4) throw new DecodeError(`IP version ${buf[0]! >> 4}: not IPv4`);
  const ihl = (buf[0]! & 0x0f) * 4;
  if (ihl < IPV4_HEADER_BYTES || ihl > buf.length) throw new DecodeError(`IPv4 header length ${ihl} of a ${buf.length}-byte packet`);
  return buf.subarray(ihl);
}

/**
 * An ICMP echo message (request or reply) as the kernel handed it. `checksum`: verify it (raw sockets; a ping
 * socket's kernel has checked it, and an error queue's copy of our request may be cut short).
 */
export function decodeEcho(buf: Uint8Array, opts: { checksum?: boolean } = {}): EchoMessage {
  if (buf.length < ICMP_HEADER_BYTES) throw new DecodeError(`ICMP message of ${buf.length} bytes: shorter than its header`);
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const type = v.getUint8(0);
  if (type !== ICMP_ECHO_REPLY && type !== ICMP_ECHO_REQUEST) throw new DecodeError(`ICMP type ${type}: not an echo`);
  if (opts.checksum && internetChecksum(buf) !== 0) throw new DecodeError('ICMP checksum does not match');
  const tagged = buf.length >= ICMP_HEADER_BYTES + MIN_PAYLOAD && v.getUint32(8) === MAGIC;
  return {
    type, code: v.getUint8(1), ident: v.getUint16(4), seq: v.getUint16(6),
    round: tagged ? v.getUint32(12) : undefined, length: buf.length,
  };
}
