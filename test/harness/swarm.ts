// A real Docker Swarm of one or two nodes on this machine, for end-to-end tests.
//
// Every node is a private dockerd (dockerd.ts) in a network namespace of its
// own, with its hostname, under /tmp/swarmnet-e2e/<instance>/d<n>/ (its
// namespace files are <exec-root>/netns). Two nodes are joined by a veth pair
// with test-only addresses (198.18.0.0/15). dockerd never pulls: swarm tasks
// run a busybox-static rootfs imported with `docker import` on every node.
//
// Requires root and the Debian packages docker.io, iproute2 (ip), busybox-static
// (/bin/busybox), util-linux (nsenter, unshare) and tar.
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, readFile, readdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Dockerd, createDockerd } from './dockerd.js';
import { makeShared, unmountUnder } from './mounts.js';
import { cmdline, pidAlive, pidsMentioning, startTime, waitExited } from './processes.js';
import { type RunOptions, run, runIn } from './run.js';
import { waitFor } from './wait.js';

// test/unit/docker-cache.test.ts imports waitFor from here; its home is wait.ts
export { waitFor };

export const E2E_ROOT = '/tmp/swarmnet-e2e';
export const IMAGE = 'local/busybox:1';

const INSTANCE_RE = /^i[0-9a-z]+$/;

// ---------------------------------------------------------------- image

/** ELF without a PT_INTERP program header: statically linked. */
function isStaticElf(buf: Buffer): boolean {
  if (buf.length < 64 || buf.readUInt32BE(0) !== 0x7f454c46 || buf[4] !== 2) return false; // 64-bit ELF only
  const phoff = Number(buf.readBigUInt64LE(32));
  const phentsize = buf.readUInt16LE(54);
  const phnum = buf.readUInt16LE(56);
  for (let i = 0; i < phnum; i++) {
    const off = phoff + i * phentsize;
    if (off + 4 > buf.length) return false;
    if (buf.readUInt32LE(off) === 3) return false; // PT_INTERP
  }
  return true;
}

/**
 * A busybox rootfs as a tar file (made once and reused): /bin/busybox from
 * Debian's busybox-static and a symlink per applet.
 */
export async function busyboxImageTar(): Promise<string> {
  const tar = join(E2E_ROOT, 'busybox-rootfs.tar');
  if (existsSync(tar)) return tar;
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
  if (!busybox || !isStaticElf(readFileSync(busybox))) {
    throw new Error('a statically linked /bin/busybox is needed for the test image: apt-get install busybox-static');
  }
  await mkdir(E2E_ROOT, { recursive: true });
  const tmp = join(E2E_ROOT, `rootfs.${process.pid}.${Date.now()}`);
  await mkdir(join(tmp, 'bin'), { recursive: true });
  await copyFile(busybox, join(tmp, 'bin', 'busybox'));
  const applets = (await run(join(tmp, 'bin', 'busybox'), ['--list'])).stdout.split('\n').map((s) => s.trim()).filter((s) => s && s !== 'busybox');
  for (const a of applets) await symlink('busybox', join(tmp, 'bin', a));
  for (const d of ['etc', 'tmp', 'www', 'proc', 'sys', 'dev']) await mkdir(join(tmp, d), { recursive: true });
  await run('tar', ['-C', tmp, '-cf', `${tmp}.tar`, '.']);
  await rename(`${tmp}.tar`, tar); // atomic: a concurrent run uses either copy
  await rm(tmp, { recursive: true, force: true });
  return tar;
}

// ---------------------------------------------------------------- nodes

/** A swarm node is a private dockerd in a namespace of its own; these are the daemon's facts. */
export interface SwarmNode extends Pick<Dockerd, 'dir' | 'socket' | 'host' | 'dataRoot' | 'execRoot' | 'netnsDir' | 'pidfile' | 'logFile' | 'docker'> {
  /** node1, node2: also the hostname inside */
  name: string;
  /** the `ip netns` name of the namespace dockerd runs in */
  netns: string;
  /** /run/netns/<netns> */
  netnsFile: string;
  /** underlay (advertise) address */
  address: string;
  /** run a program inside a namespace file (e.g. one of netnsDir's) */
  nsenter(nsFile: string, args: string[], opts?: RunOptions): Promise<string>;
  /** the running dockerd's pid, if any */
  pid(): number | undefined;
  /** SIGTERM dockerd and wait for it to exit */
  stopDaemon(timeoutMs?: number): Promise<void>;
  /** start dockerd again with the same configuration and wait until it answers */
  startDaemon(timeoutMs?: number): Promise<void>;
}

