// A one-node swarm: the overlay has no remote peers at all, which must read as
// "0 expected, 0 present, consistent", not as missing data.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { allCollectors } from '../../src/collectors/index.js';
import { DockerStateCache } from '../../src/docker/cache.js';
import { testExporter } from '../harness/exporter.js';
import { type PromSample, one, parseProm, pick } from '../harness/prom.js';
import { type Swarm, startSwarm } from '../harness/swarm.js';

describe('a one-node swarm', { timeout: 60_000 }, () => {
  let swarm: Swarm | undefined;
  let cache: DockerStateCache | undefined;
  let exporter: Awaited<ReturnType<typeof testExporter>> | undefined;
  let networkId = '';

  beforeAll(async () => {
    swarm = await startSwarm({ nodes: 1 });
    await swarm.docker(['network', 'create', '-d', 'overlay', '--attachable', '--subnet', '198.19.77.0/24', 'solo']);
    await swarm.createService({ name: 'web', networks: ['solo'], replicas: 2, endpointMode: 'dnsrr' });
    await swarm.waitTasks('web', 2);
    networkId = await swarm.docker(['network', 'inspect', '-f', '{{.Id}}', 'solo']);
    cache = new DockerStateCache({ host: swarm.manager.host, logger: pino({ level: 'silent' }) });
    cache.start();
    expect(await cache.whenSynced(20_000)).toBe(true);
    exporter = await testExporter({
      netnsDirs: [swarm.manager.netnsDir],
      collectors: allCollectors(),
    }, { docker: cache });
  });

  afterAll(async () => {
    try {
      await exporter?.app.close();
      await cache?.stop();
    } finally {
      await swarm?.down();
    }
  });

  test('no peers: expected 0, present 0, no mismatch; tasks named', async () => {
    const m: PromSample[] = parseProm((await exporter!.metrics()).body);
    const base = { network: 'solo', netns: `1-${networkId.slice(0, 10)}` };
    expect(one(m, 'swarmnet_overlay_peers_expected', base).value).toBe(0);
    expect(one(m, 'swarmnet_overlay_peers_present', base).value).toBe(0);
    expect(pick(m, 'swarmnet_overlay_peer_mismatch', {})).toEqual([]);
    expect(pick(m, 'swarmnet_overlay_l2_inconsistencies', base).map((s) => s.value)).toEqual([0, 0]);
    expect(one(m, 'swarmnet_swarm_node_info', {}).labels).toMatchObject({ node: 'node1', role: 'manager', state: 'ready' });
    const tasks = (await swarm!.docker(['ps', '--format', '{{.Label "com.docker.swarm.task.name"}}'])).split('\n').sort();
    expect(pick(m, 'swarmnet_netns_info', { netns_kind: 'sandbox', service: 'web' }).map((s) => s.labels.task).sort()).toEqual(tasks);
  });
});
