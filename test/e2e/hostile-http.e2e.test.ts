// Hostile HTTP against the built exporter as a process, on loopback only and
// bounded in count and time: odd methods, paths and query strings on every
// route, huge headers, slow clients (headers trickled byte by byte, a body that
// never ends), and more connections at once than the server accepts.
//
// Throughout, a well-behaved scraper (a keep-alive connection, /metrics every
// 500 ms, a 5 s timeout: Prometheus' way) must be answered in time, the
// process must not crash, and its RSS must stay bounded. The limits are
// HTTP_LIMITS (src/app.ts), documented in the README.
import { type IncomingMessage, Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { HTTP_LIMITS } from '../../src/app.js';
import { type ExporterProcess, startExporter } from '../harness/exporter.js';
import { freePort } from '../harness/ports.js';
import { sleep, waitFor } from '../harness/wait.js';

const SCRAPE_TIMEOUT_MS = 5_000;
const MiB = 1024 * 1024;

interface Scrape { t: number; ms: number; ok: boolean; error?: string }

/** /metrics every 500 ms over one keep-alive connection, with a timeout; what each attempt gave. */
class Scraper {
  readonly scrapes: Scrape[] = [];
  private running = true;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 1 });
  private readonly done: Promise<void>;
  constructor(private readonly port: number) {
    this.done = this.loop();
  }
  private once(): Promise<Scrape> {
    const t = Date.now();
    return new Promise((resolve) => {
      const req = request({ host: '127.0.0.1', port: this.port, path: '/metrics', agent: this.agent, timeout: SCRAPE_TIMEOUT_MS,
        headers: { 'x-prometheus-scrape-timeout-seconds': String(SCRAPE_TIMEOUT_MS / 1000) } }, (res) => {
        let n = 0;
        res.on('data', (c: Buffer) => { n += c.length; });
        res.on('end', () => resolve({ t, ms: Date.now() - t, ok: res.statusCode === 200 && n > 0 }));
        res.on('error', (err) => resolve({ t, ms: Date.now() - t, ok: false, error: err.message }));
      });
      req.on('timeout', () => req.destroy(new Error('scrape timeout')));
      req.on('error', (err) => resolve({ t, ms: Date.now() - t, ok: false, error: err.message }));
      req.end();
    });
  }
  private async loop() {
    while (this.running) {
      this.scrapes.push(await this.once());
      await sleep(500);
    }
  }
  between(from: number, to = Date.now()) {
    return this.scrapes.filter((s) => s.t >= from && s.t <= to);
  }
  async stop() {
    this.running = false;
    await this.done;
    this.agent.destroy();
  }
}

/** Resident set size of a process, from /proc (bytes). */
function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

interface RawAnswer {
  /** the status code of the first answer; undefined when the server closed without one */
  status?: number;
  /** ms until the server closed the connection (or until we gave up) */
  ms: number;
  closedByServer: boolean;
}

/** Write raw bytes on a fresh connection (all at once, or via `feed`); read until the server closes or timeoutMs. */
function raw(port: number, data: string | Buffer, opts: { timeoutMs?: number; feed?: (s: Socket) => () => void } = {}): Promise<RawAnswer> {
  const t = Date.now();
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let head = '';
    let stopFeed: (() => void) | undefined;
    let settled = false;
    const finish = (closedByServer: boolean) => {
      if (settled) return;
      settled = true;
      stopFeed?.();
      clearTimeout(timer);
      s.destroy();
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
      resolve({ status: m ? Number(m[1]) : undefined, ms: Date.now() - t, closedByServer });
    };
    const timer = setTimeout(() => finish(false), opts.timeoutMs ?? 5_000);
    s.on('connect', () => {
      if (data.length) s.write(data);
      if (opts.feed) stopFeed = opts.feed(s);
    });
    s.on('data', (c: Buffer) => { if (head.length < 64) head += c.toString('latin1'); });
    s.on('end', () => finish(true));
    s.on('close', () => finish(true));
    s.on('error', () => finish(true));
  });
}

/** Run `fn` over items, `limit` at a time. */
async function pool<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  }));
  return out;
}

