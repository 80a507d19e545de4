// Label sets that stay the same from one scrape to the next are kept as the
// same objects, so their exposition bytes (cached per object by render.ts) are
// built once, not on every scrape. Two generations: a set not used during a
// whole scrape is dropped at the start of the next. Each Scraper owns one.
import type { Labels } from './family.js';

export class LabelInterner {
  private current = new Map<string, Labels>();
  private previous = new Map<string, Labels>();

  /** Call once per scrape, before any intern(). */
  nextGeneration(): void {
    this.previous = this.current;
    this.current = new Map();
  }

  /** The interned labels for `values` (in `names` order). */
  intern(names: readonly string[], values: readonly string[]): Labels {
    const key = values.join('\0');
    let labels = this.current.get(key);
    if (labels) return labels;
    labels = this.previous.get(key);
    if (!labels) {
      labels = {};
      for (let i = 0; i < names.length; i++) labels[names[i]!] = values[i]!;
      Object.freeze(labels);
    }
    this.current.set(key, labels);
    return labels;
  }

  get size(): number {
    return this.current.size;
  }
}
