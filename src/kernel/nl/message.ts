// Netlink message framing: build a request, split a reply into messages, check
// that every message answers our request (sequence number and port id) and map
// NLMSG_ERROR to an errno name.
import { getSystemErrorName } from 'node:util';
import { DecodeError, align4, concat } from './attr.js';

export const NLMSG_HDRLEN = 16;
export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;

export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_ACK = 0x4;
export const NLM_F_DUMP_INTR = 0x10;
export const NLM_F_DUMP = 0x300;

export const NETLINK_ROUTE = 0;
export const NETLINK_GENERIC = 16;

export interface NlMessage {
  type: number;
  flags: number;
  seq: number;
  /** the port id the message was sent to: our socket's */
  port: number;
  /** The payload after the 16-byte header (a view into the reply). */
  readonly payload: Uint8Array;
}

/**
 * A message of a parsed reply: its payload is bytes [start, end) of the reply,
 * viewed only when asked for. A dump has thousands of messages, and a view
 * object each was the largest allocation of decoding; the hot codecs read the
 * reply in place through payloadBytes/payloadStart/payloadEnd.
 */
export class ReplyMessage implements NlMessage {
  constructor(
    readonly type: number,
    readonly flags: number,
    readonly seq: number,
    readonly port: number,
    readonly bytes: Uint8Array,
    readonly start: number,
    readonly end: number,
  ) {}

  get payload(): Uint8Array {
    return this.bytes.subarray(this.start, this.end);
  }
}

/** The bytes a message's payload lies in (the whole reply for a ReplyMessage): read [payloadStart, payloadEnd) of them. */
export const payloadBytes = (m: NlMessage): Uint8Array => (m instanceof ReplyMessage ? m.bytes : m.payload);
export const payloadStart = (m: NlMessage): number => (m instanceof ReplyMessage ? m.start : 0);
export const payloadEnd = (m: NlMessage): number => (m instanceof ReplyMessage ? m.end : m.payload.length);

/** A kernel-reported failure for a request (NLMSG_ERROR with a negative errno). */
export class NetlinkError extends Error {
  constructor(readonly errno: number, readonly request: string) {
    super(`${request}: kernel returned ${errnoName(errno)}`);
    this.name = 'NetlinkError';
  }
  get code(): string {
    return errnoName(this.errno);
  }
}

/** The dump changed while it was read (NLM_F_DUMP_INTR): retry it. */
export class DumpInterruptedError extends Error {
  constructor(request: string) {
    super(`${request}: dump interrupted by a concurrent change`);
    this.name = 'DumpInterruptedError';
  }
}

/** The errno's symbolic name (ENOENT...), as libuv knows them; "errno N" for one it does not. */
export function errnoName(errno: number): string {
  try {
    return getSystemErrorName(-errno);
  } catch {
    return `errno ${errno}`;
  }
}

export function encodeMessage(type: number, flags: number, seq: number, body: Uint8Array[]): Uint8Array {
  const payload = concat(body);
  const len = NLMSG_HDRLEN + payload.length;
  const out = new Uint8Array(align4(len));
  const view = new DataView(out.buffer);
  view.setUint32(0, len, true);
  view.setUint16(4, type, true);
  view.setUint16(6, flags, true);
  view.setUint32(8, seq, true);
  view.setUint32(12, 0, true);
  out.set(payload, NLMSG_HDRLEN);
  return out;
}

/** What a reply must answer: the request's sequence number, on our socket's port id. */
export interface ReplyExpectation {
  seq: number;
  port: number;
}

/**
 * Split a reply (the datagrams of one request, concatenated) into its data
 * messages. Throws NetlinkError for an error reply, DumpInterruptedError when
 * the kernel flagged the dump as inconsistent, DecodeError for bad framing or
 * a message meant for another request or socket.
 */
export function parseReply(reply: Uint8Array, expect: ReplyExpectation, request: string): NlMessage[] {
  const { seq, port } = expect;
  const view = new DataView(reply.buffer, reply.byteOffset, reply.byteLength);
  const out: NlMessage[] = [];
  let interrupted = false;
  let off = 0;
  while (off < reply.length) {
    if (reply.length - off < NLMSG_HDRLEN) throw new DecodeError(`${request}: truncated message header at ${off}`);
    const len = view.getUint32(off, true);
    const type = view.getUint16(off + 4, true);
    const flags = view.getUint16(off + 6, true);
    const mseq = view.getUint32(off + 8, true);
    const mport = view.getUint32(off + 12, true);
    if (len < NLMSG_HDRLEN || off + len > reply.length) {
      throw new DecodeError(`${request}: message length ${len} out of bounds at ${off}`);
    }
    if (mseq !== seq) throw new DecodeError(`${request}: reply sequence ${mseq}, expected ${seq}`);
    if (mport !== port) throw new DecodeError(`${request}: reply for port id ${mport}, ours is ${port}`);
    if (flags & NLM_F_DUMP_INTR) interrupted = true;
    const start = off + NLMSG_HDRLEN;
    const end = off + len;
    off += align4(len);
    if (type === NLMSG_NOOP) continue;
    if (type === NLMSG_DONE) {
      // a dump that failed part-way reports its errno in DONE's payload
      if (end - start >= 4) {
        const code = view.getInt32(start, true);
        if (code < 0) throw new NetlinkError(-code, request);
      }
      break;
    }
    if (type === NLMSG_ERROR) {
      if (end - start < 4) throw new DecodeError(`${request}: short error message`);
      const code = view.getInt32(start, true);
      if (code === 0) break; // an ACK
      throw new NetlinkError(-code, request);
    }
    out.push(new ReplyMessage(type, flags, mseq, mport, reply, start, end));
  }
  if (interrupted) throw new DumpInterruptedError(request);
  return out;
}
