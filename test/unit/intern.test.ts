import { describe, expect, it } from 'vitest';
import { LabelInterner } from '../../src/metrics/intern.js';

const AB = ['a', 'b'] as const;
const AC = ['a', 'c'] as const;

describe('LabelInterner', () => {
  it('returns the same frozen object for the same values, across scrapes', () => {
    const i = new LabelInterner();
    i.nextGeneration();
    const x = i.intern(AB, ['1', '2']);
    expect(x).toEqual({ a: '1', b: '2' });
    expect(Object.isFrozen(x)).toBe(true);
    expect(i.intern(AB, ['1', '2'])).toBe(x);
    expect(i.size).toBe(1);
    i.nextGeneration();
    expect(i.intern(AB, ['1', '2'])).toBe(x);
  });
  it('keeps label-name lists apart, and values that would join alike', () => {
    const i = new LabelInterner();
    i.nextGeneration();
    expect(i.intern(AC, ['1', '2'])).toEqual({ a: '1', c: '2' });
    expect(i.intern(AB, ['1', '2'])).toEqual({ a: '1', b: '2' });
    expect(i.intern(AB, ['1\u00002', ''])).not.toBe(i.intern(AB, ['1', '2\u0000']));
  });
  it('drops a set unused for a whole scrape', () => {
    const i = new LabelInterner();
    i.nextGeneration();
    const x = i.intern(AB, ['1', '2']);
    i.nextGeneration(); // scrape 2 does not use it: still kept for scrape 3
    expect(i.size).toBe(0);
    i.nextGeneration(); // scrape 3 starts: unused during scrape 2, dropped
    const y = i.intern(AB, ['1', '2']);
    expect(y).toEqual(x);
    expect(y).not.toBe(x);
  });
  it('keeps a set used in the previous scrape', () => {
    const i = new LabelInterner();
    i.nextGeneration();
    const x = i.intern(AB, ['1', '2']);
    i.nextGeneration();
    expect(i.intern(AB, ['1', '2'])).toBe(x);
    i.nextGeneration();
    i.nextGeneration();
    expect(i.intern(AB, ['1', '2'])).not.toBe(x);
  });
});
