// The Docker client (src/docker/client.ts) against a local node:http server on
// a unix socket standing in for dockerd: paths and queries, JSON answers,
// errors as classifyDockerError and fetch.ts read them (code, statusCode),
// the body cap, the deadline, and the events stream.
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type DockerEvent, classifyDockerError, createDockerApi, parseDockerHost } from '../../src/docker/client.js';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

const dir = mkdtempSync(join(tmpdir(), 'swarmnet-client-'));
const sock = join(dir, 'docker.sock');
let handler: Handler = (_req, res) => res.end('{}');
const seen: string[] = [];
const server = http.createServer((req, res) => {
  seen.push(req.url ?? '');
  handler(req, res);
});

beforeAll(async () => {
  await new Promise<void>((r) => server.listen(sock, r));
});
afterEach(() => {
  seen.length = 0;
  server.closeAllConnections();
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

const json = (body: unknown, status = 200): Handler => (_req, res) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

describe('requests', () => {
  it('sends the GETs dockerd expects and returns the JSON', async () => {
    const methods: string[] = [];
    handler = (req, res) => {
      methods.push(req.method ?? '');
      json(req.url?.startsWith('/info') ? { Swarm: { LocalNodeState: 'active' } } : [{ Id: 'x' }])(req, res);
    };
    const api = createDockerApi(`unix://${sock}`);
    expect(await api.info()).toEqual({ Swarm: { LocalNodeState: 'active' } });
    expect(await api.nodes()).toEqual([{ Id: 'x' }]);
    expect(await api.services()).toEqual([{ Id: 'x' }]);
    expect(await api.networks()).toEqual([{ Id: 'x' }]);
    expect(await api.containers()).toEqual([{ Id: 'x' }]);
    await api.network('n/1 ?', true);
    await api.network('n1', false);
    await api.container('c#1');
    expect(seen).toEqual([
      '/info', '/nodes', '/services', '/networks', '/containers/json?all=true',
      '/networks/n%2F1%20%3F?verbose=true', '/networks/n1', '/containers/c%231/json',
    ]);
    expect(new Set(methods)).toEqual(new Set(['GET']));
  });

  it('accepts a bare socket path', async () => {
    handler = json({ ok: 1 });
    expect(await createDockerApi(sock).info()).toEqual({ ok: 1 });
  });

  it('runs many requests at once over kept-alive connections', async () => {
    handler = (req, res) => json({ url: req.url })(req, res);
    const api = createDockerApi(sock);
    const ids = Array.from({ length: 40 }, (_, i) => `c${i}`);
    const out = await Promise.all(ids.map((id) => api.container(id)));
    expect(out).toEqual(ids.map((id) => ({ url: `/containers/${id}/json` })));
    expect(await api.info()).toEqual({ url: '/info' });
  });

  it('a kept-alive connection the daemon dropped is retried once on a new one', async () => {
    const served = new WeakSet<object>();
    let dropped = 0;
    handler = (req, res) => {
      if (served.has(req.socket)) {
        dropped++;
        req.socket.destroy(); // as a daemon closing an idle connection just as it is reused
        return;
      }
      served.add(req.socket);
      json({ n: 1 })(req, res);
    };
    const api = createDockerApi(sock);
    expect(await api.info()).toEqual({ n: 1 });
    expect(await api.info()).toEqual({ n: 1 });
    expect(dropped).toBe(1);
    // a fresh connection that fails is not retried
    handler = (req) => { dropped++; req.socket.destroy(); };
    const err = await createDockerApi(sock).info().catch((e: unknown) => e) as Error & { code?: string };
    expect(err.code).toBe('ECONNRESET');
    expect(dropped).toBe(2);
  });

  it('a 404 carries statusCode 404 and dockerd\'s message', async () => {
    handler = json({ message: 'No such container: abc' }, 404);
    const err = await createDockerApi(sock).container('abc').catch((e: unknown) => e) as Error & { statusCode?: number };
    expect(err).toBeInstanceOf(Error);
    expect(err.statusCode).toBe(404);
    expect(err.message).toContain('No such container: abc');
    expect(err.message).toContain('container inspect');
    expect(classifyDockerError(err)).toBe('api_client_error');
  });

  it('a 500 or 503 is a server error, with the text when the body is not JSON', async () => {
    handler = json({ message: 'This node is not a swarm manager.' }, 503);
    const err = await createDockerApi(sock).nodes().catch((e: unknown) => e) as Error & { statusCode?: number };
    expect(err.statusCode).toBe(503);
    expect(err.message).toContain('This node is not a swarm manager.');
    expect(classifyDockerError(err)).toBe('api_server_error');

    handler = (_req, res) => { res.writeHead(500); res.end('plain failure'); };
    const err2 = await createDockerApi(sock).info().catch((e: unknown) => e) as Error & { statusCode?: number };
    expect(err2.statusCode).toBe(500);
    expect(err2.message).toContain('plain failure');
  });

  it('invalid JSON is a clear error', async () => {
    handler = (_req, res) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"Id": '); };
    const err = await createDockerApi(sock).info().catch((e: unknown) => e) as Error;
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toMatch(/docker info: the answer is not JSON/);
    expect(classifyDockerError(err)).toBe('other');
  });

  it('an answer over the cap is refused, announced or streamed', async () => {
    const big = JSON.stringify([{ Id: 'x'.repeat(4096) }]);
    handler = (_req, res) => { res.writeHead(200, { 'content-length': big.length }); res.end(big); };
    const api = createDockerApi(sock, { maxBodyBytes: 1024 });
    await expect(api.networks()).rejects.toThrow(/docker networks: answer larger than 1024 bytes/);
    // chunked: no length up front, the cap applies as it arrives
    let written = 0;
    handler = (_req, res) => {
      res.writeHead(200);
      const more = () => {
        while (written < 1 << 20 && res.write('x'.repeat(8192))) written += 8192;
        if (written < 1 << 20) res.once('drain', more);
        else res.end();
      };
      more();
    };
    await expect(api.networks()).rejects.toThrow(/answer larger than 1024 bytes/);
    // and the client still works
    handler = json([]);
    expect(await api.networks()).toEqual([]);
  });

  it('a daemon that never answers fails with ETIMEDOUT within the deadline', async () => {
    const open: http.ServerResponse[] = [];
    handler = (_req, res) => { open.push(res); };
    const api = createDockerApi(sock, { timeoutMs: 300 });
    const t0 = Date.now();
    const err = await api.info().catch((e: unknown) => e) as Error & { code?: string };
    const ms = Date.now() - t0;
    expect(err.code).toBe('ETIMEDOUT');
    expect(err.message).toBe('docker info: no answer in 300 ms');
    expect(classifyDockerError(err)).toBe('timeout');
    expect(ms).toBeGreaterThanOrEqual(290);
    expect(ms).toBeLessThan(1500);
    // the request was destroyed: the server sees its connection close
    await new Promise<void>((r) => (open[0]!.destroyed || open[0]!.writableFinished ? r() : open[0]!.once('close', () => r())));
  });

  it('the deadline is for the whole answer, not for each chunk', async () => {
    handler = (_req, res) => {
      res.writeHead(200);
      res.write('[');
      const t = setInterval(() => res.write(' '), 50);
      res.on('close', () => clearInterval(t));
    };
    const err = await createDockerApi(sock, { timeoutMs: 300 }).containers().catch((e: unknown) => e) as Error & { code?: string };
    expect(err.code).toBe('ETIMEDOUT');
    expect(err.message).toBe('docker containers: no answer in 300 ms');
  });

  it('a missing socket fails with ENOENT, a refusing one with ECONNREFUSED', async () => {
    const err = await createDockerApi(join(dir, 'none.sock')).info().catch((e: unknown) => e) as Error & { code?: string };
    expect(err.code).toBe('ENOENT');
    expect(classifyDockerError(err)).toBe('unreachable');
    const free = http.createServer();
    await new Promise<void>((r) => free.listen(0, '127.0.0.1', r));
    const port = (free.address() as AddressInfo).port;
    await new Promise((r) => free.close(r));
    const err2 = await createDockerApi(`tcp://127.0.0.1:${port}`).info().catch((e: unknown) => e) as Error & { code?: string };
    expect(err2.code).toBe('ECONNREFUSED');
    expect(classifyDockerError(err2)).toBe('unreachable');
  });

  it('a connection cut mid-answer is unreachable, not a hang', async () => {
    handler = (req, res) => { res.writeHead(200); res.write('[{"Id":'); setTimeout(() => req.socket.destroy(), 20); };
    const err = await createDockerApi(sock, { timeoutMs: 5_000 }).networks().catch((e: unknown) => e) as Error & { code?: string };
    expect(err).toBeInstanceOf(Error);
    expect(classifyDockerError(err)).toBe('unreachable');
  });
});

describe('tcp:// and http:// hosts', () => {
  const tcp = http.createServer((req, res) => json({ url: req.url, host: req.headers.host })(req, res));
  let port = 0;
  beforeAll(async () => {
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
    port = (tcp.address() as AddressInfo).port;
  });
  afterAll(async () => {
    tcp.closeAllConnections();
    await new Promise((r) => tcp.close(r));
  });

  it('talks plain HTTP to host:port', async () => {
    expect(await createDockerApi(`tcp://127.0.0.1:${port}`).info()).toEqual({ url: '/info', host: `127.0.0.1:${port}` });
    expect(await createDockerApi(`http://127.0.0.1:${port}/`).containers()).toMatchObject({ url: '/containers/json?all=true' });
  });

  it('parses the host forms', () => {
    expect(parseDockerHost('unix:///var/run/docker.sock')).toEqual({ socketPath: '/var/run/docker.sock' });
    expect(parseDockerHost('/run/d.sock')).toEqual({ socketPath: '/run/d.sock' });
    expect(parseDockerHost('tcp://10.0.0.1:2375')).toEqual({ protocol: 'http', host: '10.0.0.1', port: 2375 });
    expect(parseDockerHost('http://dockerd')).toEqual({ protocol: 'http', host: 'dockerd', port: 2375 });
    expect(parseDockerHost('tcp://[::1]:2376')).toEqual({ protocol: 'http', host: '::1', port: 2376 });
    expect(() => parseDockerHost('unix://')).toThrow(/no socket path/);
    expect(() => parseDockerHost('ssh://user@host')).toThrow(/expected unix/);
    expect(() => parseDockerHost('https://host:2376')).toThrow(/expected unix/);
  });
});

describe('events', () => {
  const filters = { type: ['container', 'network'], event: ['start', 'die'] };

  /** a stream the test writes to; resolves with the server side once the client connected */
  function streaming(): Promise<{ req: http.IncomingMessage; res: http.ServerResponse }> {
    return new Promise((resolve) => {
      handler = (req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.flushHeaders();
        resolve({ req, res });
      };
    });
  }

  it('sends the filters, splits lines across chunks and skips a malformed one', async () => {
    const server = streaming();
    const got: DockerEvent[] = [];
    const stream = await createDockerApi(sock).events(filters, (e) => got.push(e));
    const { req, res } = await server;
    expect(req.method).toBe('GET');
    const url = new URL(req.url!, 'http://x');
    expect(url.pathname).toBe('/events');
    expect(JSON.parse(url.searchParams.get('filters')!)).toEqual(filters);
    const a = JSON.stringify({ Type: 'container', Action: 'start', Actor: { ID: 'c1' } });
    const b = JSON.stringify({ Type: 'network', Action: 'connect', Actor: { ID: 'n1', Attributes: { container: 'c2' } } });
    res.write(a.slice(0, 10));
    await new Promise((r) => setTimeout(r, 20));
    res.write(`${a.slice(10)}\n{not json}\n\n${b.slice(0, 5)}`);
    await new Promise((r) => setTimeout(r, 20));
    // a multi-byte character split between chunks
    const c = Buffer.from(`${JSON.stringify({ Type: 'container', Action: 'die', Actor: { ID: 'ü' } })}\n`);
    const cut = c.indexOf(Buffer.from('ü')) + 1;
    res.write(`${b.slice(5)}\n`);
    res.write(c.subarray(0, cut));
    await new Promise((r) => setTimeout(r, 20));
    res.write(c.subarray(cut));
    await expect.poll(() => got.length).toBe(3);
    expect(got.map((e) => e.Actor?.ID)).toEqual(['c1', 'n1', 'ü']);
    stream.close();
    expect(await stream.ended).toBeUndefined();
  });

  it('drops a line longer than the limit without buffering it', async () => {
    const server = streaming();
    const got: DockerEvent[] = [];
    const stream = await createDockerApi(sock).events(filters, (e) => got.push(e));
    const { res } = await server;
    res.write('x'.repeat((1 << 20) + 10));
    res.write(`${'y'.repeat(100)}\n${JSON.stringify({ Type: 'container', Action: 'start' })}\n`);
    await expect.poll(() => got.length).toBe(1);
    stream.close();
  });

  it('close() destroys the connection', async () => {
    const server = streaming();
    const stream = await createDockerApi(sock).events(filters, () => undefined);
    const { res } = await server;
    const closed = new Promise<void>((r) => res.once('close', () => r()));
    stream.close();
    await closed;
    expect(await stream.ended).toBeUndefined();
  });

  it('ended settles when dockerd ends the stream or goes away', async () => {
    let server = streaming();
    let stream = await createDockerApi(sock).events(filters, () => undefined);
    (await server).res.end();
    expect(await stream.ended).toBeUndefined();

    server = streaming();
    stream = await createDockerApi(sock).events(filters, () => undefined);
    (await server).req.socket.destroy();
    const settled = await stream.ended;
    expect(settled === undefined || settled instanceof Error).toBe(true);
  });

  it('stays open while quiet past the deadline', async () => {
    const server = streaming();
    const got: DockerEvent[] = [];
    const stream = await createDockerApi(sock, { timeoutMs: 100 }).events(filters, (e) => got.push(e));
    const { res } = await server;
    let ended = false;
    void stream.ended.then(() => { ended = true; });
    await new Promise((r) => setTimeout(r, 400));
    expect(ended).toBe(false);
    res.write(`${JSON.stringify({ Type: 'container', Action: 'start' })}\n`);
    await expect.poll(() => got.length).toBe(1);
    stream.close();
  });

  it('no answer before the deadline: ETIMEDOUT', async () => {
    handler = () => undefined;
    const t0 = Date.now();
    const err = await createDockerApi(sock, { timeoutMs: 200 }).events(filters, () => undefined).catch((e: unknown) => e) as Error & { code?: string };
    expect(err.code).toBe('ETIMEDOUT');
    expect(err.message).toBe('docker events: no answer in 200 ms');
    expect(Date.now() - t0).toBeLessThan(1500);
  });

  it('an error answer rejects with statusCode and message; a missing socket with ENOENT', async () => {
    handler = json({ message: 'invalid filter' }, 400);
    const err = await createDockerApi(sock).events(filters, () => undefined).catch((e: unknown) => e) as Error & { statusCode?: number };
    expect(err.statusCode).toBe(400);
    expect(err.message).toContain('invalid filter');
    const err2 = await createDockerApi(join(dir, 'none.sock')).events(filters, () => undefined).catch((e: unknown) => e) as Error & { code?: string };
    expect(err2.code).toBe('ENOENT');
  });
});
