// The exporter-toolkit web config file: parsing errors, and a real HTTPS server
// (fastify + the loader's options and hook) exercised by Node's own TLS clients
// with certificates that openssl makes for each run.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, renameSync, readFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import bcrypt from 'bcryptjs';
import fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultTarget, healthcheck } from '../../src/web/healthcheck.js';
import { WebConfigError, loadWebConfig } from '../../src/web/config.js';
import { parseBasicAuthorization } from '../../src/web/basic-auth.js';
import { parseWebConfig } from '../../src/web/schema.js';
import { parseDuration } from '../../src/duration.js';

let dir: string;
const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });

/** An EC key and a certificate for it, signed by `ca` (or self-signed). */
function makeCert(name: string, cn: string, opts: { ca?: string; san?: string; isCa?: boolean } = {}) {
  ssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, [
    opts.isCa ? 'basicConstraints=critical,CA:TRUE' : 'basicConstraints=CA:FALSE',
    opts.isCa ? 'keyUsage=critical,keyCertSign,cRLSign' : 'keyUsage=digitalSignature',
    ...(opts.san ? [`subjectAltName=${opts.san}`] : []),
    ...(opts.isCa ? [] : ['extendedKeyUsage=serverAuth,clientAuth']),
  ].join('\n') + '\n');
  if (opts.ca) {
    ssl('req', '-new', '-key', `${name}.key`, '-subj', `/CN=${cn}`, '-out', `${name}.csr`);
    ssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${opts.ca}.crt`, '-CAkey', `${opts.ca}.key`, '-CAcreateserial',
      '-days', '2', '-extfile', ext, '-out', `${name}.crt`);
  } else {
    ssl('req', '-x509', '-new', '-key', `${name}.key`, '-subj', `/CN=${cn}`, '-days', '2',
      '-addext', opts.isCa ? 'basicConstraints=critical,CA:TRUE' : 'basicConstraints=CA:FALSE',
      ...(opts.san ? ['-addext', `subjectAltName=${opts.san}`] : []),
      '-out', `${name}.crt`);
  }
  return { cert: readFileSync(join(dir, `${name}.crt`)), key: readFileSync(join(dir, `${name}.key`)) };
}

let pki: Record<'ca' | 'server' | 'server2' | 'clientCa' | 'client' | 'rogue', { cert: Buffer; key: Buffer }>;
const PASSWORD = 'scrape-me';
let hash: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'swarmnet-webconfig-'));
  pki = {
    ca: makeCert('ca', 'test server CA', { isCa: true }),
    server: undefined as never,
    server2: undefined as never,
    clientCa: makeCert('client-ca', 'test client CA', { isCa: true }),
    client: undefined as never,
    rogue: makeCert('rogue', 'rogue client', { san: 'DNS:prometheus' }),
  };
  pki.server = makeCert('server', 'exporter one', { ca: 'ca', san: 'IP:127.0.0.1,DNS:localhost' });
  pki.server2 = makeCert('server2', 'exporter two', { ca: 'ca', san: 'IP:127.0.0.1,DNS:localhost' });
  pki.client = makeCert('client', 'prometheus', { ca: 'client-ca', san: 'DNS:prometheus' });
  hash = bcrypt.hashSync(PASSWORD, 4);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function writeConfig(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

async function loadError(text: string, name = 'bad.yml'): Promise<WebConfigError> {
  const p = writeConfig(name, text);
  try {
    await loadWebConfig(p, { watch: false, sighup: false });
  } catch (err) {
    expect(err).toBeInstanceOf(WebConfigError);
    return err as WebConfigError;
  }
  throw new Error(`loading ${name} did not fail`);
}

describe('web config file: validation', () => {
  it('accepts an empty file and no file at all as plain HTTP without auth', async () => {
    const empty = await loadWebConfig(writeConfig('empty.yml', ''), { watch: false });
    expect(empty.tls).toBe(false);
    expect(empty.serverOptions).toEqual({});
    expect(empty.auth.enabled).toBe(false);
    const none = await loadWebConfig(undefined);
    expect(none.tls).toBe(false);
    expect(none.path).toBeUndefined();
  });

  it('refuses unknown keys, naming file, line and field', async () => {
    const top = await loadError('tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_user:\n  a: b\n');
    expect(top.message).toContain(join(dir, 'bad.yml'));
    expect(top.field).toBe('basic_auth_user');
    expect(top.line).toBe(4);
    expect(top.message).toMatch(/bad\.yml:4: basic_auth_user: unknown field/);

    const nested = await loadError('tls_server_config:\n  cert_file: server.crt\n  keyfile: server.key\n');
    expect(nested.field).toBe('tls_server_config.keyfile');
    expect(nested.line).toBe(3);
    expect(nested.message).toContain('key_file');
  });

  it('refuses a certificate without a key and a key without a certificate', async () => {
    const noKey = await loadError('tls_server_config:\n  cert_file: server.crt\n');
    expect(noKey.field).toBe('tls_server_config');
    expect(noKey.line).toBe(1);
    expect(noKey.message).toMatch(/private key.*key_file/);
    const noCert = await loadError('tls_server_config:\n  key_file: server.key\n');
    expect(noCert.message).toMatch(/certificate.*cert_file/);
  });

  it('names an unreadable certificate, key or CA file', async () => {
    const e = await loadError('tls_server_config:\n  cert_file: missing.crt\n  key_file: server.key\n');
    expect(e.field).toBe('tls_server_config.cert_file');
    expect(e.message).toContain(join(dir, 'missing.crt'));
    expect(e.message).toContain('ENOENT');
    const ca = await loadError('tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: /nonexistent/ca.pem\n');
    expect(ca.field).toBe('tls_server_config.client_ca_file');
    const garbage = writeConfig('garbage.pem', 'not a certificate\n');
    const g = await loadError(`tls_server_config:\n  cert_file: ${garbage}\n  key_file: server.key\n`);
    expect(g.field).toBe('tls_server_config.cert_file');
    expect(g.message).toMatch(/no PEM certificate/);
  });

  it('refuses a key that does not belong to the certificate', async () => {
    const e = await loadError('tls_server_config:\n  cert_file: server.crt\n  key_file: server2.key\n');
    expect(e.field).toBe('tls_server_config.key_file');
    expect(e.message).toMatch(/does not match/);
  });

  it('refuses a password that is not a bcrypt hash', async () => {
    const plain = await loadError('basic_auth_users:\n  prometheus: secret\n');
    expect(plain.field).toBe('basic_auth_users.prometheus');
    expect(plain.line).toBe(2);
    expect(plain.message).toMatch(/not a bcrypt hash/);
    const truncated = await loadError(`basic_auth_users:\n  prometheus: "${hash.slice(0, -1)}"\n`);
    expect(truncated.field).toBe('basic_auth_users.prometheus');
  });

  it('refuses bad enumerations, headers, types and YAML', async () => {
    expect((await loadError('tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireCert\n')).field)
      .toBe('tls_server_config.client_auth_type');
    expect((await loadError('tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_version: TLS14\n')).field)
      .toBe('tls_server_config.min_version');
    expect((await loadError('tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_version: TLS13\n  max_version: TLS12\n')).message)
      .toMatch(/above max_version/);
    expect((await loadError('tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_ca_file: client-ca.crt\n')).message)
      .toMatch(/without a client auth policy/);
    expect((await loadError('tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n')).message)
      .toMatch(/needs client_ca_file/);
    expect((await loadError('tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  cipher_suites: [TLS_FOO]\n')).message)
      .toMatch(/unknown cipher suite "TLS_FOO"/);
    expect((await loadError('http_server_config:\n  headers:\n    Server: nginx\n')).field).toBe('http_server_config.headers.Server');
    expect((await loadError('http_server_config:\n  headers:\n    X-Frame-Options: allow\n')).message).toMatch(/deny, sameorigin/);
    expect((await loadError('http_server_config:\n  http2: maybe\n')).message).toMatch(/true or false/);
    expect((await loadError('rate_limit:\n  interval: soon\n  burst: 1\n')).field).toBe('rate_limit.interval');
    const yaml = await loadError('basic_auth_users: [\n');
    expect(yaml.message).toMatch(/not valid YAML/);
    expect((await loadError('basic_auth_users:\n  a: x\n  a: y\n')).message).toMatch(/not valid YAML.*(unique|Map keys)/i);
    const missing = join(dir, 'no-such-config.yml');
    await expect(loadWebConfig(missing)).rejects.toThrow(`web config file ${missing}: cannot read: ENOENT`);
  });

  it('parses durations, authorization headers and relative paths', () => {
    expect(parseDuration('1m30s')).toBe(90_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(() => parseDuration('10')).toThrow(/not a duration/);
    expect(parseBasicAuthorization(`Basic ${Buffer.from('u:p:q').toString('base64')}`)).toEqual({ user: 'u', password: 'p:q' });
    expect(parseBasicAuthorization('Bearer abc')).toBeUndefined();
    const spec = parseWebConfig('tls_server_config:\n  cert_file: certs/a.crt\n  key_file: /abs/a.key\n', '/etc/swarmnet/web.yml');
    expect(spec.tls?.certFile).toBe('/etc/swarmnet/certs/a.crt');
    expect(spec.tls?.keyFile).toBe('/abs/a.key');
    expect(spec.tls?.minVersion).toBe('TLSv1.2');
  });
});

// ---------------------------------------------------------------------------

interface Response { status: number; headers: http.IncomingHttpHeaders; body: string; peerCn?: string }

function get(port: number, opts: { auth?: string; tls?: boolean; cert?: { cert: Buffer; key: Buffer }; path?: string; ca?: Buffer } = {}): Promise<Response> {
  return new Promise((resolveP, reject) => {
    const headers: Record<string, string> = {};
    if (opts.auth) headers.authorization = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
    const common = { host: '127.0.0.1', port, path: opts.path ?? '/metrics', headers, agent: false as const, timeout: 5000 };
    const onRes = (res: http.IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        const sock = res.socket as tls.TLSSocket;
        const peerCn = typeof sock.getPeerCertificate === 'function' ? String(sock.getPeerCertificate().subject?.CN ?? '') : undefined;
        resolveP({ status: res.statusCode ?? 0, headers: res.headers, body, peerCn });
      });
      res.on('error', reject);
    };
    const req = opts.tls === false
      ? http.get(common, onRes)
      : https.get({ ...common, ca: opts.ca ?? pki.ca.cert, ...(opts.cert ?? {}), servername: 'localhost' }, onRes);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

async function serve(configPath: string, debounceMs = 50): Promise<{ app: FastifyInstance; port: number; web: Awaited<ReturnType<typeof loadWebConfig>> }> {
  const web = await loadWebConfig(configPath, { debounceMs, sighup: false });
  // the server (http, https or http2) depends on the file: fastify's types cannot follow, as in app.ts
  const app = fastify({ ...web.serverOptions, logger: false } as FastifyServerOptions);
  web.register(app);
  app.get('/metrics', async () => 'swarmnet_up 1\n');
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, port: (app.server.address() as AddressInfo).port, web };
}

describe('web config file: a real HTTPS server', () => {
  it('serves the right password, refuses wrong and missing ones with 401, and caches bcrypt', async () => {
    const p = writeConfig('tls-auth.yml', [
      'tls_server_config:',
      '  cert_file: server.crt',
      '  key_file: server.key',
      'http_server_config:',
      '  headers:',
      '    X-Content-Type-Options: nosniff',
      'basic_auth_users:',
      `  prometheus: "${hash}"`,
      '',
    ].join('\n'));
    const { app, port, web } = await serve(p);
    try {
      expect(web.tls).toBe(true);
      const ok = await get(port, { auth: `prometheus:${PASSWORD}` });
      expect(ok.status).toBe(200);
      expect(ok.body).toBe('swarmnet_up 1\n');
      expect(ok.peerCn).toBe('exporter one');
      expect(ok.headers['x-content-type-options']).toBe('nosniff');

      for (const auth of [`prometheus:wrong`, `nobody:${PASSWORD}`, undefined]) {
        const r = await get(port, { auth });
        expect(r.status, `auth ${auth}`).toBe(401);
        expect(r.headers['www-authenticate']).toBe('Basic');
        expect(r.body).not.toContain('swarmnet_up');
      }
      // repeated scrapes with the same credentials cost no further bcrypt
      const runs = web.auth.bcryptRuns;
      for (let i = 0; i < 5; i++) expect((await get(port, { auth: `prometheus:${PASSWORD}` })).status).toBe(200);
      for (let i = 0; i < 3; i++) expect((await get(port, { auth: 'prometheus:wrong' })).status).toBe(401);
      expect(web.auth.bcryptRuns).toBe(runs);
      // concurrent first scrapes share one bcrypt run
      const fresh = await Promise.all([1, 2, 3].map(() => get(port, { auth: 'prometheus:other-wrong' })));
      expect(fresh.map((r) => r.status)).toEqual([401, 401, 401]);
      expect(web.auth.bcryptRuns).toBe(runs + 1);
    } finally {
      await app.close();
    }
  });

  it('refuses plain HTTP when TLS is on, and a client that does not trust the certificate', async () => {
    const p = writeConfig('tls-only.yml', 'tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n');
    const { app, port } = await serve(p);
    try {
      await expect(get(port, { tls: false })).rejects.toThrow(/socket hang up|ECONNRESET|Parse Error/);
      await expect(get(port, { ca: pki.clientCa.cert })).rejects.toThrow(/certificate/);
      expect((await get(port)).status).toBe(200);
      // TLS 1.1 is below the default min_version TLS12
      await expect(new Promise((res, rej) => {
        const s = tls.connect({ host: '127.0.0.1', port, ca: pki.ca.cert, servername: 'localhost', maxVersion: 'TLSv1.1', minVersion: 'TLSv1' }, () => res(s));
        s.on('error', rej);
      })).rejects.toThrow();
    } finally {
      await app.close();
    }
  });

  it('RequireAndVerifyClientCert: only certificates signed by client_ca_file get in', async () => {
    const p = writeConfig('mtls.yml', 'tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: client-ca.crt\n');
    const { app, port } = await serve(p);
    try {
      expect((await get(port, { cert: pki.client })).status).toBe(200);
      await expect(get(port)).rejects.toThrow();
      await expect(get(port, { cert: pki.rogue })).rejects.toThrow();
    } finally {
      await app.close();
    }
  });

  it('RequireAnyClientCert, VerifyClientCertIfGiven and client_allowed_sans', async () => {
    const any = await serve(writeConfig('any.yml', 'tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireAnyClientCert\n'));
    try {
      expect((await get(any.port, { cert: pki.rogue })).status).toBe(200);
      await expect(get(any.port)).rejects.toThrow(/socket hang up|ECONNRESET/);
    } finally {
      await any.app.close();
    }
    const ifGiven = await serve(writeConfig('ifgiven.yml', 'tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: client-ca.crt\n'));
    try {
      expect((await get(ifGiven.port)).status).toBe(200);
      expect((await get(ifGiven.port, { cert: pki.client })).status).toBe(200);
      await expect(get(ifGiven.port, { cert: pki.rogue })).rejects.toThrow(/socket hang up|ECONNRESET/);
    } finally {
      await ifGiven.app.close();
    }
    const sans = await serve(writeConfig('sans.yml', 'tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: client-ca.crt\n  client_allowed_sans: [other]\n'));
    try {
      await expect(get(sans.port, { cert: pki.client })).rejects.toThrow(/socket hang up|ECONNRESET/);
    } finally {
      await sans.app.close();
    }
  });

  it('reloads certificate, users and client policy when the files change, and keeps running on a bad edit', async () => {
    const certPath = join(dir, 'live.crt');
    const keyPath = join(dir, 'live.key');
    writeFileSync(certPath, pki.server.cert);
    writeFileSync(keyPath, pki.server.key);
    const p = writeConfig('live.yml', `tls_server_config:\n  cert_file: live.crt\n  key_file: live.key\nbasic_auth_users:\n  prometheus: "${hash}"\n`);
    const { app, port, web } = await serve(p, 20);
    const until = async (what: () => Promise<boolean>) => {
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline) {
        if (await what()) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error('condition not reached in 5 s');
    };
    try {
      expect((await get(port, { auth: `prometheus:${PASSWORD}` })).peerCn).toBe('exporter one');
      // certbot-style rotation: new files renamed into place
      writeFileSync(`${keyPath}.new`, pki.server2.key);
      writeFileSync(`${certPath}.new`, pki.server2.cert);
      renameSync(`${keyPath}.new`, keyPath);
      renameSync(`${certPath}.new`, certPath);
      await until(async () => (await get(port, { auth: `prometheus:${PASSWORD}` })).peerCn === 'exporter two');

      // a new user and password
      const hash2 = bcrypt.hashSync('second', 4);
      writeFileSync(p, `tls_server_config:\n  cert_file: live.crt\n  key_file: live.key\nbasic_auth_users:\n  grafana: "${hash2}"\n`);
      await until(async () => (await get(port, { auth: 'grafana:second' })).status === 200);
      expect((await get(port, { auth: `prometheus:${PASSWORD}` })).status).toBe(401);

      // a broken edit is refused and the running configuration stays
      writeFileSync(p, 'tls_server_config:\n  cert_file: live.crt\n');
      await expect(web.reload()).rejects.toThrow(/private key/);
      expect((await get(port, { auth: 'grafana:second' })).status).toBe(200);

      // turning on client certificates applies to new connections
      writeFileSync(p, `tls_server_config:\n  cert_file: live.crt\n  key_file: live.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: client-ca.crt\n`);
      await web.reload();
      await expect(get(port)).rejects.toThrow();
      expect((await get(port, { cert: pki.client })).status).toBe(200);

      // TLS cannot be switched off without a restart
      writeFileSync(p, `basic_auth_users:\n  grafana: "${hash2}"\n`);
      await expect(web.reload()).rejects.toThrow(/needs a restart/);
      expect((await get(port, { cert: pki.client })).status).toBe(200);
    } finally {
      await app.close();
    }
  });

  it('basic auth over plain HTTP, and the rate limit', async () => {
    const p = writeConfig('plain-auth.yml', `basic_auth_users:\n  prometheus: "${hash}"\nrate_limit:\n  burst: 3\n  interval: 1m\n`);
    const { app, port, web } = await serve(p);
    try {
      expect(web.tls).toBe(false);
      expect((await get(port, { tls: false, auth: `prometheus:${PASSWORD}` })).status).toBe(200);
      expect((await get(port, { tls: false })).status).toBe(401);
      expect((await get(port, { tls: false, auth: `prometheus:${PASSWORD}` })).status).toBe(200);
      expect((await get(port, { tls: false, auth: `prometheus:${PASSWORD}` })).status).toBe(429);
    } finally {
      await app.close();
    }
  });
});

interface H2Response { status: number; headers: http2.IncomingHttpHeaders; body: string; alpn: string | false | undefined }

/** One request over an HTTP/2 connection (ALPN h2 only, as Prometheus' Go client offers it first). */
function h2get(port: number, opts: { auth?: string; cert?: { cert: Buffer; key: Buffer }; path?: string } = {}): Promise<H2Response> {
  return new Promise((resolveP, reject) => {
    const client = http2.connect(`https://127.0.0.1:${port}`, { ca: pki.ca.cert, servername: 'localhost', ...(opts.cert ?? {}) });
    client.on('error', (err) => {
      client.destroy();
      reject(err);
    });
    const headers: http2.OutgoingHttpHeaders = { ':path': opts.path ?? '/metrics' };
    if (opts.auth) headers.authorization = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
    const req = client.request(headers);
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    let res: http2.IncomingHttpHeaders | undefined;
    let body = '';
    req.setEncoding('utf8');
    req.on('response', (h) => (res = h));
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const alpn = client.alpnProtocol;
      client.close();
      // a connection the server closes (client certificate refused) ends the stream with no response
      if (!res) reject(new Error('connection closed without a response'));
      else resolveP({ status: Number(res[':status']), headers: res, body, alpn });
    });
    req.on('error', (err) => {
      client.destroy();
      reject(err);
    });
    req.end();
  });
}

