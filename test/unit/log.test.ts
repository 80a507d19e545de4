import { describe, expect, it } from 'vitest';
import { createLogger, logfmtValue } from '../../src/log.js';

function capture() {
  const lines: string[] = [];
  let buffered = '';
  return {
    lines,
    destination: {
      write(s: string) {
        buffered += s;
        const parts = buffered.split('\n');
        buffered = parts.pop()!;
        lines.push(...parts);
      },
    },
  };
}

const TS = /^ts=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /;

describe('logger', () => {
  it('writes logfmt as the Go exporters do', () => {
    const out = capture();
    const log = createLogger({ level: 'info', format: 'logfmt', destination: out.destination });
    log.info({ address: ['http://0.0.0.0:9477'], tls: false, port: 9477 }, 'swarmnet-exporter started');
    log.warn({ reason: 'no client certificate', remote: '10.0.0.7', empty: '', eq: 'a=b', quote: 'say "hi"' }, 'TLS client refused');
    log.child({ component: 'http' }).error({ failure: { kind: 'io', detail: 'boom\nsecond line' }, nested: { a: { b: 1 } } }, 'failed');
    log.debug('not at info');
    log.info('plain');
    const strip = (l: string) => {
      expect(l).toMatch(TS);
      return l.replace(TS, '');
    };
    expect(out.lines.map(strip)).toEqual([
      'level=info msg="swarmnet-exporter started" app=swarmnet-exporter address="[\\"http://0.0.0.0:9477\\"]" tls=false port=9477',
      'level=warn msg="TLS client refused" app=swarmnet-exporter reason="no client certificate" remote=10.0.0.7 empty="" eq="a=b" quote="say \\"hi\\""',
      'level=error msg=failed app=swarmnet-exporter component=http failure.kind=io failure.detail="boom\\nsecond line" nested.a.b=1',
      'level=info msg=plain app=swarmnet-exporter',
    ]);
  });

  it('flattens pino\'s serialized errors and honours the level', () => {
    const out = capture();
    const log = createLogger({ level: 'warn', format: 'logfmt', destination: out.destination });
    log.info('dropped');
    log.warn({ err: new Error('bad thing') }, 'oops');
    expect(out.lines).toHaveLength(1);
    expect(out.lines[0]).toMatch(/^ts=\S+ level=warn msg=oops app=swarmnet-exporter err\.type=Error err\.message="bad thing" err\.stack="Error: bad thing\\n {4}at /);
  });

  it('keeps pino\'s JSON as the default format', () => {
    const out = capture();
    const log = createLogger({ level: 'info', format: 'json', destination: out.destination });
    log.info({ tls: true }, 'started');
    const rec = JSON.parse(out.lines[0]!) as Record<string, unknown>;
    expect(rec).toMatchObject({ level: 30, app: 'swarmnet-exporter', tls: true, msg: 'started' });
    expect(typeof rec.time).toBe('number');
    expect(rec).not.toHaveProperty('pid');
  });

  it('quotes values as go-logfmt does', () => {
    expect(logfmtValue('plain')).toBe('plain');
    expect(logfmtValue('back\\slash')).toBe('back\\slash');
    expect(logfmtValue('tab\there')).toBe('"tab\\there"');
    expect(logfmtValue(null)).toBe('null');
    expect(logfmtValue(1.5)).toBe('1.5');
  });
});