export interface ServiceSpec {
  name: string;
  networks?: string[];
  replicas?: number;
  /** global mode instead of replicated */
  global?: boolean;
  maxPerNode?: number;
  endpointMode?: 'vip' | 'dnsrr';
  publish?: string[];
  labels?: Record<string, string>;
  /** defaults to a busybox httpd serving its hostname at / and a 256 KiB /big */
  command?: string[];
  extraArgs?: string[];
}

export interface Swarm {
  id: string;
  dir: string;
  nodes: SwarmNode[];
  /** node1, the only manager */
  manager: SwarmNode;
  image: string;
  /** manager.docker */
  docker(args: string[], opts?: RunOptions): Promise<string>;
  createService(spec: ServiceSpec): Promise<void>;
  /** wait until `count` tasks of a service are running (desired state running) */
  waitTasks(service: string, count: number, timeoutMs?: number): Promise<void>;
  /** container ids of a service's running tasks on one node */
  taskContainers(node: SwarmNode, service: string): Promise<string[]>;
  /** tear everything down; safe to call twice */
  down(): Promise<void>;
}

export const HTTPD_COMMAND = [
  'sh', '-c',
  'mkdir -p /www && hostname >/www/index.html && dd if=/dev/zero of=/www/big bs=1024 count=256 2>/dev/null && exec httpd -f -p 80 -h /www',
];

let counter = 0;
const live = new Set<{ dir: string; pids: () => number[] }>();
let exitHookInstalled = false;

function installExitHook() {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // last resort when a test process exits without its afterAll: stop our daemons
  // (synchronously); the next run's cleanupLeftovers() unmounts and deletes the rest
  process.on('exit', () => {
    for (const inst of live) for (const pid of inst.pids()) try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
  });
}

function makeNode(dir: string, netns: string, index: number, address: string): SwarmNode {
  const name = `node${index}`;
  // every address from test-only 198.18.0.0/15, even inside the node
  const d: Dockerd = createDockerd({
    dir: join(dir, `d${index}`), netnsFile: `/run/netns/${netns}`, hostname: name,
    containerdNamespace: `moby-${netns}`, containerdPluginsNamespace: `plugins-${netns}`,
    args: ['--bip', `198.18.${200 + index}.1/24`, '--default-address-pool', `base=198.18.${64 * index}.0/18,size=24`],
  });
  return {
    name, netns, netnsFile: `/run/netns/${netns}`, address, dir: d.dir, socket: d.socket, host: d.host,
    dataRoot: d.dataRoot, execRoot: d.execRoot, netnsDir: d.netnsDir, pidfile: d.pidfile, logFile: d.logFile,
    docker: d.docker,
    nsenter: (nsFile, args, opts) => runIn(nsFile, args, opts),
    pid: d.pid,
    stopDaemon: d.stop,
    startDaemon: d.start,
  };
}

