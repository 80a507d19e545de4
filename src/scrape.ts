// One scrape: discover namespaces, read each once for what the enabled
// collectors need, join with the current Docker names, let every collector
// project the snapshot, and report on the exporter's own health. Concurrent
// scrapes share the collection in flight.
import type { Logger } from 'pino';
import { type Collector, NoDataError, type Snapshot } from './collectors/types.js';
import type { DockerView } from './docker/cache.js';
import { ErrorLedger } from './errors.js';
import type { NetlinkSessions } from './kernel/native.js';
import { NETNS_KINDS, type NetnsKind, type NetnsRef, discoverNetns } from './kernel/netns.js';
import { createReaders, readersFor } from './kernel/readers/index.js';
import type { Need, NsReader, NsSample, ScrapeData } from './kernel/readers/types.js';
import { sampleAll } from './kernel/sampler.js';
import { pairVeths } from './kernel/veth.js';
import {
  buildInfo, collectorDuration, collectorSuccess, namespaceDirUp, namespaceReadFailures, namespaces, scrapeDuration,
} from './metrics/catalog/self.js';
import { FamilySet } from './metrics/family.js';
import { LabelInterner } from './metrics/intern.js';
import { EMPTY_NAMES, type NameIndex } from './names.js';

export interface ScrapeOptions {
  netnsDirs: string[];
  /** namespace reported as netns="host": null for our own, false to leave it out */
  hostNetns: string | null | false;
  collectors: Collector[];
  /** the readers on offer (default: createReaders()); only those some collector needs run */
  readers?: NsReader[];
  concurrency: number;
  /**
   * namespaces opened per trip to the libuv pool (default 16): on two cores, one hand-off per namespace
   * cost about 30 ms of a 400-namespace scrape in wake-ups and preemption; much larger batches hold
   * more reply bytes at once for no further gain (BENCHMARKS.md "Lean, third pass")
   */
  batchSize?: number;
  /** time budget when the scraper sends no X-Prometheus-Scrape-Timeout-Seconds */
  defaultTimeoutMs: number;
  /** which namespaces to read at all (cardinality control) */
  netnsFilter?: (ref: NetnsRef) => boolean;
  /** interfaces left out of the output (after veth pairing, which needs them all) */
  interfaceExclude?: RegExp;
  /** swarm networks (by name) kept or dropped; namespaces without a network are kept */
  networkInclude?: RegExp;
  networkExclude?: RegExp;
  version: { version: string; revision: string };
}

/** The Docker state cache as the scrape uses it: never awaited. */
export interface DockerSource {
  state(): DockerView;
  names(): NameIndex;
}

export interface ScrapeSources {
  native: NetlinkSessions;
  /** absent: no Docker source (no swarm names, the swarm and overlay collectors have no data) */
  docker?: DockerSource;
}

export interface ScrapeResult {
  families: FamilySet;
  snapshot: Snapshot;
}

export class Scraper {
  private inFlight?: Promise<ScrapeResult>;
  private readonly interner = new LabelInterner();
  private readonly listeners: Array<(result: ScrapeResult) => void> = [];
  /** the readers of the union of the enabled collectors' needs, in reading order */
  readonly readers: NsReader[];
  readonly errors: ErrorLedger;

  constructor(private readonly opts: ScrapeOptions, private readonly sources: ScrapeSources, private readonly log: Logger) {
    this.errors = new ErrorLedger(log.child({ component: 'errors' }));
    this.readers = readersFor(opts.readers ?? createReaders(), opts.collectors.flatMap((c) => c.needs));
  }

  /**
   * Collect, or join the collection already in flight. `budgetMs` is how long
   * the caller will wait (Prometheus' scrape timeout less a margin).
   */
  scrape(budgetMs?: number): Promise<ScrapeResult> {
    if (!this.inFlight) {
      this.inFlight = this.collect(budgetMs ?? this.opts.defaultTimeoutMs).finally(() => {
        this.inFlight = undefined;
      });
      void this.inFlight.then((result) => {
        for (const listener of this.listeners) listener(result);
      }, () => undefined);
    }
    return this.inFlight;
  }

  /** Be told of every collection's result, once each, whoever asked for it (the topology keeps the last two). */
  onCollected(listener: (result: ScrapeResult) => void): void {
    this.listeners.push(listener);
  }

  private async collect(budgetMs: number): Promise<ScrapeResult> {
    const started = performance.now();
    const deadline = started + budgetMs;
    this.interner.nextGeneration();
    const out = new FamilySet();

    const refs = await this.discover(out);
    const kernel = await this.prepareReaders(deadline);
    const samples = await sampleAll(this.sources.native, refs, { concurrency: this.opts.concurrency, timeoutMs: budgetMs, readers: this.readers, batchSize: this.opts.batchSize ?? 16 }, deadline);
    out.of(collectorDuration).add({ collector: 'netns' }, (performance.now() - started) / 1000);
    for (const reader of this.readers) {
      reader.afterScrape?.();
      reader.report?.(out);
    }
    const failedNeeds = this.account(samples, out);

    const docker = this.sources.docker?.state();
    if (docker) {
      // the Docker cache refreshes on its own schedule; its health is reported as a collector all the same
      out.of(collectorDuration).add({ collector: 'docker' }, docker.lastRefreshSeconds);
      out.of(collectorSuccess).add({ collector: 'docker' }, docker.up ? 1 : 0);
    }
    const snapshot = this.snapshot(samples, kernel, docker);
    this.runCollectors(snapshot, failedNeeds, out);

    this.errors.render(out);
    out.of(buildInfo).add({ version: this.opts.version.version, revision: this.opts.version.revision, nodejs: process.version }, 1);
    out.of(scrapeDuration).add({}, (performance.now() - started) / 1000);
    return { families: out, snapshot };
  }