/** The protocol the server picks when a client offers h2 and http/1.1. */
function negotiated(port: number): Promise<string | false> {
  return new Promise((resolveP, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca: pki.ca.cert, servername: 'localhost', ALPNProtocols: ['h2', 'http/1.1'] }, () => {
      const p = s.alpnProtocol;
      s.end();
      resolveP(p ?? false);
    });
    s.on('error', reject);
  });
}

describe('web config file: HTTP/2', () => {
  it('serves HTTP/2 over TLS by default, next to HTTP/1.1, with auth, headers and client certificates applied', async () => {
    const p = writeConfig('h2.yml', [
      'tls_server_config:',
      '  cert_file: server.crt',
      '  key_file: server.key',
      'http_server_config:',
      '  headers:',
      '    X-Frame-Options: deny',
      'basic_auth_users:',
      `  prometheus: "${hash}"`,
      '',
    ].join('\n'));
    const { app, port, web } = await serve(p);
    try {
      expect(web.http2).toBe(true);
      expect(web.serverOptions).toMatchObject({ http2: true, https: { allowHTTP1: true } });
      const ok = await h2get(port, { auth: `prometheus:${PASSWORD}` });
      expect(ok).toMatchObject({ status: 200, body: 'swarmnet_up 1\n', alpn: 'h2' });
      expect(ok.headers['x-frame-options']).toBe('deny');
      const denied = await h2get(port, { auth: 'prometheus:wrong' });
      expect(denied.status).toBe(401);
      expect(denied.headers['www-authenticate']).toBe('Basic');
      expect(denied.body).not.toContain('swarmnet_up');
      expect(await negotiated(port)).toBe('h2');
      // HTTP/1.1 clients (no ALPN, or http/1.1 only) still get in
      const h1 = await get(port, { auth: `prometheus:${PASSWORD}` });
      expect(h1.status).toBe(200);
      expect(h1.body).toBe('swarmnet_up 1\n');
    } finally {
      await app.close();
    }

    const mtls = await serve(writeConfig('h2-mtls.yml', 'tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireAnyClientCert\n'));
    try {
      expect((await h2get(mtls.port, { cert: pki.rogue })).status).toBe(200);
      await expect(h2get(mtls.port)).rejects.toThrow();
    } finally {
      await mtls.app.close();
    }
  });

  it('http2: false serves HTTP/1.1 only', async () => {
    const p = writeConfig('h1.yml', 'tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nhttp_server_config:\n  http2: false\n');
    const { app, port, web } = await serve(p);
    try {
      expect(web.http2).toBe(false);
      expect(web.serverOptions).not.toHaveProperty('http2');
      expect(await negotiated(port)).not.toBe('h2');
      await expect(h2get(port)).rejects.toThrow();
      const h1 = await get(port);
      expect(h1.status).toBe(200);
      expect(h1.body).toBe('swarmnet_up 1\n');
    } finally {
      await app.close();
    }
  });

  it('has no effect without TLS (HTTP/2 needs TLS, as in exporter-toolkit) and cannot be switched without a restart', async () => {
    const plain = await loadWebConfig(writeConfig('h2-plain.yml', 'http_server_config:\n  http2: true\n'), { watch: false, sighup: false });
    expect(plain.http2).toBe(false);
    expect(plain.serverOptions).toEqual({});

    const p = writeConfig('h2-switch.yml', 'tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n');
    const web = await loadWebConfig(p, { watch: false, sighup: false });
    expect(web.http2).toBe(true);
    writeFileSync(p, 'tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nhttp_server_config:\n  http2: false\n');
    await expect(web.reload()).rejects.toThrow(/http_server_config.http2: switching HTTP\/2 off needs a restart/);
    expect(web.spec.http2).toBe(true);
  });
});

