import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { FamilySet, metric } from '../../src/metrics/family.js';
import { renderOpenMetrics, renderPrometheus } from '../../src/metrics/render.js';

const c = metric('swarmnet_test_bytes_total', 'counter', 'Bytes.\nSecond line.', ['a']);
const i = metric('swarmnet_test_info', 'info', 'Facts.', ['a', 'b']);

describe('exposition', () => {
  const set = new FamilySet();
  const shared = { a: 'x"y\\z\nw' };
  set.of(c).add(shared, 2 ** 53).add({ a: 'plain' }, 0).add({ a: 'plain' }, 5);
  set.of(i).add({ a: 'ü', b: '' }, 1);
  it('renders the text format with escaping, exact integers, and no duplicate series', () => {
    const text = renderPrometheus(set.all()).toString('utf8');
    expect(text).toContain('# HELP swarmnet_test_bytes_total Bytes.\\nSecond line.\n# TYPE swarmnet_test_bytes_total counter\n');
    expect(text).toContain('swarmnet_test_bytes_total{a="x\\"y\\\\z\\nw"} 9007199254740992\n');
    expect(text.match(/a="plain"/g)).toHaveLength(1);
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
});
