// dockerd misbehaving under a running exporter, on a real private daemon (no
// swarm: a container of the local busybox image is enough for names):
// SIGKILL and restart, the socket replaced by a new daemon, the events stream
// cut (and flapping), an API that answers slowly and one that hangs under an
// event flood (through test/harness/delay-proxy.ts).
//
// In every case: each scrape succeeds with the interface series of the
// daemon's namespace, swarmnet_docker_up and the docker collector's success
// drop to 0, names come back within one resync of recovery, reconnects back
// off, and what waits inside the cache stays bounded.
//
// Two exporters run in-process over the same namespaces (the daemon's netns
// directory, its own namespace as netns="host"): `direct` on the daemon's
// socket, `proxied` through the delay proxy.
import { request } from 'node:http';
import { existsSync, statSync } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { allCollectors } from '../../src/collectors/index.js';
import { DockerStateCache } from '../../src/docker/cache.js';
import { type DelayProxy, startDelayProxy } from '../harness/delay-proxy.js';
import { type Dockerd, createDockerd, stopDockerdIn } from '../harness/dockerd.js';
import { testExporter } from '../harness/exporter.js';
import { TestNamespaces } from '../harness/netns.js';
import { pidsMentioning, waitExited } from '../harness/processes.js';
import { parseProm } from '../harness/prom.js';
import { sh } from '../harness/run.js';
import { IMAGE, busyboxImageTar } from '../harness/swarm.js';
import { eventually, sleep, waitFor } from '../harness/wait.js';

const ROOT = '/tmp/swarmnet-faults';
const DIR = join(ROOT, `p${process.pid}`);
const IFACE = 'flt0';
/** the cache's timings, short so that every fault plays out in seconds */
const T = { resyncMs: 3_000, refreshMs: 1_500, debounceMs: 100, timeoutMs: 1_000, backoffInitialMs: 250, backoffMaxMs: 2_000, maxPendingIds: 64 };
/** names must be back this soon after dockerd answers again: the longest backoff step, then one resync */
const RECOVERY_MS = T.backoffMaxMs + T.resyncMs + 1_000;

interface Sample {
  t: number;
  /** how long /metrics took */
  ms: number;
  ok: boolean;
  up: number | undefined;
  dockerSuccess: number | undefined;
  /** the interface series of the daemon's namespace are there */
  iface: boolean;
  errors: Record<string, number>;
  /** sandbox netns file -> container name */
  names: Map<string, string>;
}

type Exporter = Awaited<ReturnType<typeof testExporter>>;

/** Scrapes an exporter every 200 ms in the background and keeps what each scrape said. */
class Watch {
  readonly samples: Sample[] = [];
  private running = true;
  private readonly done: Promise<void>;
  constructor(private readonly ex: Exporter) {
    this.done = this.loop();
  }
  private async loop() {
    while (this.running) {
      const t = Date.now();
      const res = await this.ex.app.inject({ method: 'GET', url: '/metrics' });
      const ms = Date.now() - t;
      const s: Sample = { t, ms, ok: res.statusCode === 200, up: undefined, dockerSuccess: undefined, iface: false, errors: {}, names: new Map() };
      if (s.ok) {
        for (const m of parseProm(res.body)) {
          if (m.name === 'swarmnet_docker_up') s.up = m.value;
          else if (m.name === 'swarmnet_scrape_collector_success' && m.labels.collector === 'docker') s.dockerSuccess = m.value;
          else if (m.name === 'swarmnet_interface_up' && m.labels.netns === 'host' && m.labels.interface === IFACE) s.iface = true;
          else if (m.name === 'swarmnet_exporter_errors_total' && m.labels.source === 'docker') s.errors[m.labels.reason!] = m.value;
          else if (m.name === 'swarmnet_netns_info' && m.labels.netns_kind === 'sandbox' && m.labels.container) s.names.set(m.labels.netns!, m.labels.container);
        }
      }
      this.samples.push(s);
      await sleep(200);
    }
  }
  last(): Sample | undefined {
    return this.samples.at(-1);
  }
  between(from: number, to = Date.now()): Sample[] {
    return this.samples.filter((s) => s.t >= from && s.t <= to);
  }
  /** the first scrape started at or after `from` for which `pred` holds */
  async until(what: string, from: number, pred: (s: Sample) => boolean, timeoutMs = 30_000): Promise<Sample> {
    return waitFor(what, () => this.samples.find((s) => s.t >= from && pred(s)), { timeoutMs, intervalMs: 50 });
  }
  async stop() {
    this.running = false;
    await this.done;
  }
}

