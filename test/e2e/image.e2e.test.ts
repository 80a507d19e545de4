// The Dockerfile, built and run for real, with no registry:
// - built by test/harness/exporter-image.ts on a private dockerd (no bridge, no
//   iptables, never pulls: it never touches the machine's default daemon or
//   /var/run/docker.sock), with base images made from this machine's files
//   (test/harness/node-image.sh): swarmnet/node-build:local for the build stage,
//   swarmnet/node-distroless:local (node at /nodejs/bin/node and its libraries
//   only, laid out as gcr.io/distroless/nodejs* is) for the runtime stage,
//   and npm reaching the registry through the host network, like npm ci on the host;
// - deploy/stack.yml deploys it on a one-node swarm (test/harness/swarm.ts),
//   and Prometheus with deploy/prometheus/prometheus.yml discovers and scrapes it;
// - the image holds only the runtime files (no shell, no package manager, no
//   type declarations or documents in node_modules), carries the OCI labels,
//   and runs: the container (cap_drop ALL, SYS_ADMIN and NET_ADMIN, read-only
//   root file system, namespace folder bind-mounted with rslave propagation, a
//   namespace file bind-mounted as the host's) reports a namespace created
//   after it started and the host's interfaces as netns="host", and its
//   HEALTHCHECK (a static binary, no second node) turns healthy; its size is
//   printed, layer by layer.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHIPPED_NODE_FLAGS } from '../../src/bench/exporter-process.js';
import { type ExporterImage, buildExporterImage } from '../harness/exporter-image.js';
import { waitForExporter } from '../harness/exporter.js';
import { curl } from '../harness/http.js';
import { bindNamespace, makeShared } from '../harness/mounts.js';
import { TestNamespaces } from '../harness/netns.js';
import { ROOT, packageVersion } from '../harness/paths.js';
import { freePort } from '../harness/ports.js';
import { parseProm, pick } from '../harness/prom.js';
import { type Prometheus, startPrometheus } from '../harness/prometheus.js';
import { run } from '../harness/run.js';
import { E2E_ROOT, type Swarm, startSwarm } from '../harness/swarm.js';
import { waitFor } from '../harness/wait.js';

const CONTAINER = 'swarmnet-image-e2e';
const VERSION = packageVersion();

const nets = new TestNamespaces(`swnimg${process.pid % 1000}-`);
let image: ExporterImage;
/** namespace files for the container, on a shared mount in the build daemon's folder */
let netnsDir = '';

beforeAll(async () => {
  image = await buildExporterImage({ revision: 'e2etest' });
  // rslave needs a shared (or slave) source mount, as / is on systemd hosts
  netnsDir = join(image.daemon.dir, 'netns');
  await mkdir(netnsDir, { recursive: true });
  await makeShared(netnsDir);
  process.stdout.write(`image e2e: base images ${image.baseSeconds.toFixed(1)} s, docker build ${image.buildSeconds.toFixed(1)} s\n`);
}, 900_000);

afterAll(async () => {
  await image?.docker(['rm', '-f', CONTAINER], 30_000).catch(() => ''); // not there
  nets.destroy();
  await image?.stop(); // the daemon, and the mounts under its folder
}, 60_000);

