// The exporter's Docker image, built from the real Dockerfile on a private
// dockerd, for tests that deploy it (no registry is reachable here).
//
// The daemon is the test's own: socket, data root, exec root, pidfile and
// containerd namespaces under one folder (default /tmp/swarmnet-stack-img), no
// bridge, no iptables, pulls blocked by a proxy on a closed loopback port. It
// never meets /var/run/docker.sock or another test's daemon. Its data root is
// kept between runs, so base images (test/harness/node-image.sh) and the
// build's layers are reused: a warm build takes seconds.
//
// test/e2e/image.e2e.test.ts and test/e2e/swarm-prometheus.e2e.test.ts use it:
// base images made from this machine's files, `docker build` with them as
// NODE_IMAGE / BUILD_IMAGE, npm reaching the registry through the host network.
// Everything is asynchronous, so a swarm can come up while the image builds.
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Dockerd, createDockerd, stopDockerdIn } from './dockerd.js';
import { ROOT, packageVersion } from './paths.js';
import { cmdline, pidAlive } from './processes.js';
import { run } from './run.js';
import { waitFor } from './wait.js';

export const IMAGE_BUILD_DIR = '/tmp/swarmnet-stack-img';

export interface ExporterImage {
  /** the image's tag on the private daemon */
  image: string;
  /** the private daemon, running (containers of the image can run on it: no bridge, so --network host) */
  daemon: Dockerd;
  /** the docker CLI against the private daemon; its trimmed stdout */
  docker(args: string[], timeoutMs?: number): Promise<string>;
  /** `docker save` of the image into a tar file */
  save(tarFile: string): Promise<void>;
  /** seconds spent on base images and on docker build */
  baseSeconds: number;
  buildSeconds: number;
  /** stop the private daemon (its data root stays, as a build cache) */
  stop(): Promise<void>;
}

/**
 * Wait until no other live process owns `dir` (a concurrent run of the same
 * test), then take it. A dead owner's daemon is stopped.
 */
async function takeOwnership(dir: string): Promise<void> {
  const owner = join(dir, 'owner.json');
  await waitFor(`the image build folder ${dir} to be free`, async () => {
    try {
      const o = JSON.parse(await readFile(owner, 'utf8')) as { pid: number; cmd: string };
      if (o.pid !== process.pid && pidAlive(o.pid) && cmdline(o.pid) === o.cmd) return false;
    } catch { /* no owner */ }
    return true;
  }, { timeoutMs: 900_000, intervalMs: 2_000 });
  await mkdir(dir, { recursive: true });
  await writeFile(owner, JSON.stringify({ pid: process.pid, cmd: cmdline(process.pid) }));
}

/** Start the private daemon, make the base images, build the Dockerfile. */
export async function buildExporterImage(opts: { dir?: string; tag?: string; revision?: string } = {}): Promise<ExporterImage> {
  const dir = opts.dir ?? IMAGE_BUILD_DIR;
  const image = opts.tag ?? 'swarmnet-exporter:e2e';
  const daemon = createDockerd({
    dir, containerdNamespace: 'swarmnet-stack-img', containerdPluginsNamespace: 'swarmnet-stack-img-plugins',
    args: ['--bridge', 'none', '--iptables=false', '--ip-masq=false'],
    cliEnv: { DOCKER_BUILDKIT: '0' },
  });
  const docker = (args: string[], timeoutMs = 120_000) => daemon.docker(args, { timeoutMs });

  await takeOwnership(dir);
  await stopDockerdIn(dir); // left by an interrupted run
  const stop = async () => {
    await stopDockerdIn(dir);
    await rm(join(dir, 'owner.json'), { force: true });
  };
  try {
    await daemon.start(60_000);

    let t = Date.now();
    await run('bash', [join(ROOT, 'test/harness/node-image.sh'), 'all'], { env: daemon.env, timeoutMs: 600_000 });
    const baseSeconds = (Date.now() - t) / 1000;

    const cafile = (await run('npm', ['config', 'get', 'cafile'])).stdout.trim();
    t = Date.now();
    await docker([
      'build', '--network', 'host', '--pull=false',
      '--build-arg', 'NODE_IMAGE=swarmnet/node-distroless:local', '--build-arg', 'BUILD_IMAGE=swarmnet/node-build:local',
      ...(cafile && cafile !== 'null' && cafile !== 'undefined' && existsSync(cafile) ? ['--build-arg', `NPM_CONFIG_CAFILE=${cafile}`] : []),
      '--build-arg', `REVISION=${opts.revision ?? 'e2etest'}`, '--build-arg', `VERSION=${packageVersion()}`,
      '-t', image, ROOT,
    ], 900_000);
    const buildSeconds = (Date.now() - t) / 1000;
    // dangling layers of earlier builds; the build cache of this one stays
    await docker(['image', 'prune', '-f'], 60_000).catch(() => '');
    return {
      image, daemon, docker, baseSeconds, buildSeconds, stop,
      save: async (tarFile) => { await docker(['save', '-o', tarFile, image], 300_000); },
    };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}
