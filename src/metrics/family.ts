// Metric families built fresh on every scrape, so a namespace that vanished
// leaves no stale series behind. Rendered by render.ts in either text format.

export type MetricType = 'counter' | 'gauge' | 'info';
export type Labels = Record<string, string>;
export type SampleValue = number | bigint;

export interface Sample {
  labels: Labels;
  value: SampleValue;
}

export class Family {
  // parallel arrays: a large node has 10^5 samples a scrape, and one object each was most of the GC work
  readonly labelSets: Labels[] = [];
  readonly values: SampleValue[] = [];
  /**
   * name: the full Prometheus text name; counters end in _total, info metrics in _info.
   */
  constructor(readonly name: string, readonly help: string, readonly type: MetricType) {
    if (type === 'counter' && !name.endsWith('_total')) throw new Error(`counter ${name} must end in _total`);
    if (type === 'info' && !name.endsWith('_info')) throw new Error(`info metric ${name} must end in _info`);
  }

  add(labels: Labels, value: SampleValue): this {
    this.labelSets.push(labels);
    this.values.push(value);
    return this;
  }

  get size(): number {
    return this.values.length;
  }

  /** The samples as objects (for tests and small families). */
  get samples(): Sample[] {
    return this.labelSets.map((labels, i) => ({ labels, value: this.values[i]! }));
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
      f = new Family(def.name, def.help, def.type);
      this.byName.set(def.name, f);
    }
    return f;
  }

  /** Move another set's samples into this one (same definitions). */
  merge(other: FamilySet): void {
    for (const f of other.all()) {
      const mine = this.byName.get(f.name);
      if (!mine) this.byName.set(f.name, f);
      else for (let i = 0; i < f.size; i++) mine.add(f.labelSets[i]!, f.values[i]!);
    }
  }

  all(): Family[] {
    return [...this.byName.values()];
  }
}
