// Label sets that stay the same from one scrape to the next are kept as the
// same objects, so their exposition bytes (cached per object by render.ts) are
// built once, not on every scrape. Two generations: a set not used during a
// whole scrape is dropped at the start of the next. Each Scraper owns one.
//
// Lookup walks a tree keyed by each value in turn (one tree per label-name
// list): no key string is built per call, which cost more than the rest of
// a large node's projection.
import { INTERNED, type InternedRecord, type Labels, internedRecord } from './family.js';

interface Node {
  /** the value this node is keyed by in its parent */
  key: string;
  /**
   * Its children: one kept inline, a map from the second on. Most chains never
   * branch (an interface's facts below its identity): a map per level of each
   * was most of the interner's memory on a large node.
   */
  only?: Node;
  next?: Map<string, Node>;
  labels?: Labels;
  /** the generation that last used `labels` */
  gen: number;
}

interface Extension {
  extra: readonly string[];
  labels: Labels;
}

/** The child of `node` keyed by `key`, made if it is not there. */
function childOf(node: Node, key: string): Node {
  if (node.only?.key === key) return node.only;
  let child = node.next?.get(key);
  if (child) return child;
  child = { key, gen: -1 };
  if (!node.only && !node.next) {
    node.only = child;
  } else {
    if (node.only) {
      node.next = new Map([[node.only.key, node.only]]);
      node.only = undefined;
    }
    node.next!.set(key, child);
  }
  return child;
}

function sameValues(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class LabelInterner {
  private readonly roots = new Map<readonly string[], Node>();
  /** the same roots by their names' content: two equal name lists share one tree, so equal sets are one object */
  private readonly rootsByContent = new Map<string, Node>();
  private gen = 0;
  private used = 0;
  private readonly scratch: string[] = [];

  /** Call once per scrape, before any intern(). */
  nextGeneration(): void {
    this.gen++;
    this.used = 0;
    // kept: sets used in the scrape that just ended (or in this one)
    for (const [names, root] of this.roots) {
      if (this.prune(root)) {
        this.roots.delete(names);
        this.rootsByContent.delete(names.join('\0'));
      }
    }
  }

  /** Drop sets not used since the previous generation; true when nothing is left under `node`. */
  private prune(node: Node): boolean {
    if (node.labels && node.gen < this.gen - 1) node.labels = undefined;
    if (node.only && this.prune(node.only)) node.only = undefined;
    if (node.next) {
      // values(), not entries: the walk visits every interned set each scrape, and a pair per node was garbage
      const next = node.next;
      for (const child of next.values()) if (this.prune(child)) next.delete(child.key);
      if (next.size === 0) node.next = undefined;
    }
    return !node.labels && !node.only && !node.next;
  }

  /** The interned labels for `values` (in `names` order); `names` should be one long-lived array per label schema. */
  intern(names: readonly string[], values: readonly string[]): Labels {
    let node: Node | undefined = this.roots.get(names);
    if (!node) {
      const content = names.join('\0');
      node = this.rootsByContent.get(content) ?? { key: '', gen: -1 };
      this.rootsByContent.set(content, node);
      this.roots.set(names, node);
    }
    for (let i = 0; i < values.length; i++) node = childOf(node!, values[i]!);
    if (!node.labels) {
      const labels: Labels = {};
      for (let i = 0; i < names.length; i++) labels[names[i]!] = values[i]!;
      const record: InternedRecord = { names };
      Object.defineProperty(labels, INTERNED, { value: record, enumerable: false });
      node.labels = Object.freeze(labels);
    }
    if (node.gen !== this.gen) {
      node.gen = this.gen;
      this.used++;
    }
    return node.labels;
  }

  /**
   * The interned labels of `base` (an interned set) followed by `extra`
   * (`names` covers both, in that order): an interface's facts on top of its
   * identity labels. The last extension of each base is remembered on it, so
   * an unchanged one costs a comparison of `extra` instead of a walk of the
   * whole tree.
   */
  extend(base: Labels, names: readonly string[], extra: readonly string[]): Labels {
    const record = internedRecord(base);
    const last = (record?.extensions as Map<readonly string[], Extension> | undefined)?.get(names);
    if (last && sameValues(last.extra, extra)) return last.labels;
    const values = this.scratch;
    values.length = 0;
    for (const key in base) values.push(base[key]!);
    for (const v of extra) values.push(v);
    const labels = this.intern(names, values);
    if (record) {
      const extensions = (record.extensions ??= new Map<readonly string[], Extension>()) as Map<readonly string[], Extension>;
      extensions.set(names, { extra: [...extra], labels });
    }
    return labels;
  }

  /** label sets used in the current generation */
  get size(): number {
    return this.used;
  }
}