/** Tear down one instance directory: daemons, leftover processes, mounts, namespaces, files. */
async function teardownInstance(dir: string, netnsNames: string[]): Promise<string[]> {
  const problems: string[] = [];
  // dockerds first: they stop their containers and containerd themselves
  const daemons: number[] = [];
  for (const d of ['d2', 'd1']) {
    try {
      const pid = Number((await readFile(join(dir, d, 'docker.pid'), 'utf8')).trim());
      if (pid > 0 && pidAlive(pid) && cmdline(pid).includes(dir)) daemons.push(pid);
    } catch { /* never started or already gone */ }
  }
  for (const pid of daemons) try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
  const stubborn = await waitExited(daemons, 30_000);
  for (const pid of stubborn) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  if (stubborn.length) problems.push(`dockerd ${stubborn.join(',')} ignored SIGTERM for 30 s`);

  // containers of a daemon that died without stopping them: their cgroups (v1 or v2) name them
  for (const d of ['d1', 'd2']) {
    let ids: string[] = [];
    try { ids = await readdir(join(dir, d, 'data', 'containers')); } catch { /* none */ }
    for (const id of ids) {
      for (const procs of [`/sys/fs/cgroup/pids/docker/${id}/cgroup.procs`, `/sys/fs/cgroup/docker/${id}/cgroup.procs`, `/sys/fs/cgroup/system.slice/docker-${id}.scope/cgroup.procs`]) {
        try {
          for (const p of (await readFile(procs, 'utf8')).split('\n').filter(Boolean)) try { process.kill(Number(p), 'SIGKILL'); } catch { /* gone */ }
        } catch { /* no such cgroup */ }
      }
    }
  }
  // containerd, shims: anything still naming this directory
  const rest = await pidsMentioning(dir);
  for (const pid of rest) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  await waitExited(rest, 5_000);

  // mounts under the directory (nsfs netns files, overlay layers, shm), deepest first
  problems.push(...await unmountUnder(dir));
  for (const ns of netnsNames) {
    if (!existsSync(`/run/netns/${ns}`)) continue;
    const r = await run('ip', ['netns', 'del', ns], { allowFailure: true });
    if (r.code !== 0) problems.push(`ip netns del ${ns}: ${r.stderr.trim()}`);
  }
  try {
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
  } catch (err) {
    problems.push(`rm -rf ${dir}: ${(err as Error).message}`);
  }
  return problems;
}

/**
 * Remove what crashed earlier runs left behind: instances whose owning process
 * is gone. Instances of live processes (a parallel test file) are left alone.
 */
export async function cleanupLeftovers(): Promise<string[]> {
  let entries: string[] = [];
  try { entries = await readdir(E2E_ROOT); } catch { return []; }
  const problems: string[] = [];
  for (const e of entries) {
    if (!INSTANCE_RE.test(e)) continue;
    const dir = join(E2E_ROOT, e);
    let owner: { pid: number; start: string; netns: string[] } | undefined;
    try { owner = JSON.parse(await readFile(join(dir, 'owner.json'), 'utf8')); } catch { /* half-made: clean it */ }
    if (owner && pidAlive(owner.pid) && startTime(owner.pid) === owner.start) continue;
    problems.push(...await teardownInstance(dir, owner?.netns ?? [`swn${e}n1`, `swn${e}n2`]));
  }
  return problems;
}

/**
 * Bring up a swarm of one or two nodes (node1 manager, node2 worker) with the local busybox image loaded on each.
 * sharedNetnsDirs: each node's namespace folder becomes a shared mount (a bind of itself) before its
 * dockerd starts, so that a container can bind-mount it with propagation rslave (deploy/stack.yml does).
 */
