// gzip on /metrics, over real loopback HTTP (fastify listening): what
// Accept-Encoding asks for, the flag that turns it off, and that the
// compressed body carries exactly the plain body's series.
import { mkdtempSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import type { Collector } from '../../src/collectors/types.js';
import { acceptedCodings, negotiateCoding } from '../../src/compression.js';
import { loadConfig } from '../../src/config.js';
import type { NativeBinding } from '../../src/kernel/native.js';
import type { NsReader, ScrapeData } from '../../src/kernel/readers/types.js';
import { metric } from '../../src/metrics/family.js';
import { CHUNK_BYTES } from '../../src/metrics/render.js';
import { Scraper } from '../../src/scrape.js';
import { parseProm } from '../helpers/prom.js';

describe('Accept-Encoding negotiation', () => {
  it.each([
    [undefined, 'identity'],
    ['', 'identity'],
    ['gzip', 'gzip'],
    ['GZIP', 'gzip'],
    ['x-gzip', 'gzip'],
    ['gzip, deflate, br', 'gzip'],
    ['identity', 'identity'],
    ['br', 'identity'],
    ['*', 'gzip'],
    ['*;q=0', 'identity'],
    ['gzip;q=0', 'identity'],
    ['gzip; q=0.0, identity', 'identity'],
    ['gzip;q=0, *', 'identity'],
    ['*, gzip;q=0', 'identity'],
    ['gzip;q=0.5, identity;q=0.8', 'identity'],
    ['gzip;q=0.8, identity;q=0.5', 'gzip'],
    ['identity;q=0', 'identity'],
    ['identity;q=0, *', 'gzip'],
    ['deflate, *;q=0.1', 'gzip'],
    [['br', 'gzip'], 'gzip'],
  ] as const)('%j -> %s', (header, want) => {
    expect(negotiateCoding(header as string | string[] | undefined)).toBe(want);
  });
  it('reads q-values, clamped to [0, 1]', () => {
    expect([...acceptedCodings('gzip;q=0.3, br ; Q=2, identity;q=bogus')]).toEqual([['gzip', 0.3], ['br', 1], ['identity', 0]]);
  });
});

const many = metric('swarmnet_test_compression_bytes_total', 'counter', 'Bytes for the compression test.', ['netns', 'device']);
// enough series for several render chunks, so compression streams over more than one
const SERIES = 30_000;
const bulk: Collector = {
  name: 'bulk', help: 'test', defaultEnabled: true, needs: ['ipvs'],
  collect(snapshot, out) {
    const f = out.of(many);
    for (let i = 0; i < SERIES; i++) f.add(snapshot.interner.intern(many.labels, [`ns-${i >> 4}`, `veth${i & 15}`]), i * 1009);
  },
};

// holds every collection open for a while (a reader's once-per-scrape preparation), so scrapes sent together share one
const slowReader = {
  need: 'ipvs', protocol: 16, applies: () => false, requests: () => [], complete: () => undefined,
  prepare: () => new Promise<Partial<ScrapeData>>((resolve) => setTimeout(() => resolve({}), 150)),
} as unknown as NsReader;

async function listen(disableCompression: boolean): Promise<{ app: FastifyInstance; port: number }> {
  const log = pino({ level: 'silent' });
  const scraper = new Scraper({
    netnsDirs: [mkdtempSync(join(tmpdir(), 'swarmnet-gzip-'))], hostNetns: false, collectors: [bulk], readers: [slowReader], concurrency: 1,
    defaultTimeoutMs: 5000, version: { version: 'test', revision: 'test' },
  }, { native: {} as NativeBinding }, log);
  const app = await buildApp({ scraper, logger: log, maxScrapeMs: 5000, version: 'test', disableCompression });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, port: (app.server.address() as AddressInfo).port };
}