describe('the Docker image', () => {
  it('defaults its VERSION label to the package version', async () => {
    expect(await readFile(join(ROOT, 'Dockerfile'), 'utf8')).toContain(`ARG VERSION=${VERSION}\n`);
  });

  it('holds the runtime files only, runs as root with node as entrypoint, with a health check and OCI labels', async () => {
    const size = Number(await image.docker(['image', 'inspect', image.image, '--format', '{{.Size}}']));
    const history = await image.docker(['history', '--no-trunc', '--format', '{{.Size}}\t{{.CreatedBy}}', image.image]);
    process.stdout.write(`image e2e: image size ${(size / 1e6).toFixed(1)} MB; layers:\n${history.split('\n').filter((l) => !l.startsWith('0B')).map((l) => `  ${l.slice(0, 140)}`).join('\n')}\n`);
    const cfg = JSON.parse(await image.docker(['image', 'inspect', image.image, '--format', '{{json .Config}}'])) as {
      Entrypoint: string[]; User: string; Labels: Record<string, string>; Healthcheck: { Test: string[] }; WorkingDir: string; ExposedPorts: Record<string, unknown>;
    };
    // node with the heap settings the exporter ships with (BENCHMARKS.md); the tests below run the image with them
    expect(cfg.Entrypoint).toEqual(['/nodejs/bin/node', ...SHIPPED_NODE_FLAGS, 'dist/main.js']);
    expect(cfg.WorkingDir).toBe('/app');
    expect(cfg.User).toBe('0:0');
    expect(cfg.Healthcheck.Test).toEqual(['CMD', '/app/healthcheck']);
    expect(Object.keys(cfg.ExposedPorts)).toEqual(['9477/tcp']);
    expect(cfg.Labels).toMatchObject({
      'org.opencontainers.image.title': 'swarmnet-exporter',
      'org.opencontainers.image.revision': 'e2etest',
      'org.opencontainers.image.version': VERSION,
      'org.opencontainers.image.licenses': 'Apache-2.0',
    });
    const id = await image.docker(['create', image.image]);
    let files: string[];
    try {
      files = (await run('sh', ['-c', `docker export ${id} | tar -t`], { env: image.daemon.env, timeoutMs: 120_000 })).stdout.split('\n');
    } finally {
      await image.docker(['rm', id]);
    }
    const app = files.filter((f) => f.startsWith('app/')).map((f) => f.replace(/\/$/, ''));
    const top = new Set(app.map((f) => f.split('/')[1]).filter(Boolean));
    expect([...top].sort()).toEqual(['build', 'dist', 'healthcheck', 'node_modules', 'package.json']);
    expect(app).toContain('app/dist/main.js');
    expect(app).toContain('app/dist/web/healthcheck.js');
    expect(app).toContain('app/build/Release/swarmnet_netns.node');
    expect(app.filter((f) => f.startsWith('app/build')).sort()).toEqual(['app/build', 'app/build/Release', 'app/build/Release/swarmnet_netns.node']);
    expect(app).toContain('app/node_modules/fastify/package.json');
    // dev dependencies pruned
    for (const dev of ['typescript', 'vitest', 'node-gyp']) expect(app.some((f) => f.startsWith(`app/node_modules/${dev}/`)), dev).toBe(false);
    // only what runs: no type declarations, source maps, documents or tests in node_modules
    const modules = app.filter((f) => f.startsWith('app/node_modules/'));
    expect(modules.filter((f) => /\.(d\.[mc]?ts|map|md)$/.test(f) || /\/(tests?|__tests__|examples?|docs)\//.test(f) || f.startsWith('app/node_modules/@types/'))).toEqual([]);
    // nothing but node and its libraries from the base: no shell, no package manager
    for (const f of ['bin/sh', 'usr/bin/sh', 'bin/bash', 'usr/bin/bash', 'usr/bin/apt', 'usr/bin/apt-get', 'usr/bin/dpkg', 'usr/bin/busybox']) expect(files, f).not.toContain(f);
    expect(files).toContain('nodejs/bin/node');
  });

  it('runs with cap_drop ALL, SYS_ADMIN and NET_ADMIN on a read-only root, sees namespaces created after it started (rslave) and the mounted host namespace, and turns healthy', async () => {
    const port = await freePort();
    // the host's namespace as deploy/stack.yml gives it: a namespace file bind-mounted at /host/proc/1/ns/net
    const hostNs = nets.add('host');
    await run('ip', ['-n', hostNs, 'link', 'add', 'underlay0', 'type', 'bridge']);
    await image.docker([
      'run', '-d', '--name', CONTAINER, '--network', 'host',
      '--cap-drop', 'ALL', '--cap-add', 'SYS_ADMIN', '--cap-add', 'NET_ADMIN', '--read-only',
      '--mount', `type=bind,source=${netnsDir},target=/var/run/docker/netns,readonly,bind-propagation=rslave`,
      '--mount', `type=bind,source=/run/netns/${hostNs},target=/host/proc/1/ns/net,readonly`,
      '--health-interval', '1s', '--health-start-period', '1s',
      image.image, `--web.listen-address=127.0.0.1:${port}`, '--netns.host=/host/proc/1/ns/net', '--docker.host=unix:///nonexistent/docker.sock',
    ]);
    const url = `http://127.0.0.1:${port}`;
    let m = parseProm(await waitForExporter(url, { path: '/metrics', timeoutMs: 20_000 }));
    expect(pick(m, 'swarmnet_build_info', {})[0]?.labels).toMatchObject({ version: VERSION, revision: 'e2etest' });
    expect(pick(m, 'swarmnet_interface_info', { netns: 'host' }).map((s) => s.labels.interface).sort()).toEqual(['underlay0']); // loopbacks are left out by default
    expect(pick(m, 'swarmnet_interface_info', {}).filter((s) => s.labels.netns !== 'host')).toEqual([]);

    // a namespace Docker would create later: an nsfs bind mount under the host folder
    const ns = nets.add('late');
    await run('ip', ['-n', ns, 'link', 'add', 'br0', 'type', 'bridge']);
    const file = join(netnsDir, '1-e2elate01');
    await bindNamespace(`/run/netns/${ns}`, file);
    try {
      m = parseProm(await curl(`${url}/metrics`));
      const br = pick(m, 'swarmnet_interface_info', { netns: '1-e2elate01', interface: 'br0' });
      expect(br).toHaveLength(1);
      expect(br[0]!.labels).toMatchObject({ netns_kind: 'overlay', kind: 'bridge' });
      expect(pick(m, 'swarmnet_scrape_collector_success', { collector: 'netdev' })[0]?.value).toBe(1);

      const status = await waitFor('the container to turn healthy', async () => {
        const st = await image.docker(['inspect', CONTAINER, '--format', '{{.State.Health.Status}}']);
        return st === 'healthy' ? st : undefined;
      }, { timeoutMs: 30_000, intervalMs: 500 });
      expect(status).toBe('healthy');
    } finally {
      await run('umount', [file]);
      await rm(file, { force: true });
    }
  });
});

// ---------------------------------------------------------------------------
// deploy/stack.yml on a real (one-node) swarm, and deploy/prometheus/prometheus.yml
// discovering it: the dockerd of the node runs in a network namespace of its
// own, so Prometheus runs (and is queried) in that namespace too.
describe('deploy/stack.yml on a swarm, scraped through deploy/prometheus/prometheus.yml', () => {
  let swarm: Swarm | undefined;
  let promDir = '';
  let prom: Prometheus | undefined;
  const promPort = 19090;
  let sharedRoot = false;

  beforeAll(async () => {
    // rslave needs the namespace folder on a shared (or slave) mount, as / is
    // on systemd hosts; / is private here, so the swarm's folder becomes a
    // shared mount before its dockerd makes any namespace file
    await mkdir(E2E_ROOT, { recursive: true });
    sharedRoot = await makeShared(E2E_ROOT, { recursive: true });
    swarm = await startSwarm({ nodes: 1 });
    const node = swarm.manager;
    // the image, from the build daemon into the node's
    const tar = join(image.daemon.dir, 'image.tar');
    await image.save(tar);
    await node.docker(['load', '-i', tar], { timeoutMs: 120_000 });
    await rm(tar, { force: true });
    await node.docker(['stack', 'deploy', '--resolve-image', 'never', '-c', join(ROOT, 'deploy/stack.yml'), 'swarmnet'], {
      timeoutMs: 60_000,
      // the node's "host" namespace is its dockerd's (the machine's /proc/1/ns/net is another's here)
      env: { SWARMNET_IMAGE: image.image, SWARMNET_DOCKER_SOCKET: node.socket, SWARMNET_NETNS_DIR: node.netnsDir, SWARMNET_HOST_NETNS: `/proc/${node.pid()}/ns/net` },
    });
  }, 300_000);

  afterAll(async () => {
    const t0 = Date.now();
    const step = (what: string) => process.stdout.write(`stack e2e teardown: ${what} at ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    try {
      await prom?.stop(5_000);
      if (promDir) await rm(promDir, { recursive: true, force: true });
      step('prometheus stopped');
      if (swarm) {
        // remove the stack first so that dockerd has no task to stop on its way down
        await swarm.manager.docker(['stack', 'rm', 'swarmnet'], { allowFailure: true, timeoutMs: 30_000 });
        await waitFor('the exporter task gone', async () =>
          (await swarm!.manager.docker(['ps', '-aq', '-f', 'label=com.docker.swarm.service.name=swarmnet_exporter'])) === '',
        { timeoutMs: 60_000, intervalMs: 1_000 }).catch(() => undefined);
        step('stack removed');
      }
    } finally {
      await swarm?.down();
      step('swarm down');
      if (sharedRoot) await run('umount', ['-l', E2E_ROOT]);
    }
  }, 240_000);

  it('runs one healthy exporter task per node, with the capabilities, mounts and host-mode port of the stack', async () => {
    const node = swarm!.manager;
    const cid = await waitFor('a healthy exporter task', async () => {
      const ids = (await node.docker(['ps', '-q', '-f', 'label=com.docker.swarm.service.name=swarmnet_exporter'])).split('\n').filter(Boolean);
      if (ids.length !== 1) return undefined;
      const health = await node.docker(['inspect', ids[0]!, '--format', '{{.State.Health.Status}}']);
      return health === 'healthy' ? ids[0] : undefined;
    }, { timeoutMs: 120_000, intervalMs: 1_000 });
    const host = JSON.parse(await node.docker(['inspect', cid, '--format', '{{json .HostConfig}}'])) as { CapAdd: string[]; CapDrop: string[]; ReadonlyRootfs: boolean; Mounts: Array<{ Target: string; ReadOnly: boolean; BindOptions?: { Propagation: string } }>; NetworkMode: string };
    expect(host.CapAdd.sort()).toEqual(['CAP_NET_ADMIN', 'CAP_SYS_ADMIN']);
    expect(host.CapDrop).toEqual(['ALL']);
    expect(host.ReadonlyRootfs).toBe(true);
    expect(host.Mounts.find((m) => m.Target === '/host/proc/1/ns/net')!.ReadOnly).toBe(true);
    const netns = host.Mounts.find((m) => m.Target === '/var/run/docker/netns')!;
    expect(netns.BindOptions?.Propagation).toBe('rslave');
    expect(host.Mounts.find((m) => m.Target === '/var/run/docker.sock')!.ReadOnly).toBe(true);
    const text = await curl(`http://${node.address}:9477/metrics`, { netnsFile: node.netnsFile, timeoutMs: 30_000 });
    const m = parseProm(text);
    expect(pick(m, 'swarmnet_docker_up', {})[0]?.value).toBe(1);
    expect(pick(m, 'swarmnet_node_info', {})[0]?.labels).toMatchObject({ hostname: node.name, role: 'manager' });
    // the ingress network's namespaces, made by this dockerd and seen through the rslave mount
    expect(pick(m, 'swarmnet_netns_discovered', { netns_kind: 'ingress_sbox' })[0]?.value).toBe(1);
    expect(pick(m, 'swarmnet_interface_info', { netns_kind: 'overlay', network: 'ingress', kind: 'vxlan' })).toHaveLength(1);
    // the node's own namespace, as the host's: its underlay interface and docker_gwbridge
    const links = (JSON.parse(await node.nsenter(node.netnsFile, ['ip', '-j', 'link', 'show'])) as Array<{ ifname: string }>).map((l) => l.ifname).filter((i) => i !== 'lo').sort(); // loopbacks are left out by default
    const hostIfs = pick(m, 'swarmnet_interface_info', { netns: 'host' }).map((s) => s.labels.interface!).sort();
    expect(hostIfs).toEqual(links);
    expect(hostIfs).toContain('docker_gwbridge');
  }, 180_000);

  it('is discovered by dockerswarm_sd (role tasks) and scraped at <node address>:9477 with the node label', async () => {
    const node = swarm!.manager;
    promDir = join(image.daemon.dir, `prometheus-${process.pid}`);
    await mkdir(join(promDir, 'rules'), { recursive: true });
    const cfg = (await readFile(join(ROOT, 'deploy/prometheus/prometheus.yml'), 'utf8'))
      .replace('host: unix:///var/run/docker.sock', `host: unix://${node.socket}`)
      .replace('refresh_interval: 30s', 'refresh_interval: 5s')
      .replace('- targets: ["localhost:9090"]', `- targets: ["127.0.0.1:${promPort}"]`);
    expect(cfg).toContain(`unix://${node.socket}`);
    await writeFile(join(promDir, 'rules', 'swarmnet.rules.yml'), await readFile(join(ROOT, 'deploy/prometheus/rules/swarmnet.rules.yml')));
    // rule_files (rules/*.yml) are relative to the configuration file: promDir/rules
    prom = await startPrometheus({ netnsFile: node.netnsFile, dir: promDir, port: promPort, config: parseYaml(cfg) });
    const up = await waitFor('the exporter target up in Prometheus', async () => {
      const r = await prom!.series('up{job="swarmnet"}');
      return r.length > 0 && r.every((s) => s.value[1] === '1') ? r : undefined;
    }, { timeoutMs: 120_000, intervalMs: 1_000 });
    expect(up).toHaveLength(1);
    expect(up[0]!.metric).toMatchObject({ job: 'swarmnet', instance: `${node.address}:9477`, node: node.name, swarm_service: 'swarmnet_exporter' });
    // the manager's node list: its node label became exported_node, and the coverage rule finds every node scraped
    const nodes = await prom!.series('swarmnet_swarm_node_info{job="swarmnet"}');
    expect(nodes.map((s) => [s.metric.node, s.metric.exported_node])).toEqual([[node.name, node.name]]);
    const rule = (await import('../unit/promql-exprs.js')).shippedExprs().find((e) => e.source.endsWith('SwarmnetNodeWithoutExporter'))!;
    expect(await prom!.series(rule.expr)).toEqual([]);
    // and without the exporter's target, the same join names the node
    expect((await prom!.series(rule.expr.replace('up{job="swarmnet"}', 'up{job="none"}'))).map((s) => s.metric.node)).toEqual([node.name]);
  }, 180_000);
});
