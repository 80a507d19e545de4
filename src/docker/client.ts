// The Docker Engine API calls the cache makes: seven GET endpoints and the
// events stream, over node:http (which fastify loads anyway). Answers are
// returned as unknown JSON: state.ts converts them defensively.
//
// (This used to be dockerode, which with its SSH and gRPC dependencies cost
// about 28 MB of RSS to load, for the few calls below; see README, Dependencies.)
import http from 'node:http';

export interface DockerApiOptions {
  /** upper bound for one API request; for the events stream, until its answer starts */
  timeoutMs?: number;
  /** largest JSON answer accepted, bytes (default 64 MiB): a broken daemon cannot exhaust memory */
  maxBodyBytes?: number;
}

/** an events line longer than this is not an event: it is dropped, not buffered */
const MAX_EVENT_LINE = 1 << 20;
const MAX_BODY_BYTES = 64 * 2 ** 20;
/** how much of an error answer is read for dockerd's message */
const MAX_ERROR_BODY = 64 * 1024;

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

/** Where the daemon listens: a unix socket, or a plain-HTTP TCP endpoint. */
export type DockerTarget = { socketPath: string } | { protocol: 'http'; host: string; port: number };

/**
 * `--docker.host` forms: unix:///path, /path, tcp://host:port, http://host:port.
 * (TLS and ssh are not supported: mount the socket instead.)
 */
export function parseDockerHost(host: string): DockerTarget {
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

/** An error for a non-2xx answer: `statusCode`, and dockerd's `message` when the body has one. */
function httpError(what: string, statusCode: number, body: string): Error & { statusCode: number } {
  let message = body.trim();
  try {
    const json = JSON.parse(body) as { message?: unknown };
    if (typeof json?.message === 'string') message = json.message;
  } catch {
    // not JSON: the text as it came
  }
  if (message.length > 500) message = `${message.slice(0, 500)}...`;
  return Object.assign(new Error(`docker ${what}: (HTTP code ${statusCode}) ${message || http.STATUS_CODES[statusCode] || 'unexpected'}`), { statusCode });
}

/** Read up to `max` bytes of a response; more is an error (the request is destroyed). */
function readBody(res: http.IncomingMessage, max: number, onTooLarge: () => void): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        res.removeAllListeners('data');
        onTooLarge();
        return;
      }
      chunks.push(chunk);
    });
    res.on('end', () => resolve(Buffer.concat(chunks, Math.min(size, max))));
    res.on('error', reject);
    res.on('aborted', () => reject(Object.assign(new Error('aborted'), { code: 'ECONNRESET' })));
  });
}

export function createDockerApi(host: string, opts: DockerApiOptions = {}): DockerApi {
  const target = parseDockerHost(host);
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const maxBodyBytes = opts.maxBodyBytes ?? MAX_BODY_BYTES;
  const where: http.RequestOptions = 'socketPath' in target ? { socketPath: target.socketPath } : { host: target.host, port: target.port };
  // the request/response calls share kept-alive connections (idle ones do not hold the process);
  // the events stream has a connection of its own
  const agent = new http.Agent({ keepAlive: true, maxFreeSockets: 8 });
  const headers = { accept: 'application/json' };
  const timeoutError = (what: string) => Object.assign(new Error(`docker ${what}: no answer in ${timeoutMs} ms`), { code: 'ETIMEDOUT' });

  /** One GET whose whole answer is JSON, within the deadline (`until`, ms since the epoch). */
  const attempt = (what: string, path: string, until: number, retry: boolean): Promise<unknown> => new Promise((resolve, reject) => {
    let done = false;
    const finish = (err: Error | undefined, value?: unknown) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (!err) resolve(value);
      // a kept-alive connection the daemon closed while it sat idle: once more on a new one
      else if (retry && req.reusedSocket && (err as { code?: unknown }).code === 'ECONNRESET' && Date.now() < until) {
        attempt(what, path, until, false).then(resolve, reject);
      } else reject(err);
    };
    const req = http.request({ ...where, method: 'GET', path, agent, headers }, (res) => {
      const status = res.statusCode ?? 0;
      const ok = status >= 200 && status < 300;
      const tooLarge = () => {
        const err = new Error(`docker ${what}: answer larger than ${maxBodyBytes} bytes`);
        finish(err);
        req.destroy(err);
      };
      if (ok && Number(res.headers['content-length'] ?? 0) > maxBodyBytes) return tooLarge();
      // an error answer is read for dockerd's message only: the rest is dropped
      readBody(res, ok ? maxBodyBytes : MAX_ERROR_BODY, ok ? tooLarge : () => undefined).then((body) => {
        if (!ok) return finish(httpError(what, status, body.toString('utf8')));
        let json: unknown;
        try {
          json = JSON.parse(body.toString('utf8'));
        } catch (err) {
          return finish(new Error(`docker ${what}: the answer is not JSON (${body.length} bytes): ${(err as Error).message}`));
        }
        finish(undefined, json);
      }, (err: Error) => finish(err));
    });
    const timer = setTimeout(() => {
      const err = timeoutError(what);
      finish(err);
      req.destroy(err);
    }, Math.max(0, until - Date.now()));
    req.on('error', (err) => finish(err));
    req.end();
  });
  const get = (what: string, path: string) => attempt(what, path, Date.now() + timeoutMs, true);
  const list = (what: string, path: string) => get(what, path) as Promise<unknown[]>;
  const q = encodeURIComponent;

  return {
    target: host,
    info: () => get('info', '/info'),
    nodes: () => list('nodes', '/nodes'),
    services: () => list('services', '/services'),
    networks: () => list('networks', '/networks'),
    network: (id, verbose) => get('network inspect', `/networks/${q(id)}${verbose ? '?verbose=true' : ''}`),
    containers: () => list('containers', '/containers/json?all=true'),
    container: (id) => get('container inspect', `/containers/${q(id)}/json`),
    events: (filters, onEvent) => new Promise<EventStream>((resolve, reject) => {
      // a daemon that accepts the connection and never answers must not hold the cache forever;
      // once the answer started, a quiet stream is a quiet swarm
      let opened = false;
      const fail = (err: Error) => {
        if (opened) return;
        opened = true;
        clearTimeout(timer);
        reject(err);
        req.destroy();
      };
      let settle: (err: Error | undefined) => void = () => undefined;
      const req = http.request({ ...where, method: 'GET', path: `/events?filters=${q(JSON.stringify(filters))}`, agent: false, headers }, (res) => {
        const status = res.statusCode ?? 0;
        if (status < 200 || status >= 300) {
          readBody(res, MAX_ERROR_BODY, () => undefined).then((body) => fail(httpError('events', status, body.toString('utf8'))), fail);
          return;
        }
        if (opened) return void res.destroy();
        opened = true;
        clearTimeout(timer);
        const ended = new Promise<Error | undefined>((r) => { settle = r; });
        let buffered = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffered += chunk;
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
        res.on('end', () => settle(undefined));
        res.on('close', () => settle(undefined));
        res.on('error', (err: Error) => settle(err));
        resolve({
          ended,
          close: () => {
            res.removeAllListeners('data');
            res.destroy();
            req.destroy();
            settle(undefined);
          },
        });
      });
      const timer = setTimeout(() => {
        const err = timeoutError('events');
        fail(err);
        req.destroy(err);
      }, timeoutMs);
      req.on('error', (err) => (opened ? settle(err) : fail(err)));
      req.end();
    }),
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
