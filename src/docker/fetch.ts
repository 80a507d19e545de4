// One read of the Docker API, as raw JSON: info, nodes and services (from a
// manager), networks (swarm-scoped ones verbose: peers and remote tasks) and
// containers, inspected at most `concurrency` at a time.
import type { DockerApi } from './client.js';
import { type RawDockerState, parseInfo } from './state.js';

export interface ContainerEntry {
  listedState: string;
  inspect: unknown;
}

/** Run `fn` over `items` at most `limit` at a time. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

const isNotFound = (err: unknown): boolean => (err as { statusCode?: unknown })?.statusCode === 404;
const idOf = (v: unknown): string => {
  const o = v as { Id?: unknown; ID?: unknown } | null;
  return typeof o?.Id === 'string' ? o.Id : typeof o?.ID === 'string' ? o.ID : '';
};

/**
 * Read everything once, as raw JSON. `previous` and `dirty` let a light refresh
 * re-inspect only containers that are new, changed state, or were named by an event.
 */
export async function fetchRawState(
  api: DockerApi,
  opts: { full: boolean; previous?: Map<string, ContainerEntry>; dirty?: Set<string>; concurrency?: number; onSoftError?: (what: string, err: unknown) => void; previousRaw?: RawDockerState },
): Promise<{ raw: RawDockerState; containers: Map<string, ContainerEntry> }> {
  const concurrency = opts.concurrency ?? 8;
  const info = await api.info();
  const manager = parseInfo(info).role === 'manager';
  const soft = async (what: string, call: () => Promise<unknown[]>, fallback: unknown[] | null): Promise<unknown[] | null> => {
    try {
      return await call();
    } catch (err) {
      // a manager without quorum answers 503 here: keep what we had, the rest still works
      opts.onSoftError?.(what, err);
      return fallback;
    }
  };
  const [nodes, services, networkList, containerList] = await Promise.all([
    manager ? soft('nodes', () => api.nodes(), opts.previousRaw?.nodes ?? null) : Promise.resolve(null),
    manager ? soft('services', () => api.services(), opts.previousRaw?.services ?? null) : Promise.resolve(null),
    api.networks(),
    api.containers(),
  ]);
  const networks = (await mapLimit(networkList, concurrency, async (n) => {
    const id = idOf(n);
    if (!id) return undefined;
    try {
      return await api.network(id, (n as { Scope?: unknown }).Scope === 'swarm');
    } catch (err) {
      if (isNotFound(err)) return undefined; // removed since the list
      throw err;
    }
  })).filter((n) => n !== undefined);
  const containers = new Map<string, ContainerEntry>();
  await mapLimit(containerList, concurrency, async (c) => {
    const id = idOf(c);
    if (!id) return;
    const listedState = String((c as { State?: unknown }).State ?? '');
    const prev = opts.previous?.get(id);
    if (!opts.full && prev && prev.listedState === listedState && !opts.dirty?.has(id)) {
      containers.set(id, prev);
      return;
    }
    try {
      containers.set(id, { listedState, inspect: await api.container(id) });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  });
  return { raw: { info, nodes, services, networks, containers: [...containers.values()].map((e) => e.inspect) }, containers };
}
