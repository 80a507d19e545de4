// The Prometheus exporter-toolkit web configuration file (--web.config.file):
// TLS, client certificates, basic auth, extra response headers, a rate limit
// and HTTP/2, with the same keys and meanings as the Go exporters'. It is
// validated in full at start (a bad file stops the exporter with the file,
// line and field named) and re-read when it or a file it names changes, or on
// SIGHUP: a valid new version replaces users, headers, certificate and key,
// client CA and client auth policy without a restart; an invalid one is logged
// and the running configuration kept.
//
// This module puts the pieces together; each concern has its own:
//   schema.ts (the file's sections) with fields.ts (typed, located YAML values),
//   tls.ts, basic-auth.ts, rate-limit.ts, http-server.ts, watch.ts.
//
// Wiring:
//   const web = await loadWebConfig(cfg.webConfigFile);
//   const app = fastify({ ...web.serverOptions, ... });
//   web.register(app);
import { readFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { resolve } from 'node:path';
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BasicAuth, parseBasicAuthorization } from './basic-auth.js';
import { WebConfigError } from './fields.js';
import { RateLimiter } from './rate-limit.js';
import { type WebConfigSpec, defaultWebConfigSpec, parseWebConfig } from './schema.js';
import { type TlsOptions, buildTlsOptions, peerRefusal } from './tls.js';
import { watchForChanges } from './watch.js';

export { WebConfigError } from './fields.js';
export type { WebConfigSpec } from './schema.js';

/** Options for fastify(): TLS when configured, and HTTP/2 with HTTP/1.1 beside it unless http2: false. */
export type WebServerOptions = { https?: TlsOptions & { allowHTTP1?: boolean }; http2?: true };

export interface WebConfig {
  /** the file, or undefined when none was given (plain HTTP, no auth) */
  readonly path?: string;
  /** true when the server speaks TLS */
  readonly tls: boolean;
  /** true when the server also speaks HTTP/2 (only over TLS, as in exporter-toolkit) */
  readonly http2: boolean;
  /** spread into fastify({ ... }): `https` (and `http2`) options when TLS is on */
  readonly serverOptions: WebServerOptions;
  /** the checked file contents in force */
  readonly spec: WebConfigSpec;
  /** basic auth state (cache statistics for tests) */
  readonly auth: BasicAuth;
  /** adds headers, rate limit and basic auth to every route; for TLS, the client certificate policy and reloading */
  register(app: FastifyInstance): void;
  /** re-read the file and the files it names; throws (and keeps the running config) if invalid */
  reload(): Promise<void>;
}

export interface LoadWebConfigOptions {
  /** reload when the file, the certificate, key or client CA change (default true) */
  watch?: boolean;
  /** reload on SIGHUP (default true) */
  sighup?: boolean;
  /** wait after a file event before reloading, to let writers finish (default 250 ms) */
  debounceMs?: number;
}

/** A checked file with the certificate, key and CA it names read and checked too. */
interface Resolved {
  spec: WebConfigSpec;
  tlsOptions?: TlsOptions;
  /** files whose change triggers a reload */
  files: string[];
}

async function loadResolved(path: string): Promise<Resolved> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new WebConfigError(path, '', `cannot read: ${e.code ?? e.message}`);
  }
  const spec = parseWebConfig(text, path);
  if (!spec.tls) return { spec, files: [path] };
  const { tlsOptions, files } = await buildTlsOptions(spec.tls, path);
  return { spec, tlsOptions, files: [path, ...files] };
}

/**
 * HTTP/2 is negotiated by ALPN, so it needs TLS: Go's net/http (and so
 * exporter-toolkit) serves it over TLS only, and without TLS `http2` has no
 * effect. allowHTTP1 keeps HTTP/1.1 clients (most scrapers, the health check) working.
 */
function serverOptions(r: Resolved): WebServerOptions {
  if (!r.tlsOptions) return {};
  return r.spec.http2 ? { http2: true, https: { ...r.tlsOptions, allowHTTP1: true } } : { https: { ...r.tlsOptions } };
}

