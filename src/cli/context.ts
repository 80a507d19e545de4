// What every command starts from: the namespaces the exporter would read (same
// flags, same discovery) and the swarm names, read once from dockerd, the way
// the exporter's Docker cache reads them. Nothing here changes the system.
import { existsSync } from 'node:fs';
import { pino } from 'pino';
import { allCollectors } from '../collectors/index.js';
import type { Snapshot } from '../collectors/types.js';
import type { DockerView } from '../docker/cache.js';
import { classifyDockerError, createDockerApi } from '../docker/client.js';
import { fetchRawState } from '../docker/fetch.js';
import { buildNameIndex } from '../docker/resolve.js';
import { parseDockerState } from '../docker/state.js';
import { parseDuration } from '../duration.js';
import { FlagError, type FlagValue } from '../flags.js';
import { loadNative } from '../kernel/native.js';
import { type NetnsRef, discoverNetns } from '../kernel/netns.js';
import { EMPTY_NAMES, type NameIndex } from '../names.js';
import { Scraper } from '../scrape.js';
import { buildTopology } from '../topology/build.js';
import type { Topology } from '../topology/model.js';
import { REVISION, VERSION } from '../version.js';

export interface CliSources {
  netnsDirs: string[];
  hostNetns: string | null | false;
  dockerHost: string;
  dockerWaitMs: number;
}

export function sourcesFrom(flags: Map<string, FlagValue>): CliSources {
  const host = flags.get('netns.host') as string;
  let dockerWaitMs: number;
  try {
    dockerWaitMs = parseDuration(flags.get('docker.wait') as string);
  } catch (err) {
    throw new FlagError(`--docker.wait: ${(err as Error).message}`);
  }
  return {
    netnsDirs: flags.get('netns.dir') as string[],
    hostNetns: host === 'self' ? null : host === 'none' ? false : host,
    dockerHost: flags.get('docker.host') as string,
    dockerWaitMs,
  };
}

export interface DockerNames {
  names: NameIndex;
  view?: DockerView;
  /** why there are no names, for one line on stderr */
  note?: string;
}

/** One read of the Docker API (GET /info, /nodes, /services, /networks, /containers); no names if it fails. */
export async function readDockerNames(src: CliSources): Promise<DockerNames> {
  if (src.dockerWaitMs <= 0) return { names: EMPTY_NAMES };
  const socket = src.dockerHost.startsWith('unix://') ? src.dockerHost.slice(7) : src.dockerHost.startsWith('/') ? src.dockerHost : undefined;
  if (socket !== undefined && !existsSync(socket)) return { names: EMPTY_NAMES, note: `no swarm names: ${socket} does not exist` };
  const api = createDockerApi(src.dockerHost, { timeoutMs: src.dockerWaitMs });
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(Object.assign(new Error(`no answer in ${src.dockerWaitMs} ms`), { code: 'ETIMEDOUT' })), src.dockerWaitMs);
    });
    const { raw } = await Promise.race([fetchRawState(api, { full: true }), timeout]);
    const state = parseDockerState(raw, Date.now());
    const view: DockerView = {
      up: true, target: api.target, state, lastSuccessAt: state.fetchedAt,
      lastRefreshSeconds: (performance.now() - started) / 1000, errors: new Map(),
    };
    return { names: buildNameIndex(state), view };
  } catch (err) {
    return { names: EMPTY_NAMES, note: `no swarm names: dockerd at ${api.target}: ${classifyDockerError(err)}: ${(err as Error).message}` };
  } finally {
    clearTimeout(timer);
  }
}

/** The namespaces the exporter would read, the host's first. */
export async function listNamespaces(src: CliSources): Promise<{ refs: NetnsRef[]; dirErrors: string[] }> {
  const d = await discoverNetns(src.netnsDirs, src.hostNetns);
  return { refs: d.namespaces, dirErrors: d.dirErrors.map((e) => `cannot list ${e.dir}: ${e.code}`) };
}

/** One scrape's snapshot, exactly as the exporter takes it (every reader, every namespace, loopbacks kept). */
export async function takeSnapshot(src: CliSources, docker: DockerNames): Promise<Snapshot> {
  const scraper = new Scraper({
    netnsDirs: src.netnsDirs,
    hostNetns: src.hostNetns,
    collectors: allCollectors(),
    concurrency: 2,
    defaultTimeoutMs: 10_000,
    version: { version: VERSION, revision: REVISION },
  }, { native: loadNative(), ...(docker.view ? { docker: { state: () => docker.view!, names: () => docker.names } } : {}) },
  pino({ level: 'silent' }));
  return (await scraper.scrape()).snapshot;
}

export async function takeTopology(src: CliSources, docker: DockerNames): Promise<Topology> {
  return buildTopology(await takeSnapshot(src, docker), Date.now());
}
