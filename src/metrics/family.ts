// Metric families built fresh on every scrape, so a namespace that vanished
// leaves no stale series behind. Rendered by render.ts in either text format.

export type MetricType = 'counter' | 'gauge' | 'info';
export type Labels = Record<string, string>;
export type SampleValue = number | bigint;

export interface Sample {
  labels: Labels;
  value: SampleValue;
}

/**
 * Carried (not enumerable) by the label objects a LabelInterner hands out: one
 * object per distinct label set, so within a family the same object means the
 * same series and a different one a different series. Its record holds what
 * would otherwise be looked up per sample in a WeakMap: the label names it
 * was made for, and render.ts' encoding of it.
 */
export const INTERNED: unique symbol = Symbol('interned labels');
export interface InternedRecord {
  readonly names: readonly string[];
  /** owned by render.ts */
  encoded?: unknown;
  /** owned by intern.ts (LabelInterner.extend) */
  extensions?: unknown;
}
export const internedRecord = (labels: Labels): InternedRecord | undefined =>
  (labels as { [INTERNED]?: InternedRecord })[INTERNED];

// The label names each label object was last validated against. Collectors
// share one (interned, frozen) labels object across the families of an
// interface, and those families share one label-name array: after the first
// add, checking a sample costs one WeakMap lookup and an identity compare.
const validatedFor = new WeakMap<Labels, readonly string[]>();

function labelsMatch(labels: Labels, names: readonly string[]): boolean {
  let i = 0;
  for (const key in labels) {
    if (key !== names[i]) return false;
    i++;
  }
  return i === names.length;
}

/**
 * How many samples each family held when last rendered: the next scrape's
 * arrays are made that size at once instead of growing by copies (garbage
 * that lives long enough to be promoted, on a large node).
 */
const sizeHints = new WeakMap<MetricDef, number>();

export class Family {
  // parallel arrays: a large node has 10^5 samples a scrape, and one object each was most of the GC work;
  // made to the size of the last scrape's family, filled up to `size` (trimmed to it by FamilySet.all())
  readonly labelSets: Labels[];
  readonly values: SampleValue[];
  private n = 0;
  /** the full Prometheus text name; counters end in _total, info metrics in _info */
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  private readonly labelNames: readonly string[];
  /** some sample's labels were not interned: duplicates can only be told by their text */
  private mixed = false;

  constructor(readonly def: MetricDef) {
    const { name, type } = def;
    if (type === 'counter' && !name.endsWith('_total')) throw new Error(`counter ${name} must end in _total`);
    if (type === 'info' && !name.endsWith('_info')) throw new Error(`info metric ${name} must end in _info`);
    this.name = name;
    this.help = def.help;
    this.type = type;
    this.labelNames = def.labels;
    const hint = sizeHints.get(def) ?? 0;
    this.labelSets = hint > 64 ? new Array<Labels>(hint) : [];
    this.values = hint > 64 ? new Array<SampleValue>(hint).fill(0) : [];
  }

  /** Throws when the label names, or their order, differ from the definition's. */
  add(labels: Labels, value: SampleValue): this {
    if (internedRecord(labels)?.names !== this.labelNames && validatedFor.get(labels) !== this.labelNames) this.validate(labels);
    this.labelSets[this.n] = labels;
    this.values[this.n] = value;
    this.n++;
    return this;
  }

  /** every sample's labels came from one LabelInterner (render.ts then tells duplicates by identity) */
  get interned(): boolean {
    return !this.mixed;
  }

  private validate(labels: Labels): void {
    if (!internedRecord(labels)) this.mixed = true;
    if (!labelsMatch(labels, this.labelNames)) {
      throw new Error(`${this.name}: labels must be [${this.labelNames.join(', ')}] in that order, got [${Object.keys(labels).join(', ')}]`);
    }
    // a label object built for one sample is not seen again: remember only shared (frozen) ones
    if (Object.isFrozen(labels)) validatedFor.set(labels, this.labelNames);
  }

  get size(): number {
    return this.n;
  }

  /** Drop the room made beyond the samples added, and remember the size for the next scrape's family. */
  trim(): void {
    if (this.labelSets.length !== this.n) this.labelSets.length = this.n;
    if (this.values.length !== this.n) this.values.length = this.n;
    sizeHints.set(this.def, this.n);
  }

  /** The samples as objects (for tests and small families). */
  get samples(): Sample[] {
    const out: Sample[] = [];
    for (let i = 0; i < this.n; i++) out.push({ labels: this.labelSets[i]!, value: this.values[i]! });
    return out;
  }
}

/** A metric's static definition: every family the exporter can emit is declared in catalog/. */
export interface MetricDef {
  name: string;
  type: MetricType;
  help: string;
  /** label names, in order; documented in the README's metric table */
  labels: readonly string[];
}

export const metric = (name: string, type: MetricType, help: string, labels: readonly string[]): MetricDef => ({
  name, type, help, labels,
});

/** The families of one scrape, by name; collectors add to it. */
export class FamilySet {
  private readonly byName = new Map<string, Family>();

  of(def: MetricDef): Family {
    let f = this.byName.get(def.name);
    if (!f) {
      f = new Family(def);
      this.byName.set(def.name, f);
    } else if (f.def !== def) {
      throw new Error(`${def.name}: two different definitions share this name`);
    }
    return f;
  }

  /** Move another set's samples into this one (same definitions). */
  merge(other: FamilySet): void {
    for (const f of other.all()) {
      const mine = this.byName.get(f.name);
      if (!mine) this.byName.set(f.name, f);
      else if (mine.def !== f.def) throw new Error(`${f.name}: two different definitions share this name`);
      else for (let i = 0; i < f.size; i++) mine.add(f.labelSets[i]!, f.values[i]!);
    }
  }

  /** Every family, each trimmed to its samples. */
  all(): Family[] {
    const out = [...this.byName.values()];
    for (const f of out) f.trim();
    return out;
  }
}
