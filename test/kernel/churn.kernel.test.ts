// A living node: swarm-shaped namespaces (bridge, vxlan with FDB entries, veth
// ports) created and deleted while Prometheus scrapes back to back, and a mass
// teardown under Prometheus' own 2 s timeout. What must hold: no failed scrape
// (vanished namespaces are counted, not failed), no series of anything deleted
// after the next scrape, no namespace fd held between scrapes, fds back to
// baseline, and every scrape answered within its timeout.
import { execFile } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testExporter } from '../helpers/exporter.js';
import { TestNamespaces, sh } from '../helpers/netns.js';
import { one, parseProm, type PromSample } from '../helpers/prom.js';
import { openFds } from '../harness/processes.js';

const run = promisify(execFile);
const prefix = `swc${process.pid}-`;
const nss = new TestNamespaces(prefix); // removes leftovers of an earlier run with this stem
const CYCLES = Number(process.env.CHURN_CYCLES ?? 1000);
const MASS = 160;
const OUT = join(import.meta.dirname, '..', '..', 'test-output');
let scratch: string;
let exporter: Awaited<ReturnType<typeof testExporter>>;

function linkBatch(i: number): string {
  return [
    'link set lo up',
    'link add br0 type bridge', 'link set br0 up',
    `link add vxlan0 type vxlan id ${5000 + (i % 1000)} dstport 4789 nolearning local 203.0.113.1`,
    'link set vxlan0 master br0 up',
    'link add veth0 type veth peer name ceth0', 'link set veth0 master br0 up', 'link set ceth0 up',
    'link add veth1 type veth peer name ceth1', 'link set veth1 master br0 up', 'link set ceth1 up',
  ].join('\n') + '\n';
}
const fdbBatch = ['203.0.113.2', '203.0.113.3', '203.0.113.4']
  .map((ip, p) => `fdb add 02:42:c6:33:72:0${p} dev vxlan0 dst ${ip} self permanent`).join('\n') + '\n';

async function createNs(i: number): Promise<string> {
  const name = `${prefix}${i}`;
  const links = join(scratch, `links-${i}`);
  const fdb = join(scratch, `fdb-${i}`);
  writeFileSync(links, linkBatch(i));
  writeFileSync(fdb, fdbBatch);
  await run('ip', ['netns', 'add', name]);
  await run('ip', ['-n', name, '-b', links]);
  await run('bridge', ['-n', name, '-b', fdb]);
  rmSync(links);
  rmSync(fdb);
  return name;
}
const deleteNs = (name: string) => run('ip', ['netns', 'del', name]);

const fds = openFds;
const namespaceFds = () => fds().filter((l) => l.startsWith('net:['));
const rssMb = () => process.memoryUsage().rss / 2 ** 20;

async function scrape(timeoutSeconds = 10): Promise<{ samples: PromSample[]; ms: number }> {
  const t0 = performance.now();
  const res = await exporter.metrics({ 'x-prometheus-scrape-timeout-seconds': String(timeoutSeconds) });
  return { samples: parseProm(res.body), ms: performance.now() - t0 };
}
const netnsOf = (samples: PromSample[]) => new Set(samples.filter((s) => s.name === 'swarmnet_interface_up').map((s) => s.labels.netns!));

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'swc-'));
  mkdirSync(OUT, { recursive: true });
  exporter = await testExporter({ netnsDirs: ['/run/netns'], netnsFilter: (r) => r.name.startsWith(prefix) });
});
afterAll(async () => {
  await exporter?.app.close();
  for (const n of sh('ip netns list').split('\n').map((l) => l.split(' ')[0]!)) if (n.startsWith(prefix)) sh(`ip netns del ${n} || true`);
  nss.destroy();
  rmSync(scratch, { recursive: true, force: true });
});