describe('container health check', () => {
  it('finds the port from the exporter command line', () => {
    expect(defaultTarget(['node', 'dist/main.js'])).toBe('http://127.0.0.1:9477/healthz');
    expect(defaultTarget(['node', 'dist/main.js', '--web.listen-address=:9500'])).toBe('http://127.0.0.1:9500/healthz');
    expect(defaultTarget(['node', 'dist/main.js', '--web.listen-address', '127.0.0.2:9501'])).toBe('http://127.0.0.2:9501/healthz');
    expect(defaultTarget(['node', 'dist/main.js', '--web.listen-address=[::]:9502'])).toBe('http://[::1]:9502/healthz');
    expect(defaultTarget(undefined)).toBe('http://127.0.0.1:9477/healthz');
  });

  it('sees the exporter alive over plain HTTP, basic auth, TLS and mutual TLS, and dead when the port is closed or failing', async () => {
    const configs = {
      plain: writeConfig('hc-plain.yml', ''),
      auth: writeConfig('hc-auth.yml', `basic_auth_users:\n  prometheus: "${hash}"\n`),
      tls: writeConfig('hc-tls.yml', 'tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n'),
      mtls: writeConfig('hc-mtls.yml', 'tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: client-ca.crt\n'),
    };
    for (const [name, p] of Object.entries(configs)) {
      const { app, port } = await serve(p);
      try {
        const o = await healthcheck(`http://127.0.0.1:${port}/healthz`);
        expect(o.alive, `${name}: ${o.detail}`).toBe(true);
      } finally {
        await app.close();
      }
    }
    const { app, port } = await serve(configs.plain);
    await app.close();
    expect((await healthcheck(`http://127.0.0.1:${port}/healthz`)).alive).toBe(false);

    const failing = fastify({ logger: false });
    failing.get('/healthz', async (_req, reply) => reply.code(503).send('closing'));
    await failing.listen({ host: '127.0.0.1', port: 0 });
    try {
      const o = await healthcheck(`http://127.0.0.1:${(failing.server.address() as AddressInfo).port}/healthz`);
      expect(o).toMatchObject({ alive: false, detail: 'HTTP 503' });
    } finally {
      await failing.close();
    }
  });
});
