// The Prometheus exporter-toolkit web configuration file (--web.config.file):
// TLS, client certificates, basic auth, extra response headers and a rate
// limit, with the same keys and meanings as the Go exporters'. It is validated
// in full at start (a bad file stops the exporter with the file, line and field
// named) and re-read when it or a file it names changes, or on SIGHUP: a valid
// new version replaces users, headers, certificate and key, client CA and
// client auth policy without a restart; an invalid one is logged and the
// running configuration kept.
//
// Wiring:
//   const web = await loadWebConfig(cfg.webConfigFile);
//   const app = fastify({ ...web.serverOptions, ... });
//   web.register(app);
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { type FSWatcher, watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import { basename, dirname, resolve } from 'node:path';
import { type SecureContextOptions, type SecureVersion, type Server as TlsServer, type TLSSocket, createSecureContext } from 'node:tls';
import bcrypt from 'bcryptjs';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { LineCounter, type Node as YamlNode, type Pair, isMap, isScalar, isSeq, parseDocument } from 'yaml';

// ---------------------------------------------------------------------------
// Errors

export class WebConfigError extends Error {
  constructor(
    readonly file: string,
    readonly field: string,
    readonly reason: string,
    readonly line?: number,
  ) {
    super(`web config file ${file}${line !== undefined ? `:${line}` : ''}: ${field ? `${field}: ` : ''}${reason}`);
    this.name = 'WebConfigError';
  }
}

// ---------------------------------------------------------------------------
// Schema: the keys exporter-toolkit accepts, and nothing else

export const CLIENT_AUTH_TYPES = [
  'NoClientCert',
  'RequestClientCert',
  'RequireAnyClientCert',
  'VerifyClientCertIfGiven',
  'RequireAndVerifyClientCert',
] as const;
export type ClientAuthType = (typeof CLIENT_AUTH_TYPES)[number];

const TLS_VERSIONS: Record<string, SecureVersion> = {
  TLS10: 'TLSv1',
  TLS11: 'TLSv1.1',
  TLS12: 'TLSv1.2',
  TLS13: 'TLSv1.3',
};
const VERSION_ORDER: SecureVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

/** Go's crypto/tls cipher suite names (TLS 1.0-1.2) and their OpenSSL names. */
const CIPHERS: Record<string, string> = {
  TLS_RSA_WITH_AES_128_CBC_SHA: 'AES128-SHA',
  TLS_RSA_WITH_AES_256_CBC_SHA: 'AES256-SHA',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305: 'ECDHE-RSA-CHACHA20-POLY1305',
};
/** As in Go, cipher_suites does not restrict TLS 1.3: its suites stay enabled. */
const TLS13_SUITES = 'TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256';

const CURVES: Record<string, string> = { CurveP256: 'P-256', CurveP384: 'P-384', CurveP521: 'P-521', X25519: 'X25519' };

/** Response headers exporter-toolkit lets a config set, with their allowed values (null: any). */
const EXTRA_HEADERS: Record<string, readonly string[] | null> = {
  'Strict-Transport-Security': null,
  'X-Content-Type-Options': ['nosniff'],
  'X-Frame-Options': ['deny', 'sameorigin'],
  'X-XSS-Protection': null,
  'Content-Security-Policy': null,
};

const TOP_KEYS = ['tls_server_config', 'http_server_config', 'basic_auth_users', 'rate_limit'];
const TLS_KEYS = [
  'cert', 'key', 'client_ca', 'cert_file', 'key_file', 'client_auth_type', 'client_ca_file',
  'cipher_suites', 'curve_preferences', 'min_version', 'max_version', 'prefer_server_cipher_suites', 'client_allowed_sans',
];
const HTTP_KEYS = ['http2', 'headers'];
const RATE_KEYS = ['burst', 'interval'];

/** The file as written, checked for shape and values but with no file read yet. */
export interface WebConfigSpec {
  tls?: {
    certFile?: string;
    keyFile?: string;
    cert?: string;
    key?: string;
    clientCaFile?: string;
    clientCa?: string;
    clientAuth: ClientAuthType;
    minVersion: SecureVersion;
    maxVersion: SecureVersion;
    ciphers?: string;
    ecdhCurve?: string;
    honorCipherOrder: boolean;
    clientAllowedSans?: string[];
  };
  http2: boolean;
  headers: Record<string, string>;
  /** user -> bcrypt hash */
  users: Map<string, string>;
  rateLimit?: { burst: number; intervalMs: number };
}

const BCRYPT_RE = /^\$2[aby]?\$(\d\d)\$[./A-Za-z0-9]{53}$/;

/** Parse and check the text of a web config file. Relative paths are resolved against the file's folder. */
export function parseWebConfig(text: string, file: string): WebConfigSpec {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false, version: '1.2' });
  const lineOf = (n: { range?: readonly number[] | null } | null | undefined): number | undefined =>
    n?.range ? lines.linePos(n.range[0]!).line : undefined;
  const fail = (field: string, reason: string, node?: { range?: readonly number[] | null } | null): never => {
    throw new WebConfigError(file, field, reason, lineOf(node));
  };
  const firstError = doc.errors[0];
  if (firstError) {
    const line = firstError.linePos?.[0]?.line;
    throw new WebConfigError(file, '', `not valid YAML: ${firstError.message.split('\n')[0]}`, line);
  }
  const dir = dirname(resolve(file));

  /** The pairs of a mapping, each key checked against the allowed names. */
  const entries = (node: unknown, field: string, allowed: readonly string[] | null): Array<[string, YamlNode | null, Pair]> => {
    if (node === null || node === undefined || (isScalar(node) && node.value === null)) return [];
    if (!isMap(node)) return fail(field, 'must be a mapping', node as YamlNode);
    const out: Array<[string, YamlNode | null, Pair]> = [];
    for (const pair of node.items) {
      const keyNode = pair.key as YamlNode | null;
      const key = isScalar(keyNode) ? String(keyNode.value) : fail(field, 'keys must be plain strings', keyNode);
      const path = field ? `${field}.${key}` : key;
      if (allowed && !allowed.includes(key)) {
        fail(path, `unknown field (${field || 'the top level'} takes ${allowed.join(', ')})`, keyNode);
      }
      out.push([key, (pair.value as YamlNode | null) ?? null, pair]);
    }
    return out;
  };
  const isNull = (n: YamlNode | null) => n === null || (isScalar(n) && n.value === null);
  const str = (n: YamlNode | null, field: string): string | undefined => {
    if (isNull(n)) return undefined;
    if (!isScalar(n) || typeof n.value === 'object') return fail(field, 'must be a string', n);
    const v = n.value;
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    return fail(field, 'must be a string', n);
  };
  const bool = (n: YamlNode | null, field: string): boolean | undefined => {
    if (isNull(n)) return undefined;
    if (!isScalar(n) || typeof n.value !== 'boolean') return fail(field, 'must be true or false', n);
    return n.value;
  };
  const int = (n: YamlNode | null, field: string): number | undefined => {
    if (isNull(n)) return undefined;
    if (!isScalar(n) || typeof n.value !== 'number' || !Number.isInteger(n.value)) return fail(field, 'must be an integer', n);
    return n.value;
  };
  const strList = (n: YamlNode | null, field: string): Array<[string, YamlNode]> | undefined => {
    if (isNull(n)) return undefined;
    if (!isSeq(n)) return fail(field, 'must be a list of strings', n);
    return n.items.map((item, i) => [str(item as YamlNode, `${field}[${i}]`) ?? fail(`${field}[${i}]`, 'must be a string', item as YamlNode), item as YamlNode]);
  };
  const path = (v: string | undefined) => (v === undefined || v === '' ? undefined : resolve(dir, v));

  const spec: WebConfigSpec = { http2: true, headers: {}, users: new Map() };
  const root = doc.contents;
  for (const [key, value, topPair] of entries(root, '', TOP_KEYS)) {
    if (key === 'tls_server_config') {
      const section = topPair.key as YamlNode;
      const t: Record<string, string | undefined> = {};
      const nodes: Record<string, YamlNode | null> = {};
      let ciphers: string | undefined;
      let ecdhCurve: string | undefined;
      let honorCipherOrder = true;
      let sans: string[] | undefined;
      for (const [k, v] of entries(value, 'tls_server_config', TLS_KEYS)) {
        const f = `tls_server_config.${k}`;
        nodes[k] = v;
        if (k === 'cipher_suites') {
          const list = strList(v, f);
          if (list) {
            ciphers = [...list.map(([name, node]) => CIPHERS[name] ?? fail(f, `unknown cipher suite "${name}" (known: ${Object.keys(CIPHERS).join(', ')})`, node)), TLS13_SUITES].join(':');
          }
        } else if (k === 'curve_preferences') {
          const list = strList(v, f);
          if (list && list.length > 0) {
            ecdhCurve = list.map(([name, node]) => CURVES[name] ?? fail(f, `unknown curve "${name}" (known: ${Object.keys(CURVES).join(', ')})`, node)).join(':');
          }
        } else if (k === 'prefer_server_cipher_suites') {
          honorCipherOrder = bool(v, f) ?? true;
        } else if (k === 'client_allowed_sans') {
          sans = strList(v, f)?.map(([s]) => s);
        } else {
          t[k] = str(v, f);
        }
      }
      const enabled = ['cert_file', 'cert', 'key_file', 'key', 'client_ca_file', 'client_ca', 'client_auth_type'].some((k) => t[k]);
      if (!enabled) continue;
      if (!t.cert_file && !t.cert) {
        fail('tls_server_config', `TLS needs a certificate: set cert_file${t.key_file || t.key ? ' (a key is set but no certificate)' : ''}`, section);
      }
      if (!t.key_file && !t.key) fail('tls_server_config', 'TLS needs a private key: set key_file (a certificate is set but no key)', section);
      if (t.cert_file && t.cert) fail('tls_server_config.cert', 'set either cert_file or cert, not both', nodes.cert);
      if (t.key_file && t.key) fail('tls_server_config.key', 'set either key_file or key, not both', nodes.key);
      if (t.client_ca_file && t.client_ca) fail('tls_server_config.client_ca', 'set either client_ca_file or client_ca, not both', nodes.client_ca);
      let clientAuth: ClientAuthType = 'NoClientCert';
      const ca = t.client_auth_type;
      if (ca === 'RequireClientCert') clientAuth = 'RequireAnyClientCert'; // exporter-toolkit's old name
      else if (ca) {
        if (!(CLIENT_AUTH_TYPES as readonly string[]).includes(ca)) {
          fail('tls_server_config.client_auth_type', `"${ca}" is not one of ${CLIENT_AUTH_TYPES.join(', ')}`, nodes.client_auth_type);
        }
        clientAuth = ca as ClientAuthType;
      }
      const hasCa = !!(t.client_ca_file || t.client_ca);
      if (hasCa && clientAuth === 'NoClientCert') {
        fail('tls_server_config.client_auth_type', 'client CAs are set without a client auth policy (set client_auth_type, e.g. RequireAndVerifyClientCert)', nodes.client_ca_file ?? nodes.client_ca);
      }
      if (!hasCa && (clientAuth === 'VerifyClientCertIfGiven' || clientAuth === 'RequireAndVerifyClientCert')) {
        // Go would fall back to the system roots; here the client CA must be explicit
        fail('tls_server_config.client_ca_file', `client_auth_type ${clientAuth} needs client_ca_file (the CAs that sign client certificates)`, nodes.client_auth_type);
      }
      if (sans && clientAuth !== 'RequireAnyClientCert' && clientAuth !== 'RequireAndVerifyClientCert') {
        fail('tls_server_config.client_allowed_sans', 'needs client_auth_type RequireAnyClientCert or RequireAndVerifyClientCert', nodes.client_allowed_sans);
      }
      const version = (k: 'min_version' | 'max_version', dflt: SecureVersion): SecureVersion => {
        const v = t[k];
        if (!v) return dflt;
        return TLS_VERSIONS[v] ?? fail(`tls_server_config.${k}`, `"${v}" is not one of ${Object.keys(TLS_VERSIONS).join(', ')}`, nodes[k]);
      };
      const minVersion = version('min_version', 'TLSv1.2');
      const maxVersion = version('max_version', 'TLSv1.3');
      if (VERSION_ORDER.indexOf(minVersion) > VERSION_ORDER.indexOf(maxVersion)) {
        fail('tls_server_config.min_version', `min_version ${t.min_version ?? 'TLS12'} is above max_version ${t.max_version ?? 'TLS13'}`, nodes.min_version ?? nodes.max_version);
      }
      spec.tls = {
        certFile: path(t.cert_file),
        keyFile: path(t.key_file),
        cert: t.cert || undefined,
        key: t.key || undefined,
        clientCaFile: path(t.client_ca_file),
        clientCa: t.client_ca || undefined,
        clientAuth,
        minVersion,
        maxVersion,
        ciphers,
        ecdhCurve,
        honorCipherOrder,
        clientAllowedSans: sans,
      };
    } else if (key === 'http_server_config') {
      for (const [k, v] of entries(value, 'http_server_config', HTTP_KEYS)) {
        const f = `http_server_config.${k}`;
        if (k === 'http2') spec.http2 = bool(v, f) ?? true;
        else {
          for (const [name, hv, pair] of entries(v, f, null)) {
            const allowed = EXTRA_HEADERS[name];
            if (allowed === undefined) fail(`${f}.${name}`, `header can not be configured (allowed: ${Object.keys(EXTRA_HEADERS).join(', ')})`, pair.key as YamlNode);
            const hval = str(hv, `${f}.${name}`) ?? '';
            if (allowed && !allowed.includes(hval)) fail(`${f}.${name}`, `"${hval}" is not one of ${allowed.join(', ')}`, hv);
            spec.headers[name] = hval;
          }
        }
      }
    } else if (key === 'basic_auth_users') {
      for (const [user, hv] of entries(value, 'basic_auth_users', null)) {
        const f = `basic_auth_users.${user}`;
        const hash = str(hv, f) ?? '';
        const m = BCRYPT_RE.exec(hash);
        if (!m) fail(f, 'is not a bcrypt hash ($2y$<cost>$<53 characters>; make one with `htpasswd -nBC 10 "" | tr -d \':\\n\'`)', hv);
        const cost = Number(m![1]);
        if (cost < 4 || cost > 31) fail(f, `bcrypt cost ${cost} is outside 4..31`, hv);
        spec.users.set(user, hash);
      }
    } else if (key === 'rate_limit') {
      let burst = 0;
      let intervalMs = 0;
      let intervalNode: YamlNode | null = null;
      for (const [k, v] of entries(value, 'rate_limit', RATE_KEYS)) {
        if (k === 'burst') burst = int(v, 'rate_limit.burst') ?? 0;
        else {
          intervalNode = v;
          const s = str(v, 'rate_limit.interval');
          intervalMs = s === undefined ? 0 : parseGoDuration(s) ?? fail('rate_limit.interval', `"${s}" is not a duration (e.g. 1s, 500ms)`, v);
        }
      }
      if (intervalMs > 0) {
        if (burst < 1) fail('rate_limit.burst', 'must be at least 1 when rate_limit.interval is set (0 would refuse every request)', intervalNode);
        spec.rateLimit = { burst, intervalMs };
      }
    }
  }
  return spec;
}