const q = (n: number, s: string) => s.repeat(n);
const ROUTES = ['/', '/metrics', '/healthz', '/nope'];
const QUERIES = [
  '', '?', '??', '?&&&=&=', `?${q(1500, 'a=1&')}`, '?%zz%%%00%', '?__proto__[polluted]=1&constructor[prototype][polluted]=1',
  `?x=${q(3000, '%')}`, '?a[b][c][d][e][f]=1', '?a=%F0%9F%92%A9&b=\u00ff', '?x=1;y=2', '?name[]=1&name[]=2', '?%00=%00',
];
const ODD_REQUEST_LINES = [
  'GET //metrics HTTP/1.1', 'GET /metrics/ HTTP/1.1', 'GET /metrics/../metrics HTTP/1.1', 'GET /../../etc/passwd HTTP/1.1',
  'GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1', 'GET /metrics%00 HTTP/1.1', 'GET /%ff%fe HTTP/1.1', 'GET * HTTP/1.1', 'OPTIONS * HTTP/1.1',
  'GET http://evil.example/metrics HTTP/1.1', 'CONNECT 127.0.0.1:22 HTTP/1.1', 'FOO / HTTP/1.1', 'get /metrics HTTP/1.1',
  'DELETE /metrics HTTP/1.1', 'PUT /healthz HTTP/1.1', 'PATCH / HTTP/1.1', 'TRACE / HTTP/1.1', 'HEAD /metrics HTTP/1.1',
  'OPTIONS /metrics HTTP/1.1', 'PROPFIND / HTTP/1.1', 'GET /metrics HTTP/1.0', 'GET /metrics HTTP/2.0', 'GET /metrics HTTP/9.9',
  'GET /metrics', 'GET  /metrics  HTTP/1.1', `GET /${q(12_000, 'a')} HTTP/1.1`, 'GET /metrics HTTP/1.1 extra', '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03',
  'PRI * HTTP/2.0\r\n\r\nSM',
];
const ODD_HEADER_SETS = [
  'Host: a\r\nHost: b\r\n', 'Host: x\r\nContent-Length: -1\r\n', 'Host: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n',
  'Host: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n', 'Host: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
  'Host: x\r\nX-Prometheus-Scrape-Timeout-Seconds: -1\r\n', 'Host: x\r\nX-Prometheus-Scrape-Timeout-Seconds: NaN\r\n',
  'Host: x\r\nX-Prometheus-Scrape-Timeout-Seconds: 1e308\r\n', 'Host: x\r\nX-Prometheus-Scrape-Timeout-Seconds: 0.0001\r\n',
  'Host: x\r\nAccept: application/openmetrics-text;version=9.9.9;q=2\r\n', 'Host: x\r\nAccept-Encoding: gzip;q=x, *;q=1e999, br\r\n',
  'Host: x\r\nAuthorization: Basic !!!!\r\n', 'Host: x\r\nX-Bad: a\x00b\r\n', 'Host: x\r\nNo-Colon-Header\r\n', 'Host: x\r\n Folded: header\r\n',
  `Host: x\r\nCookie: ${q(4000, 'a=b; ')}\r\n`,
];

