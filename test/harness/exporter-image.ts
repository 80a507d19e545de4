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
// Like test/e2e/image.e2e.test.ts: base images made from this machine's files,
// `docker build` with them as NODE_IMAGE / BUILD_IMAGE, npm reaching the
// registry through the host network. Unlike it, everything here is
// asynchronous, so a swarm can come up while the image builds.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NO_PULL_ENV, pidAlive, run, waitFor } from './swarm.js';

const ROOT = join(import.meta.dirname, '..', '..');
export const IMAGE_BUILD_DIR = '/tmp/swarmnet-stack-img';

export interface ExporterImage {
  /** the image's tag on the private daemon */
  image: string;
  /** the docker CLI against the private daemon */
  docker(args: string[], timeoutMs?: number): Promise<string>;
  /** `docker save` of the image into a tar file */
  save(tarFile: string): Promise<void>;
  /** seconds spent on base images and on docker build */
  baseSeconds: number;
  buildSeconds: number;
  /** stop the private daemon (its data root stays, as a build cache) */
  stop(): Promise<void>;
}


function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m === dir || m.startsWith(`${dir}/`));
}

async function stopDaemonOf(dir: string): Promise<void> {
  const pidfile = join(dir, 'docker.pid');
  let pid = 0;
  try { pid = Number((await readFile(pidfile, 'utf8')).trim()); } catch { /* never started */ }
  if (pid > 0 && pidAlive(pid) && cmdline(pid).includes(dir)) {
    process.kill(pid, 'SIGTERM');
    const gone = await waitFor(`the image dockerd ${pid} to exit`, () => !pidAlive(pid), { timeoutMs: 30_000 }).catch(() => false);
    if (!gone && pidAlive(pid)) process.kill(pid, 'SIGKILL');
  }
  for (const m of mountsUnder(dir).reverse()) await run('umount', ['-l', m], { allowFailure: true });
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
  const sock = join(dir, 'docker.sock');
  const env = { DOCKER_HOST: `unix://${sock}`, DOCKER_BUILDKIT: '0' };
  const docker = async (args: string[], timeoutMs = 120_000) => (await run('docker', args, { env, timeoutMs })).stdout.trim();

  await takeOwnership(dir);
  await stopDaemonOf(dir); // left by an interrupted run
  const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  const daemon = spawn('dockerd', [
    '-H', `unix://${sock}`, '--data-root', join(dir, 'data'), '--exec-root', join(dir, 'exec'),
    '--pidfile', join(dir, 'docker.pid'),
    '--containerd-namespace', 'swarmnet-stack-img', '--containerd-plugins-namespace', 'swarmnet-stack-img-plugins',
    '--bridge', 'none', '--iptables=false', '--ip-masq=false',
  ], { env: { ...process.env, ...NO_PULL_ENV }, stdio: ['ignore', 'ignore', 'ignore'], detached: true });
  daemon.unref();
  const stop = async () => {
    await stopDaemonOf(dir);
    await rm(join(dir, 'owner.json'), { force: true });
  };
  try {
    await waitFor('the image dockerd to answer', async () => {
      if (daemon.exitCode !== null) throw new Error(`dockerd exited with ${daemon.exitCode}`);
      await docker(['version', '--format', '{{.Server.Version}}'], 5_000);
      return true;
    }, { timeoutMs: 60_000 });

    let t = Date.now();
    await run('bash', [join(ROOT, 'test/harness/node-image.sh'), 'all'], { env, timeoutMs: 600_000 });
    const baseSeconds = (Date.now() - t) / 1000;

    const cafile = (await run('npm', ['config', 'get', 'cafile'])).stdout.trim();
    t = Date.now();
    await docker([
      'build', '--network', 'host', '--pull=false',
      '--build-arg', 'NODE_IMAGE=swarmnet/node-base:local', '--build-arg', 'BUILD_IMAGE=swarmnet/node-build:local',
      ...(cafile && cafile !== 'null' && cafile !== 'undefined' && existsSync(cafile) ? ['--build-arg', `NPM_CONFIG_CAFILE=${cafile}`] : []),
      '--build-arg', `REVISION=${opts.revision ?? 'e2etest'}`, '--build-arg', `VERSION=${version}`,
      '-t', image, ROOT,
    ], 900_000);
    const buildSeconds = (Date.now() - t) / 1000;
    // dangling layers of earlier builds; the build cache of this one stays
    await docker(['image', 'prune', '-f'], 60_000).catch(() => '');
    return {
      image, docker, baseSeconds, buildSeconds, stop,
      save: async (tarFile) => { await docker(['save', '-o', tarFile, image], 300_000); },
    };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}
