// The Dockerfile, built and run for real, with no registry:
// - a dockerd of the test's own (socket, data root, exec root, pidfile and
//   containerd namespaces under /tmp/swarmnet-img/, pulls blocked by a proxy on
//   a closed loopback port, no bridge and no iptables: it never touches the
//   machine's default daemon or /var/run/docker.sock);
// - base images made from this machine's files (test/harness/node-image.sh):
//   swarmnet/node-build:local for the build stage, swarmnet/node-base:local
//   (node and its libraries only) for the runtime stage;
// - `docker build` with those as NODE_IMAGE / BUILD_IMAGE (npm reaches the
//   registry through the host network, like npm ci on the host);
// - deploy/stack.yml deploys it on a one-node swarm (test/harness/swarm.ts),
//   and Prometheus with deploy/prometheus/prometheus.yml discovers and scrapes it;
// - the image holds only the runtime files, carries the OCI labels, and runs:
//   the container (capabilities SYS_ADMIN and NET_ADMIN, namespace folder
//   bind-mounted with rslave propagation) reports a namespace created after it
//   started, and its HEALTHCHECK turns healthy.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../harness/exporter-target.js';
import { E2E_ROOT, type Swarm, startSwarm } from '../harness/swarm.js';
import { TestNamespaces } from '../helpers/netns.js';
import { parseProm, pick } from '../helpers/prom.js';

const ROOT = join(import.meta.dirname, '..', '..');
const BASE = '/tmp/swarmnet-img';
const SOCK = join(BASE, 'docker.sock');
const NETNS_DIR = join(BASE, 'netns');
const NO_PULL = { HTTP_PROXY: 'http://127.0.0.1:9', HTTPS_PROXY: 'http://127.0.0.1:9', http_proxy: 'http://127.0.0.1:9', https_proxy: 'http://127.0.0.1:9', NO_PROXY: '', no_proxy: '' };
const ENV = { ...process.env, DOCKER_HOST: `unix://${SOCK}`, DOCKER_BUILDKIT: '0' };
const IMAGE = 'swarmnet-exporter:e2e';
const CONTAINER = 'swarmnet-image-e2e';
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

