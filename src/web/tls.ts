// tls_server_config: its keys as exporter-toolkit defines them (Go names for
// versions, cipher suites and curves), the Node TLS options they become once
// the certificate, key and client CA are read and checked, and the client
// certificate policies Node cannot enforce at the handshake.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import { type SecureContextOptions, type SecureVersion, type TLSSocket, createSecureContext } from 'node:tls';
import { type Fields, type Node, WebConfigError, lookup } from './fields.js';

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

export const TLS_KEYS = [
  'cert', 'key', 'client_ca', 'cert_file', 'key_file', 'client_auth_type', 'client_ca_file',
  'cipher_suites', 'curve_preferences', 'min_version', 'max_version', 'prefer_server_cipher_suites', 'client_allowed_sans',
];

/** tls_server_config as written and checked, with no file read yet; paths are absolute. */
export interface TlsSpec {
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
}

/** Options for https.createServer / http2.createSecureServer / tls.Server#setSecureContext. */
export type TlsOptions = HttpsServerOptions & SecureContextOptions;

/**
 * Check tls_server_config. Undefined when it turns TLS on with nothing (no
 * certificate, key, CA or client auth type): exporter-toolkit then serves plain HTTP.
 */
export function parseTlsSection(f: Fields, value: Node, section: Node): TlsSpec | undefined {
  const t: Record<string, string | undefined> = {};
  const nodes: Record<string, Node> = {};
  let ciphers: string | undefined;
  let ecdhCurve: string | undefined;
  let honorCipherOrder = true;
  let sans: string[] | undefined;
  for (const [k, v] of f.entries(value, 'tls_server_config', TLS_KEYS)) {
    const field = `tls_server_config.${k}`;
    nodes[k] = v;
    if (k === 'cipher_suites') {
      const list = f.strList(v, field);
      if (list) {
        ciphers = [...list.map(([name, node]) => lookup(CIPHERS, name) ?? f.fail(field, `unknown cipher suite "${name}" (known: ${Object.keys(CIPHERS).join(', ')})`, node)), TLS13_SUITES].join(':');
      }
    } else if (k === 'curve_preferences') {
      const list = f.strList(v, field);
      if (list && list.length > 0) {
        ecdhCurve = list.map(([name, node]) => lookup(CURVES, name) ?? f.fail(field, `unknown curve "${name}" (known: ${Object.keys(CURVES).join(', ')})`, node)).join(':');
      }
    } else if (k === 'prefer_server_cipher_suites') {
      honorCipherOrder = f.bool(v, field) ?? true;
    } else if (k === 'client_allowed_sans') {
      sans = f.strList(v, field)?.map(([s]) => s);
    } else {
      t[k] = f.str(v, field);
    }
  }
  const enabled = ['cert_file', 'cert', 'key_file', 'key', 'client_ca_file', 'client_ca', 'client_auth_type'].some((k) => t[k]);
  if (!enabled) return undefined;
  if (!t.cert_file && !t.cert) {
    f.fail('tls_server_config', `TLS needs a certificate: set cert_file${t.key_file || t.key ? ' (a key is set but no certificate)' : ''}`, section);
  }
  if (!t.key_file && !t.key) f.fail('tls_server_config', 'TLS needs a private key: set key_file (a certificate is set but no key)', section);
  if (t.cert_file && t.cert) f.fail('tls_server_config.cert', 'set either cert_file or cert, not both', nodes.cert);
  if (t.key_file && t.key) f.fail('tls_server_config.key', 'set either key_file or key, not both', nodes.key);
  if (t.client_ca_file && t.client_ca) f.fail('tls_server_config.client_ca', 'set either client_ca_file or client_ca, not both', nodes.client_ca);
  let clientAuth: ClientAuthType = 'NoClientCert';
  const ca = t.client_auth_type;
  if (ca === 'RequireClientCert') clientAuth = 'RequireAnyClientCert'; // exporter-toolkit's old name
  else if (ca) {
    if (!(CLIENT_AUTH_TYPES as readonly string[]).includes(ca)) {
      f.fail('tls_server_config.client_auth_type', `"${ca}" is not one of ${CLIENT_AUTH_TYPES.join(', ')}`, nodes.client_auth_type);
    }
    clientAuth = ca as ClientAuthType;
  }
  const hasCa = !!(t.client_ca_file || t.client_ca);
  if (hasCa && clientAuth === 'NoClientCert') {
    f.fail('tls_server_config.client_auth_type', 'client CAs are set without a client auth policy (set client_auth_type, e.g. RequireAndVerifyClientCert)', nodes.client_ca_file ?? nodes.client_ca);
  }
  if (!hasCa && (clientAuth === 'VerifyClientCertIfGiven' || clientAuth === 'RequireAndVerifyClientCert')) {
    // Go would fall back to the system roots; here the client CA must be explicit
    f.fail('tls_server_config.client_ca_file', `client_auth_type ${clientAuth} needs client_ca_file (the CAs that sign client certificates)`, nodes.client_auth_type);
  }
  if (sans && clientAuth !== 'RequireAnyClientCert' && clientAuth !== 'RequireAndVerifyClientCert') {
    f.fail('tls_server_config.client_allowed_sans', 'needs client_auth_type RequireAnyClientCert or RequireAndVerifyClientCert', nodes.client_allowed_sans);
  }
  const version = (k: 'min_version' | 'max_version', dflt: SecureVersion): SecureVersion => {
    const v = t[k];
    if (!v) return dflt;
    return lookup(TLS_VERSIONS, v) ?? f.fail(`tls_server_config.${k}`, `"${v}" is not one of ${Object.keys(TLS_VERSIONS).join(', ')}`, nodes[k]);
  };
  const minVersion = version('min_version', 'TLSv1.2');
  const maxVersion = version('max_version', 'TLSv1.3');
  if (VERSION_ORDER.indexOf(minVersion) > VERSION_ORDER.indexOf(maxVersion)) {
    f.fail('tls_server_config.min_version', `min_version ${t.min_version ?? 'TLS12'} is above max_version ${t.max_version ?? 'TLS13'}`, nodes.min_version ?? nodes.max_version);
  }
  return {
    certFile: f.path(t.cert_file),
    keyFile: f.path(t.key_file),
    cert: t.cert || undefined,
    key: t.key || undefined,
    clientCaFile: f.path(t.client_ca_file),
    clientCa: t.client_ca || undefined,
    clientAuth,
    minVersion,
    maxVersion,
    ciphers,
    ecdhCurve,
    honorCipherOrder,
    clientAllowedSans: sans,
  };
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

/**
 * Read the certificate, key and client CA a TlsSpec names and check them (PEM,
 * key matching the certificate, settings OpenSSL accepts), so a bad file stops
 * the start or a reload rather than the first handshake. `file` is the web
 * config file, for errors; `files` are the files read, to watch.
 */
export async function buildTlsOptions(t: TlsSpec, file: string): Promise<{ tlsOptions: TlsOptions; files: string[] }> {
  const certField = t.certFile ? 'tls_server_config.cert_file' : 'tls_server_config.cert';
  const keyField = t.keyFile ? 'tls_server_config.key_file' : 'tls_server_config.key';
  const caField = t.clientCaFile ? 'tls_server_config.client_ca_file' : 'tls_server_config.client_ca';
  const cert = t.certFile ? await readNamed(file, certField, t.certFile) : Buffer.from(t.cert!);
  const key = t.keyFile ? await readNamed(file, keyField, t.keyFile) : Buffer.from(t.key!);
  const ca = t.clientCaFile ? await readNamed(file, caField, t.clientCaFile) : t.clientCa ? Buffer.from(t.clientCa) : undefined;
  const files = [t.certFile, t.keyFile, t.clientCaFile].filter((f): f is string => !!f);

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
  const tlsOptions: TlsOptions = {
    cert,
    key,
    ...(ca ? { ca } : {}),
    // Node can only refuse unverified certificates at the handshake; the other
    // policies (any certificate, verify if given, allowed SANs) are checked
    // right after it, before any request is read (see peerRefusal).
    requestCert: t.clientAuth !== 'NoClientCert',
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
  return { tlsOptions, files };
}

/** Why a connection's client certificate breaks the policy, or undefined when it may go on. */
export function peerRefusal(socket: TLSSocket, spec: TlsSpec): string | undefined {
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
