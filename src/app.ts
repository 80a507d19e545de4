// HTTP: /metrics, /healthz, a landing page and the topology (/topology, /topology.html). Nothing else is served and no
// request input reaches the kernel or dockerd: the exporter holds the Docker
// socket, so its surface stays read-only and parameter-free.
import fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Logger } from 'pino';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { Readable } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { gzipChunks, negotiateCoding } from './compression.js';
import { ChunkPool, type ExpositionFormat, OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE, renderChunks } from './metrics/render.js';
import type { ScrapeResult, Scraper } from './scrape.js';
import { TopologySource } from './topology/source.js';
import { ChunkFeed } from './web/chunk-feed.js';
import { topologyPage } from './web/topology-page.js';

export interface AppOptions {
  scraper: Scraper;
  logger: Logger;
  /** extra server options (TLS from the web config file) */
  serverOptions?: Partial<FastifyServerOptions> & Record<string, unknown>;
  /** hooks to add before routes (basic auth from the web config file) */
  configure?: (app: FastifyInstance) => void | Promise<void>;
  /** upper bound of a scrape's time budget */
  maxScrapeMs: number;
  version: string;
  /** never gzip /metrics, whatever the request accepts (--web.disable-compression) */
  disableCompression?: boolean;
}

/** Prometheus' own scrape timeout header, less a margin for rendering and the network. */
export function scrapeBudgetMs(header: string | string[] | undefined, maxMs: number): number {
  const raw = Array.isArray(header) ? header[0] : header;
  const seconds = raw ? Number.parseFloat(raw) : Number.NaN;
  if (!Number.isFinite(seconds) || seconds <= 0) return maxMs;
  const ms = seconds * 1000;
  return Math.max(100, Math.min(maxMs, ms - Math.max(250, ms * 0.1)));
}

export function wantsOpenMetrics(accept: string | undefined): boolean {
  return !!accept && accept.includes('application/openmetrics-text');
}

function processRegistries() {
  // one registry per format: OpenMetrics rendering changes counter objects in place
  const text = new Registry();
  const om = new Registry<typeof Registry.OPENMETRICS_CONTENT_TYPE>();
  om.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  for (const register of [text, om] as Registry[]) {
    collectDefaultMetrics({ register });
    // gauges named *_total break Prometheus naming rules (promtool check metrics)
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
      register.removeSingleMetric(name);
    }
  }
  return { text, om };
}

const LANDING = (version: string) => `<!doctype html>
<html><head><title>swarmnet-exporter</title></head>
<body>
<h1>swarmnet-exporter</h1>
<p>Docker Swarm overlay data plane metrics, version ${version}.</p>
<ul>
<li><a href="metrics">metrics</a></li>
<li><a href="healthz">healthz</a></li>
<li><a href="topology.html">topology</a> (a live drawing of this node's namespaces; <a href="topology">JSON</a>)</li>
</ul>
</body></html>
`;

/**
 * The HTTP server's limits. Every route is a parameter-free GET answered from
 * memory or by one scrape, so a legitimate request is a few hundred bytes of
 * headers, sent at once, and no body; anything slower or bigger is hostile.
 */
export const HTTP_LIMITS = {
  /** request headers must be complete this soon after a request starts (slowloris) */
  headersTimeoutMs: 10_000,
  /** the whole request, headers and any body, must have arrived by then */
  requestTimeoutMs: 15_000,
  /** how often the server looks for connections past those two */
  connectionsCheckingIntervalMs: 1_000,
  /** an idle keep-alive connection is closed after this (Prometheus reuses its connection between scrapes) */
  keepAliveTimeoutMs: 30_000,
  /** a connection silent for this long is closed; never less than the longest scrape plus 10 s */
  connectionTimeoutMs: 60_000,
  /** total size of the request line and headers: Node's default (--max-http-header-size), stated; past it: 431 */
  maxHeaderSize: 16 * 1024,
  /** open connections; past it new ones are closed at accept */
  maxConnections: 512,
  /** no route takes a body */
  bodyLimit: 1024,
} as const;

/** fastify's server options: the limits above, TLS (the web config file) merged over them. */
export function limitedServerOptions(maxScrapeMs: number, extra: AppOptions['serverOptions'] = {}): FastifyServerOptions {
  const node = {
    headersTimeout: HTTP_LIMITS.headersTimeoutMs,
    requestTimeout: HTTP_LIMITS.requestTimeoutMs,
    connectionsCheckingInterval: HTTP_LIMITS.connectionsCheckingIntervalMs,
    maxHeaderSize: HTTP_LIMITS.maxHeaderSize,
  };
  const https = extra.https as Record<string, unknown> | undefined;
  return {
    requestTimeout: HTTP_LIMITS.requestTimeoutMs,
    keepAliveTimeout: HTTP_LIMITS.keepAliveTimeoutMs,
    connectionTimeout: Math.max(HTTP_LIMITS.connectionTimeoutMs, maxScrapeMs + 10_000),
    bodyLimit: HTTP_LIMITS.bodyLimit,
    http: node,
    ...extra,
    // https.createServer takes the http server's options in the same object
    ...(https ? { https: { ...node, ...https } } : {}),
  } as FastifyServerOptions;
}