export async function startSwarm(opts: { nodes?: 1 | 2; sharedNetnsDirs?: boolean } = {}): Promise<Swarm> {
  const nodeCount = opts.nodes ?? 2;
  if (process.getuid?.() !== 0) throw new Error('the swarm harness needs root (network namespaces, dockerd)');
  installExitHook();
  await cleanupLeftovers();
  const tar = await busyboxImageTar();

  const id = `i${process.pid.toString(36)}${(counter++).toString(36)}`;
  const dir = join(E2E_ROOT, id);
  const netnsNames = Array.from({ length: nodeCount }, (_, i) => `swn${id}n${i + 1}`);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'owner.json'), JSON.stringify({ pid: process.pid, start: startTime(process.pid), netns: netnsNames }));

  const nodes = netnsNames.map((ns, i) => makeNode(dir, ns, i + 1, `198.18.0.${i + 1}`));
  const entry = { dir, pids: () => nodes.map((n) => n.pid()).filter((p): p is number => p !== undefined) };
  live.add(entry);
  let downDone: Promise<void> | undefined;
  const down = () => {
    downDone ??= (async () => {
      live.delete(entry);
      const problems = await teardownInstance(dir, netnsNames);
      if (problems.length) throw new Error(`swarm teardown: ${problems.join('; ')}`);
    })();
    return downDone;
  };

  try {
    for (const ns of netnsNames) await run('ip', ['netns', 'add', ns]);
    if (opts.sharedNetnsDirs) {
      for (const n of nodes) {
        await mkdir(n.netnsDir, { recursive: true });
        await makeShared(n.netnsDir);
      }
    }
    if (nodeCount === 2) {
      await run('ip', ['link', 'add', 'veth-n1', 'netns', netnsNames[0]!, 'type', 'veth', 'peer', 'name', 'veth-n2', 'netns', netnsNames[1]!]);
    } else {
      // no dummy driver in every kernel: a veth pair whose other end stays idle in the same namespace
      await run('ip', ['-n', netnsNames[0]!, 'link', 'add', 'veth-n1', 'type', 'veth', 'peer', 'name', 'veth-n1-idle']);
      await run('ip', ['-n', netnsNames[0]!, 'link', 'set', 'veth-n1-idle', 'up']);
    }
    for (const [i, n] of nodes.entries()) {
      await run('ip', ['-n', n.netns, 'addr', 'add', `${n.address}/24`, 'dev', `veth-n${i + 1}`]);
      await run('ip', ['-n', n.netns, 'link', 'set', `veth-n${i + 1}`, 'up']);
      await run('ip', ['-n', n.netns, 'link', 'set', 'lo', 'up']);
    }
    await Promise.all(nodes.map((n) => n.startDaemon()));
    const manager = nodes[0]!;
    await manager.docker(['swarm', 'init', '--advertise-addr', manager.address, '--listen-addr', `${manager.address}:2377`, '--default-addr-pool', '198.19.0.0/16']);
    const imports = nodes.map((n) => n.docker(['import', '-', IMAGE], { stdinFile: tar }));
    if (nodeCount === 2) {
      const worker = nodes[1]!;
      const token = await manager.docker(['swarm', 'join-token', '-q', 'worker']);
      await worker.docker(['swarm', 'join', '--token', token, '--advertise-addr', worker.address, '--listen-addr', `${worker.address}:2377`, `${manager.address}:2377`]);
      await waitFor('node2 to be Ready', async () => /node2 Ready/.test(await manager.docker(['node', 'ls', '--format', '{{.Hostname}} {{.Status}}'])));
    }
    await Promise.all(imports);
  } catch (err) {
    await down().catch(() => undefined);
    throw err;
  }

  const manager = nodes[0]!;
  const swarm: Swarm = {
    id, dir, nodes, manager, image: IMAGE,
    docker: manager.docker,
    createService: async (spec) => {
      const args = ['service', 'create', '-d', '--no-resolve-image', '--name', spec.name, '--init', '--stop-grace-period', '1s',
        '--hostname', '{{.Node.Hostname}}-{{.Task.Slot}}'];
      for (const n of spec.networks ?? []) args.push('--network', n);
      if (spec.global) args.push('--mode', 'global');
      else args.push('--replicas', String(spec.replicas ?? 1));
      if (spec.maxPerNode !== undefined) args.push('--replicas-max-per-node', String(spec.maxPerNode));
      if (spec.endpointMode) args.push('--endpoint-mode', spec.endpointMode);
      for (const p of spec.publish ?? []) args.push('--publish', p);
      for (const [k, v] of Object.entries(spec.labels ?? {})) args.push('--container-label', `${k}=${v}`);
      args.push(...(spec.extraArgs ?? []), IMAGE, ...(spec.command ?? HTTPD_COMMAND));
      await manager.docker(args);
    },
    waitTasks: async (service, count, timeoutMs = 60_000) => {
      await waitFor(`${count} running tasks of ${service}`, async () => {
        const states = (await manager.docker(['service', 'ps', service, '--filter', 'desired-state=running', '--format', '{{.CurrentState}}'])).split('\n').filter(Boolean);
        return states.length === count && states.every((s) => s.startsWith('Running'));
      }, { timeoutMs, intervalMs: 300 });
    },
    taskContainers: async (node, service) =>
      (await node.docker(['ps', '-q', '--no-trunc', '--filter', `label=com.docker.swarm.service.name=${service}`])).split('\n').filter(Boolean),
    down,
  };
  return swarm;
}
