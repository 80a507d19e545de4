#!/usr/bin/env node
// Entry point: flags -> sources -> app -> listen; SIGTERM/SIGINT -> graceful close.
import { buildApp } from './app.js';
import { commandsHelp, isCommand, runCommand } from './cli/index.js';
import { type Config, loadConfig, netnsFilter, usage } from './config.js';
import { FlagError } from './flags.js';
import { createLogger } from './log.js';
import { NEEDED_CAPABILITIES, PROBE_CAPABILITY, missingOwnCapabilities } from './capabilities.js';
import { DockerStateCache } from './docker/cache.js';
import { loadNative } from './kernel/native.js';
import { createReaders } from './kernel/readers/index.js';
import { WatchedTables } from './kernel/watched-tables.js';
import { Scraper } from './scrape.js';
import { probeCollector } from './collectors/probe.js';
import { OverlayProber } from './probes/prober.js';
import { REVISION, VERSION } from './version.js';

/** No web config file: plain HTTP/1.1, no authentication, no extra headers. */
const PLAIN_WEB = { path: undefined, tls: false, http2: false, serverOptions: {}, register: () => {} };

export async function run(cfg: Config) {
  const log = createLogger({ level: cfg.logLevel, format: cfg.logFormat });
  // checked in full before anything starts: a bad file is a startup error naming file, line and field
  // the web config code (YAML parser, bcrypt) is loaded only when there is a file to read
  const web = cfg.webConfigFile ? await (await import('./web/config.js')).loadWebConfig(cfg.webConfigFile) : PLAIN_WEB;
  const native = loadNative();
  // never blocks and never throws: names arrive when dockerd answers
  const docker = new DockerStateCache({
    host: cfg.dockerHost,
    logger: log,
    resyncIntervalMs: cfg.dockerResyncMs,
    refreshIntervalMs: cfg.dockerRefreshMs,
    requestTimeoutMs: cfg.dockerTimeoutMs,
    taskLabel: cfg.dockerTaskLabel,
  });
  docker.start();
  // --probe.overlay: the prober runs its own rounds; the scrape reads its cache through the probe collector
  let prober: OverlayProber | undefined;
  const collectors = cfg.probe ? [...cfg.collectors, probeCollector({ results: () => prober?.results() ?? [] },
    { networkInclude: cfg.networkInclude, networkExclude: cfg.networkExclude })] : cfg.collectors;
  // counters only where a namespace's links did not change, no FDB dump where its FDB did not; watches close with the exporter
  const watched = cfg.watch ? new WatchedTables(native) : undefined;
  const scraper = new Scraper({
    readers: createReaders({ ipvsKinds: cfg.ipvsKinds, watched }),
    netnsDirs: cfg.netnsDirs,
    hostNetns: cfg.hostNetns,
    collectors,
    concurrency: cfg.concurrency,
    defaultTimeoutMs: cfg.scrapeTimeoutMs,
    netnsFilter: netnsFilter(cfg),
    interfaceExclude: cfg.interfaceExclude,
    networkInclude: cfg.networkInclude,
    networkExclude: cfg.networkExclude,
    version: { version: VERSION, revision: REVISION },
  }, { native, docker }, log);
  if (cfg.probe) {
    prober = new OverlayProber({
      native, docker, netnsDirs: cfg.netnsDirs, ...cfg.probe, errors: scraper.errors, log: log.child({ component: 'probe' }),
      networkFilter: (n) => (!cfg.networkInclude || cfg.networkInclude.test(n)) && !(cfg.networkExclude?.test(n) ?? false),
    });
    prober.start();
  }
  // one line naming what is missing, instead of a warning per namespace at every new namespace
  const missing = missingOwnCapabilities(cfg.probe ? [...NEEDED_CAPABILITIES, PROBE_CAPABILITY] : NEEDED_CAPABILITIES) ?? [];
  if (missing.length > 0) {
    log.warn({ missing: missing.map((c) => c.name) },
      `missing capabilities: ${missing.map((c) => `${c.name} (${c.cost})`).join('; ')}; everything else is served and each failure is counted in swarmnet_exporter_errors_total`);
    for (const f of missing.flatMap((c) => c.expectedFailures)) scraper.errors.explain(f.source, f.reason);
  }
  const app = await buildApp({
    scraper,
    logger: log,
    maxScrapeMs: cfg.scrapeTimeoutMs,
    version: VERSION,
    disableCompression: cfg.disableCompression,
    serverOptions: web.serverOptions,
    configure: (a) => web.register(a),
  });
  app.addHook('onClose', async () => {
    await prober?.stop();
    await docker.stop();
    watched?.close();
  });
  await app.listen({ host: cfg.listenHost, port: cfg.listenPort });
  log.info({ address: app.addresses(), tls: web.tls, http2: web.http2, webConfig: web.path, netnsDirs: cfg.netnsDirs, collectors: cfg.collectors.map((c) => c.name) }, 'swarmnet-exporter started');

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    log.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 10_000).unref();
    await app.close();
    clearTimeout(force);
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

async function main() {
  // `netns ls|exec`, `links`: commands with flags of their own, before the exporter's parsing
  if (isCommand(process.argv[2])) process.exit(await runCommand(process.argv.slice(2)));
  let cfg: Config;
  try {
    cfg = loadConfig(process.argv.slice(2));
  } catch (err) {
    if (err instanceof FlagError) {
      process.stderr.write(`swarmnet-exporter: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  if (cfg.help) {
    process.stdout.write(usage() + commandsHelp());
    return;
  }
  if (cfg.version) {
    process.stdout.write(`swarmnet-exporter ${VERSION} (revision ${REVISION}, node ${process.version})\n`);
    return;
  }
  try {
    await run(cfg);
  } catch (err) {
    process.stderr.write(`swarmnet-exporter: ${(err as Error).message}\n`);
    process.exit(1);
  }
}

void main();
