import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { FamilySet, metric } from '../../src/metrics/family.js';
import { DuplicateSeriesError, renderOpenMetrics, renderPrometheus } from '../../src/metrics/render.js';

const c = metric('swarmnet_test_bytes_total', 'counter', 'Bytes.\nSecond line.', ['a']);
const i = metric('swarmnet_test_info', 'info', 'Facts.', ['a', 'b']);
const g = metric('swarmnet_test_things', 'gauge', 'Things.', ['a', 'b']);

describe('exposition', () => {
  const set = new FamilySet();
  const shared = { a: 'x"y\\z\nw' };
  set.of(c).add(shared, 2 ** 53).add({ a: 'plain' }, 0);
  set.of(i).add({ a: 'ü', b: '' }, 1);
  it('renders the text format with escaping and exact integers', () => {
    const text = renderPrometheus(set.all()).toString('utf8');
    expect(text).toContain('# HELP swarmnet_test_bytes_total Bytes.\\nSecond line.\n# TYPE swarmnet_test_bytes_total counter\n');
    expect(text).toContain('swarmnet_test_bytes_total{a="x\\"y\\\\z\\nw"} 9007199254740992\n');
    expect(text).toContain('swarmnet_test_bytes_total{a="plain"} 0\n');
    expect(text).toContain('# TYPE swarmnet_test_info gauge\nswarmnet_test_info{a="ü",b=""} 1\n');
    execFileSync('promtool', ['check', 'metrics'], { input: text });
  });
  it('renders OpenMetrics with counter and info types named without their suffix', () => {
    const om = renderOpenMetrics(set.all(), '# EOF\n').toString('utf8');
    expect(om).toContain('# TYPE swarmnet_test_bytes counter\n');
    expect(om).toContain('# TYPE swarmnet_test info\n');
    expect(om.endsWith('# EOF\n')).toBe(true);
  });
  it('refuses a counter without _total', () => {
    expect(() => new FamilySet().of(metric('swarmnet_bad', 'counter', 'x', []))).toThrow(/_total/);
  });
  it('refuses a second definition under a name already in the set', () => {
    const s = new FamilySet();
    s.of(g);
    expect(() => s.of(metric('swarmnet_test_things', 'gauge', 'Things.', ['b', 'a']))).toThrow(/swarmnet_test_things/);
  });
});

describe('label check', () => {
  const fam = () => new FamilySet().of(g);
  it('accepts the definition\'s label names in order, for plain and frozen objects, again and again', () => {
    const frozen = Object.freeze({ a: '1', b: '2' });
    const f = fam().add({ a: '1', b: '2' }, 1).add(frozen, 2).add(frozen, 3);
    expect(f.size).toBe(3);
    // the same frozen object validated for one family is accepted by another with the same names
    expect(new FamilySet().of(i).add(frozen, 1).size).toBe(1);
  });
  it('refuses labels in another order, naming the metric, the expected and the given names', () => {
    expect(() => fam().add({ b: '2', a: '1' }, 1)).toThrow('swarmnet_test_things: labels must be [a, b] in that order, got [b, a]');
    expect(() => fam().add(Object.freeze({ b: '2', a: '1' }), 1)).toThrow(/got \[b, a\]/);
  });
  it('refuses a missing, an extra or a misnamed label', () => {
    expect(() => fam().add({ a: '1' }, 1)).toThrow(/labels must be \[a, b\] in that order, got \[a\]/);
    expect(() => fam().add({ a: '1', b: '2', c: '3' }, 1)).toThrow(/got \[a, b, c\]/);
    expect(() => fam().add({ a: '1', c: '2' }, 1)).toThrow(/got \[a, c\]/);
    expect(() => fam().add({}, 1)).toThrow(/got \[\]/);
    expect(() => new FamilySet().of(metric('swarmnet_test_none', 'gauge', 'x', [])).add({ a: '1' }, 1)).toThrow(/must be \[\] in that order, got \[a\]/);
  });
  it('checks a frozen object validated for other label names again', () => {
    const frozen = Object.freeze({ a: '1', b: '2' });
    fam().add(frozen, 1);
    expect(() => new FamilySet().of(c).add(frozen, 1)).toThrow(/swarmnet_test_bytes_total: labels must be \[a\]/);
    // and the failure does not spoil it for the names it does match
    expect(fam().add(frozen, 1).size).toBe(1);
  });
  it('checks samples moved in by merge', () => {
    const a = new FamilySet();
    const b = new FamilySet();
    a.of(g).add({ a: '1', b: '2' }, 1);
    b.of(g).add({ a: '3', b: '4' }, 1);
    a.merge(b);
    expect(a.of(g).size).toBe(2);
  });
});

describe('duplicate series', () => {
  const frozen = Object.freeze({ a: 'x', b: 'y' });
  const withDuplicates = () => {
    const set = new FamilySet();
    // the same object twice, and an equal object built separately
    set.of(g).add(frozen, 1).add({ a: 'u', b: 'v' }, 2).add(frozen, 3).add({ a: 'x', b: 'y' }, 4);
    set.of(c).add({ a: 'z' }, 5);
    return set;
  };
  it('throw DuplicateSeriesError in both formats when no handler is given', () => {
    expect(() => renderPrometheus(withDuplicates().all())).toThrow(DuplicateSeriesError);
    expect(() => renderOpenMetrics(withDuplicates().all(), '# EOF\n')).toThrow(DuplicateSeriesError);
    try {
      renderPrometheus(withDuplicates().all());
    } catch (e) {
      expect(e).toMatchObject({ familyName: 'swarmnet_test_things', labelsText: '{a="x",b="y"}' });
      expect((e as Error).message).toContain('swarmnet_test_things{a="x",b="y"}');
    }
  });
  it('with a handler, keep the first, drop the others and report each', () => {
    for (const render of [
      (h: (n: string, l: string) => void) => renderPrometheus(withDuplicates().all(), '', h),
      (h: (n: string, l: string) => void) => renderOpenMetrics(withDuplicates().all(), '# EOF\n', h),
    ]) {
      const seen: Array<[string, string]> = [];
      const out = render((n, l) => seen.push([n, l])).toString('utf8');
      expect(seen).toEqual([['swarmnet_test_things', '{a="x",b="y"}'], ['swarmnet_test_things', '{a="x",b="y"}']]);
      expect(out).toContain('swarmnet_test_things{a="x",b="y"} 1\n');
      expect(out.match(/swarmnet_test_things\{a="x",b="y"\}/g)).toHaveLength(1);
      expect(out).toContain('swarmnet_test_things{a="u",b="v"} 2\n');
      expect(out).toContain('swarmnet_test_bytes_total{a="z"} 5\n');
    }
  });
  it('the same labels in different families are not duplicates', () => {
    const set = new FamilySet();
    set.of(g).add(frozen, 1);
    set.of(i).add(frozen, 1);
    expect(() => renderPrometheus(set.all())).not.toThrow();
  });
});