/** Scrapes in a window: all answered, all with the interface series, and at least one saw docker down. */
function expectKernelThroughOutage(samples: Sample[]) {
  expect(samples.length).toBeGreaterThan(3);
  expect(samples.filter((s) => !s.ok)).toEqual([]);
  expect(samples.filter((s) => !s.iface).map((s) => s.t)).toEqual([]);
  expect(samples.some((s) => s.up === 0 && s.dockerSuccess === 0)).toBe(true);
}

const sum = (e: Record<string, number>) => Object.values(e).reduce((a, b) => a + b, 0);

/** One request to the Docker API on a unix socket, the JSON answer. */
function dockerApi(socket: string, method: string, path: string, body?: unknown): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = request({ socketPath: socket, method, path, headers: data ? { 'content-type': 'application/json', 'content-length': data.length } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        if ((res.statusCode ?? 500) >= 300) reject(new Error(`${method} ${path}: ${res.statusCode} ${text}`));
        else resolve(text ? JSON.parse(text) : undefined);
      });
    });
    req.on('error', reject);
    req.end(data);
  });
}

const logLines: Array<{ t: number; name: string; msg: string; retryMs?: number }> = [];
const logger = (name: string) => pino({ level: 'debug' }, {
  write: (l: string) => {
    const o = JSON.parse(l) as { msg: string; retryMs?: number };
    logLines.push({ t: Date.now(), name, msg: o.msg, retryMs: o.retryMs });
  },
});
/** the backoff steps the cache logged in a window */
const retries = (name: string, from: number, to: number) =>
  logLines.filter((l) => l.name === name && l.msg === 'docker: reconnecting' && l.t >= from && l.t <= to).map((l) => l.retryMs!);

