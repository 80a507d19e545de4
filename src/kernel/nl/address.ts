// Addresses as the kernel carries them (4 or 16 bytes, 6-byte MACs), as text.
import { type AttrReader, DecodeError } from './attr.js';

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
export function formatMac(b: Uint8Array): string {
  let out = HEX[b[0]!]!;
  for (let i = 1; i < b.length; i++) out += `:${HEX[b[i]!]}`;
  return out;
}

/**
 * Address texts already made, by the address' bytes as two small integers:
 * every scrape decodes the same few thousand MACs and VTEP addresses again,
 * and the same string each time is no garbage and no copy into the old
 * generation. Emptied whenever it grows past its bound (addresses churn).
 */
class TextCache {
  private readonly byHigh = new Map<number, Map<number, string>>();
  private size = 0;

  constructor(private readonly max: number) {}

  get(high: number, low: number): string | undefined {
    return this.byHigh.get(high)?.get(low);
  }

  set(high: number, low: number, text: string): string {
    if (this.size >= this.max) {
      this.byHigh.clear();
      this.size = 0;
    }
    let lows = this.byHigh.get(high);
    if (!lows) this.byHigh.set(high, (lows = new Map()));
    lows.set(low, text);
    this.size++;
    return text;
  }
}

const macs = new TextCache(1 << 16);
const ipv4s = new TextCache(1 << 16);

/** A 6-byte MAC address attribute as text, read in place. */
export function attrMac(r: AttrReader): string {
  const high = (r.byteAt(0) << 16) | (r.byteAt(1) << 8) | r.byteAt(2);
  const low = (r.byteAt(3) << 16) | (r.byteAt(4) << 8) | r.byteAt(5);
  return macs.get(high, low)
    ?? macs.set(high, low, `${HEX[r.byteAt(0)]}:${HEX[r.byteAt(1)]}:${HEX[r.byteAt(2)]}:${HEX[r.byteAt(3)]}:${HEX[r.byteAt(4)]}:${HEX[r.byteAt(5)]}`);
}

/** An IPv4 (read in place) or IPv6 address attribute as text. */
export function attrIp(r: AttrReader): string {
  if (r.length === 4) {
    const high = (r.byteAt(0) << 8) | r.byteAt(1);
    const low = (r.byteAt(2) << 8) | r.byteAt(3);
    return ipv4s.get(high, low) ?? ipv4s.set(high, low, `${r.byteAt(0)}.${r.byteAt(1)}.${r.byteAt(2)}.${r.byteAt(3)}`);
  }
  return formatIp(r.bytes());
}

export function formatIp(b: Uint8Array): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length === 16) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(((b[i]! << 8) | b[i + 1]!).toString(16));
    // compress the longest zero run, as inet_ntop does
    let best = -1, bestLen = 0;
    for (let i = 0; i < 8; ) {
      if (groups[i] !== '0') { i++; continue; }
      let j = i;
      while (j < 8 && groups[j] === '0') j++;
      if (j - i > bestLen && j - i > 1) { best = i; bestLen = j - i; }
      i = j;
    }
    if (best < 0) return groups.join(':');
    return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
  }
  throw new DecodeError(`address of ${b.length} bytes`);
}
