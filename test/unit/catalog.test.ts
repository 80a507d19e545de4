// Every family the exporter can emit (the catalog), checked as a whole: names
// that stay distinct in both exposition formats, and one sample of each
// accepted by promtool and by the Python client's parsers.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { allMetricDefs } from '../../src/metrics/catalog/index.js';
import { FamilySet, type MetricDef } from '../../src/metrics/family.js';
import { renderOpenMetrics, renderPrometheus } from '../../src/metrics/render.js';

const defs = allMetricDefs();

/** the OpenMetrics family name: a counter's drops _total, an info metric's _info */
const omFamily = (d: MetricDef): string =>
  d.type === 'counter' ? d.name.replace(/_total$/, '') : d.type === 'info' ? d.name.replace(/_info$/, '') : d.name;

/** sample names OpenMetrics derives from a family name, for any type */
const DERIVED_SUFFIXES = ['_created', '_total', '_info', '_bucket', '_count', '_sum', '_gsum', '_gcount'];

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

describe('metric catalog', () => {
  it('has definitions', () => {
    expect(defs.length).toBeGreaterThan(40);
  });

  it('names are valid Prometheus metric names, without colons (those are for recording rules)', () => {
    for (const d of defs) {
      expect(d.name, d.name).toMatch(METRIC_NAME);
      expect(d.name, d.name).not.toContain(':');
      expect(d.name, d.name).toMatch(/^swarmnet_/);
    }
  });

  it('counters end in _total and info metrics in _info; no other type does', () => {
    for (const d of defs) {
      expect(d.name.endsWith('_total'), d.name).toBe(d.type === 'counter');
      expect(d.name.endsWith('_info'), d.name).toBe(d.type === 'info');
    }
  });

  it('label names are valid, not reserved, and not repeated within a definition', () => {
    for (const d of defs) {
      for (const l of d.labels) {
        expect(l, `${d.name}: ${l}`).toMatch(LABEL_NAME);
        expect(l.startsWith('__'), `${d.name}: ${l}`).toBe(false);
      }
      expect(new Set(d.labels).size, `${d.name}: repeated label`).toBe(d.labels.length);
    }
  });

  it('family names are unique in the text format and after the OpenMetrics suffix rules', () => {
    const names = defs.map((d) => d.name);
    expect(new Set(names).size).toBe(names.length);
    const byFamily = new Map<string, string[]>();
    for (const d of defs) byFamily.set(omFamily(d), [...(byFamily.get(omFamily(d)) ?? []), d.name]);
    const clashes = [...byFamily.values()].filter((v) => v.length > 1);
    expect(clashes, 'metrics that render as the same OpenMetrics family').toEqual([]);
  });

  it('no name collides with a sample name OpenMetrics derives from another family', () => {
    const collisions: string[] = [];
    for (const a of defs) {
      const derived = new Set([omFamily(a), ...DERIVED_SUFFIXES.map((s) => omFamily(a) + s)]);
      for (const b of defs) {
        if (b === a) continue;
        for (const n of new Set([b.name, omFamily(b)])) if (derived.has(n)) collisions.push(`${b.name} vs ${a.name} (${n})`);
      }
    }
    expect(collisions).toEqual([]);
  });

  describe('one sample of every family', () => {
    const set = new FamilySet();
    for (const d of defs) {
      const labels: Record<string, string> = {};
      for (const l of d.labels) labels[l] = `${l}-value`;
      set.of(d).add(labels, d.type === 'info' ? 1 : d.type === 'counter' ? 42 : 0.5);
    }
    const text = renderPrometheus(set.all()).toString('utf8');
    const om = renderOpenMetrics(set.all(), '# EOF\n').toString('utf8');

    const python = (module: string, input: string): string[] =>
      execFileSync('/usr/bin/python3', ['-c', [
        'import sys',
        `from ${module} import text_string_to_metric_families`,
        'for f in text_string_to_metric_families(sys.stdin.read()): print(f.name, f.type, len(f.samples))',
      ].join('\n')], { input, encoding: 'utf8', env: { ...process.env, PYTHONPATH: '/usr/lib/python3/dist-packages' } })
        .trim().split('\n');

    it('renders every family', () => {
      expect(set.all()).toHaveLength(defs.length);
    });

    it('promtool check metrics accepts the text format', () => {
      // exits non-zero on a parse error or a lint problem, printing it
      execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    });

    it('the Python client parses the text format', () => {
      const families = python('prometheus_client.parser', text);
      expect(families).toHaveLength(defs.length);
    });

    it('the Python client\'s OpenMetrics parser accepts the OpenMetrics exposition, one family per definition', () => {
      const families = python('prometheus_client.openmetrics.parser', om);
      expect(families.sort()).toEqual(defs.map((d) => `${omFamily(d)} ${d.type} 1`).sort());
    });
  });
});
