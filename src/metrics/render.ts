// Exposition of families in the Prometheus text format (0.0.4) and OpenMetrics
// 1.0, written straight into a Buffer: a large node has 10^5 series, and
// building them as JS strings cost more than reading the kernel.
import { type Family, type Labels, type SampleValue, internedRecord } from './family.js';

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

const escapeLabel = (v: string): string =>
  v.includes('\\') || v.includes('"') || v.includes('\n')
    ? v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
    : v;
const escapeHelp = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

// Collectors share one labels object across the families of an interface:
// encode it once per scrape, not once per family.
interface Encoded {
  /** the label text, kept only for label sets that are not interned (an interned set's is read back from its bytes) */
  text?: string;
  bytes: Buffer;
  /** the writeSamples() call that last wrote these labels (duplicates of interned sets are told by it) */
  mark: number;
}
const encodedLabels = new WeakMap<Labels, Encoded>();
let nextMark = 0;
/** writeSamples() calls using marks right now: renders interleave (they yield), and a mark is one at a time */
let marking = 0;

export function formatLabels(labels: Labels): string {
  let out = '';
  for (const key in labels) out += `${out ? ',' : ''}${key}="${escapeLabel(labels[key]!)}"`;
  return out ? `{${out}}` : '';
}

function encoded(labels: Labels): Encoded {
  // an interned set keeps its encoding in its own record: no WeakMap lookup per sample
  const record = internedRecord(labels);
  let e = (record ? record.encoded : encodedLabels.get(labels)) as Encoded | undefined;
  if (!e) {
    const text = formatLabels(labels);
    // an interned set lives across scrapes: a second copy of its text as a string would be most of its memory
    e = { text: record ? undefined : text, bytes: Buffer.from(text, 'utf8'), mark: -1 };
    if (record) record.encoded = e;
    else encodedLabels.set(labels, e);
  }
  return e;
}

const textOf = (e: Encoded): string => e.text ?? e.bytes.toString('utf8');