/**
 * Load and check a web config file. With no path, a config that serves plain
 * HTTP with no authentication. Throws WebConfigError naming the file, line and
 * field when the file is not valid.
 */
export async function loadWebConfig(path?: string, opts: LoadWebConfigOptions = {}): Promise<WebConfig> {
  const file = path ? resolve(path) : undefined;
  let current: Resolved = file ? await loadResolved(file) : { spec: defaultWebConfigSpec(), files: [] };
  const auth = new BasicAuth(current.spec.users);
  let limiter = current.spec.rateLimit ? new RateLimiter(current.spec.rateLimit.burst, current.spec.rateLimit.intervalMs) : undefined;
  const options = serverOptions(current);
  const tlsOn = !!current.tlsOptions;
  const http2On = options.http2 === true;
  let server: TlsServer | undefined;

  const apply = (next: Resolved) => {
    // the server object (http, https or http2) is made once, at start
    if (!!next.tlsOptions !== tlsOn) {
      throw new WebConfigError(file!, 'tls_server_config', `switching TLS ${tlsOn ? 'off' : 'on'} needs a restart; keeping the running configuration`);
    }
    if (tlsOn && next.spec.http2 !== http2On) {
      throw new WebConfigError(file!, 'http_server_config.http2', `switching HTTP/2 ${http2On ? 'off' : 'on'} needs a restart; keeping the running configuration`);
    }
    if (server && next.tlsOptions) {
      server.setSecureContext(next.tlsOptions);
      // read by Node for each new connection
      const s = server as unknown as { requestCert: boolean; rejectUnauthorized: boolean };
      s.requestCert = next.tlsOptions.requestCert === true;
      s.rejectUnauthorized = next.tlsOptions.rejectUnauthorized === true;
    }
    auth.setUsers(next.spec.users);
    const rl = next.spec.rateLimit;
    limiter = rl ? new RateLimiter(rl.burst, rl.intervalMs) : undefined;
    current = next;
  };

  const web: WebConfig = {
    path: file,
    tls: tlsOn,
    http2: http2On,
    serverOptions: options,
    get spec() {
      return current.spec;
    },
    auth,
    async reload() {
      if (!file) return;
      apply(await loadResolved(file));
    },
    register(app: FastifyInstance) {
      if (tlsOn) {
        // an https.Server or an http2 secure server: both are tls.Servers
        server = app.server as unknown as TlsServer;
        server.on('secureConnection', (socket: TLSSocket) => {
          const t = current.spec.tls;
          const why = t && peerRefusal(socket, t);
          if (why) {
            app.log.warn({ remote: socket.remoteAddress, reason: why }, 'TLS client refused');
            socket.destroy();
          }
        });
      }
      app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
        for (const [k, v] of Object.entries(current.spec.headers)) reply.header(k, v);
        if (limiter && !limiter.allow()) {
          return reply.code(429).type('text/plain; charset=utf-8').send('Too Many Requests\n');
        }
        if (!auth.enabled) return;
        const creds = parseBasicAuthorization((req.raw as IncomingMessage).headers.authorization);
        if (creds && (await auth.check(creds.user, creds.password))) return;
        return reply.code(401).header('WWW-Authenticate', 'Basic').type('text/plain; charset=utf-8').send('Unauthorized\n');
      });
      if (!file) return;

      const changes = watchForChanges({
        watch: opts.watch,
        sighup: opts.sighup,
        debounceMs: opts.debounceMs,
        onChange: (why) => {
          web.reload().then(
            () => {
              changes.watchFiles(current.files);
              app.log.info({ file, why }, 'web config reloaded');
            },
            (err: Error) => app.log.error({ file, why, err: err.message }, 'web config reload failed; keeping the running configuration'),
          );
        },
        onWatchError: (dir, err, fatal) => {
          if (fatal) app.log.warn({ dir, err: err.message }, 'cannot watch for web config changes; send SIGHUP to reload');
          else app.log.warn({ dir, err: err.message }, 'web config watch failed');
        },
      });
      changes.watchFiles(current.files);
      app.addHook('onClose', async () => changes.close());
    },
  };
  return web;
}
