// The exporter under test, two ways:
// - testExporter(): built in-process (not listening) over chosen namespaces,
//   /metrics through fastify inject;
// - startExporter(): the built exporter (dist/main.js) as a process, here or in
//   a network namespace, returned once it answers /healthz.
// waitForExporter() waits for any running exporter (a process, a container) to answer.
import { pino } from 'pino';
import { buildApp } from '../../src/app.js';
import { allCollectors } from '../../src/collectors/index.js';
import { loadNative } from '../../src/kernel/native.js';
import { Scraper, type ScrapeOptions, type ScrapeSources } from '../../src/scrape.js';
import { curl } from './http.js';
import { DIST_MAIN } from './paths.js';
import { type ManagedProcess, startProcess } from './processes.js';
import { waitFor } from './wait.js';

// ---------------------------------------------------------------- in-process

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

// ---------------------------------------------------------------- a process

/**
 * Wait until the exporter at `url` (http://host:port) answers `path` (default
 * /healthz) with 2xx; the body. `alive` throws when the exporter is known to
 * be gone, to fail at once.
 */
export async function waitForExporter(url: string, opts: { path?: string; netnsFile?: string; timeoutMs?: number; alive?: () => void } = {}): Promise<string> {
  const path = opts.path ?? '/healthz';
  return waitFor(`the exporter at ${url} to answer ${path}`, async () => {
    opts.alive?.();
    return curl(`${url}${path}`, { netnsFile: opts.netnsFile, timeoutMs: 5_000 });
  }, { timeoutMs: opts.timeoutMs ?? 60_000, intervalMs: 200 });
}

export interface ExporterProcess extends ManagedProcess {
  /** host:port it listens on */
  address: string;
  /** http://host:port */
  url: string;
  /** its /metrics text (from its network namespace) */
  metrics(): Promise<string>;
}

export interface ExporterProcessOptions {
  /** host:port for --web.listen-address */
  listen: string;
  /** --netns.dir */
  netnsDir: string;
  /** --docker.host */
  dockerHost: string;
  /** --netns.host (self, none or a path); the exporter's default when absent */
  hostNetns?: string;
  /** default warn */
  logLevel?: string;
  extraArgs?: string[];
  /** run it in this network namespace file */
  netnsFile?: string;
  /** how long it may take to answer /healthz; default 60 s */
  timeoutMs?: number;
}

/** The built exporter (dist/main.js) as a process; resolves once it answers /healthz. */
export async function startExporter(opts: ExporterProcessOptions): Promise<ExporterProcess> {
  const url = `http://${opts.listen}`;
  const p = startProcess([
    process.execPath, DIST_MAIN,
    `--web.listen-address=${opts.listen}`, `--netns.dir=${opts.netnsDir}`, `--docker.host=${opts.dockerHost}`,
    ...(opts.hostNetns !== undefined ? [`--netns.host=${opts.hostNetns}`] : []),
    `--log.level=${opts.logLevel ?? 'warn'}`, ...(opts.extraArgs ?? []),
  ], { netnsFile: opts.netnsFile });
  try {
    await waitForExporter(url, {
      netnsFile: opts.netnsFile, timeoutMs: opts.timeoutMs,
      alive: () => { if (!p.running()) throw new Error(`the exporter exited: ${p.log().slice(-2000)}`); },
    });
  } catch (err) {
    await p.stop(1_000);
    throw err;
  }
  return { ...p, address: opts.listen, url, metrics: () => curl(`${url}/metrics`, { netnsFile: opts.netnsFile }) };
}
