// Netlink attribute decoding: an iterator over TLVs. Typed reads check the exact
// length; the first error sticks so a malformed reply is reported, never guessed.

export class DecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DecodeError';
  }
}

const NLA_HDRLEN = 4;
const NLA_TYPE_MASK = ~(1 << 15 | 1 << 14) & 0xffff; // NLA_F_NESTED, NLA_F_NET_BYTEORDER

export const align4 = (n: number): number => (n + 3) & ~3;

// A reply is decoded as thousands of small readers over one buffer: share one
// DataView over the whole ArrayBuffer instead of making one per reader.
let lastBuffer: ArrayBufferLike | undefined;
let lastView: DataView | undefined;
export function viewOf(buf: Uint8Array): DataView {
  if (buf.buffer !== lastBuffer) {
    lastBuffer = buf.buffer;
    lastView = new DataView(buf.buffer);
  }
  return lastView!;
}

export class AttrReader {
  private offset: number;
  private readonly end: number;
  private readonly view: DataView;
  /** buf's offset inside the view */
  private readonly base: number;
  type = 0;
  private start = 0;
  private len = 0;
  err?: DecodeError;

  constructor(private readonly buf: Uint8Array, start = 0, end = buf.length) {
    this.offset = start;
    this.end = end;
    this.view = viewOf(buf);
    this.base = buf.byteOffset;
  }

  /** Advance to the next attribute; false at the end or after an error. */
  next(): boolean {
    if (this.err || this.offset >= this.end) return false;
    if (this.end - this.offset < NLA_HDRLEN) return this.fail(`truncated attribute header at ${this.offset}`);
    const len = this.view.getUint16(this.base + this.offset, true);
    const type = this.view.getUint16(this.base + this.offset + 2, true);
    if (len < NLA_HDRLEN || this.offset + len > this.end) {
      return this.fail(`attribute type ${type & NLA_TYPE_MASK} has bad length ${len} at ${this.offset}`);
    }
    this.type = type & NLA_TYPE_MASK;
    this.start = this.offset + NLA_HDRLEN;
    this.len = len - NLA_HDRLEN;
    this.offset += align4(len);
    return true;
  }

  private fail(message: string): false {
    this.err ??= new DecodeError(message);
    return false;
  }

  private need(size: number, what: string): boolean {
    if (this.len !== size) {
      this.fail(`attribute type ${this.type}: ${what} needs ${size} bytes, got ${this.len}`);
      return false;
    }
    return true;
  }

  get length(): number {
    return this.len;
  }

  u8(): number {
    return this.need(1, 'u8') ? this.view.getUint8(this.base + this.start) : 0;
  }
  u16(): number {
    return this.need(2, 'u16') ? this.view.getUint16(this.base + this.start, true) : 0;
  }
  u16be(): number {
    return this.need(2, 'u16be') ? this.view.getUint16(this.base + this.start, false) : 0;
  }
  u32(): number {
    return this.need(4, 'u32') ? this.view.getUint32(this.base + this.start, true) : 0;
  }
  i32(): number {
    return this.need(4, 'i32') ? this.view.getInt32(this.base + this.start, true) : 0;
  }
  u64(): bigint {
    return this.need(8, 'u64') ? this.view.getBigUint64(this.base + this.start, true) : 0n;
  }
  /** NUL-terminated string; the terminator is optional. */
  str(): string {
    let stop = this.start + this.len;
    const nul = this.buf.indexOf(0, this.start);
    if (nul >= 0 && nul < stop) stop = nul;
    // a Buffer (the native replies are) decodes in place, without a view object per string
    if (Buffer.isBuffer(this.buf)) return this.buf.toString('utf8', this.start, stop);
    return Buffer.from(this.buf.buffer, this.buf.byteOffset + this.start, stop - this.start).toString('utf8');
  }
  /** The i-th byte of the attribute (no bounds check beyond the buffer's). */
  byteAt(i: number): number {
    return this.buf[this.start + i]!;
  }
  bytes(): Uint8Array {
    return this.buf.subarray(this.start, this.start + this.len);
  }
  /**
   * Little-endian u64 array (e.g. rtnl_link_stats64) as doubles: at least
   * minCount entries, more are read. Exact up to 2^53 (9 PB of counted bytes),
   * which is also what a Prometheus sample holds.
   */
  /** The number of whole u64s in the attribute. */
  get u64Count(): number {
    return this.len % 8 === 0 ? this.len / 8 : 0;
  }
  /** The i-th u64 of the attribute as a double (exact up to 2^53), no bounds check beyond the attribute's. */
  u64AsNumberAt(i: number): number {
    const at = this.base + this.start + i * 8;
    const hi = this.view.getUint32(at + 4, true);
    const lo = this.view.getUint32(at, true);
    // most counters are small: kept an integer, V8 stores them in the object itself, not in a heap number each
    return hi === 0 ? lo : hi * 0x1_0000_0000 + lo;
  }
  u64sAsNumbers(minCount: number): Float64Array | undefined {
    if (this.len < minCount * 8 || this.len % 8 !== 0) {
      this.fail(`attribute type ${this.type}: expected at least ${minCount} u64s, got ${this.len} bytes`);
      return undefined;
    }
    const out = new Float64Array(this.len / 8);
    for (let i = 0; i < out.length; i++) {
      const at = this.base + this.start + i * 8;
      out[i] = this.view.getUint32(at + 4, true) * 0x1_0000_0000 + this.view.getUint32(at, true);
    }
    return out;
  }
  /** Decode a nested attribute set with its own reader; its error becomes ours. */
  nested<T>(decode: (r: AttrReader) => T): T | undefined {
    const inner = new AttrReader(this.buf, this.start, this.start + this.len);
    const value = decode(inner);
    if (inner.err) {
      this.fail(`in nested attribute ${this.type}: ${inner.err.message}`);
      return undefined;
    }
    return value;
  }
}

/** Encode attributes for a request (type, payload). */
export function encodeAttr(type: number, payload: Uint8Array): Uint8Array {
  const len = NLA_HDRLEN + payload.length;
  const out = new Uint8Array(align4(len));
  const view = new DataView(out.buffer);
  view.setUint16(0, len, true);
  view.setUint16(2, type, true);
  out.set(payload, NLA_HDRLEN);
  return out;
}

export function u32Attr(type: number, value: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, value, true);
  return encodeAttr(type, b);
}

export function u16Attr(type: number, value: number): Uint8Array {
  const b = new Uint8Array(2);
  new DataView(b.buffer).setUint16(0, value, true);
  return encodeAttr(type, b);
}

export function strAttr(type: number, value: string): Uint8Array {
  const s = Buffer.from(value + '\0', 'utf8');
  return encodeAttr(type, new Uint8Array(s.buffer, s.byteOffset, s.length));
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
