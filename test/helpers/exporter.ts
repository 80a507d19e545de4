// Build the exporter in-process (not listening) over chosen namespaces.
import { pino } from 'pino';
import { buildApp } from '../../src/app.js';
import { allCollectors } from '../../src/collectors/index.js';
import { loadNative } from '../../src/kernel/native.js';
import { Scraper, type ScrapeOptions, type ScrapeSources } from '../../src/scrape.js';

export async function testExporter(opts: Partial<ScrapeOptions> & { netnsDirs: string[] }, sources: Partial<ScrapeSources> = {}) {
  const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const scraper = new Scraper({
    hostNetns: false,
    collectors: allCollectors({ netdevExtendedStats: true }),
    concurrency: 2,
    defaultTimeoutMs: 10_000,
    version: { version: 'test', revision: 'test' },
    ...opts,
  }, { native: loadNative(), ...sources }, log);
  const app = await buildApp({ scraper, logger: log, maxScrapeMs: 10_000, version: 'test' });
  const metrics = async (headers: Record<string, string> = {}) => {
    const res = await app.inject({ method: 'GET', url: '/metrics', headers });
    if (res.statusCode !== 200) throw new Error(`/metrics answered ${res.statusCode}: ${res.body}`);
    return res;
  };
  return { app, scraper, metrics };
}
