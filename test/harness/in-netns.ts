// Long-running processes inside a swarm node's network namespace, for tests
// that need them reachable at the node's own address: a swarmnet-exporter
// process standing in for a host-mode published port (<node address>:9477),
// and a real Prometheus (Debian's /usr/bin/prometheus) that scrapes the nodes
// over their underlay and is queried with curl run in the same namespace (the
// root namespace has no route to the nodes' test addresses).
//
// Processes are started with `nsenter --net=<file> -- PROGRAM`: nsenter execs
// the program, so the child's pid is the program's. Every process started
// here is also killed when the test process exits without its teardown.
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { run, waitFor } from './swarm.js';

const ROOT = join(import.meta.dirname, '..', '..');
export const PROMETHEUS_BIN = '/usr/bin/prometheus';

const started = new Set<ChildProcess>();
let exitHook = false;
function track(child: ChildProcess) {
  started.add(child);
  child.once('exit', () => started.delete(child));
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => {
      for (const c of started) try { c.kill('SIGKILL'); } catch { /* gone */ }
    });
  }
}

export interface NetnsProcess {
  pid: number;
  /** its stdout and stderr so far (the last 64 KiB) */
  log(): string;
  running(): boolean;
  /** SIGTERM, SIGKILL after timeoutMs; resolves once it exited */
  stop(timeoutMs?: number): Promise<void>;
}

export function spawnInNetns(netnsFile: string, argv: string[], env: Record<string, string> = {}): NetnsProcess {
  const child = spawn('nsenter', [`--net=${netnsFile}`, '--', ...argv], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  track(child);
  let log = '';
  const append = (c: Buffer) => { log = (log + c.toString()).slice(-65_536); };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    pid: child.pid!,
    log: () => log,
    running: () => child.exitCode === null && child.signalCode === null,
    stop: async (timeoutMs = 10_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(t);
    },
  };
}

/** An HTTP request made from inside a network namespace (curl); the body, or a thrown error. */
export async function curlIn(netnsFile: string, url: string, opts: { form?: Record<string, string>; method?: string; timeoutMs?: number } = {}): Promise<string> {
  const args = ['curl', '-sS', '--fail-with-body', '--max-time', String(Math.ceil((opts.timeoutMs ?? 15_000) / 1000))];
  if (opts.method) args.push('-X', opts.method);
  for (const [k, v] of Object.entries(opts.form ?? {})) args.push('--data-urlencode', `${k}=${v}`);
  args.push(url);
  return (await run('nsenter', [`--net=${netnsFile}`, '--', ...args], { timeoutMs: (opts.timeoutMs ?? 15_000) + 5_000 })).stdout;
}

// ---------------------------------------------------------------- exporter

export interface ExporterProcess extends NetnsProcess {
  /** host:port it listens on */
  address: string;
}

/** The built exporter (dist/main.js) as a process in a node's network namespace. */
export async function startExporterProcess(opts: { netnsFile: string; address: string; port: number; netnsDir: string; dockerHost: string; extraArgs?: string[] }): Promise<ExporterProcess> {
  const address = `${opts.address}:${opts.port}`;
  const p = spawnInNetns(opts.netnsFile, [
    process.execPath, join(ROOT, 'dist', 'main.js'),
    `--web.listen-address=${address}`, `--netns.dir=${opts.netnsDir}`, `--docker.host=${opts.dockerHost}`, '--netns.host=none',
    '--log.level=warn', ...(opts.extraArgs ?? []),
  ]);
  await waitFor(`the exporter at ${address} to answer /healthz`, async () => {
    if (!p.running()) throw new Error(`the exporter exited: ${p.log().slice(-2000)}`);
    await curlIn(opts.netnsFile, `http://${address}/healthz`, { timeoutMs: 5_000 });
    return true;
  }, { timeoutMs: 60_000, intervalMs: 300 });
  return { ...p, address };
}

// ---------------------------------------------------------------- prometheus

