// The snapshots behind GET /topology: the last scrape's (whoever asked for it,
// /metrics included) and the one before it, for rates. A request never names a
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

  /** maxAgeMs: an older snapshot is replaced by a new scrape before it is drawn */
  constructor(private readonly scraper: Scraper, private readonly maxAgeMs = 15_000, private readonly now: () => number = Date.now) {
    // every collection's result passes through here, the /metrics ones included
    scraper.onCollected((r) => this.observe(r));
  }

  private observe(result: ScrapeResult): void {
    if (this.last?.result === result) return; // a scrape joined by several callers
    this.previous = this.last;
    this.last = { result, at: this.now() };
  }

  async current(): Promise<Topology> {
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
