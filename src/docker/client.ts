// The Docker Engine API calls the cache makes, through dockerode. Answers are
// returned as unknown JSON: state.ts converts them defensively.
//
// dockerode is loaded on the first call, not at start: with its SSH and gRPC
// dependencies it costs about 29 MB of RSS and half a second to load
// (src/bench/module-cost.ts), which an exporter without a reachable Docker
// socket never needs to pay.
import { access } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type Docker from 'dockerode';

/**
 * Stand-ins for what dockerode and its modem load at start and the exporter
 * never calls: the SSH client (no ssh:// host is accepted, see
 * parseDockerHost) and gRPC (BuildKit sessions, for image builds). Their real
 * modules cost about 10 MB of RSS on a node (ssh2 alone reserves 16 MB of
 * WebAssembly memory); a stand-in that is called anyway says what it is.
 */
function stubUnusedDockerodeDeps(): void {
  const require = createRequire(import.meta.url);
  const unused = (name: string) => () => { throw new Error(`${name} is not available in swarmnet-exporter`); };
  const stub = (from: string, name: string, exports: object) => {
    try {
      const path = require.resolve(name, { paths: [dirname(require.resolve(from))] });
      require.cache[path] ??= { id: path, filename: path, loaded: true, exports } as unknown as NodeJS.Module;
    } catch {
      // not installed where dockerode looks for it: nothing to stand in for
    }
  };
  stub('docker-modem', 'ssh2', { Client: unused('ssh2') });
  stub('dockerode', '@grpc/grpc-js', { Server: unused('@grpc/grpc-js'), ServerCredentials: { createInsecure: unused('@grpc/grpc-js') } });
  stub('dockerode', '@grpc/proto-loader', { loadSync: unused('@grpc/proto-loader') });
}

export interface DockerApiOptions {
  /** upper bound for one API request; for the events stream, until its answer starts */
  timeoutMs?: number;
}

/** an events line longer than this is not an event: it is dropped, not buffered */
const MAX_EVENT_LINE = 1 << 20;

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
  const timeoutMs = opts.timeoutMs ?? 10_000;
  let clients: Promise<{ api: Docker; stream: Docker }> | undefined;
  const load = async () => {
    // a missing socket fails here as connect() would (ENOENT), without loading dockerode for it
    if (!clients && !(await reachable(target))) {
      throw Object.assign(new Error(`connect ENOENT ${target.socketPath}`), { code: 'ENOENT' });
    }
    if (!clients) stubUnusedDockerodeDeps();
    clients ??= import('dockerode').then(({ default: Docker }) => ({
      api: new Docker({ ...target, timeout: timeoutMs }),
      // the modem's timeout is an idle timeout: a quiet events stream must not hit it
      stream: new Docker({ ...target }),
    }));
    return clients;
  };
  // The modem's timeout is an idle timeout, and what it throws reads "socket hang up":
  // each request also gets a deadline for its whole answer, reported as a timeout.
  const deadline = async <T>(what: string, call: (api: Docker, abortSignal: AbortSignal) => Promise<T>): Promise<T> => {
    const { api } = await load();
    const abort = new AbortController();
    const err = Object.assign(new Error(`docker ${what}: no answer in ${timeoutMs} ms`), { code: 'ETIMEDOUT' });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => { abort.abort(err); reject(err); }, timeoutMs);
    });
    try {
      return await Promise.race([call(api, abort.signal), timeout]);
    } finally {
      clearTimeout(timer);
    }
  };
  return {
    target: host,
    info: () => deadline('info', (api, abortSignal) => api.info({ abortSignal })),
    nodes: () => deadline('nodes', (api, abortSignal) => api.listNodes({ abortSignal })),
    services: () => deadline('services', (api, abortSignal) => api.listServices({ abortSignal })),
    networks: () => deadline('networks', (api, abortSignal) => api.listNetworks({ abortSignal })),
    // (network inspect takes no abort signal: the modem's idle timeout closes a silent one)
    network: (id, verbose) => deadline('network inspect', (api) => api.getNetwork(id).inspect(verbose ? { verbose: true } : {})),
    containers: () => deadline('containers', (api, abortSignal) => api.listContainers({ all: true, abortSignal })),
    container: (id) => deadline('container inspect', (api, abortSignal) => api.getContainer(id).inspect({ abortSignal })),
    events: async (filters, onEvent) => {
      const { stream } = await load();
      // a daemon that accepts the connection and never answers must not hold the cache forever
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(Object.assign(new Error(`events: no answer in ${timeoutMs} ms`), { code: 'ETIMEDOUT' })), timeoutMs);
      let readable: NodeJS.ReadableStream & { destroy?: (err?: Error) => void };
      try {
        readable = (await stream.getEvents({ filters: JSON.stringify(filters), abortSignal: abort.signal })) as typeof readable;
      } catch (err) {
        throw abort.signal.aborted ? abort.signal.reason : err;
      } finally {
        clearTimeout(timer);
      }
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
        if (buffered.length > MAX_EVENT_LINE) buffered = '';
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