describe('churn', () => {
  it(`${CYCLES} create/delete cycles while scraping back to back: no failed scrape, no stale series, no fd kept`, async () => {
    const baselineFds = fds().length;
    const live: string[] = [];
    const deleted = new Map<string, number>(); // name -> the scrape count when it was deleted
    let scrapes = 0;
    let failed = 0;
    let vanished = 0;
    const stale: string[] = [];
    const strayFds: string[] = [];
    const rss: Array<[cycle: number, mb: number]> = [];
    const fdCurve: Array<[cycle: number, fds: number]> = [];
    let cycle = 0;
    let churning = true;

    const scraper = (async () => {
      while (churning) {
        const { samples } = await scrape();
        scrapes++;
        strayFds.push(...namespaceFds()); // between scrapes: none may be held
        if (one(samples, 'swarmnet_scrape_collector_success', { collector: 'netns' }).value !== 1) failed++;
        const seen = netnsOf(samples);
        // deleted before the previous scrape started: must be gone now
        for (const [name, at] of deleted) if (at < scrapes - 1 && seen.has(name)) stale.push(name);
        vanished = samples.find((s) => s.name === 'swarmnet_exporter_errors_total' && s.labels.reason === 'vanished')?.value ?? vanished;
      }
    })();

    for (cycle = 0; cycle < CYCLES; cycle++) {
      live.push(await createNs(cycle));
      if (live.length > 8) {
        const name = live.shift()!;
        await deleteNs(name);
        deleted.set(name, scrapes);
      }
      if (cycle % 50 === 0) {
        rss.push([cycle, Math.round(rssMb())]);
        fdCurve.push([cycle, fds().length]);
      }
    }
    churning = false;
    await scraper;
    for (const name of live) {
      await deleteNs(name);
      deleted.set(name, scrapes);
    }
    await scrape(); // the scrape that sees them vanish
    const afterAll = netnsOf((await scrape()).samples);

    writeFileSync(join(OUT, 'churn-rss.json'), JSON.stringify({ cycles: CYCLES, scrapes, vanished, baselineFds, rssMbByCycle: rss, fdsByCycle: fdCurve, fdsAfter: fds().length }));
    expect(scrapes).toBeGreaterThan(CYCLES / 20);
    expect(failed).toBe(0);
    expect(stale).toEqual([]);
    expect([...afterAll].filter((n) => n.startsWith(prefix))).toEqual([]);
    expect(strayFds).toEqual([]);
    expect(fds().length).toBeLessThanOrEqual(baselineFds + 2);
    // flat after warm-up: a leak of even a few kB per cycle would show over the run
    const warm = rss.filter(([c]) => c >= CYCLES / 4).map(([, mb]) => mb);
    expect(Math.max(...warm) - Math.min(...warm), JSON.stringify(rss)).toBeLessThan(60);
  }, 600_000);

  it(`${MASS} namespaces deleted at once while scraping with a 2 s timeout: every scrape answers in time and names what it missed`, async () => {
    const names: string[] = [];
    for (let i = 0; i < MASS; i++) names.push(await createNs(100_000 + i));
    const before = netnsOf((await scrape(2)).samples);
    expect(names.every((n) => before.has(n))).toBe(true);

    const batch = join(scratch, 'del.batch');
    writeFileSync(batch, names.map((n) => `netns del ${n}`).join('\n') + '\n');
    const teardown = run('ip', ['-b', batch]);
    const timings: number[] = [];
    const missed: PromSample[] = [];
    let done = false;
    void teardown.finally(() => { done = true; });
    while (!done || timings.length < 3) {
      const { samples, ms } = await scrape(2);
      timings.push(ms);
      expect(one(samples, 'swarmnet_scrape_collector_success', { collector: 'netns' }).value, `scrape ${timings.length}`).toBe(1);
      missed.push(...samples.filter((s) => s.name === 'swarmnet_netns_read_failures'));
    }
    await teardown;
    const after = netnsOf((await scrape(2)).samples);
    expect(names.filter((n) => after.has(n))).toEqual([]);
    // the exporter's budget is the timeout less a margin: every answer came before Prometheus gave up
    expect(Math.max(...timings), JSON.stringify(timings)).toBeLessThan(2000);
    // what it could not read it named, by reason (vanished while being read, or not reached before the deadline)
    for (const s of missed) expect(['vanished', 'deadline']).toContain(s.labels.reason);
    expect(namespaceFds()).toEqual([]);
  }, 300_000);
});
