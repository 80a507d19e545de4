// A private dockerd: the test's own socket, data root, exec root, pidfile,
// log and containerd namespaces, all under one folder. It never meets
// /var/run/docker.sock or another test's daemon, and it never pulls: there is
// no registry, so its proxies (and the docker CLI's) point at a closed
// loopback port, and swarm tasks prefer the local image.
//
// Optionally it runs in a network namespace of its own, started with
// `nsenter --net=<file> -- unshare --uts` (not `ip netns exec`, which would give
// dockerd a private mount namespace and hide its netns files), with a hostname.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { unmountUnder } from './mounts.js';
import { cmdline, pidAlive, stopPid } from './processes.js';
import { type RunOptions, run } from './run.js';
import { waitFor } from './wait.js';

/** what dockerd and the docker CLI get in their environment so that nothing is ever pulled */
export const NO_PULL_ENV: Readonly<Record<string, string>> = Object.freeze({
  HTTP_PROXY: 'http://127.0.0.1:9',
  HTTPS_PROXY: 'http://127.0.0.1:9',
  http_proxy: 'http://127.0.0.1:9',
  https_proxy: 'http://127.0.0.1:9',
  NO_PROXY: '',
  no_proxy: '',
  DOCKER_SERVICE_PREFER_OFFLINE_IMAGE: '1',
});

export interface DockerdOptions {
  /** everything of this daemon lives here */
  dir: string;
  /** --containerd-namespace and --containerd-plugins-namespace */
  containerdNamespace: string;
  containerdPluginsNamespace: string;
  /** run it in this network namespace file */
  netnsFile?: string;
  /** its hostname (a UTS namespace of its own); only with netnsFile */
  hostname?: string;
  /** more dockerd arguments (--bip, --bridge none, --iptables=false...) */
  args?: string[];
  /** added to the docker CLI's environment (e.g. DOCKER_BUILDKIT) */
  cliEnv?: Record<string, string>;
}

export interface Dockerd {
  dir: string;
  socket: string;
  /** unix://<socket>, for DOCKER_HOST, --docker.host and DockerStateCache */
  host: string;
  dataRoot: string;
  execRoot: string;
  /** where this dockerd's namespace files live: <exec-root>/netns */
  netnsDir: string;
  pidfile: string;
  logFile: string;
  /** the environment for a docker CLI (or a script calling one) against this daemon: DOCKER_HOST, no pulls */
  env: Record<string, string>;
  /** the docker CLI against this daemon; its trimmed stdout */
  docker(args: string[], opts?: RunOptions): Promise<string>;
  /** the running dockerd's pid, if any */
  pid(): number | undefined;
  /** start dockerd and wait until it answers (default 30 s) */
  start(timeoutMs?: number): Promise<void>;
  /** SIGTERM dockerd, SIGKILL after timeoutMs (default 30 s), and wait for it to exit */
  stop(timeoutMs?: number): Promise<void>;
}

/** A daemon's files and CLI; not started. */
export function createDockerd(opts: DockerdOptions): Dockerd {
  const { dir } = opts;
  const socket = join(dir, 'docker.sock');
  const dataRoot = join(dir, 'data');
  const execRoot = join(dir, 'exec');
  const pidfile = join(dir, 'docker.pid');
  const logFile = join(dir, 'dockerd.log');
  const host = `unix://${socket}`;
  const env = { ...NO_PULL_ENV, ...opts.cliEnv, DOCKER_HOST: host };
  let child: ChildProcess | undefined;

  const docker = async (args: string[], runOpts: RunOptions = {}) =>
    (await run('docker', ['-H', host, ...args], { ...runOpts, env: { ...env, ...runOpts.env } })).stdout.trim();

  const pid = (): number | undefined => {
    try {
      const p = Number(readFileSync(pidfile, 'utf8').trim());
      if (p > 0 && pidAlive(p) && cmdline(p).includes(dir)) return p;
    } catch { /* not written yet, or removed on exit */ }
    return child?.pid !== undefined && child.exitCode === null && child.signalCode === null ? child.pid : undefined;
  };

  return {
    dir, socket, host, dataRoot, execRoot, netnsDir: join(execRoot, 'netns'), pidfile, logFile, env, docker, pid,
    start: async (timeoutMs = 30_000) => {
      await mkdir(dataRoot, { recursive: true });
      await mkdir(execRoot, { recursive: true });
      const dockerd = [
        'dockerd', '-H', host, '--data-root', dataRoot, '--exec-root', execRoot, '--pidfile', pidfile,
        '--containerd-namespace', opts.containerdNamespace, '--containerd-plugins-namespace', opts.containerdPluginsNamespace,
        ...(opts.args ?? []),
      ];
      let argv = dockerd;
      if (opts.netnsFile) {
        argv = opts.hostname
          ? ['nsenter', `--net=${opts.netnsFile}`, '--', 'unshare', '--uts', '--', 'sh', '-c', `hostname ${opts.hostname}; exec ${dockerd.join(' ')}`]
          : ['nsenter', `--net=${opts.netnsFile}`, '--', ...dockerd];
      }
      const fd = openSync(logFile, 'a');
      const c = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', fd, fd], env: { ...process.env, ...NO_PULL_ENV } });
      child = c;
      closeSync(fd);
      c.unref();
      await waitFor(`the dockerd in ${dir} to answer (log: ${logFile})`, async () => {
        if (c.exitCode !== null || c.signalCode !== null) {
          const tail = readFileSync(logFile, 'utf8').split('\n').slice(-5).join(' | ');
          throw new Error(`dockerd exited with ${c.exitCode ?? c.signalCode}: ${tail}`);
        }
        await docker(['version', '--format', '{{.Server.Version}}'], { timeoutMs: 5_000 });
        return true;
      }, { timeoutMs });
    },
    stop: async (timeoutMs = 30_000) => {
      const p = pid();
      if (p !== undefined) await stopPid(p, timeoutMs);
    },
  };
}

/** Create a daemon and start it. */
export async function startDockerd(opts: DockerdOptions & { timeoutMs?: number }): Promise<Dockerd> {
  const d = createDockerd(opts);
  await d.start(opts.timeoutMs);
  return d;
}

/**
 * Stop the daemon whose pidfile is in `dir` (one an interrupted run left; only
 * if its command line names `dir`), then unmount whatever is under `dir`.
 * The failures, as messages.
 */
export async function stopDockerdIn(dir: string, timeoutMs = 30_000): Promise<string[]> {
  const problems: string[] = [];
  let pid = 0;
  try { pid = Number((await readFile(join(dir, 'docker.pid'), 'utf8')).trim()); } catch { /* never started, or stopped */ }
  if (pid > 0 && pidAlive(pid) && cmdline(pid).includes(dir) && !(await stopPid(pid, timeoutMs))) {
    problems.push(`dockerd ${pid} ignored SIGTERM for ${timeoutMs / 1000} s`);
  }
  problems.push(...await unmountUnder(dir));
  return problems;
}
