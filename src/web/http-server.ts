// http_server_config: extra response headers (only those exporter-toolkit
// allows, with their allowed values) and http2.
import type { Node as YamlNode } from 'yaml';
import { type Fields, type Node, lookup } from './fields.js';

/** Response headers exporter-toolkit lets a config set, with their allowed values (null: any). */
const EXTRA_HEADERS: Record<string, readonly string[] | null> = {
  'Strict-Transport-Security': null,
  'X-Content-Type-Options': ['nosniff'],
  'X-Frame-Options': ['deny', 'sameorigin'],
  'X-XSS-Protection': null,
  'Content-Security-Policy': null,
};

export const HTTP_KEYS = ['http2', 'headers'];

export interface HttpServerSpec {
  /** serve HTTP/2 (next to HTTP/1.1) when TLS is on; exporter-toolkit's default is true */
  http2: boolean;
  headers: Record<string, string>;
}

export function parseHttpSection(f: Fields, value: Node): HttpServerSpec {
  const spec: HttpServerSpec = { http2: true, headers: {} };
  for (const [k, v] of f.entries(value, 'http_server_config', HTTP_KEYS)) {
    const field = `http_server_config.${k}`;
    if (k === 'http2') spec.http2 = f.bool(v, field) ?? true;
    else {
      for (const [name, hv, pair] of f.entries(v, field, null)) {
        const allowed = lookup(EXTRA_HEADERS, name);
        if (allowed === undefined) f.fail(`${field}.${name}`, `header can not be configured (allowed: ${Object.keys(EXTRA_HEADERS).join(', ')})`, pair.key as YamlNode);
        const hval = f.str(hv, `${field}.${name}`) ?? '';
        if (allowed && !allowed.includes(hval)) f.fail(`${field}.${name}`, `"${hval}" is not one of ${allowed.join(', ')}`, hv);
        spec.headers[name] = hval;
      }
    }
  }
  return spec;
}
