// A unix-socket proxy between a client and a dockerd socket that can turn the
// daemon's API slow, silent or flaky on command, for fault tests:
// - delayMs: every chunk of every answer (the events stream aside) is held this long;
// - hang('requests'): API requests are swallowed and never answered, while the
//   events stream keeps flowing; hang('all'): nothing is answered, new events
//   connections included. A connection that met a hang stays silent for good
//   (as a connection a dead peer or a firewall dropped would), even after resume();
// - cutEvents(): the open events connections are closed mid-stream; with
//   forMs, every events connection opened meanwhile is closed right after its
//   answer started (a flapping stream).
// It counts connections and events requests, with their times, so a test can
// see how often a client reconnects.
import { type Server, type Socket, connect, createServer } from 'node:net';
import { rm } from 'node:fs/promises';

export type HangMode = 'none' | 'requests' | 'all';

interface Conn {
  client: Socket;
  upstream?: Socket;
  /** this connection carries GET /events */
  events: boolean;
  /** swallowed: nothing goes through any more */
  silent: boolean;
  /** chunks going to the client are chained to keep their order under a delay */
  toClient: Promise<void>;
}

export interface DelayProxy {
  /** the proxy's socket path */
  socket: string;
  /** unix://<socket> for --docker.host or DockerStateCache */
  host: string;
  /** held before each chunk of an answer (not the events stream) */
  delayMs: number;
  hang(mode: Exclude<HangMode, 'none'>): void;
  /** new connections are served again; silent ones stay silent */
  resume(): void;
  /** close the open events connections; with forMs, also every events connection opened in the next forMs */
  cutEvents(opts?: { forMs?: number }): number;
  /** times (Date.now()) of every client connection accepted */
  readonly connections: readonly number[];
  /** times of every GET /events seen */
  readonly eventsRequests: readonly number[];
  /** client connections open now (silent ones included) */
  openConnections(): number;
  close(): Promise<void>;
}

const REQUEST_LINE = /^(GET|POST|PUT|DELETE|HEAD|PATCH) (\S+) HTTP\/1\.[01]\r\n/;

/** Start a proxy listening on `socket` that forwards to the unix socket `target`. */
export async function startDelayProxy(socket: string, target: string): Promise<DelayProxy> {
  await rm(socket, { force: true });
  const conns = new Set<Conn>();
  const connections: number[] = [];
  const eventsRequests: number[] = [];
  let hang: HangMode = 'none';
  let cutUntil = 0;

  const silence = (c: Conn) => {
    c.silent = true;
    c.upstream?.destroy();
    c.upstream = undefined;
  };
  const drop = (c: Conn) => {
    c.client.destroy();
    c.upstream?.destroy();
    conns.delete(c);
  };

  const server: Server = createServer((client) => {
    connections.push(Date.now());
    const c: Conn = { client, events: false, silent: hang === 'all', toClient: Promise.resolve() };
    conns.add(c);
    client.on('error', () => drop(c));
    client.on('close', () => drop(c));
    if (c.silent) {
      client.resume(); // read and discard: a socket nobody answers on
      return;
    }
    const up = connect(target);
    c.upstream = up;
    up.on('error', () => drop(c));
    up.on('close', () => { if (!c.silent) drop(c); });
    client.on('data', (chunk: Buffer) => {
      if (c.silent) return;
      const m = REQUEST_LINE.exec(chunk.toString('latin1', 0, Math.min(chunk.length, 512)));
      if (m && /\/events(\?|$)/.test(m[2]!)) {
        c.events = true;
        eventsRequests.push(Date.now());
      }
      if (hang === 'all' || (hang === 'requests' && !c.events)) {
        silence(c);
        return;
      }
      c.upstream?.write(chunk);
    });
    up.on('data', (chunk: Buffer) => {
      if (c.silent) return;
      const delay = c.events ? 0 : proxy.delayMs;
      const send = () => {
        if (c.silent || c.client.destroyed) return;
        c.client.write(chunk);
        // a flapping stream: the answer started, then the connection drops
        if (c.events && Date.now() < cutUntil) setImmediate(() => drop(c));
      };
      if (delay <= 0) {
        send();
        return;
      }
      c.toClient = c.toClient.then(() => new Promise<void>((r) => setTimeout(() => { send(); r(); }, delay)));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socket, () => resolve());
  });

  const proxy: DelayProxy = {
    socket,
    host: `unix://${socket}`,
    delayMs: 0,
    hang: (mode) => {
      hang = mode;
      // a daemon that hangs whole sends no events either
      if (mode === 'all') for (const c of conns) if (c.events) silence(c);
    },
    resume: () => { hang = 'none'; },
    cutEvents: (opts = {}) => {
      if (opts.forMs) cutUntil = Date.now() + opts.forMs;
      let n = 0;
      for (const c of [...conns]) {
        if (c.events && !c.silent) {
          drop(c);
          n++;
        }
      }
      return n;
    },
    connections,
    eventsRequests,
    openConnections: () => conns.size,
    close: async () => {
      for (const c of [...conns]) drop(c);
      await new Promise<void>((r) => server.close(() => r()));
      await rm(socket, { force: true });
    },
  };
  return proxy;
}