/** Go's time.ParseDuration, in milliseconds. */
export function parseGoDuration(s: string): number | undefined {
  if (s === '0') return 0;
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;
  let total = 0;
  let i = 0;
  if (s.length === 0) return undefined;
  while (i < s.length) {
    re.lastIndex = i;
    const m = re.exec(s);
    if (!m) return undefined;
    total += Number(m[1]) * units[m[2]!]!;
    i = re.lastIndex;
  }
  return total;
}

// ---------------------------------------------------------------------------
// Resolution: read the files the config names and check them

interface Resolved {
  spec: WebConfigSpec;
  /** options for https.createServer / tls.Server#setSecureContext */
  tlsOptions?: HttpsServerOptions & SecureContextOptions;
  /** files whose change triggers a reload */
  files: string[];
}

async function readNamed(file: string, field: string, path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new WebConfigError(file, field, `cannot read ${path}: ${e.code ?? e.message}`);
  }
}

function pemCertificates(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b) => new X509Certificate(b));
}

async function resolveSpec(spec: WebConfigSpec, file: string): Promise<Resolved> {
  const files = [file];
  const t = spec.tls;
  if (!t) return { spec, files };
  const certField = t.certFile ? 'tls_server_config.cert_file' : 'tls_server_config.cert';
  const keyField = t.keyFile ? 'tls_server_config.key_file' : 'tls_server_config.key';
  const caField = t.clientCaFile ? 'tls_server_config.client_ca_file' : 'tls_server_config.client_ca';
  const cert = t.certFile ? await readNamed(file, certField, t.certFile) : Buffer.from(t.cert!);
  const key = t.keyFile ? await readNamed(file, keyField, t.keyFile) : Buffer.from(t.key!);
  const ca = t.clientCaFile ? await readNamed(file, caField, t.clientCaFile) : t.clientCa ? Buffer.from(t.clientCa) : undefined;
  for (const f of [t.certFile, t.keyFile, t.clientCaFile]) if (f) files.push(f);

  let certs: X509Certificate[];
  try {
    certs = pemCertificates(cert.toString('utf8'));
  } catch (err) {
    throw new WebConfigError(file, certField, `not a valid PEM certificate: ${(err as Error).message}`);
  }
  if (certs.length === 0) throw new WebConfigError(file, certField, 'holds no PEM certificate (-----BEGIN CERTIFICATE-----)');
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    throw new WebConfigError(file, keyField, `not a valid PEM private key: ${(err as Error).message}`);
  }
  if (!certs[0]!.checkPrivateKey(privateKey)) {
    throw new WebConfigError(file, keyField, `the key does not match the certificate in ${t.certFile ?? 'cert'}`);
  }
  if (ca) {
    let cas: X509Certificate[];
    try {
      cas = pemCertificates(ca.toString('utf8'));
    } catch (err) {
      throw new WebConfigError(file, caField, `not a valid PEM certificate: ${(err as Error).message}`);
    }
    if (cas.length === 0) throw new WebConfigError(file, caField, 'holds no PEM certificate');
  }
  const requestCert = t.clientAuth !== 'NoClientCert';
  const tlsOptions: HttpsServerOptions & SecureContextOptions = {
    cert,
    key,
    ...(ca ? { ca } : {}),
    // Node can only refuse unverified certificates at the handshake; the other
    // policies (any certificate, verify if given, allowed SANs) are checked
    // right after it, before any request is read (see checkPeer).
    requestCert,
    rejectUnauthorized: t.clientAuth === 'RequireAndVerifyClientCert',
    minVersion: t.minVersion,
    maxVersion: t.maxVersion,
    honorCipherOrder: t.honorCipherOrder,
    ...(t.ciphers ? { ciphers: t.ciphers } : {}),
    ...(t.ecdhCurve ? { ecdhCurve: t.ecdhCurve } : {}),
  };
  try {
    createSecureContext(tlsOptions);
  } catch (err) {
    throw new WebConfigError(file, 'tls_server_config', `OpenSSL refused the TLS settings: ${(err as Error).message}`);
  }
  return { spec, tlsOptions, files };
}

