// Exposition of families in the Prometheus text format (0.0.4) and OpenMetrics
// 1.0, written straight into a Buffer: a large node has 10^5 series, and
// building them as JS strings cost more than reading the kernel.
import type { Family, Labels, SampleValue } from './family.js';

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

const escapeLabel = (v: string): string =>
  v.includes('\\') || v.includes('"') || v.includes('\n')
    ? v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
    : v;
const escapeHelp = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

// Collectors share one labels object across the families of an interface:
// encode it once per scrape, not once per family.
const encodedLabels = new WeakMap<Labels, { text: string; bytes: Buffer }>();

export function formatLabels(labels: Labels): string {
  let out = '';
  for (const key in labels) out += `${out ? ',' : ''}${key}="${escapeLabel(labels[key]!)}"`;
  return out ? `{${out}}` : '';
}

function encoded(labels: Labels): { text: string; bytes: Buffer } {
  let e = encodedLabels.get(labels);
  if (!e) {
    const text = formatLabels(labels);
    e = { text, bytes: Buffer.from(text, 'utf8') };
    encodedLabels.set(labels, e);
  }
  return e;
}

function formatValue(v: SampleValue): string {
  if (typeof v === 'bigint') return v.toString();
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** A growable byte buffer. */
class Writer {
  // start at the size the last exposition needed
  static lastSize = 1 << 16;
  private buf = Buffer.allocUnsafe(Writer.lastSize);
  private len = 0;

  private reserve(n: number) {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }
  bytes(b: Uint8Array) {
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  /** ASCII only (names, numbers) */
  ascii(s: string) {
    this.reserve(s.length);
    this.len += this.buf.write(s, this.len, 'latin1');
  }
  text(s: string) {
    this.bytes(Buffer.from(s, 'utf8'));
  }
  done(): Buffer {
    Writer.lastSize = Math.max(1 << 16, Math.ceil(this.len * 1.1));
    return this.buf.subarray(0, this.len);
  }
}

// " <n>\n" for the small integers most counters and gauges hold
const SMALL_VALUES = Array.from({ length: 1024 }, (_, n) => Buffer.from(` ${n}\n`, 'latin1'));

/** Sample lines of a family; a duplicate series would make Prometheus reject the scrape, so only the first is kept. */
function writeSamples(f: Family, w: Writer): void {
  // interned (frozen) label sets are equal only if identical; others are compared by text
  const seenObjects = new Set<Labels>();
  const seenText = new Set<string>();
  const name = Buffer.from(f.name, 'latin1');
  for (let i = 0; i < f.size; i++) {
    const labels = f.labelSets[i]!;
    const l = encoded(labels);
    if (Object.isFrozen(labels)) {
      if (seenObjects.has(labels)) continue;
      seenObjects.add(labels);
    } else {
      if (seenText.has(l.text)) continue;
      seenText.add(l.text);
    }
    w.bytes(name);
    w.bytes(l.bytes);
    const v = f.values[i]!;
    if (typeof v === 'number' && v >= 0 && v < 1024 && Number.isInteger(v)) w.bytes(SMALL_VALUES[v]!);
    else w.ascii(` ${formatValue(v)}\n`);
  }
}

/** `tail`: already rendered exposition appended as is (prom-client's process metrics). */
export function renderPrometheus(families: Family[], tail = ''): Buffer {
  const w = new Writer();
  for (const f of families) {
    if (f.size === 0) continue;
    w.text(`# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.type === 'info' ? 'gauge' : f.type}\n`);
    writeSamples(f, w);
  }
  w.text(tail);
  return w.done();
}

/** `tail` must carry the closing "# EOF" line. */
export function renderOpenMetrics(families: Family[], tail: string): Buffer {
  const w = new Writer();
  for (const f of families) {
    if (f.size === 0) continue;
    const base = f.type === 'counter' ? f.name.slice(0, -'_total'.length) : f.type === 'info' ? f.name.slice(0, -'_info'.length) : f.name;
    w.text(`# TYPE ${base} ${f.type}\n# HELP ${base} ${escapeHelp(f.help)}\n`);
    writeSamples(f, w);
  }
  w.text(tail);
  return w.done();
}
