// HTTP: /metrics, /healthz and a landing page. Nothing else is served and no
// request input reaches the kernel or dockerd: the exporter holds the Docker
// socket, so its surface stays read-only and parameter-free.
import fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Logger } from 'pino';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE, renderOpenMetrics, renderPrometheus } from './metrics/render.js';
import type { ScrapeResult, Scraper } from './scrape.js';

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

  // scrapes that joined one collection (e.g. an HA pair of Prometheus servers) share its rendering too
  const rendered = new WeakMap<object, { text?: Promise<Buffer>; om?: Promise<Buffer> }>();
  // a duplicate series would make Prometheus reject the whole scrape: keep the first, count and log the rest
  const onDuplicate = (family: string, labels: string) =>
    opts.scraper.errors.record('exposition', 'duplicate_series', `${family}${labels}`, `duplicate series dropped: ${family}${labels}`);
  const render = (result: ScrapeResult, om: boolean): Promise<Buffer> => {
    let cache = rendered.get(result);
    if (!cache) rendered.set(result, (cache = {}));
    if (om) {
      cache.om ??= registries.om.metrics().then((p) => renderOpenMetrics(result.families.all(), `${p.replace(/# EOF\s*$/, '')}# EOF\n`, onDuplicate));
      return cache.om;
    }
    cache.text ??= registries.text.metrics().then((p) => renderPrometheus(result.families.all(), p, onDuplicate));
    return cache.text;
  };

  app.get('/metrics', async (req, reply) => {
    const budget = scrapeBudgetMs(req.headers['x-prometheus-scrape-timeout-seconds'], opts.maxScrapeMs);
    const result = await opts.scraper.scrape(budget);
    const om = wantsOpenMetrics(req.headers.accept);
    return reply.type(om ? OPENMETRICS_CONTENT_TYPE : PROMETHEUS_CONTENT_TYPE).send(await render(result, om));
  });

  app.get('/healthz', async (_req, reply) => reply.type('text/plain; charset=utf-8').send('ok\n'));
  app.get('/', async (_req, reply) => reply.type('text/html; charset=utf-8').send(LANDING(opts.version)));
  return app;
}