describe('hostile HTTP against the exporter process', { timeout: 90_000 }, () => {
  let ex: ExporterProcess;
  let port = 0;
  let dir = '';
  let scraper: Scraper;
  let baseline = 0;
  let maxRss = 0;
  let rssTimer: NodeJS.Timeout | undefined;
  const report: Record<string, unknown> = {};

  /**
   * The scraper during [from, now]: every scrape answered within its timeout; its latencies.
   * An attack can be shorter than the scrape interval: the scrapes begun up to one interval
   * before it count, and one begun after it is waited for.
   */
  const scraperHeld = async (from: number, what: string) => {
    await waitFor(`a scrape after ${what}`, () => scraper.scrapes.some((x) => x.t >= from), { timeoutMs: SCRAPE_TIMEOUT_MS + 2_000, intervalMs: 50 });
    const s = scraper.between(from - 600);
    expect(s.length, `scrapes during ${what}`).toBeGreaterThan(0);
    expect(s.filter((x) => !x.ok), `failed scrapes during ${what}`).toEqual([]);
    const ms = s.map((x) => x.ms).sort((a, b) => a - b);
    expect(ms.at(-1)!).toBeLessThan(SCRAPE_TIMEOUT_MS);
    return { scrapes: s.length, p50Ms: ms[Math.floor(ms.length / 2)], maxMs: ms.at(-1) };
  };
  const alive = () => expect(ex.running(), `exporter exited: ${ex.log().slice(-2000)}`).toBe(true);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'swarmnet-hostile-'));
    port = await freePort();
    // the host's own namespace (netns.host=self) is real kernel work; no Docker: nothing at that socket
    ex = await startExporter({ listen: `127.0.0.1:${port}`, netnsDir: dir, dockerHost: `unix://${join(dir, 'no-docker.sock')}`, logLevel: 'error' });
    scraper = new Scraper(port);
    await sleep(2_000);
    baseline = rss(ex.pid);
    rssTimer = setInterval(() => { try { maxRss = Math.max(maxRss, rss(ex.pid)); } catch { /* gone */ } }, 100);
  });

  afterAll(async () => {
    if (rssTimer) clearInterval(rssTimer);
    await scraper?.stop();
    await ex?.stop();
    await rm(dir, { recursive: true, force: true });
    report.rssBaselineMiB = Math.round(baseline / MiB);
    report.rssMaxMiB = Math.round(maxRss / MiB);
    console.log(`hostile-http: ${JSON.stringify(report)}`);
  });

  test('odd methods, paths, query strings and headers on every route: 4xx or an answer, never a crash or a 5xx', async () => {
    const from = Date.now();
    const requests: string[] = [];
    for (const r of ROUTES) for (const qs of QUERIES) requests.push(`GET ${r}${qs} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    for (const line of ODD_REQUEST_LINES) requests.push(`${line}\r\nHost: x\r\nConnection: close\r\n\r\n`);
    for (const r of ROUTES) for (const h of ODD_HEADER_SETS) requests.push(`GET ${r} HTTP/1.1\r\n${h}Connection: close\r\n\r\n`);
    for (const r of ROUTES) for (const m of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
      // a body announced far past the limit, only its start sent (HEAD and GET ones: the slow clients below)
      requests.push(`${m} ${r} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${100 * MiB}\r\n\r\n{"a":${q(2000, '1')}`);
    }
    // round after round for 3 s at least, so that the scraper meets it several times
    const answers: RawAnswer[] = [];
    for (let round = 0; round < 20 && (round < 2 || Date.now() - from < 3_000); round++) {
      answers.push(...await pool(requests, 16, (r) => raw(port, r, { timeoutMs: 3_000 })));
    }
    alive();
    const statuses = new Map<string, number>();
    answers.forEach((a) => statuses.set(String(a.status ?? 'closed'), (statuses.get(String(a.status ?? 'closed')) ?? 0) + 1));
    // nothing answered 5xx, nothing left hanging past 3 s
    expect([...statuses.keys()].filter((s) => s.startsWith('5'))).toEqual([]);
    expect(answers.filter((a) => !a.closedByServer).length).toBe(0);
    // the routes still answer what they should
    expect((await raw(port, 'GET /healthz?x=%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).status).toBe(200);
    expect((await raw(port, 'GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).status).toBe(404);
    report.odd = { requests: answers.length, statuses: Object.fromEntries(statuses), scraper: await scraperHeld(from, 'odd requests') };
  });

  test(`huge headers: past ${HTTP_LIMITS.maxHeaderSize / 1024} KiB answered 431 and closed, under it served`, async () => {
    const from = Date.now();
    const big = (n: number) => `GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ${q(n, 'a')}\r\nConnection: close\r\n\r\n`;
    expect((await raw(port, big(12 * 1024))).status).toBe(200);
    expect((await raw(port, big(20 * 1024))).status).toBe(431);
    const many = `GET / HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 400 }, (_, i) => `X-H${i}: ${q(60, 'v')}\r\n`).join('')}Connection: close\r\n\r\n`;
    expect((await raw(port, many)).status).toBe(431);
    // connections with a 1 MiB header stream each, 32 at a time, 300 a round, for 3 s at least
    const answers: RawAnswer[] = [];
    for (let round = 0; round < 10 && (round < 1 || Date.now() - from < 3_000); round++) {
      answers.push(...await pool(Array.from({ length: 300 }, () => 0), 32, () => raw(port, `GET / HTTP/1.1\r\nHost: x\r\nX-Huge: ${q(MiB, 'h')}\r\n\r\n`)));
    }
    alive();
    expect(answers.every((a) => a.status === 431 || (a.status === undefined && a.closedByServer))).toBe(true);
    report.hugeHeaders = { connections: answers.length, scraper: await scraperHeld(from, 'huge headers') };
  });

  test('slow clients: headers trickled byte by byte and bodies that never end are cut at their timeouts', async () => {
    const from = Date.now();
    const trickle = (s: Socket) => {
      const t = setInterval(() => { if (!s.destroyed) s.write('a'); }, 200);
      return () => clearInterval(t);
    };
    const slowHeaders = Array.from({ length: 200 }, (_, i) => raw(port, `GET ${ROUTES[i % ROUTES.length]} HTTP/1.1\r\nHost: x\r\nX-Slow: `,
      { feed: trickle, timeoutMs: HTTP_LIMITS.requestTimeoutMs + 10_000 }));
    // a body announced and trickled: no route reads one. POST: refused at once past bodyLimit; GET and
    // HEAD (answered without reading it): the connection is held until the request timeout
    const slowBodies = Array.from({ length: 60 }, (_, i) => raw(port, `${['POST', 'GET', 'HEAD'][i % 3]} ${ROUTES[i % ROUTES.length]} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n`,
      { feed: trickle, timeoutMs: HTTP_LIMITS.requestTimeoutMs + 10_000 }));
    // idle connections that never send a byte
    const silent = Array.from({ length: 100 }, () => raw(port, '', { timeoutMs: HTTP_LIMITS.requestTimeoutMs + 10_000 }));
    const [h, b, s] = await Promise.all([Promise.all(slowHeaders), Promise.all(slowBodies), Promise.all(silent)]);
    alive();
    const slack = HTTP_LIMITS.connectionsCheckingIntervalMs + 2_000;
    expect(h.every((a) => a.closedByServer)).toBe(true);
    expect(Math.max(...h.map((a) => a.ms))).toBeLessThanOrEqual(HTTP_LIMITS.headersTimeoutMs + slack);
    expect(b.every((a) => a.closedByServer)).toBe(true);
    expect(Math.max(...b.map((a) => a.ms))).toBeLessThanOrEqual(HTTP_LIMITS.requestTimeoutMs + slack);
    expect(s.every((a) => a.closedByServer)).toBe(true);
    expect(Math.max(...s.map((a) => a.ms))).toBeLessThanOrEqual(HTTP_LIMITS.headersTimeoutMs + slack);
    report.slow = {
      headersClosedMaxMs: Math.max(...h.map((a) => a.ms)), bodiesClosedMaxMs: Math.max(...b.map((a) => a.ms)), bodyStatuses: [...new Set(b.map((a) => a.status))],
      silentClosedMaxMs: Math.max(...s.map((a) => a.ms)), scraper: await scraperHeld(from, 'slow clients'),
    };
  });

  test(`many connections: 400 concurrent scrapes answered; past ${HTTP_LIMITS.maxConnections} open, new ones refused, the server unharmed`, async () => {
    let from = Date.now();
    const concurrent = await pool(Array.from({ length: 400 }, () => 0), 400,
      () => raw(port, 'GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', { timeoutMs: 10_000 }));
    alive();
    expect(concurrent.every((a) => a.status === 200)).toBe(true);
    const concurrentMaxMs = Math.max(...concurrent.map((a) => a.ms));
    const concurrentScraper = await scraperHeld(from, '400 concurrent scrapes');

    // 700 connections opened at once and left idle: the server holds maxConnections of them at most
    from = Date.now();
    const flood = Array.from({ length: 700 }, () => raw(port, '', { timeoutMs: HTTP_LIMITS.headersTimeoutMs + 5_000 }));
    await sleep(2_000);
    // a newcomer is refused while the slots are taken; the scraper's kept-alive connection still holds its slot
    const newcomer = await raw(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', { timeoutMs: 2_000 });
    const answers = await Promise.all(flood);
    alive();
    const refused = answers.filter((a) => a.ms < 1_500).length;
    expect(refused).toBeGreaterThanOrEqual(700 - HTTP_LIMITS.maxConnections - 10);
    expect(answers.every((a) => a.closedByServer)).toBe(true);
    const floodScraper = await scraperHeld(from, 'the connection flood');
    // once the idle ones are cut, a newcomer is served again
    expect((await raw(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).status).toBe(200);
    report.connections = { concurrentMaxMs, concurrentScraper, floodRefused: refused, newcomerDuringFlood: newcomer.status ?? 'closed', floodScraper };
  });

  test('after all of it: still running, RSS bounded', async () => {
    alive();
    expect(maxRss).toBeGreaterThan(0);
    expect(maxRss - baseline).toBeLessThan(128 * MiB);
    report.overall = await scraperHeld(0, 'the whole run');
  });
});