const docker = (args: string[], timeoutMs = 120_000) =>
  execFileSync('docker', args, { env: ENV, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 256 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'] }).trim();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m === dir || m.startsWith(`${dir}/`));
}

function stopDaemon() {
  const pidfile = join(BASE, 'docker.pid');
  if (existsSync(pidfile)) {
    const pid = Number(readFileSync(pidfile, 'utf8'));
    try {
      process.kill(pid, 'SIGTERM');
      for (let i = 0; i < 150; i++) {
        process.kill(pid, 0);
        execFileSync('sleep', ['0.1']);
      }
      process.kill(pid, 'SIGKILL');
    } catch { /* gone */ }
  }
  for (const m of mountsUnder(BASE).reverse()) {
    try { execFileSync('umount', ['-l', m]); } catch { /* gone */ }
  }
}

const nets = new TestNamespaces(`swnimg${process.pid % 1000}-`);
let buildSeconds = 0;
let baseSeconds = 0;

beforeAll(async () => {
  stopDaemon(); // a daemon or mounts left by an interrupted run
  mkdirSync(NETNS_DIR, { recursive: true });
  const daemon = spawn('dockerd', [
    '-H', `unix://${SOCK}`, '--data-root', join(BASE, 'data'), '--exec-root', join(BASE, 'exec'),
    '--pidfile', join(BASE, 'docker.pid'),
    '--containerd-namespace', 'swarmnet-img', '--containerd-plugins-namespace', 'swarmnet-img-plugins',
    '--bridge', 'none', '--iptables=false', '--ip-masq=false',
  ], { env: { ...process.env, ...NO_PULL }, stdio: ['ignore', 'ignore', 'ignore'], detached: true });
  daemon.unref();
  for (let i = 0; ; i++) {
    try {
      docker(['version', '--format', '{{.Server.Version}}'], 5000);
      break;
    } catch (err) {
      if (i > 150) throw new Error(`dockerd did not come up: ${(err as Error).message}`);
      await sleep(200);
    }
  }
  // rslave needs a shared (or slave) source mount, as / is on systemd hosts
  if (!mountsUnder(NETNS_DIR).includes(NETNS_DIR)) execFileSync('mount', ['--bind', NETNS_DIR, NETNS_DIR]);
  execFileSync('mount', ['--make-shared', NETNS_DIR]);

  let t = Date.now();
  execFileSync('bash', [join(ROOT, 'test/harness/node-image.sh'), 'all'], { env: ENV, stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
  baseSeconds = (Date.now() - t) / 1000;

  const cafile = execFileSync('npm', ['config', 'get', 'cafile'], { encoding: 'utf8' }).trim();
  t = Date.now();
  docker([
    'build', '--network', 'host', '--pull=false',
    '--build-arg', 'NODE_IMAGE=swarmnet/node-base:local', '--build-arg', 'BUILD_IMAGE=swarmnet/node-build:local',
    ...(cafile && cafile !== 'null' && cafile !== 'undefined' ? ['--build-arg', `NPM_CONFIG_CAFILE=${cafile}`] : []),
    '--build-arg', 'REVISION=e2etest', '--build-arg', `VERSION=${VERSION}`,
    '-t', IMAGE, ROOT,
  ], 600_000);
  buildSeconds = (Date.now() - t) / 1000;
  process.stdout.write(`image e2e: base images ${baseSeconds.toFixed(1)} s, docker build ${buildSeconds.toFixed(1)} s\n`);
}, 900_000);

afterAll(() => {
  try { docker(['rm', '-f', CONTAINER], 30_000); } catch { /* not there */ }
  try { docker(['image', 'prune', '-f'], 60_000); } catch { /* daemon gone */ }
  nets.destroy();
  stopDaemon();
}, 60_000);

describe('the Docker image', () => {
  it('defaults its VERSION label to the package version', () => {
    expect(readFileSync(join(ROOT, 'Dockerfile'), 'utf8')).toContain(`ARG VERSION=${VERSION}\n`);
  });

  it('holds the runtime files only, runs as root with node as entrypoint, with a health check and OCI labels', () => {
    const cfg = JSON.parse(docker(['image', 'inspect', IMAGE, '--format', '{{json .Config}}'])) as {
      Entrypoint: string[]; User: string; Labels: Record<string, string>; Healthcheck: { Test: string[] }; WorkingDir: string; ExposedPorts: Record<string, unknown>;
    };
    expect(cfg.Entrypoint).toEqual(['node', 'dist/main.js']);
    expect(cfg.WorkingDir).toBe('/app');
    expect(cfg.User).toBe('0:0');
    expect(cfg.Healthcheck.Test).toEqual(['CMD', 'node', 'dist/web/healthcheck.js']);
    expect(Object.keys(cfg.ExposedPorts)).toEqual(['9477/tcp']);
    expect(cfg.Labels).toMatchObject({
      'org.opencontainers.image.title': 'swarmnet-exporter',
      'org.opencontainers.image.revision': 'e2etest',
      'org.opencontainers.image.version': VERSION,
      'org.opencontainers.image.licenses': 'Apache-2.0',
    });
    const id = docker(['create', IMAGE]);
    let files: string[];
    try {
      files = execFileSync('sh', ['-c', `docker export ${id} | tar -t`], { env: ENV, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 }).split('\n');
    } finally {
      docker(['rm', id]);
    }
    const app = files.filter((f) => f.startsWith('app/')).map((f) => f.replace(/\/$/, ''));
    const top = new Set(app.map((f) => f.split('/')[1]).filter(Boolean));
    expect([...top].sort()).toEqual(['build', 'dist', 'node_modules', 'package.json']);
    expect(app).toContain('app/dist/main.js');
    expect(app).toContain('app/dist/web/healthcheck.js');
    expect(app).toContain('app/build/Release/swarmnet_netns.node');
    expect(app.filter((f) => f.startsWith('app/build')).sort()).toEqual(['app/build', 'app/build/Release', 'app/build/Release/swarmnet_netns.node']);
    expect(app).toContain('app/node_modules/fastify/package.json');
    // dev dependencies pruned
    for (const dev of ['typescript', 'vitest', 'node-gyp']) expect(app.some((f) => f.startsWith(`app/node_modules/${dev}/`)), dev).toBe(false);
    // nothing but node and its libraries from the base: no shell
    expect(files).not.toContain('bin/sh');
    expect(files).not.toContain('usr/bin/sh');
  });

  it('runs with SYS_ADMIN and NET_ADMIN, sees namespaces created after it started (rslave), and turns healthy', async () => {
    const port = await freePort();
    docker([
      'run', '-d', '--name', CONTAINER, '--network', 'host',
      '--cap-drop', 'ALL', '--cap-add', 'SYS_ADMIN', '--cap-add', 'NET_ADMIN',
      '--mount', `type=bind,source=${NETNS_DIR},target=/var/run/docker/netns,readonly,bind-propagation=rslave`,
      '--health-interval', '1s', '--health-start-period', '1s',
      IMAGE, `--web.listen-address=127.0.0.1:${port}`, '--netns.host=none', '--docker.host=unix:///nonexistent/docker.sock',
    ]);
    const metrics = async () => {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      return parseProm(await res.text());
    };
    let m = [] as ReturnType<typeof parseProm>;
    for (let i = 0; i < 100; i++) {
      try { m = await metrics(); break; } catch { await sleep(200); }
    }
    expect(pick(m, 'swarmnet_build_info', {})[0]?.labels).toMatchObject({ version: VERSION, revision: 'e2etest' });
    expect(pick(m, 'swarmnet_interface_up', {}).length).toBe(0);

    // a namespace Docker would create later: an nsfs bind mount under the host folder
    const ns = nets.add('late');
    execFileSync('ip', ['-n', ns, 'link', 'add', 'br0', 'type', 'bridge']);
    const file = join(NETNS_DIR, '1-e2elate01');
    writeFileSync(file, '');
    execFileSync('mount', ['--bind', `/run/netns/${ns}`, file]);
    try {
      m = await metrics();
      const br = pick(m, 'swarmnet_interface_info', { netns: '1-e2elate01', interface: 'br0' });
      expect(br).toHaveLength(1);
      expect(br[0]!.labels).toMatchObject({ netns_kind: 'overlay', kind: 'bridge' });
      expect(pick(m, 'swarmnet_scrape_collector_success', { collector: 'netdev' })[0]?.value).toBe(1);

      let status = '';
      for (let i = 0; i < 60 && status !== 'healthy'; i++) {
        status = docker(['inspect', CONTAINER, '--format', '{{.State.Health.Status}}']);
        if (status !== 'healthy') await sleep(500);
      }
      expect(status).toBe('healthy');
    } finally {
      execFileSync('umount', [file]);
      execFileSync('rm', ['-f', file]);
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
  let promPid: number | undefined;
  const promPort = 19090;

  const inNode = async (args: string[], timeoutMs = 30_000) => swarm!.manager.nsenter(swarm!.manager.netnsFile, args, { timeoutMs });
  const promQuery = async (q: string) => {
    const out = await inNode(['curl', '-sf', '--data-urlencode', `query=${q}`, `http://127.0.0.1:${promPort}/api/v1/query`]);
    return (JSON.parse(out) as { data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } }).data.result;
  };
  const until = async <T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
      try {
        const v = await fn();
        if (v !== undefined) return v;
      } catch (err) {
        last = err;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
      await sleep(1000);
    }
  };

  let sharedRoot = false;

  beforeAll(async () => {
    // rslave needs the namespace folder on a shared (or slave) mount, as / is
    // on systemd hosts; / is private here, so the swarm's folder becomes a
    // shared mount before its dockerd makes any namespace file
    mkdirSync(E2E_ROOT, { recursive: true });
    if (!mountsUnder(E2E_ROOT).includes(E2E_ROOT)) {
      execFileSync('mount', ['--rbind', E2E_ROOT, E2E_ROOT]);
      sharedRoot = true;
    }
    execFileSync('mount', ['--make-rshared', E2E_ROOT]);
    swarm = await startSwarm({ nodes: 1 });
    const node = swarm.manager;
    // the image, from the build daemon into the node's
    const tar = join(BASE, 'image.tar');
    docker(['save', '-o', tar, IMAGE], 120_000);
    await node.docker(['load', '-i', tar], { timeoutMs: 120_000 });
    rmSync(tar, { force: true });
    await node.docker(['stack', 'deploy', '--resolve-image', 'never', '-c', join(ROOT, 'deploy/stack.yml'), 'swarmnet'], {
      timeoutMs: 60_000,
      env: { SWARMNET_IMAGE: IMAGE, SWARMNET_DOCKER_SOCKET: node.socket, SWARMNET_NETNS_DIR: node.netnsDir },
    });
  }, 300_000);

  afterAll(async () => {
    const t0 = Date.now();
    const step = (what: string) => process.stdout.write(`stack e2e teardown: ${what} at ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    try {
      if (promPid) {
        try { process.kill(promPid, 'SIGTERM'); } catch { /* gone */ }
        for (let i = 0; i < 50; i++) {
          try { process.kill(promPid, 0); } catch { break; }
          await sleep(100);
        }
      }
      if (promDir) rmSync(promDir, { recursive: true, force: true });
      step('prometheus stopped');
      if (swarm) {
        // remove the stack first so that dockerd has no task to stop on its way down
        await swarm.manager.docker(['stack', 'rm', 'swarmnet'], { allowFailure: true, timeoutMs: 30_000 });
        await until('the exporter task gone', async () =>
          (await swarm!.manager.docker(['ps', '-aq', '-f', 'label=com.docker.swarm.service.name=swarmnet_exporter'])) === '' ? true : undefined, 60_000).catch(() => undefined);
        step('stack removed');
      }
    } finally {
      await swarm?.down();
      step('swarm down');
      if (sharedRoot) execFileSync('umount', ['-l', E2E_ROOT]);
    }
  }, 240_000);

  it('runs one healthy exporter task per node, with the capabilities, mounts and host-mode port of the stack', async () => {
    const node = swarm!.manager;
    const cid = await until('a healthy exporter task', async () => {
      const ids = (await node.docker(['ps', '-q', '-f', 'label=com.docker.swarm.service.name=swarmnet_exporter'])).split('\n').filter(Boolean);
      if (ids.length !== 1) return undefined;
      const health = await node.docker(['inspect', ids[0]!, '--format', '{{.State.Health.Status}}']);
      return health === 'healthy' ? ids[0] : undefined;
    }, 120_000);
    const host = JSON.parse(await node.docker(['inspect', cid, '--format', '{{json .HostConfig}}'])) as { CapAdd: string[]; Mounts: Array<{ Target: string; ReadOnly: boolean; BindOptions?: { Propagation: string } }>; NetworkMode: string };
    expect(host.CapAdd.sort()).toEqual(['CAP_NET_ADMIN', 'CAP_SYS_ADMIN']);
    const netns = host.Mounts.find((m) => m.Target === '/var/run/docker/netns')!;
    expect(netns.BindOptions?.Propagation).toBe('rslave');
    expect(host.Mounts.find((m) => m.Target === '/var/run/docker.sock')!.ReadOnly).toBe(true);
    const text = await inNode(['curl', '-sf', `http://${node.address}:9477/metrics`]);
    const m = parseProm(text);
    expect(pick(m, 'swarmnet_docker_up', {})[0]?.value).toBe(1);
    expect(pick(m, 'swarmnet_node_info', {})[0]?.labels).toMatchObject({ hostname: node.name, role: 'manager' });
    // the ingress network's namespaces, made by this dockerd and seen through the rslave mount
    expect(pick(m, 'swarmnet_netns', { netns_kind: 'ingress_sbox' })[0]?.value).toBe(1);
    expect(pick(m, 'swarmnet_interface_info', { netns_kind: 'overlay', network: 'ingress', kind: 'vxlan' })).toHaveLength(1);
  }, 180_000);

  it('is discovered by dockerswarm_sd (role tasks) and scraped at <node address>:9477 with the node label', async () => {
    const node = swarm!.manager;
    promDir = join(BASE, `prometheus-${process.pid}`);
    mkdirSync(join(promDir, 'rules'), { recursive: true });
    const cfg = readFileSync(join(ROOT, 'deploy/prometheus/prometheus.yml'), 'utf8')
      .replace('host: unix:///var/run/docker.sock', `host: unix://${node.socket}`)
      .replace('refresh_interval: 30s', 'refresh_interval: 5s')
      .replace('- targets: ["localhost:9090"]', `- targets: ["127.0.0.1:${promPort}"]`);
    expect(cfg).toContain(`unix://${node.socket}`);
    writeFileSync(join(promDir, 'prometheus.yml'), cfg);
    writeFileSync(join(promDir, 'rules', 'swarmnet.rules.yml'), readFileSync(join(ROOT, 'deploy/prometheus/rules/swarmnet.rules.yml')));
    const child = spawn('nsenter', [`--net=${node.netnsFile}`, '--', '/usr/bin/prometheus',
      `--config.file=${join(promDir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(promDir, 'data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn'], { stdio: 'ignore', detached: true });
    child.unref();
    promPid = child.pid;
    const up = await until('the exporter target up in Prometheus', async () => {
      const r = await promQuery('up{job="swarmnet"}');
      return r.length > 0 && r.every((s) => s.value[1] === '1') ? r : undefined;
    }, 120_000);
    expect(up).toHaveLength(1);
    expect(up[0]!.metric).toMatchObject({ job: 'swarmnet', instance: `${node.address}:9477`, node: node.name, swarm_service: 'swarmnet_exporter' });
    // the manager's node list: its node label became exported_node, and the coverage rule finds every node scraped
    const nodes = await promQuery('swarmnet_swarm_node_info{job="swarmnet"}');
    expect(nodes.map((s) => [s.metric.node, s.metric.exported_node])).toEqual([[node.name, node.name]]);
    const rule = (await import('../unit/promql-exprs.js')).shippedExprs().find((e) => e.source.endsWith('SwarmnetNodeWithoutExporter'))!;
    expect(await promQuery(rule.expr)).toEqual([]);
    // and without the exporter's target, the same join names the node
    expect((await promQuery(rule.expr.replace('up{job="swarmnet"}', 'up{job="none"}'))).map((s) => s.metric.node)).toEqual([node.name]);
  }, 180_000);
});