export interface PromSeries { metric: Record<string, string>; value: [number, string] }
export interface PromAlert { labels: Record<string, string>; annotations: Record<string, string>; state: 'pending' | 'firing' | 'inactive'; value: string }
export interface PromRule { name: string; type: string; health: string; lastError?: string; state?: string }
export interface PromTarget { labels: Record<string, string>; health: string; lastError: string; scrapeUrl: string; discoveredLabels: Record<string, string> }
export interface QueryResult { status: string; error?: string; data?: { resultType: string; result: PromSeries[] } }

export interface PrometheusInNetns extends NetnsProcess {
  /** http://127.0.0.1:<port>, valid inside the namespace */
  url: string;
  dir: string;
  /** an instant query; the whole answer (status, error, data) */
  query(expr: string): Promise<QueryResult>;
  /** an instant query that must succeed; its series */
  series(expr: string): Promise<PromSeries[]>;
  alerts(): Promise<PromAlert[]>;
  rules(): Promise<PromRule[]>;
  activeTargets(): Promise<PromTarget[]>;
  /** write a new configuration (prometheus.yml in dir) and reload it (/-/reload) */
  reload(config: unknown): Promise<void>;
}

/**
 * Debian's prometheus in a namespace, on 127.0.0.1:<port> there, with its
 * configuration (an object, written as JSON, which is YAML) in `dir`.
 */
export async function startPrometheus(opts: { netnsFile: string; dir: string; port: number; config: unknown }): Promise<PrometheusInNetns> {
  const url = `http://127.0.0.1:${opts.port}`;
  const configFile = join(opts.dir, 'prometheus.yml');
  const writeConfig = async (config: unknown) => {
    await writeFile(`${configFile}.tmp`, JSON.stringify(config, null, 2));
    await rename(`${configFile}.tmp`, configFile);
  };
  await writeConfig(opts.config);
  const p = spawnInNetns(opts.netnsFile, [
    PROMETHEUS_BIN, `--config.file=${configFile}`, `--storage.tsdb.path=${join(opts.dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${opts.port}`, '--web.enable-lifecycle', '--log.level=warn',
  ]);
  const get = async <T>(path: string): Promise<T> => {
    const body = JSON.parse(await curlIn(opts.netnsFile, `${url}${path}`)) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`${path}: ${body.error}`);
    return body.data;
  };
  const query = async (expr: string): Promise<QueryResult> => {
    try {
      return JSON.parse(await curlIn(opts.netnsFile, `${url}/api/v1/query`, { form: { query: expr } })) as QueryResult;
    } catch (err) {
      // curl --fail-with-body: a 4xx/5xx answer is in the message as JSON
      const m = /\{.*\}/s.exec((err as Error).message);
      if (m) try { return JSON.parse(m[0]) as QueryResult; } catch { /* not JSON */ }
      throw err;
    }
  };
  const prom: PrometheusInNetns = {
    ...p, url, dir: opts.dir,
    query,
    series: async (expr) => {
      const r = await query(expr);
      if (r.status !== 'success') throw new Error(`query failed: ${r.error}: ${expr}`);
      return r.data!.result;
    },
    alerts: async () => (await get<{ alerts: PromAlert[] }>('/api/v1/alerts')).alerts,
    rules: async () => (await get<{ groups: Array<{ rules: PromRule[] }> }>('/api/v1/rules?type=alert')).groups.flatMap((g) => g.rules),
    activeTargets: async () => (await get<{ activeTargets: PromTarget[] }>('/api/v1/targets?state=active')).activeTargets,
    reload: async (config) => {
      await writeConfig(config);
      await curlIn(opts.netnsFile, `${url}/-/reload`, { method: 'POST' });
    },
  };
  await waitFor(`prometheus ready (log: ${opts.dir})`, async () => {
    if (!p.running()) throw new Error(`prometheus exited: ${p.log().slice(-3000)}`);
    await curlIn(opts.netnsFile, `${url}/-/ready`, { timeoutMs: 5_000 });
    return true;
  }, { timeoutMs: 60_000, intervalMs: 300 });
  return prom;
}
