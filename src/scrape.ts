// One scrape: discover namespaces, read the kernel in each, join with the
// current Docker names, let every enabled collector project the snapshot, and
// render. Concurrent scrapes share the collection in flight.
import type { Logger } from 'pino';
import type { Collector, Snapshot } from './collectors/types.js';
import { NoDataError } from './collectors/types.js';
import { ErrorLedger } from './errors.js';
import type { NativeBinding } from './kernel/native.js';
import { NETNS_KINDS, type NetnsKind, type NetnsRef, discoverNetns } from './kernel/netns.js';
import { type NsReader, type NsSample, sampleAll } from './kernel/sampler.js';
import { pairVeths } from './kernel/veth.js';
import { buildInfo, collectorDuration, collectorSuccess, namespaceDirUp, namespaceReadFailures, namespaces, scrapeDuration } from './metrics/catalog/self.js';
import { FamilySet } from './metrics/family.js';
import { labelInterner } from './metrics/intern.js';
import { EMPTY_NAMES, type NameIndex } from './names.js';

export interface ScrapeOptions {
  netnsDirs: string[];
  /** namespace reported as netns="host": null for our own, false to leave it out */
  hostNetns: string | null | false;
  collectors: Collector[];
  concurrency: number;
  /** time budget when the scraper sends no X-Prometheus-Scrape-Timeout-Seconds */
  defaultTimeoutMs: number;
  /** which namespaces to read at all (cardinality control) */
  netnsFilter?: (ref: NetnsRef) => boolean;
  readers?: NsReader[];
  /** interfaces left out of the output (after veth pairing, which needs them all) */
  interfaceExclude?: RegExp;
  /** swarm networks (by name) kept or dropped; namespaces without a network are kept */
  networkInclude?: RegExp;
  networkExclude?: RegExp;
  version: { version: string; revision: string };
}

export interface ScrapeSources {
  native: NativeBinding;
  /** the current names, never awaited on Docker */
  names?: () => NameIndex;
  /** extras for collectors, e.g. the Docker state ('docker') */
  extras?: () => Map<string, unknown>;
}

export interface ScrapeResult {
  families: FamilySet;
  snapshot: Snapshot;
}

export class Scraper {
  private inFlight?: Promise<ScrapeResult>;
  private readonly availability = new Map<string, boolean>();
  readonly errors: ErrorLedger;

