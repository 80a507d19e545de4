// Failure accounting: every failure is counted by source and reason; each
// distinct (source, reason, subject) is logged once at warn, repeats at debug,
// so a broken namespace does not flood the log on every scrape.
import type { Logger } from 'pino';
import { errorsTotal } from './metrics/catalog/self.js';
import type { FamilySet } from './metrics/family.js';

const MAX_REMEMBERED = 10_000;

export class ErrorLedger {
  private readonly counts = new Map<string, number>();
  private readonly logged = new Set<string>();
  private readonly explained = new Set<string>();

  constructor(private readonly log: Logger) {}

  /** Failures of this source and reason were already explained once (a missing capability): count them, log at debug. */
  explain(source: string, reason: string): void {
    this.explained.add(`${source}\0${reason}`);
  }

  record(source: string, reason: string, subject: string, message: string): void {
    const key = `${source}\0${reason}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    const once = `${key}\0${subject}`;
    if (this.logged.has(once) || this.explained.has(key)) {
      this.log.debug({ source, reason, subject }, message);
      return;
    }
    if (this.logged.size >= MAX_REMEMBERED) this.logged.clear();
    this.logged.add(once);
    this.log.warn({ source, reason, subject }, `${message} (logged once; further occurrences are counted in swarmnet_exporter_errors_total)`);
  }

  /** Forget a subject that recovered, so its next failure is logged again. */
  recovered(source: string, reason: string, subject: string): void {
    this.logged.delete(`${source}\0${reason}\0${subject}`);
  }

  count(source: string, reason: string): number {
    return this.counts.get(`${source}\0${reason}`) ?? 0;
  }

  render(out: FamilySet): void {
    const fam = out.of(errorsTotal);
    for (const [key, n] of this.counts) {
      const [source, reason] = key.split('\0') as [string, string];
      fam.add({ source, reason }, n);
    }
  }
}