function formatValue(v: SampleValue): string {
  if (typeof v === 'bigint') return v.toString();
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** Chunk size of the exposition: big enough to amortise a write, small enough to pipeline into gzip. */
export const CHUNK_BYTES = 256 * 1024;

/**
 * Chunk buffers kept for the next rendering: a consumer that is done with a
 * chunk (gzip has compressed it) gives it back, so a scrape reuses the same
 * few buffers instead of allocating its exposition's size again, memory that
 * only a garbage collection would return.
 */
export class ChunkPool {
  private readonly free: ArrayBuffer[] = [];

  constructor(private readonly max = 8) {}

  take(): Buffer {
    const ab = this.free.pop();
    return ab ? Buffer.from(ab, 0, CHUNK_BYTES) : Buffer.allocUnsafeSlow(CHUNK_BYTES);
  }

  /** A chunk renderChunks() produced with this pool, no longer read by anyone. */
  give(chunk: Uint8Array): void {
    const ab = chunk.buffer;
    if (ab instanceof ArrayBuffer && ab.byteLength === CHUNK_BYTES && this.free.length < this.max && !this.free.includes(ab)) this.free.push(ab);
  }

  get size(): number {
    return this.free.length;
  }
}

/**
 * A byte sink in fixed-size chunks: no contiguous 10 MB buffer, no copying as
 * it grows, and full chunks can be handed on (to gzip, to the socket) while
 * rendering goes on.
 */
class ChunkWriter {
  private buf: Buffer;
  private len = 0;
  /** full chunks not yet taken */
  readonly ready: Buffer[] = [];

  constructor(private readonly pool?: ChunkPool) {
    this.buf = pool ? pool.take() : Buffer.allocUnsafe(CHUNK_BYTES);
  }

  private reserve(n: number) {
    if (this.len + n <= this.buf.length) return;
    this.flush();
    this.buf = n <= CHUNK_BYTES && this.pool ? this.pool.take() : Buffer.allocUnsafe(Math.max(CHUNK_BYTES, n));
  }
  private flush() {
    if (this.len > 0) this.ready.push(this.buf.subarray(0, this.len));
    this.len = 0;
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
  /** " <n>\n" for a positive safe integer, digits written in place (no string per value) */
  integerLine(n: number) {
    this.reserve(18);
    const b = this.buf;
    let digits = 1;
    for (let p = 10; p <= n; p *= 10) digits++;
    b[this.len] = 0x20;
    let at = this.len + digits;
    b[at + 1] = 0x0a;
    for (let i = 0; i < digits; i++) {
      const q = Math.floor(n / 10);
      b[at--] = 0x30 + (n - q * 10);
      n = q;
    }
    this.len += digits + 2;
  }
  /** the chunks filled since the last call */
  *take(): Generator<Buffer> {
    while (this.ready.length) yield this.ready.shift()!;
  }
  *end(): Generator<Buffer> {
    this.flush();
    yield* this.take();
  }
}

// " <n>\n" for the small integers most counters and gauges hold
const SMALL_VALUES = Array.from({ length: 1024 }, (_, n) => Buffer.from(` ${n}\n`, 'latin1'));

/**
 * Called for a series that appears twice in a family (same name and labels):
 * the first one is kept and this one dropped. `labelsText` is the series'
 * label part as rendered, e.g. `{netns="x",reason="y"}`.
 */
export type DuplicateSeriesHandler = (familyName: string, labelsText: string) => void;

/** A series appeared twice in a family and the renderer was given no DuplicateSeriesHandler. */
export class DuplicateSeriesError extends Error {
  constructor(readonly familyName: string, readonly labelsText: string) {
    super(`duplicate series ${familyName}${labelsText}: a collector added it twice`);
    this.name = 'DuplicateSeriesError';
  }
}

/**
 * Sample lines of a family. A duplicate series would make Prometheus reject
 * the whole scrape: without `onDuplicate` it throws DuplicateSeriesError, with
 * it only the first is written and the handler told.
 */
function* writeSamples(f: Family, w: ChunkWriter, onDuplicate: DuplicateSeriesHandler | undefined): Generator<Buffer> {
  // Family.add checked the label names and their order against the definition,
  // so the label text identifies the series. Where every labels object is
  // interned (one object per distinct set), the object identifies it too: a
  // mark on its cached encoding tells a repeat without a set of every text.
  // Otherwise, or while another render is inside a family, each text goes
  // into a Set (a string caches its hash).
  const mark = nextMark++;
  const seen = f.interned && marking === 0 ? undefined : new Set<string>();
  if (!seen) marking++;
  try {
    yield* writeLines(f, w, onDuplicate, mark, seen);
  } finally {
    if (!seen) marking--;
  }
}

function* writeLines(f: Family, w: ChunkWriter, onDuplicate: DuplicateSeriesHandler | undefined, mark: number,
  seen: Set<string> | undefined): Generator<Buffer> {
  const name = Buffer.from(f.name, 'latin1');
  for (let i = 0; i < f.size; i++) {
    const l = encoded(f.labelSets[i]!);
    const text = seen ? textOf(l) : undefined;
    if (text !== undefined ? seen!.has(text) : l.mark === mark) {
      if (!onDuplicate) throw new DuplicateSeriesError(f.name, textOf(l));
      onDuplicate(f.name, textOf(l));
      continue;
    }
    if (text !== undefined) seen!.add(text);
    else l.mark = mark;
    w.bytes(name);
    w.bytes(l.bytes);
    const v = f.values[i]!;
    if (typeof v === 'number' && v >= 0 && v < 1024 && Number.isInteger(v)) w.bytes(SMALL_VALUES[v]!);
    else if (typeof v === 'number' && Number.isSafeInteger(v) && v > 0) w.integerLine(v);
    else w.ascii(` ${formatValue(v)}\n`);
    if (w.ready.length) yield* w.take();
  }
}

export type ExpositionFormat = 'prometheus' | 'openmetrics';

/**
 * The exposition in chunks of about CHUNK_BYTES, produced as they fill.
 * `tail`: already rendered exposition appended as is (prom-client's process
 * metrics); for OpenMetrics it must carry the closing "# EOF" line.
 * `onDuplicate`: see DuplicateSeriesHandler; without it a duplicate series throws DuplicateSeriesError.
 * `pool`: chunk buffers are taken from it; the caller gives each chunk back once nothing reads it.
 */
export function* renderChunks(format: ExpositionFormat, families: Family[], tail = '', onDuplicate?: DuplicateSeriesHandler,
  pool?: ChunkPool): Generator<Buffer> {
  const w = new ChunkWriter(pool);
  for (const f of families) {
    if (f.size === 0) continue;
    if (format === 'openmetrics') {
      const base = f.type === 'counter' ? f.name.slice(0, -'_total'.length) : f.type === 'info' ? f.name.slice(0, -'_info'.length) : f.name;
      w.text(`# TYPE ${base} ${f.type}\n# HELP ${base} ${escapeHelp(f.help)}\n`);
    } else {
      w.text(`# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.type === 'info' ? 'gauge' : f.type}\n`);
    }
    yield* writeSamples(f, w, onDuplicate);
  }
  w.text(tail);
  yield* w.end();
}

/** The Prometheus text exposition as one Buffer (see renderChunks). */
export function renderPrometheus(families: Family[], tail = '', onDuplicate?: DuplicateSeriesHandler): Buffer {
  return Buffer.concat([...renderChunks('prometheus', families, tail, onDuplicate)]);
}

/** The OpenMetrics exposition as one Buffer; `tail` must carry the closing "# EOF" line (see renderChunks). */
export function renderOpenMetrics(families: Family[], tail: string, onDuplicate?: DuplicateSeriesHandler): Buffer {
  return Buffer.concat([...renderChunks('openmetrics', families, tail, onDuplicate)]);
}
