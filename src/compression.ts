// Response compression for /metrics: which coding a request accepts
// (Accept-Encoding, RFC 9110 §12.5.3) and gzip run off the main thread.
// Prometheus always sends "Accept-Encoding: gzip"; the exposition shrinks
// about tenfold.
import { type ZlibOptions, constants, createGzip } from 'node:zlib';

export type ContentCoding = 'gzip' | 'identity';

/**
 * The gzip level: measured in BENCHMARKS.md (CPU per scrape against bytes on
 * the wire); past this level the bytes barely shrink while the CPU grows.
 */
export const GZIP_LEVEL = 3;

/** How far rendering may run ahead of compression (about four of render.ts' 256 KB chunks). */
export const GZIP_AHEAD_BYTES = 1024 * 1024;

/** Parse Accept-Encoding into coding -> q (lower case; the last of duplicates wins). */
export function acceptedCodings(header: string | string[] | undefined): Map<string, number> {
  const out = new Map<string, number>();
  const raw = Array.isArray(header) ? header.join(',') : header;
  if (!raw) return out;
  for (const part of raw.split(',')) {
    const [coding, ...params] = part.split(';').map((s) => s.trim());
    if (!coding) continue;
    let q = 1;
    for (const p of params) {
      const m = /^q\s*=\s*(.*)$/i.exec(p);
      // a malformed q-value counts as "not acceptable" rather than as the default 1
      if (m) q = Math.min(1, Math.max(0, Number(m[1]) || 0));
    }
    out.set(coding.toLowerCase(), q);
  }
  return out;
}

/**
 * gzip when the request accepts it (by name, as x-gzip, or through "*") with a
 * q above 0 and no lower than identity's; identity otherwise. Identity is
 * served even where the header refuses it: an uncompressed answer beats a 406
 * for a scraper.
 */
export function negotiateCoding(header: string | string[] | undefined): ContentCoding {
  const q = acceptedCodings(header);
  if (q.size === 0) return 'identity';
  const star = q.get('*');
  const gzip = q.get('gzip') ?? q.get('x-gzip') ?? star ?? 0;
  const identity = q.get('identity') ?? star ?? 1;
  return gzip > 0 && gzip >= identity ? 'gzip' : 'identity';
}

/**
 * gzip a body given as chunks (an async iterable, so rendering can go on while
 * earlier chunks are compressed): zlib's stream works on the libuv pool, one
 * chunk at a time; the main thread only hands chunks over. `release` is told
 * of each input chunk once zlib has consumed it (its buffer may then be reused).
 */
export async function gzipChunks(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, level = GZIP_LEVEL,
  release?: (chunk: Uint8Array) => void): Promise<Buffer[]> {
  // zlib hands its options to the stream (Transform) it is, which takes writableHighWaterMark; node's types omit it.
  // Room for a few rendered chunks: with the stream's default 16 KB every chunk waited for zlib before the next
  // was rendered, and rendering and compressing took turns instead of running side by side.
  const options: ZlibOptions & { writableHighWaterMark: number } = {
    level, chunkSize: 64 * 1024, memLevel: 9, strategy: constants.Z_DEFAULT_STRATEGY, writableHighWaterMark: GZIP_AHEAD_BYTES,
  };
  const gz = createGzip(options);
  const out: Buffer[] = [];
  gz.on('data', (c: Buffer) => out.push(c));
  const finished = new Promise<void>((resolve, reject) => {
    gz.once('end', resolve);
    gz.once('error', reject);
  });
  try {
    for await (const c of chunks) {
      const done = release ? (err?: Error | null) => { if (!err) release(c); } : undefined;
      if (!gz.write(c, done)) await new Promise<void>((resolve, reject) => {
        const onError = (err: Error) => reject(err);
        gz.once('error', onError);
        gz.once('drain', () => { gz.off('error', onError); resolve(); });
      });
    }
    gz.end();
  } catch (err) {
    gz.destroy();
    throw err;
  }
  await finished;
  return out;
}
