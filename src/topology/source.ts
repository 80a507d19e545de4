// The snapshots behind GET /topology: the last scrape's (whoever asked for it,
// /metrics included) and the one before it, for rates, kept while the topology
// is being looked at (a snapshot of a large node is megabytes of heap that
// nobody reads otherwise). A request never names a
// namespace and never opens one of its own choosing: when no scrape is recent
// enough it runs the exporter's ordinary scrape (or joins the one in flight).
import type { ScrapeResult, Scraper } from '../scrape.js';
import { buildTopology } from './build.js';
import type { Topology } from './model.js';

interface Taken {
  result: ScrapeResult;
  at: number;
}

export class TopologySource {
  private last?: Taken;
  private previous?: Taken;
  private built?: { for: ScrapeResult; topology: Topology };
  /** when the topology was last asked for */
  private askedAt = Number.NEGATIVE_INFINITY;

  /**
   * maxAgeMs: an older snapshot is replaced by a new scrape before it is drawn;
   * keepMs: how long after the last request snapshots are still kept (the page
   * polls every 5 s); past it they are let go, and the next request scrapes
   * and draws without rates until the scrape after it
   */
  constructor(private readonly scraper: Scraper, private readonly maxAgeMs = 15_000, private readonly now: () => number = Date.now,
    private readonly keepMs = 5 * 60_000) {
    // every collection's result passes through here, the /metrics ones included
    scraper.onCollected((r) => this.observe(r));
  }

  private observe(result: ScrapeResult): void {
    if (this.now() - this.askedAt > this.keepMs) {
      this.last = this.previous = this.built = undefined;
      return;
    }
    if (this.last?.result === result) return; // a scrape joined by several callers
    this.previous = this.last;
    this.last = { result, at: this.now() };
  }

  async current(): Promise<Topology> {
    this.askedAt = this.now();
    if (!this.last || this.now() - this.last.at > this.maxAgeMs) this.observe(await this.scraper.scrape());
    const last = this.last!;
    if (this.built?.for !== last.result) {
      // rates read only the previous document's counters: the one drawn last time serves when it is that snapshot's
      const previous = this.previous;
      const prev = !previous ? undefined
        : this.built?.for === previous.result ? this.built.topology
          : buildTopology(previous.result.snapshot, previous.at);
      this.built = { for: last.result, topology: buildTopology(last.result.snapshot, last.at, prev) };
    }
    return this.built.topology;
  }
}