describe('dockerd faults under a running exporter', { timeout: 90_000 }, () => {
  let ns: TestNamespaces;
  let netns = '';
  let d: Dockerd;
  let proxy: DelayProxy;
  const caches: Record<'direct' | 'proxied', DockerStateCache | undefined> = { direct: undefined, proxied: undefined };
  const exporters: Exporter[] = [];
  const watches: Record<string, Watch> = {};
  const report: Record<string, unknown> = {};

  const sandboxOf = async (name: string) => basename(await d.docker(['inspect', '-f', '{{.NetworkSettings.SandboxKey}}', name]));

  beforeAll(async () => {
    // leftovers of an interrupted run
    for (const e of existsSync(ROOT) ? await readdir(ROOT) : []) {
      await stopDockerdIn(join(ROOT, e), 10_000);
      const rest = await pidsMentioning(join(ROOT, e));
      for (const p of rest) try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
      await rm(join(ROOT, e), { recursive: true, force: true });
    }
    ns = new TestNamespaces(`swnflt${process.pid}-`);
    netns = ns.add('d');
    sh(`ip -n ${netns} link add ${IFACE} type veth peer name ${IFACE}-peer
ip -n ${netns} link set ${IFACE} up
ip -n ${netns} link set ${IFACE}-peer up`);
    await mkdir(DIR, { recursive: true });
    d = createDockerd({
      dir: join(DIR, 'd'), netnsFile: `/run/netns/${netns}`,
      containerdNamespace: `moby-flt${process.pid}`, containerdPluginsNamespace: `plugins-flt${process.pid}`,
      args: ['--bip', '198.18.230.1/24'],
    });
    await d.start();
    await d.docker(['import', '-', IMAGE], { stdinFile: await busyboxImageTar() });
    await d.docker(['run', '-d', '--name', 'c1', '--restart', 'always', '--init', '--stop-timeout', '1', IMAGE, 'sleep', '100000']);
    proxy = await startDelayProxy(join(DIR, 'proxy.sock'), d.socket);

    for (const [name, host] of [['direct', d.host], ['proxied', proxy.host]] as const) {
      const cache = new DockerStateCache({
        host, logger: logger(name), resyncIntervalMs: T.resyncMs, refreshIntervalMs: T.refreshMs, debounceMs: T.debounceMs,
        requestTimeoutMs: T.timeoutMs, backoffInitialMs: T.backoffInitialMs, backoffMaxMs: T.backoffMaxMs, maxPendingIds: T.maxPendingIds,
      });
      caches[name] = cache;
      cache.start();
      expect(await cache.whenSynced(15_000)).toBe(true);
      const ex = await testExporter({ netnsDirs: [d.netnsDir], hostNetns: `/run/netns/${netns}`, collectors: allCollectors() }, { docker: cache });
      exporters.push(ex);
      watches[name] = new Watch(ex);
    }
    const c1 = await sandboxOf('c1');
    for (const w of Object.values(watches)) await w.until('c1 named', Date.now(), (s) => s.up === 1 && s.iface && s.names.get(c1) === 'c1');
  });

  afterAll(async () => {
    try {
      for (const w of Object.values(watches)) await w.stop();
      for (const ex of exporters) await ex.app.close();
      for (const c of Object.values(caches)) await c?.stop();
      await proxy?.close();
      await d?.stop(15_000);
      await stopDockerdIn(d.dir, 10_000);
      const rest = await pidsMentioning(DIR);
      for (const p of rest) try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
      await waitExited(rest, 5_000);
      await rm(DIR, { recursive: true, force: true });
    } finally {
      ns?.destroy();
      // the numbers the report quotes
      console.log(`docker-faults: ${JSON.stringify(report)}`);
    }
  });

  test('dockerd killed with SIGKILL and restarted: kernel series throughout, down, backoff, names back', async () => {
    const w = watches.direct!;
    const before = w.last()!.errors;
    const tKill = Date.now();
    process.kill(d.pid()!, 'SIGKILL');
    const down = await w.until('docker_up 0', tKill, (s) => s.up === 0);
    await sleep(5_000);
    const tStart = Date.now();
    await d.start();
    const tBack = Date.now();
    // no live-restore: the restarted daemon restarts c1 in a new sandbox
    const c1 = await sandboxOf('c1');
    const named = await w.until('c1 named again', tBack, (s) => s.up === 1 && s.names.get(c1) === 'c1', RECOVERY_MS + 5_000);
    expectKernelThroughOutage(w.between(tKill, named.t));
    expect(named.t - tBack).toBeLessThanOrEqual(RECOVERY_MS);
    // backoff: the steps grow to the cap instead of retrying every 250 ms
    const steps = retries('direct', tKill, tStart);
    expect(steps.slice(0, 4)).toEqual([250, 500, 1_000, 2_000]);
    const attempts = sum(named.errors) - sum(before);
    expect(attempts).toBeLessThanOrEqual(12);
    report.sigkill = { downDetectedMs: down.t - tKill, daemonStartMs: tBack - tStart, namesBackAfterDaemonMs: named.t - tBack, failedAttempts: attempts, steps, maxScrapeMs: Math.max(...w.between(tKill, named.t).map((s) => s.ms)) };
  });

  test('the socket replaced: daemon stopped, the socket path re-created by a new daemon', async () => {
    const w = watches.direct!;
    const inode = statSync(d.socket).ino;
    const tStop = Date.now();
    await d.stop();
    expect(existsSync(d.socket)).toBe(false);
    await w.until('docker_up 0', tStop, (s) => s.up === 0);
    await sleep(3_000);
    await d.start();
    const tBack = Date.now();
    expect(statSync(d.socket).ino).not.toBe(inode);
    const c1 = await sandboxOf('c1');
    const named = await w.until('c1 named again', tBack, (s) => s.up === 1 && s.names.get(c1) === 'c1', RECOVERY_MS + 5_000);
    expectKernelThroughOutage(w.between(tStop, named.t));
    expect(named.t - tBack).toBeLessThanOrEqual(RECOVERY_MS);
    report.socketReplaced = { namesBackAfterDaemonMs: named.t - tBack, steps: retries('direct', tStop, tBack) };
  });

  test('the events stream cut mid-way, then flapping: reconnects back off, the missed container is named after', async () => {
    const w = watches.proxied!;
    await w.until('proxied up', Date.now(), (s) => s.up === 1);
    // a connection that held for a while: the backoff starts over from its first step
    await sleep(T.backoffMaxMs + 500);
    const eventsBefore = proxy.eventsRequests.length;
    const tCut = Date.now();
    // cut while events flow: a container is created and started during the flapping window
    const flapMs = 5_000;
    const creating = d.docker(['run', '-d', '--name', 'c2', '--init', '--stop-timeout', '1', IMAGE, 'sleep', '100000']);
    expect(proxy.cutEvents({ forMs: flapMs })).toBe(1);
    await creating;
    await sleep(flapMs - (Date.now() - tCut));
    const tHeal = Date.now();
    const reconnects = proxy.eventsRequests.length - eventsBefore;
    const c2 = await sandboxOf('c2');
    const named = await w.until('c2 named', tCut, (s) => s.up === 1 && s.names.get(c2) === 'c2' && s.t >= tHeal, RECOVERY_MS + 5_000);
    expectKernelThroughOutage(w.between(tCut, named.t));
    expect(named.t - tHeal).toBeLessThanOrEqual(RECOVERY_MS);
    // each reconnect is a full resync: 250, 500, 1000, 2000 ms apart, not every 250 ms (20 in 5 s)
    expect(reconnects).toBeLessThanOrEqual(7);
    expect(w.last()!.errors.events_closed ?? 0).toBeGreaterThanOrEqual(2);
    report.eventsCut = { reconnectsIn5s: reconnects, steps: retries('proxied', tCut, tHeal), namesBackAfterHealMs: named.t - tHeal };
  });

  test('a slow API keeps up; a hanging one under an event flood: down, bounded, and back after', async () => {
    const w = watches.proxied!;
    const cache = caches.proxied!;
    // slow: every answer chunk 300 ms late, under the 1 s request timeout
    proxy.delayMs = 300;
    const tSlow = Date.now();
    await sleep(4_000);
    proxy.delayMs = 0;
    const slow = w.between(tSlow);
    expect(slow.every((s) => s.ok && s.iface && s.up === 1)).toBe(true);
    const slowScrapeMs = Math.max(...slow.map((s) => s.ms));
    expect(slowScrapeMs).toBeLessThan(1_000);

    // hang: requests are swallowed, the events stream flows; a flood of containers created and removed
    const flood = 200;
    const eventsBefore = proxy.eventsRequests.length;
    const errorsBefore = w.last()!.errors;
    const tHang = Date.now();
    proxy.hang('requests');
    const ids: string[] = [];
    let maxPending = 0;
    let maxOpen = 0;
    const probe = setInterval(() => {
      maxPending = Math.max(maxPending, cache.pending().ids);
      maxOpen = Math.max(maxOpen, proxy.openConnections());
    }, 20);
    try {
      const heapBefore = process.memoryUsage().heapUsed;
      for (let i = 0; i < flood; i += 8) {
        await Promise.all(Array.from({ length: Math.min(8, flood - i) }, async () => {
          const { Id } = (await dockerApi(d.socket, 'POST', '/containers/create', { Image: IMAGE, Cmd: ['true'] })) as { Id: string };
          ids.push(Id);
        }));
      }
      for (let i = 0; i < ids.length; i += 8) {
        await Promise.all(ids.slice(i, i + 8).map((id) => dockerApi(d.socket, 'DELETE', `/containers/${id}?force=1`)));
      }
      const down = await w.until('docker_up 0 under the hang', tHang, (s) => s.up === 0, 10_000);
      // a hang that takes the events stream with it, and leaves that connection silent for good
      proxy.hang('all');
      // a cache stopped while its events request goes unanswered stops at once
      const late = new DockerStateCache({ host: proxy.host, logger: logger('late'), requestTimeoutMs: 10_000 });
      late.start();
      await sleep(500);
      const tStop = performance.now();
      await late.stop();
      const stopMs = performance.now() - tStop;
      expect(stopMs).toBeLessThan(500);
      await sleep(2_500);
      const tResume = Date.now();
      proxy.resume();
      await d.docker(['run', '-d', '--name', 'c3', '--init', '--stop-timeout', '1', IMAGE, 'sleep', '100000']);
      const c3 = await sandboxOf('c3');
      const named = await w.until('c3 named after the hang', tResume, (s) => s.up === 1 && s.names.get(c3) === 'c3', RECOVERY_MS + 5_000);
      const hang = w.between(tHang, named.t);
      expectKernelThroughOutage(hang);
      expect(named.t - tResume).toBeLessThanOrEqual(RECOVERY_MS + T.timeoutMs);
      // noticed within one light refresh and one request timeout
      expect(down.t - tHang).toBeLessThanOrEqual(T.refreshMs + T.timeoutMs + 1_000);
      // scrapes never waited on the hung API
      const hangScrapeMs = Math.max(...hang.map((s) => s.ms));
      expect(hangScrapeMs).toBeLessThan(1_000);
      // 2 x 200 container events went by: the ids owed a re-read stay under the bound
      expect(maxPending).toBeLessThanOrEqual(T.maxPendingIds + 1);
      await eventually('nothing owed after recovery', () => expect(cache.pending()).toEqual({ ids: 0, waiters: 0 }));
      // timed-out requests do not pile up as open connections
      expect(maxOpen).toBeLessThanOrEqual(16);
      const reconnects = proxy.eventsRequests.length - eventsBefore;
      expect(reconnects).toBeLessThanOrEqual(10);
      // unanswered requests are counted as timeouts, not as an unreachable daemon
      expect((named.errors.timeout ?? 0) - (errorsBefore.timeout ?? 0)).toBeGreaterThanOrEqual(2);
      report.hang = {
        downDetectedMs: down.t - tHang, namesBackAfterResumeMs: named.t - tResume, slowScrapeMaxMs: slowScrapeMs, hangScrapeMaxMs: hangScrapeMs,
        maxPendingIds: maxPending, maxOpenProxyConnections: maxOpen, eventsReconnects: reconnects, stopDuringHangMs: Math.round(stopMs),
        heapDeltaMiB: Math.round((process.memoryUsage().heapUsed - heapBefore) / 1e5) / 10, errors: w.last()!.errors,
      };
    } finally {
      clearInterval(probe);
      proxy.resume();
    }
  });
});
