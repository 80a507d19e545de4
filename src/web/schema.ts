// The web config file as a whole: its four sections, each checked by the
// module of its concern. Pure: no file other than the text given is read
// (loading the certificate and key is tls.ts' buildTlsOptions).
import { parseUsers } from './basic-auth.js';
import { Fields, type Node } from './fields.js';
import { parseHttpSection } from './http-server.js';
import { type RateLimitSpec, parseRateLimit } from './rate-limit.js';
import { type TlsSpec, parseTlsSection } from './tls.js';

const TOP_KEYS = ['tls_server_config', 'http_server_config', 'basic_auth_users', 'rate_limit'];

/** The file as written, checked for shape and values but with no file read yet. */
export interface WebConfigSpec {
  tls?: TlsSpec;
  http2: boolean;
  headers: Record<string, string>;
  /** user -> bcrypt hash */
  users: Map<string, string>;
  rateLimit?: RateLimitSpec;
}

/** What no file (or an empty one) means: plain HTTP, no auth, no extra headers. */
export function defaultWebConfigSpec(): WebConfigSpec {
  return { http2: true, headers: {}, users: new Map() };
}

/** Parse and check the text of a web config file. Relative paths are resolved against the file's folder. */
export function parseWebConfig(text: string, file: string): WebConfigSpec {
  const f = Fields.parse(text, file);
  const spec = defaultWebConfigSpec();
  for (const [key, value, pair] of f.entries(f.root, '', TOP_KEYS)) {
    if (key === 'tls_server_config') {
      spec.tls = parseTlsSection(f, value, pair.key as Node);
    } else if (key === 'http_server_config') {
      const http = parseHttpSection(f, value);
      spec.http2 = http.http2;
      spec.headers = http.headers;
    } else if (key === 'basic_auth_users') {
      spec.users = parseUsers(f, value);
    } else if (key === 'rate_limit') {
      spec.rateLimit = parseRateLimit(f, value);
    }
  }
  return spec;
}
