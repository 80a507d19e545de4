// The Docker Engine API calls the cache makes, through dockerode. Answers are
// returned as unknown JSON: state.ts converts them defensively.
//
// dockerode is loaded on the first call, not at start: with its SSH and gRPC
// dependencies it costs about 29 MB of RSS and half a second to load
// (src/bench/module-cost.ts), which an exporter without a reachable Docker
// socket never needs to pay.
import { access } from 'node:fs/promises';
import type Docker from 'dockerode';

export interface DockerApiOptions {
  /** upper bound for one API request (the events stream has none) */
  timeoutMs?: number;
}

/** A Docker event as the stream sends it (GET /events). */
export interface DockerEvent {
  Type?: string;
  Action?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  scope?: string;
  time?: number;
}

export interface EventStream {
  /** stop listening; the stream is destroyed */
  close(): void;
  /** settles when the stream ends for any reason (daemon gone, closed) */
  readonly ended: Promise<Error | undefined>;
}

export interface DockerApi {
  readonly target: string;
  info(): Promise<unknown>;
  nodes(): Promise<unknown[]>;
  services(): Promise<unknown[]>;
  networks(): Promise<unknown[]>;
  network(id: string, verbose: boolean): Promise<unknown>;
  containers(): Promise<unknown[]>;
  container(id: string): Promise<unknown>;
  /** open the events stream; resolves once dockerd answered (so it also proves the daemon is up) */
  events(filters: Record<string, string[]>, onEvent: (e: DockerEvent) => void): Promise<EventStream>;
}

/**
 * `--docker.host` forms: unix:///path, /path, tcp://host:port, http://host:port.
 * (TLS and ssh are not supported: mount the socket instead.)
 */
export function parseDockerHost(host: string): Docker.DockerOptions {
  if (host.startsWith('unix://')) {
    const path = host.slice('unix://'.length);
    if (!path) throw new Error(`docker host "${host}": no socket path`);
    return { socketPath: path };
  }
  if (host.startsWith('/')) return { socketPath: host };
  const m = /^(tcp|http):\/\/(\[[^\]]+\]|[^:/]+)(?::(\d+))?\/?$/.exec(host);
  if (m) return { protocol: 'http', host: m[2]!.replace(/^\[|\]$/g, ''), port: Number(m[3] ?? 2375) };
  throw new Error(`docker host "${host}": expected unix:///path/to/docker.sock or tcp://host:port`);
}

/** Whether the Docker socket is there at all (a TCP endpoint is assumed to be). */
async function reachable(target: Docker.DockerOptions): Promise<boolean> {
  if (!target.socketPath) return true;
  try {
    await access(target.socketPath);
    return true;
  } catch {
    return false;
  }
}

export function createDockerApi(host: string, opts: DockerApiOptions = {}): DockerApi {
  const target = parseDockerHost(host);
  let clients: Promise<{ api: Docker; stream: Docker }> | undefined;
  const load = async () => {
    // a missing socket fails here as connect() would (ENOENT), without loading dockerode for it
    if (!clients && !(await reachable(target))) {
      throw Object.assign(new Error(`connect ENOENT ${target.socketPath}`), { code: 'ENOENT' });
    }
    clients ??= import('dockerode').then(({ default: Docker }) => ({
      api: new Docker({ ...target, timeout: opts.timeoutMs ?? 10_000 }),
      // the modem's timeout is an idle timeout: a quiet events stream must not hit it
      stream: new Docker({ ...target }),
    }));
    return clients;
  };
  const api = async () => (await load()).api;
  return {
    target: host,
    info: async () => (await api()).info(),
    nodes: async () => (await api()).listNodes(),
    services: async () => (await api()).listServices(),
    networks: async () => (await api()).listNetworks(),
    network: async (id, verbose) => (await api()).getNetwork(id).inspect(verbose ? { verbose: true } : {}),
    containers: async () => (await api()).listContainers({ all: true }),
    container: async (id) => (await api()).getContainer(id).inspect(),
    events: async (filters, onEvent) => {
      const { stream } = await load();
      const readable = (await stream.getEvents({ filters: JSON.stringify(filters) })) as NodeJS.ReadableStream & { destroy?: (err?: Error) => void };
      let buffered = '';
      let settle!: (err: Error | undefined) => void;
      const ended = new Promise<Error | undefined>((resolve) => { settle = resolve; });
      readable.on('data', (chunk: Buffer | string) => {
        buffered += chunk.toString();
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, nl).trim();
          buffered = buffered.slice(nl + 1);
          if (!line) continue;
          try {
            onEvent(JSON.parse(line) as DockerEvent);
          } catch {
            // a malformed line only costs us that event; the periodic resync covers it
          }
        }
      });
      readable.on('end', () => settle(undefined));
      readable.on('close', () => settle(undefined));
      readable.on('error', (err: Error) => settle(err));
      return {
        ended,
        close: () => {
          readable.removeAllListeners('data');
          readable.destroy?.();
          settle(undefined);
        },
      };
    },
  };
}

/** A short reason for the errors counter, from whatever a failed call threw. */
export function classifyDockerError(err: unknown): string {
  const e = err as { code?: unknown; statusCode?: unknown; message?: unknown } | undefined;
  const code = typeof e?.code === 'string' ? e.code : '';
  if (code === 'ENOENT' || code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'EPIPE' || code === 'EHOSTUNREACH') return 'unreachable';
  if (code === 'EACCES' || code === 'EPERM') return 'permission';
  if (code === 'ETIMEDOUT' || code === 'ESOCKETTIMEDOUT' || code === 'ABORT_ERR') return 'timeout';
  if (typeof e?.statusCode === 'number') return e.statusCode >= 500 ? 'api_server_error' : 'api_client_error';
  const msg = typeof e?.message === 'string' ? e.message : '';
  if (/socket hang up|aborted/i.test(msg)) return 'unreachable';
  if (/timeout/i.test(msg)) return 'timeout';
  return 'other';
}