function get(port: number, headers: Record<string, string> = {}): Promise<{ headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    // a fresh connection per request, and Node's client does not decompress: the bytes as sent
    http.get({ host: '127.0.0.1', port, path: '/metrics', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

/** the series of an exposition, minus the exporter's own timings and process metrics (they change between scrapes) */
const seriesOf = (text: string) =>
  parseProm(text)
    .filter((s) => s.name.startsWith('swarmnet_test_'))
    .map((s) => `${s.name}${JSON.stringify(s.labels)} ${s.value}`)
    .sort();

describe('--web.disable-compression', () => {
  it('is off by default and on when given', () => {
    expect(loadConfig([]).disableCompression).toBe(false);
    expect(loadConfig(['--web.disable-compression']).disableCompression).toBe(true);
    expect(loadConfig(['--no-web.disable-compression']).disableCompression).toBe(false);
  });
});

describe('/metrics compression over HTTP', () => {
  let on: { app: FastifyInstance; port: number };
  let off: { app: FastifyInstance; port: number };
  beforeAll(async () => {
    on = await listen(false);
    off = await listen(true);
  });
  afterAll(async () => {
    await on.app.close();
    await off.app.close();
  });

  it('gzips for Prometheus, and the body decompresses to exactly the plain series', async () => {
    const plain = await get(on.port);
    const gz = await get(on.port, { 'accept-encoding': 'gzip' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.headers.vary).toMatch(/Accept-Encoding/i);
    expect(Number(gz.headers['content-length'])).toBe(gz.body.length);
    const text = gunzipSync(gz.body).toString('utf8');
    expect(text.length).toBeGreaterThan(2 * CHUNK_BYTES);
    expect(gz.body.length).toBeLessThan(text.length / 4);
    const want = seriesOf(plain.body.toString('utf8'));
    expect(want).toHaveLength(SERIES);
    expect(seriesOf(text)).toEqual(want);
    expect(text).toContain('# TYPE swarmnet_test_compression_bytes_total counter\n');
  });

  it('answers identity without Accept-Encoding, with the full body and Vary, streamed while it renders', async () => {
    const res = await get(on.port);
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(res.headers.vary).toMatch(/Accept-Encoding/i);
    // several chunks: on the wire as they render, so no length up front
    expect(res.body.length).toBeGreaterThan(2 * CHUNK_BYTES);
    expect(res.headers['transfer-encoding']).toBe('chunked');
    expect(res.headers['content-length']).toBeUndefined();
    const text = res.body.toString('utf8');
    expect(text).toContain('swarmnet_test_compression_bytes_total{netns="ns-0",device="veth1"} 1009\n');
    expect(seriesOf(text)).toHaveLength(SERIES);
    // the process metrics come last: the whole body went out
    expect(text).toMatch(/\nprocess_cpu_user_seconds_total \S+\n/);
  });

  it('concurrent plain scrapes that share a collection stream the same bytes, gzip made from them too', async () => {
    const [a, b, c] = await Promise.all([get(on.port), get(on.port), get(on.port, { 'accept-encoding': 'gzip' })]);
    expect(a.body.length).toBeGreaterThan(2 * CHUNK_BYTES);
    expect(b.body.equals(a.body)).toBe(true);
    expect(gunzipSync(c.body).equals(a.body)).toBe(true);
  });

  it('respects gzip;q=0 and identity-only requests', async () => {
    for (const accept of ['gzip;q=0', 'identity', 'gzip;q=0, identity;q=1', '*;q=0']) {
      const res = await get(on.port, { 'accept-encoding': accept });
      expect(res.headers['content-encoding'], accept).toBeUndefined();
      expect(seriesOf(res.body.toString('utf8')), accept).toHaveLength(SERIES);
    }
  });

  it('gzips OpenMetrics too, ending in # EOF', async () => {
    const res = await get(on.port, { 'accept-encoding': 'gzip', accept: 'application/openmetrics-text; version=1.0.0' });
    expect(res.headers['content-encoding']).toBe('gzip');
    expect(res.headers['content-type']).toMatch(/openmetrics/);
    const text = gunzipSync(res.body).toString('utf8');
    expect(text.endsWith('# EOF\n')).toBe(true);
    expect(text).toContain('# TYPE swarmnet_test_compression_bytes counter\n');
  });

  it('concurrent scrapes that share a collection get the same compressed bytes', async () => {
    const [a, b, c] = await Promise.all([
      get(on.port, { 'accept-encoding': 'gzip' }),
      get(on.port, { 'accept-encoding': 'gzip' }),
      get(on.port),
    ]);
    expect(a.headers['content-encoding']).toBe('gzip');
    expect(b.body.equals(a.body)).toBe(true);
    // one collection: its own duration is the same number in both formats' bodies
    const duration = (text: string) => /^swarmnet_scrape_duration_seconds (\S+)$/m.exec(text)?.[1];
    expect(duration(gunzipSync(a.body).toString('utf8'))).toBeDefined();
    expect(duration(gunzipSync(a.body).toString('utf8'))).toBe(duration(c.body.toString('utf8')));
    expect(seriesOf(gunzipSync(a.body).toString('utf8'))).toEqual(seriesOf(c.body.toString('utf8')));
  });

  it('--web.disable-compression: identity whatever the request accepts', async () => {
    const res = await get(off.port, { 'accept-encoding': 'gzip' });
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(res.headers.vary).toBeUndefined();
    expect(seriesOf(res.body.toString('utf8'))).toHaveLength(SERIES);
  });
});
