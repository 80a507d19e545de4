// Label sets that stay the same from one scrape to the next are kept as the
// same objects, so their exposition bytes (cached per object by render.ts) are
// built once, not on every scrape. Two generations: a set not used during a
// whole scrape is dropped at the start of the next. Each Scraper owns one.
//
// Lookup walks a tree keyed by each value in turn (one tree per label-name
// list): no key string is built per call, which cost more than the rest of
// a large node's projection.
import type { Labels } from './family.js';

interface Node {
  next?: Map<string, Node>;
  labels?: Labels;
  /** the generation that last used `labels` */
  gen: number;
}

export class LabelInterner {
  private readonly roots = new Map<readonly string[], Node>();
  private gen = 0;
  private used = 0;

  /** Call once per scrape, before any intern(). */
  nextGeneration(): void {
    this.gen++;
    this.used = 0;
    // kept: sets used in the scrape that just ended (or in this one)
    for (const [names, root] of this.roots) if (this.prune(root)) this.roots.delete(names);
  }

  /** Drop sets not used since the previous generation; true when nothing is left under `node`. */
  private prune(node: Node): boolean {
    if (node.labels && node.gen < this.gen - 1) node.labels = undefined;
    if (node.next) {
      for (const [v, child] of node.next) if (this.prune(child)) node.next.delete(v);
      if (node.next.size === 0) node.next = undefined;
    }
    return !node.labels && !node.next;
  }

  /** The interned labels for `values` (in `names` order); `names` should be one long-lived array per label schema. */
  intern(names: readonly string[], values: readonly string[]): Labels {
    let node: Node | undefined = this.roots.get(names);
    if (!node) this.roots.set(names, (node = { gen: -1 }));
    for (let i = 0; i < values.length; i++) {
      const next: Map<string, Node> = (node.next ??= new Map());
      let child: Node | undefined = next.get(values[i]!);
      if (!child) next.set(values[i]!, (child = { gen: -1 }));
      node = child;
    }
    if (!node.labels) {
      const labels: Labels = {};
      for (let i = 0; i < names.length; i++) labels[names[i]!] = values[i]!;
      node.labels = Object.freeze(labels);
    }
    if (node.gen !== this.gen) {
      node.gen = this.gen;
      this.used++;
    }
    return node.labels;
  }

  /** label sets used in the current generation */
  get size(): number {
    return this.used;
  }
}