async function loadResolved(path: string): Promise<Resolved> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new WebConfigError(path, '', `cannot read: ${e.code ?? e.message}`);
  }
  return resolveSpec(parseWebConfig(text, path), path);
}

// ---------------------------------------------------------------------------
// Basic auth with a cache of bcrypt results

/** A cost-10 bcrypt hash of a random string: unknown users cost as much as known ones. */
const DECOY_HASH = '$2b$10$jwpirIx2v/dXdD908mQfrespSHZgUk5Q0bWTLHMcdtOpQOuUjqqrS';
const CACHE_SIZE = 100;

export class BasicAuth {
  /** sha256(user, hash, password) -> verdict; never the password itself */
  private readonly cache = new Map<string, boolean>();
  private readonly inflight = new Map<string, Promise<boolean>>();
  /** one bcrypt at a time: each costs tens of milliseconds of CPU */
  private queue: Promise<unknown> = Promise.resolve();
  bcryptRuns = 0;

  constructor(private users: Map<string, string>) {}

  get enabled(): boolean {
    return this.users.size > 0;
  }

  setUsers(users: Map<string, string>): void {
    this.users = users;
    this.cache.clear();
  }

  async check(user: string, password: string): Promise<boolean> {
    const known = this.users.get(user);
    const hash = known ?? DECOY_HASH;
    const key = createHash('sha256').update(user).update('\0').update(hash).update('\0').update(password).digest('base64');
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached && known !== undefined;
    let pending = this.inflight.get(key);
    if (!pending) {
      const run = this.queue.then(() => {
        this.bcryptRuns++;
        return bcrypt.compare(password, hash);
      });
      this.queue = run.catch(() => undefined);
      pending = run.then((ok) => {
        const verdict = ok && known !== undefined;
        if (this.cache.size >= CACHE_SIZE) this.cache.delete(this.cache.keys().next().value!);
        this.cache.set(key, verdict);
        return verdict;
      }, () => false).finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    return (await pending) && known !== undefined;
  }
}

export function parseBasicAuthorization(header: string | undefined): { user: string; password: string } | undefined {
  if (!header) return undefined;
  const m = /^Basic[ ]+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** Token bucket with Go's rate.Limiter semantics: starts full, refills one token per interval. */
class RateLimiter {
  private tokens: number;
  private last = performance.now();
  constructor(private readonly burst: number, private readonly intervalMs: number) {
    this.tokens = burst;
  }
  allow(): boolean {
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + (now - this.last) / this.intervalMs);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

// ---------------------------------------------------------------------------
// The loaded configuration

export interface WebConfig {
  /** the file, or undefined when none was given (plain HTTP, no auth) */
  readonly path?: string;
  /** true when the server speaks TLS */
  readonly tls: boolean;
  /** spread into fastify({ ... }): `https` options when TLS is on */
  readonly serverOptions: { https?: HttpsServerOptions };
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

function peerAllowed(socket: TLSSocket, spec: NonNullable<WebConfigSpec['tls']>): string | undefined {
  if (spec.clientAuth === 'NoClientCert' || spec.clientAuth === 'RequestClientCert') return undefined;
  const cert = socket.getPeerCertificate();
  const given = !!cert && Object.keys(cert).length > 0;
  if (!given) return spec.clientAuth === 'VerifyClientCertIfGiven' ? undefined : 'no client certificate';
  if (spec.clientAuth !== 'RequireAnyClientCert' && !socket.authorized) return `client certificate not verified: ${String(socket.authorizationError)}`;
  if (spec.clientAllowedSans) {
    const sans = (cert.subjectaltname ?? '').split(', ').map((s) => s.slice(s.indexOf(':') + 1)).filter(Boolean);
    if (!sans.some((s) => spec.clientAllowedSans!.includes(s))) return 'client certificate has none of client_allowed_sans';
  }
  return undefined;
}

/**
 * Load and check a web config file. With no path, a config that serves plain
 * HTTP with no authentication. Throws WebConfigError naming the file, line and
 * field when the file is not valid.
 */
export async function loadWebConfig(path?: string, opts: LoadWebConfigOptions = {}): Promise<WebConfig> {
  const file = path ? resolve(path) : undefined;
  let current: Resolved = file ? await loadResolved(file) : { spec: { http2: true, headers: {}, users: new Map() }, files: [] };
  const auth = new BasicAuth(current.spec.users);
  let limiter = current.spec.rateLimit ? new RateLimiter(current.spec.rateLimit.burst, current.spec.rateLimit.intervalMs) : undefined;
  const tlsOn = !!current.tlsOptions;
  let server: TlsServer | undefined;

  const apply = (next: Resolved) => {
    if (!!next.tlsOptions !== tlsOn) {
      throw new WebConfigError(file!, 'tls_server_config', `switching TLS ${tlsOn ? 'off' : 'on'} needs a restart; keeping the running configuration`);
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
    serverOptions: current.tlsOptions ? { https: { ...current.tlsOptions } } : {},
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
        server = app.server as unknown as TlsServer;
        server.on('secureConnection', (socket: TLSSocket) => {
          const t = current.spec.tls;
          const why = t && peerAllowed(socket, t);
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

      let timer: NodeJS.Timeout | undefined;
      const reloadNow = (why: string) => {
        web.reload().then(
          () => {
            if (opts.watch ?? true) rewatch();
            app.log.info({ file, why }, 'web config reloaded');
          },
          (err: Error) => app.log.error({ file, why, err: err.message }, 'web config reload failed; keeping the running configuration'),
        );
      };
      const schedule = (why: string) => {
        if (timer) clearTimeout(timer);
        timer = setTimeout(() => reloadNow(why), opts.debounceMs ?? 250);
        timer.unref();
      };
      // Watch folders, not files: configs and certificates are usually
      // replaced by a rename (editors, certbot, Kubernetes/Swarm secrets).
      const watchers = new Map<string, FSWatcher>();
      const rewatch = () => {
        const wanted = new Map<string, Set<string>>();
        for (const f of current.files) {
          const d = dirname(f);
          if (!wanted.has(d)) wanted.set(d, new Set());
          wanted.get(d)!.add(basename(f));
        }
        for (const [d, w] of watchers) if (!wanted.has(d)) { w.close(); watchers.delete(d); }
        for (const [d, names] of wanted) {
          watchers.get(d)?.close();
          try {
            const w = watch(d, { persistent: false }, (_event, name) => {
              // Kubernetes-style atomic updates rename a ..data link: any change counts
              if (!name || names.has(String(name)) || String(name).startsWith('..')) schedule(`${d}/${name ?? ''} changed`);
            });
            w.on('error', (err) => app.log.warn({ dir: d, err: err.message }, 'web config watch failed'));
            watchers.set(d, w);
          } catch (err) {
            app.log.warn({ dir: d, err: (err as Error).message }, 'cannot watch for web config changes; send SIGHUP to reload');
          }
        }
      };
      if (opts.watch ?? true) rewatch();
      const onHup = () => reloadNow('SIGHUP');
      if (opts.sighup ?? true) process.on('SIGHUP', onHup);
      app.addHook('onClose', async () => {
        if (timer) clearTimeout(timer);
        for (const w of watchers.values()) w.close();
        watchers.clear();
        process.off('SIGHUP', onHup);
      });
    },
  };
  return web;
}
