// A real Prometheus (Debian's /usr/bin/prometheus), here or in a network
// namespace, with its configuration (an object, written as JSON, which is
// YAML) in a folder of the test's, queried with curl from the same namespace.
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { curl } from './http.js';
import { type ManagedProcess, startProcess } from './processes.js';
import { waitFor } from './wait.js';

export const PROMETHEUS_BIN = '/usr/bin/prometheus';

export interface PromSeries { metric: Record<string, string>; value: [number, string] }
export interface PromAlert { labels: Record<string, string>; annotations: Record<string, string>; state: 'pending' | 'firing' | 'inactive'; value: string }
export interface PromRule { name: string; type: string; health: string; lastError?: string; state?: string }
export interface PromTarget { labels: Record<string, string>; health: string; lastError: string; scrapeUrl: string; discoveredLabels: Record<string, string> }
export interface QueryResult { status: string; error?: string; data?: { resultType: string; result: PromSeries[] } }

export interface Prometheus extends ManagedProcess {
  /** http://127.0.0.1:<port>, valid inside its namespace */
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
 * Prometheus on 127.0.0.1:<port> (of `netnsFile`'s namespace, or this one),
 * with `config` as dir/prometheus.yml and its data in dir/data; resolves once it is ready.
 */
export async function startPrometheus(opts: { dir: string; port: number; config: unknown; netnsFile?: string; timeoutMs?: number }): Promise<Prometheus> {
  const url = `http://127.0.0.1:${opts.port}`;
  const configFile = join(opts.dir, 'prometheus.yml');
  const writeConfig = async (config: unknown) => {
    await writeFile(`${configFile}.tmp`, JSON.stringify(config, null, 2));
    await rename(`${configFile}.tmp`, configFile);
  };
  await writeConfig(opts.config);
  const p = startProcess([
    PROMETHEUS_BIN, `--config.file=${configFile}`, `--storage.tsdb.path=${join(opts.dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${opts.port}`, '--web.enable-lifecycle', '--log.level=warn',
  ], { netnsFile: opts.netnsFile });
  const get = async <T>(path: string): Promise<T> => {
    const body = JSON.parse(await curl(`${url}${path}`, { netnsFile: opts.netnsFile })) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`${path}: ${body.error}`);
    return body.data;
  };
  const query = async (expr: string): Promise<QueryResult> => {
    try {
      return JSON.parse(await curl(`${url}/api/v1/query`, { netnsFile: opts.netnsFile, form: { query: expr } })) as QueryResult;
    } catch (err) {
      // curl --fail-with-body: a 4xx/5xx answer is in the message as JSON
      const m = /\{.*\}/s.exec((err as Error).message);
      if (m) try { return JSON.parse(m[0]) as QueryResult; } catch { /* not JSON */ }
      throw err;
    }
  };
  const prom: Prometheus = {
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
      await curl(`${url}/-/reload`, { netnsFile: opts.netnsFile, method: 'POST' });
    },
  };
  try {
    await waitFor(`prometheus ready (dir: ${opts.dir})`, async () => {
      if (!p.running()) throw new Error(`prometheus exited: ${p.log().slice(-3000)}`);
      await curl(`${url}/-/ready`, { netnsFile: opts.netnsFile, timeoutMs: 5_000 });
      return true;
    }, { timeoutMs: opts.timeoutMs ?? 60_000, intervalMs: 300 });
  } catch (err) {
    await p.stop(1_000);
    throw err;
  }
  return prom;
}
