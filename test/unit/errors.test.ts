import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { ErrorLedger } from '../../src/errors.js';
import { FamilySet } from '../../src/metrics/family.js';

describe('error ledger', () => {
  it('counts every failure but logs each (source, reason, subject) once until it recovers', () => {
    const lines: string[] = [];
    const sink = new Writable({ write(chunk, _e, cb) { lines.push(String(chunk)); cb(); } });
    const ledger = new ErrorLedger(pino({ level: 'warn' }, sink));
    for (let k = 0; k < 5; k++) ledger.record('netns', 'vanished', 'abc', 'gone');
    ledger.record('netns', 'vanished', 'def', 'gone');
    expect(ledger.count('netns', 'vanished')).toBe(6);
    expect(lines).toHaveLength(2);
    ledger.recovered('netns', 'vanished', 'abc');
    ledger.record('netns', 'vanished', 'abc', 'gone');
    expect(lines).toHaveLength(3);
    const out = new FamilySet();
    ledger.render(out);
    expect(out.all()[0]!.samples).toEqual([{ labels: { source: 'netns', reason: 'vanished' }, value: 7 }]);
  });
});
