import { describe, expect, it } from 'vitest';
import { loadConfig, usage } from '../../src/config.js';
import { parseDuration } from '../../src/duration.js';
import { FlagError } from '../../src/flags.js';
import { scrapeBudgetMs, wantsOpenMetrics } from '../../src/app.js';

describe('flags', () => {
  it('has sane defaults with no flags at all', () => {
    const c = loadConfig([]);
    expect(c.listenPort).toBe(9477);
    expect(c.netnsDirs).toEqual(['/var/run/docker/netns']);
    expect(c.hostNetns).toBeNull();
    expect(c.collectors.map((x) => x.name)).toEqual(expect.arrayContaining(['netdev', 'fdb', 'vxlan']));
  });
  it('takes repeated --netns.dir, both --flag=value and --flag value, and --no-collector.X', () => {
    const c = loadConfig(['--netns.dir=/a', '--netns.dir', '/b', '--no-collector.fdb', '--web.listen-address=127.0.0.1:9999', '--netns.host=none']);
    expect(c.netnsDirs).toEqual(['/a', '/b']);
    expect(c.collectors.map((x) => x.name)).not.toContain('fdb');
    expect(c).toMatchObject({ listenHost: '127.0.0.1', listenPort: 9999, hostNetns: false });
  });
  it('refuses unknown flags, bad values and bad regexes with a message naming the flag', () => {
    expect(() => loadConfig(['--nope'])).toThrow(FlagError);
    expect(() => loadConfig(['--netns.kinds=weird'])).toThrow(/--netns.kinds/);
    expect(() => loadConfig(['--interface.exclude=('])).toThrow(/--interface.exclude/);
    expect(() => loadConfig(['--web.listen-address=9477'])).toThrow(/needs a port/);
    expect(() => loadConfig(['--scrape.timeout=10'])).toThrow(/not a duration/);
    expect(() => loadConfig(['--log.level=loud'])).toThrow(/--log.level/);
    expect(() => loadConfig(['--log.format=text'])).toThrow(/--log.format: "text" is not one of json, logfmt/);
    expect(() => loadConfig(['--docker.timeout=1m1m'])).toThrow(/^--docker.timeout: "1m1m" is not a duration: unit "m" out of order or repeated/);
  });
  it('parses durations and prints every flag in --help', () => {
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration('2m')).toBe(120_000);
    expect(loadConfig(['--scrape.timeout=1m30s', '--docker.resync-interval=1h']))
      .toMatchObject({ scrapeTimeoutMs: 90_000, dockerResyncMs: 3_600_000, logFormat: 'json' });
    expect(loadConfig(['--log.format=logfmt']).logFormat).toBe('logfmt');
    expect(usage()).toContain('--web.listen-address');
  });
});

describe('scrape budget and format negotiation', () => {
  it('takes Prometheus\' timeout header less a margin, bounded by the flag', () => {
    expect(scrapeBudgetMs('10', 10_000)).toBe(9000);
    expect(scrapeBudgetMs('2', 10_000)).toBe(1750);
    expect(scrapeBudgetMs('60', 10_000)).toBe(10_000);
    expect(scrapeBudgetMs(undefined, 8000)).toBe(8000);
    expect(scrapeBudgetMs('garbage', 8000)).toBe(8000);
  });
  it('serves OpenMetrics only when asked', () => {
    expect(wantsOpenMetrics('application/openmetrics-text;version=1.0.0,text/plain;q=0.5')).toBe(true);
    expect(wantsOpenMetrics('text/plain')).toBe(false);
    expect(wantsOpenMetrics(undefined)).toBe(false);
  });
});