  constructor(private readonly opts: ScrapeOptions, private readonly sources: ScrapeSources, private readonly log: Logger) {
    this.errors = new ErrorLedger(log.child({ component: 'errors' }));
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
    }
    return this.inFlight;
  }

  private async collect(budgetMs: number): Promise<ScrapeResult> {
    const started = performance.now();
    labelInterner.nextGeneration();
    const deadline = started + budgetMs;
    const out = new FamilySet();
    const durations = out.of(collectorDuration);
    const success = out.of(collectorSuccess);

    const discovery = await discoverNetns(this.opts.netnsDirs, this.opts.hostNetns);
    const dirUp = out.of(namespaceDirUp);
    for (const dir of this.opts.netnsDirs) {
      const failure = discovery.dirErrors.find((e) => e.dir === dir);
      dirUp.add({ dir, reason: failure?.code ?? '' }, failure ? 0 : 1);
      if (failure) this.errors.record('netns_dir', failure.code, dir, `cannot list namespace directory ${dir}: ${failure.code}`);
      else this.errors.recovered('netns_dir', 'ENOENT', dir);
    }
    const refs = this.opts.netnsFilter ? discovery.namespaces.filter(this.opts.netnsFilter) : discovery.namespaces;

    for (const reader of this.opts.readers ?? []) {
      try {
        const status = await reader.prepare?.(this.sources.native, Math.max(1, Math.min(2000, deadline - performance.now())));
        this.logAvailability(reader.name, (status as { available?: boolean } | undefined)?.available);
      } catch (err) {
        this.errors.record(reader.name, 'prepare', reader.name, `${reader.name}: ${(err as Error).message}`);
      }
    }
    const samples = await sampleAll(this.sources.native, refs, { concurrency: this.opts.concurrency, timeoutMs: budgetMs, readers: this.opts.readers }, deadline);
    const kernelSeconds = (performance.now() - started) / 1000;
    durations.add({ collector: 'netns' }, kernelSeconds);

    const byKind = new Map<NetnsKind, number>(NETNS_KINDS.map((k) => [k, 0]));
    const failures = new Map<string, number>();
    // a collector whose per-namespace reader failed somewhere reports success 0
    const failingReaders = new Set<string>();
    for (const s of samples) {
      byKind.set(s.ref.kind, (byKind.get(s.ref.kind) ?? 0) + 1);
      for (const { reader, error } of s.readerErrors ?? []) {
        this.errors.record(reader, error.reason, s.ref.name, error.message);
        if (error.reason !== 'vanished') failingReaders.add(reader);
      }
      if (s.error) {
        const key = `${s.ref.kind}\0${s.error.reason}`;
        failures.set(key, (failures.get(key) ?? 0) + 1);
        this.errors.record('netns', s.error.reason, s.ref.name, s.error.message);
      }
    }
    // a namespace that vanished is normal churn, not a failed kernel read
    const hardFailures = samples.filter((s) => s.error && s.error.reason !== 'vanished').length;
    success.add({ collector: 'netns' }, hardFailures === 0 ? 1 : 0);
    const nsFam = out.of(namespaces);
    for (const [kind, n] of byKind) nsFam.add({ netns_kind: kind }, n);
    const failFam = out.of(namespaceReadFailures);
    for (const [key, n] of failures) {
      const [netns_kind, reason] = key.split('\0') as [string, string];
      failFam.add({ netns_kind, reason }, n);
    }

    // only namespaces that were read take part in the projection
    const readable = samples.filter((s) => !s.error);
    const names = this.sources.names?.() ?? EMPTY_NAMES;
    const peers = pairVeths(readable);
    const kept = this.applyFilters(readable, names);
    const snapshot: Snapshot = {
      samples: kept,
      byNetns: new Map(readable.map((s) => [s.ref.name, s])),
      names,
      peers,
      extra: this.sources.extras?.() ?? new Map(),
    };
    for (const c of this.opts.collectors) {
      const t0 = performance.now();
      // a collector that throws must not leave half its series behind
      const scratch = new FamilySet();
      let ok = 1;
      try {
        c.collect(snapshot, scratch);
        out.merge(scratch);
        this.errors.recovered('collector', 'error', c.name);
      } catch (err) {
        if (err instanceof NoDataError) {
          this.log.debug({ collector: c.name }, err.message);
        } else {
          ok = 0;
          this.errors.record('collector', 'error', c.name, `collector ${c.name} failed: ${(err as Error).stack ?? err}`);
        }
      }
      durations.add({ collector: c.name }, (performance.now() - t0) / 1000);
      success.add({ collector: c.name }, failingReaders.has(c.name) ? 0 : ok);
    }
    this.errors.render(out);
    out.of(buildInfo).add({ version: this.opts.version.version, revision: this.opts.version.revision, nodejs: process.version }, 1);
    out.of(scrapeDuration).add({}, (performance.now() - started) / 1000);
    return { families: out, snapshot };
  }

  /** A feature the kernel lacks (IPVS) is said once, and again only when that changes. */
  private logAvailability(reader: string, available: boolean | undefined): void {
    if (available === undefined || this.availability.get(reader) === available) return;
    this.availability.set(reader, available);
    if (available) this.log.info({ reader }, `${reader}: available on this kernel`);
    else this.log.warn({ reader }, `${reader}: not available on this kernel (no generic netlink family); its metrics report 0 and everything else keeps working`);
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