export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const app = fastify({
    // per-request logs at info would be one line per scrape: keep http at warn
    loggerInstance: opts.logger.child({ component: 'http' }, { level: opts.logger.level === 'debug' ? 'debug' : 'warn' }),
    ...limitedServerOptions(opts.maxScrapeMs, opts.serverOptions),
  } as FastifyServerOptions);
  app.server.maxConnections = HTTP_LIMITS.maxConnections;
  const registries = processRegistries();
  if (opts.configure) await opts.configure(app);

  // Scrapes that joined one collection (e.g. an HA pair of Prometheus servers)
  // share its rendering too, plain and compressed, in either format. Bodies
  // are kept as chunks (see renderChunks): no contiguous copy of the exposition.
  interface Bodies {
    /** plain: streamed to the first response while it renders, and to any that joins */
    identity: Partial<Record<ExpositionFormat, ChunkFeed>>;
    gzip: Partial<Record<ExpositionFormat, Promise<Buffer[]>>>;
  }
  const rendered = new WeakMap<object, Bodies>();
  // chunks rendered only for gzip are back in the pool once zlib has read them (a plain body is kept and sent as is)
  const pool = new ChunkPool();
  // a duplicate series would make Prometheus reject the whole scrape: keep the first, count and log the rest
  const onDuplicate = (family: string, labels: string) =>
    opts.scraper.errors.record('exposition', 'duplicate_series', `${family}${labels}`, `duplicate series dropped: ${family}${labels}`);
  const processMetrics = async (format: ExpositionFormat): Promise<string> =>
    format === 'openmetrics'
      ? `${(await registries.om.metrics()).replace(/# EOF\s*$/, '')}# EOF\n`
      : registries.text.metrics();
  // one chunk at a time, yielding between them: the socket (plain) or zlib on the pool (gzip) takes each as it is ready
  async function* rendering(result: ScrapeResult, format: ExpositionFormat, chunkPool?: ChunkPool): AsyncGenerator<Buffer> {
    const tail = await processMetrics(format);
    for (const chunk of renderChunks(format, result.families.all(), tail, onDuplicate, chunkPool)) {
      yield chunk;
      await nextTurn();
    }
  }
  const bodies = (result: ScrapeResult): Bodies => {
    let b = rendered.get(result);
    if (!b) rendered.set(result, (b = { identity: {}, gzip: {} }));
    return b;
  };
  const plainBody = (result: ScrapeResult, format: ExpositionFormat): ChunkFeed =>
    (bodies(result).identity[format] ??= new ChunkFeed(rendering(result, format)));
  const gzipBody = (result: ScrapeResult, format: ExpositionFormat): Promise<Buffer[]> => {
    const b = bodies(result);
    const plain = b.identity[format];
    return (b.gzip[format] ??= plain
      ? gzipChunks(plain.read())
      // render and compress in step: each chunk goes to the pool as soon as it is full
      : gzipChunks(rendering(result, format, pool), undefined, (chunk) => pool.give(chunk)));
  };

  app.get('/metrics', async (req, reply) => {
    const budget = scrapeBudgetMs(req.headers['x-prometheus-scrape-timeout-seconds'], opts.maxScrapeMs);
    const result = await opts.scraper.scrape(budget);
    const format: ExpositionFormat = wantsOpenMetrics(req.headers.accept) ? 'openmetrics' : 'prometheus';
    const gzip = !opts.disableCompression && negotiateCoding(req.headers['accept-encoding']) === 'gzip';
    reply.type(format === 'openmetrics' ? OPENMETRICS_CONTENT_TYPE : PROMETHEUS_CONTENT_TYPE);
    // the answer depends on Accept-Encoding whenever compression is on at all
    if (!opts.disableCompression) reply.header('vary', 'Accept-Encoding');
    if (gzip) {
      const chunks = await gzipBody(result, format);
      reply.header('content-encoding', 'gzip').header('content-length', chunks.reduce((n, c) => n + c.length, 0));
      return reply.send(chunks.length === 1 ? chunks[0] : Readable.from(chunks, { objectMode: false }));
    }
    // a body that fails before its first chunk is still a 500; later, the connection is cut (as client_golang does)
    const chunks = plainBody(result, format).read();
    const first = await chunks.next();
    if (first.done) return reply.header('content-length', 0).send(Buffer.alloc(0));
    // one chunk and the end (a small node): a plain body with a length
    const next = chunks.next();
    const settled = await Promise.race([next, nextTurn().then(() => undefined)]);
    if (settled?.done) return reply.header('content-length', first.value.length).send(first.value);
    // a large body goes out chunk by chunk while the rest renders
    return reply.send(Readable.from((async function* () {
      yield first.value;
      const second = settled ?? await next;
      if (second.done) return;
      yield second.value;
      yield* chunks;
    })(), { objectMode: false }));
  });

  app.get('/healthz', async (_req, reply) => reply.type('text/plain; charset=utf-8').send('ok\n'));
  app.get('/', async (_req, reply) => reply.type('text/html; charset=utf-8').send(LANDING(opts.version)));

  // the node's topology, drawn from the scrapes' snapshots; parameter-free like the rest,
  // and behind the same app-wide hooks (basic auth, rate limit) as /metrics
  const topology = new TopologySource(opts.scraper);
  app.get('/topology', async (_req, reply) => reply.header('cache-control', 'no-store').send(await topology.current()));
  app.get('/topology.html', async (_req, reply) => reply.type('text/html; charset=utf-8').send(topologyPage(opts.version)));
  return app;
}