  /** The namespaces to read; a directory that cannot be listed is reported, not fatal. */
  private async discover(out: FamilySet): Promise<NetnsRef[]> {
    const discovery = await discoverNetns(this.opts.netnsDirs, this.opts.hostNetns);
    const dirUp = out.of(namespaceDirUp);
    for (const dir of this.opts.netnsDirs) {
      const failure = discovery.dirErrors.find((e) => e.dir === dir);
      dirUp.add({ dir, reason: failure?.code ?? '' }, failure ? 0 : 1);
      if (failure) this.errors.record('netns_dir', failure.code, dir, `cannot list namespace directory ${dir}: ${failure.code}`);
      else this.errors.recovered('netns_dir', 'ENOENT', dir);
    }
    return this.opts.netnsFilter ? discovery.namespaces.filter(this.opts.netnsFilter) : discovery.namespaces;
  }

  /** Once-per-scrape work of the readers (resolving the IPVS family); each logs its own availability. */
  private async prepareReaders(deadline: number): Promise<Partial<ScrapeData>> {
    const kernel: Partial<ScrapeData> = {};
    for (const reader of this.readers) {
      if (!reader.prepare) continue;
      try {
        const timeoutMs = Math.max(1, Math.min(2000, Math.floor(deadline - performance.now())));
        Object.assign(kernel, await reader.prepare({ native: this.sources.native, timeoutMs, log: this.log }));
      } catch (err) {
        this.errors.record(reader.need, 'prepare', reader.need, `${reader.need}: ${(err as Error).message}`);
      }
    }
    return kernel;
  }

  /** Count namespaces and failures; return the needs some namespace failed to read (vanished ones aside). */
  private account(samples: NsSample[], out: FamilySet): Set<Need> {
    const byKind = new Map<NetnsKind, number>(NETNS_KINDS.map((k) => [k, 0]));
    const failures = new Map<string, { netns_kind: string; reason: string; n: number }>();
    const failedNeeds = new Set<Need>();
    let hardFailures = 0;
    for (const s of samples) {
      byKind.set(s.ref.kind, (byKind.get(s.ref.kind) ?? 0) + 1);
      for (const { need, error } of s.readerErrors ?? []) {
        this.errors.record(need, error.reason, s.ref.name, error.message);
        if (error.reason !== 'vanished') failedNeeds.add(need);
      }
      if (!s.error) continue;
      const key = `${s.ref.kind}\0${s.error.reason}`;
      const entry = failures.get(key) ?? { netns_kind: s.ref.kind, reason: s.error.reason, n: 0 };
      entry.n++;
      failures.set(key, entry);
      this.errors.record('netns', s.error.reason, s.ref.name, s.error.message);
      // a namespace that vanished is normal churn, not a failed kernel read
      if (s.error.reason !== 'vanished') hardFailures++;
    }
    out.of(collectorSuccess).add({ collector: 'netns' }, hardFailures === 0 ? 1 : 0);
    const nsFam = out.of(namespaces);
    for (const [kind, n] of byKind) nsFam.add({ netns_kind: kind }, n);
    const failFam = out.of(namespaceReadFailures);
    for (const { netns_kind, reason, n } of failures.values()) failFam.add({ netns_kind, reason }, n);
    return failedNeeds;
  }

  private snapshot(samples: NsSample[], kernel: Partial<ScrapeData>, docker: DockerView | undefined): Snapshot {
    // only namespaces that were read take part in the projection
    const readable = samples.filter((s) => !s.error);
    const names = this.sources.docker?.names() ?? EMPTY_NAMES;
    return {
      samples: this.applyFilters(readable, names),
      byNetns: new Map(readable.map((s) => [s.ref.name, s])),
      names,
      peers: pairVeths(readable),
      docker,
      kernel,
      interner: this.interner,
    };
  }

  /** Each collector into a scratch set: one that throws must not leave half its series behind. */
  private runCollectors(snapshot: Snapshot, failedNeeds: ReadonlySet<Need>, out: FamilySet): void {
    const durations = out.of(collectorDuration);
    const success = out.of(collectorSuccess);
    for (const c of this.opts.collectors) {
      const t0 = performance.now();
      const scratch = new FamilySet();
      let ok = !c.needs.some((n) => failedNeeds.has(n));
      try {
        c.collect(snapshot, scratch);
        out.merge(scratch);
        this.errors.recovered('collector', 'error', c.name);
      } catch (err) {
        if (err instanceof NoDataError) {
          this.log.debug({ collector: c.name }, err.message);
        } else {
          ok = false;
          this.errors.record('collector', 'error', c.name, `collector ${c.name} failed: ${(err as Error).stack ?? err}`);
        }
      }
      durations.add({ collector: c.name }, (performance.now() - t0) / 1000);
      success.add({ collector: c.name }, ok ? 1 : 0);
    }
  }

  private applyFilters(samples: NsSample[], names: NameIndex): NsSample[] {
    const { interfaceExclude, networkInclude, networkExclude } = this.opts;
    let kept = samples;
    if (networkInclude || networkExclude) {
      kept = kept.filter((s) => {
        const network = names.netns(s.ref).network;
        if (!network) return true;
        return (!networkInclude || networkInclude.test(network)) && !(networkExclude?.test(network) ?? false);
      });
    }
    if (interfaceExclude) {
      kept = kept.map((s) => ({ ...s, links: s.links.filter((l) => !interfaceExclude.test(l.name)) }));
    }
    return kept;
  }
}
