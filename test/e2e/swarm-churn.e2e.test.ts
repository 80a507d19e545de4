// Churn on a real two-node swarm, scraped back to back on node1: services scaled
// up and down, removed and created again, over an overlay network (tasks come
// and go on both nodes, sandboxes and lb_ endpoints with them). What must hold:
// no failed scrape (a namespace that vanishes mid-read is counted, not failed),
// no series of a removed task's sandbox after the next scrape, no namespace fd
// held between scrapes, fds back to baseline.
import { readdirSync } from 'node:fs';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { allCollectors } from '../../src/collectors/index.js';
import { DockerStateCache } from '../../src/docker/cache.js';
import { testExporter } from '../harness/exporter.js';
import { openFds } from '../harness/processes.js';
import { type PromSample, one, parseProm } from '../harness/prom.js';
import { type Swarm, type SwarmNode, startSwarm } from '../harness/swarm.js';

const ROUNDS = Number(process.env.SWARM_CHURN_ROUNDS ?? 4);

const fds = openFds;

describe('churn on a real two-node swarm', () => {
  let swarm: Swarm | undefined;
  let node1: SwarmNode;
  let cache: DockerStateCache | undefined;
  let exporter: Awaited<ReturnType<typeof testExporter>> | undefined;

  beforeAll(async () => {
    swarm = await startSwarm({ nodes: 2 });
    node1 = swarm.manager;
    await swarm.docker(['network', 'create', '-d', 'overlay', '--attachable', '--subnet', '198.19.79.0/24', 'churnnet']);
    cache = new DockerStateCache({ host: node1.host, logger: pino({ level: 'silent' }), refreshIntervalMs: 1_000, resyncIntervalMs: 5_000 });
    cache.start();
    expect(await cache.whenSynced(20_000)).toBe(true);
    exporter = await testExporter({ netnsDirs: [node1.netnsDir], hostNetns: node1.netnsFile, collectors: allCollectors() }, { docker: cache });
  }, 300_000);

  afterAll(async () => {
    try {
      await exporter?.app.close();
      await cache?.stop();
    } finally {
      await swarm?.down();
    }
  }, 240_000);

  test(`${ROUNDS} rounds of scale up, scale down, remove and create while scraping back to back`, async () => {
    const baseline = fds().length;
    let scrapes = 0;
    let failed = 0;
    const strayFds: string[] = [];
    const seenSandboxes = new Set<string>();
    let churning = true;
    const scrape = async (): Promise<PromSample[]> => {
      const res = await exporter!.metrics();
      const samples = parseProm(res.body);
      scrapes++;
      if (one(samples, 'swarmnet_scrape_collector_success', { collector: 'netns' }).value !== 1) failed++;
      for (const s of samples) if (s.name === 'swarmnet_netns_info' && s.labels.netns_kind === 'sandbox') seenSandboxes.add(s.labels.netns!);
      return samples;
    };
    const scraper = (async () => {
      while (churning) {
        await scrape();
        strayFds.push(...fds().filter((l) => l.startsWith('net:[')));
      }
    })();

    try {
      for (let round = 0; round < ROUNDS; round++) {
        await swarm!.createService({ name: 'churn', networks: ['churnnet'], replicas: 2 });
        await swarm!.waitTasks('churn', 2, 120_000);
        await swarm!.docker(['service', 'scale', '-d', 'churn=4']);
        await swarm!.waitTasks('churn', 4, 120_000);
        await swarm!.docker(['service', 'scale', '-d', 'churn=1']);
        await swarm!.waitTasks('churn', 1, 120_000);
        await swarm!.docker(['service', 'rm', 'churn']);
      }
    } finally {
      churning = false;
      await scraper;
    }
    // the service is gone: once its sandboxes are, no series of theirs is left
    const live = () => new Set(readdirSync(node1.netnsDir));
    await expect.poll(async () => {
      const samples = await scrape();
      const files = live();
      return samples.filter((s) => s.labels.netns_kind === 'sandbox' && s.labels.netns !== undefined && !files.has(s.labels.netns)).map((s) => `${s.name} ${s.labels.netns}`);
    }, { timeout: 30_000, interval: 500 }).toEqual([]);

    process.stdout.write(`swarm churn: ${ROUNDS} rounds, ${scrapes} scrapes, ${seenSandboxes.size} task sandboxes seen on node1\n`);
    expect(scrapes).toBeGreaterThan(ROUNDS * 5);
    expect(seenSandboxes.size).toBeGreaterThanOrEqual(ROUNDS * 2);
    expect(failed).toBe(0);
    expect(strayFds).toEqual([]);
    expect(fds().length).toBeLessThanOrEqual(baseline + 4);
  }, 900_000);
});
