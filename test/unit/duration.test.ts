import { describe, expect, it } from 'vitest';
import { DurationError, parseDuration } from '../../src/duration.js';

describe('durations', () => {
  it('reads what Prometheus writes', () => {
    expect(parseDuration('0')).toBe(0);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('10s')).toBe(10_000);
    expect(parseDuration('1m30s')).toBe(90_000);
    expect(parseDuration('1h')).toBe(3_600_000);
    expect(parseDuration('2d')).toBe(172_800_000);
    expect(parseDuration('1w')).toBe(604_800_000);
    expect(parseDuration('1y')).toBe(31_536_000_000);
    expect(parseDuration('1y2w3d4h5m6s7ms')).toBe(31_536_000_000 + 2 * 604_800_000 + 3 * 86_400_000 + 4 * 3_600_000 + 5 * 60_000 + 6000 + 7);
    expect(parseDuration('0s')).toBe(0);
  });

  it('also reads Go\'s fractions and sub-millisecond units', () => {
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration('.5s')).toBe(500);
    expect(parseDuration('1ms500us')).toBe(1.5);
    expect(parseDuration('2µs')).toBeCloseTo(0.002);
    expect(parseDuration('1000000ns')).toBeCloseTo(1);
  });

  it('refuses bad input, naming the text and the fault', () => {
    const cases: Array<[string, RegExp]> = [
      ['', /"" is not a duration: empty/],
      ['10', /"10" is not a duration: missing unit after "10"/],
      ['1x', /"1x" is not a duration: unknown unit in "1x"/],
      ['1m1m', /"1m1m" is not a duration: unit "m" out of order or repeated/],
      ['30s1m', /unit "m" out of order/],
      ['1us2µs', /unit "µs" out of order or repeated/],
      ['-1s', /"-1s" is not a duration: negative/],
      ['1s ', /unexpected " "/],
      ['ten seconds', /"ten seconds" is not a duration: unexpected "ten seconds"/],
      ['1e3s', /unknown unit in "1e3s"/],
      ['9'.repeat(400) + 's', /too long/],
    ];
    for (const [text, re] of cases) {
      expect(() => parseDuration(text), text).toThrow(DurationError);
      expect(() => parseDuration(text), text).toThrow(re);
    }
    expect(() => parseDuration('1d')).not.toThrow();
  });
});
