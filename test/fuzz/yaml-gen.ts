// Web config texts for fuzzing: documents built from the config's own keys and
// values (and YAML's odder corners: tags, anchors, flow collections, block
// scalars), soups of such lines at any indentation, and mutations of valid files.
import { fc } from '@fast-check/vitest';
import { CLIENT_AUTH_TYPES, TLS_KEYS } from '../../src/web/tls.js';
import { HTTP_KEYS } from '../../src/web/http-server.js';
import { RATE_KEYS } from '../../src/web/rate-limit.js';

const TOP_KEYS = ['tls_server_config', 'http_server_config', 'basic_auth_users', 'rate_limit'];
const HEADERS = ['Strict-Transport-Security', 'X-Content-Type-Options', 'X-Frame-Options', 'X-XSS-Protection', 'Content-Security-Policy'];
const PROTO_KEYS = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf'];

export const HASH = `$2y$10$${'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0'}`;

const key = fc.oneof(
  { arbitrary: fc.constantFrom(...TOP_KEYS, ...TLS_KEYS, ...HTTP_KEYS, ...RATE_KEYS, ...HEADERS, 'prometheus', 'user'), weight: 10 },
  fc.constantFrom(...PROTO_KEYS),
  fc.constantFrom('"burst"', "'interval'", '1', 'true', 'null', '~', '""', '? a', '[a]', '{a: 1}', '*a', '&k http2', '!!str headers', 'a b', '-'),
  fc.stringMatching(/^[a-z_]{1,8}$/),
);

const scalar = fc.oneof(
  { arbitrary: fc.constantFrom(
    // durations
    '1m', '30s', '1.5h', '0', '0s', '-1s', '1y2w3d4h5m6s7ms', '1s1m', '1ms1ms', '1us', '1µs', '1ns', '99999999999999999999y', '1e3s', '.5s', '1.s', "'1m'",
    // integers and numbers as YAML reads them
    '1', '0', '-1', '10', '1.5', '1e999', '.inf', '-.inf', '.nan', '0x10', '0o17', '99999999999999999999', '1_000', '+1',
    // booleans, nulls, strings
    'true', 'false', 'True', 'yes', 'no', 'null', '~', '""', "''", 'x', '"a\\u0000b"', '"\\x80"', "'it''s'",
    // the config's own values
    'TLS10', 'TLS11', 'TLS12', 'TLS13', 'TLS14', 'nosniff', 'deny', 'sameorigin', 'DENY', 'max-age=31536000',
    ...CLIENT_AUTH_TYPES, 'RequireClientCert', 'TLS_AES_128_GCM_SHA256', 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', 'CurveP256', 'X25519',
    'server.crt', 'server.key', '/etc/ssl/ca.pem', '../x', '-----BEGIN CERTIFICATE-----',
    HASH, `"${HASH}"`, HASH.replace('$10$', '$03$'), HASH.replace('$10$', '$32$'), HASH.slice(0, -1), HASH.replace('2y', '2x'),
    ...PROTO_KEYS,
    // YAML's odder corners
    '[a, b]', '[TLS_AES_128_GCM_SHA256, toString]', '[CurveP256, constructor]', '[]', '{}', '{a: 1}', '[', '{', ']', '&a x', '*a', '*b',
    '!!str 1', '!!int "3"', '!!binary aGk=', '!!set {a, b}', '!!omap [a: 1]', '!custom x', '!!float 1', '!!timestamp 2001-12-14', '|', '>-', '|+', '%', '@', '`',
  ), weight: 10 },
  fc.string({ maxLength: 12 }).map((s) => JSON.stringify(s)),
  fc.stringMatching(/^[a-zA-Z0-9_.$/-]{1,12}$/),
);

type Tree = { map: Array<[string, Tree]> } | { seq: Tree[] } | { scalar: string };

const trees = fc.letrec<{ tree: Tree }>((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { arbitrary: scalar.map((s): Tree => ({ scalar: s })), weight: 2 },
    fc.array(fc.tuple(key, tie('tree')), { maxLength: 4 }).map((map): Tree => ({ map })),
    fc.array(tie('tree'), { maxLength: 3 }).map((seq): Tree => ({ seq })),
  ),
}));

function render(t: Tree, indent: string): string {
  if ('scalar' in t) return ` ${t.scalar}\n`;
  if ('map' in t) {
    if (t.map.length === 0) return ' {}\n';
    return `\n${t.map.map(([k, v]) => `${indent}${k}:${render(v, `${indent}  `)}`).join('')}`;
  }
  if (t.seq.length === 0) return ' []\n';
  return `\n${t.seq.map((v) => `${indent}-${render(v, `${indent}  `)}`).join('')}`;
}

/** A block-style document: the top-level keys with subtrees of config keys and values. */
export const configDoc: fc.Arbitrary<string> = fc.array(fc.tuple(fc.oneof({ arbitrary: fc.constantFrom(...TOP_KEYS), weight: 6 }, key), trees.tree), { maxLength: 4 })
  .map((entries) => entries.map(([k, v]) => `${k}:${render(v, '  ')}`).join(''));

/** Lines of config tokens at any indentation: mostly broken YAML. */
export const lineSoup: fc.Arbitrary<string> = fc.array(
  fc.tuple(fc.constantFrom('', ' ', '  ', '    ', '\t', '   '), fc.oneof(
    fc.tuple(key, scalar).map(([k, v]) => `${k}: ${v}`),
    key.map((k) => `${k}:`),
    scalar.map((v) => `- ${v}`),
    fc.constantFrom('# comment', '---', '...', '', '? x', ': y', '- - a', '%YAML 1.2', 'a: b: c', 'a:b'),
  )).map(([i, l]) => i + l),
  { maxLength: 12 },
).map((lines) => lines.join('\n'));

/** Valid config files, each exercising one or more sections. */
export const VALID_CONFIGS = [
  '',
  '# nothing\n',
  'tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n',
  'tls_server_config:\n  cert_file: /etc/ssl/server.crt\n  key_file: /etc/ssl/server.key\n  client_auth_type: RequireAndVerifyClientCert\n' +
    '  client_ca_file: ca.crt\n  min_version: TLS12\n  max_version: TLS13\n  cipher_suites:\n    - TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\n' +
    '  curve_preferences: [CurveP256, X25519]\n  prefer_server_cipher_suites: false\n',
  'tls_server_config:\n  cert: |\n    -----BEGIN CERTIFICATE-----\n    abc\n    -----END CERTIFICATE-----\n  key_file: k.pem\n' +
    '  client_auth_type: RequireAnyClientCert\n  client_allowed_sans: [a.example, b.example]\n',
  'http_server_config:\n  http2: false\n  headers:\n    X-Frame-Options: deny\n    X-Content-Type-Options: nosniff\n' +
    '    Strict-Transport-Security: max-age=31536000\n',
  `basic_auth_users:\n  prometheus: "${HASH}"\n  grafana: '${HASH.replace('2y', '2b')}'\n`,
  'rate_limit:\n  burst: 10\n  interval: 1m30s\n',
  `tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\nhttp_server_config:\n  http2: true\nbasic_auth_users:\n  u: ${HASH}\n` +
    'rate_limit:\n  burst: 1\n  interval: 500ms\n',
];

type TextMutation =
  | { op: 'deleteLine' | 'dupLine'; line: number }
  | { op: 'swapLines'; a: number; b: number }
  | { op: 'indent'; line: number; by: number }
  | { op: 'replaceValue'; line: number; value: string }
  | { op: 'replaceKey'; line: number; key: string }
  | { op: 'insertChar'; at: number; ch: string }
  | { op: 'deleteRange'; at: number; count: number }
  | { op: 'truncate'; at: number };

export const textMutation: fc.Arbitrary<TextMutation> = fc.oneof(
  fc.record({ op: fc.constantFrom('deleteLine' as const, 'dupLine' as const), line: fc.nat() }),
  fc.record({ op: fc.constant('swapLines' as const), a: fc.nat(), b: fc.nat() }),
  fc.record({ op: fc.constant('indent' as const), line: fc.nat(), by: fc.integer({ min: -4, max: 4 }) }),
  { arbitrary: fc.record({ op: fc.constant('replaceValue' as const), line: fc.nat(), value: scalar }), weight: 3 },
  { arbitrary: fc.record({ op: fc.constant('replaceKey' as const), line: fc.nat(), key }), weight: 2 },
  fc.record({ op: fc.constant('insertChar' as const), at: fc.nat(), ch: fc.oneof(fc.constantFrom(':', '-', ' ', '\t', '\n', '"', "'", '#', '&', '*', '!', '[', '{', '\0', '\r'), fc.string({ minLength: 1, maxLength: 1 })) }),
  fc.record({ op: fc.constant('deleteRange' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
);

export function applyTextMutation(text: string, m: TextMutation): string {
  const lines = text.split('\n');
  const at = (i: number) => i % Math.max(1, lines.length);
  switch (m.op) {
    case 'deleteLine': lines.splice(at(m.line), 1); break;
    case 'dupLine': lines.splice(at(m.line), 0, lines[at(m.line)] ?? ''); break;
    case 'swapLines': {
      const [a, b] = [at(m.a), at(m.b)];
      [lines[a], lines[b]] = [lines[b] ?? '', lines[a] ?? ''];
      break;
    }
    case 'indent': {
      const l = lines[at(m.line)] ?? '';
      lines[at(m.line)] = m.by >= 0 ? ' '.repeat(m.by) + l : l.slice(Math.min(-m.by, l.length - l.trimStart().length));
      break;
    }
    case 'replaceValue': case 'replaceKey': {
      const l = lines[at(m.line)] ?? '';
      const colon = l.indexOf(':');
      if (colon < 0) lines[at(m.line)] = m.op === 'replaceValue' ? `${l.match(/^\s*-?\s*/)![0]}${m.value}` : l;
      else if (m.op === 'replaceValue') lines[at(m.line)] = `${l.slice(0, colon + 1)} ${m.value}`;
      else lines[at(m.line)] = `${l.match(/^\s*/)![0]}${m.key}${l.slice(colon)}`;
      break;
    }
    case 'insertChar': {
      const i = m.at % (text.length + 1);
      return text.slice(0, i) + m.ch + text.slice(i);
    }
    case 'deleteRange': {
      const i = m.at % (text.length + 1);
      return text.slice(0, i) + text.slice(i + m.count);
    }
    case 'truncate': return text.slice(0, m.at % (text.length + 1));
  }
  return lines.join('\n');
}

export const mutatedConfig: fc.Arbitrary<string> = fc.tuple(fc.constantFrom(...VALID_CONFIGS), fc.array(textMutation, { minLength: 1, maxLength: 4 }))
  .map(([text, ms]) => ms.reduce(applyTextMutation, text));

/** A section's keys (and keys JavaScript objects have), each once, mapped to values or lists of values. */
const section = (keys: readonly string[], value: fc.Arbitrary<Tree> = scalarOrList, given: Array<[string, Tree]> = []): fc.Arbitrary<Tree> =>
  fc.uniqueArray(fc.tuple(fc.oneof({ arbitrary: fc.constantFrom(...keys), weight: 6 }, key), value), { maxLength: 5, selector: ([k]) => k })
    .chain((map) => fc.subarray(given.filter(([k]) => !map.some(([m]) => m === k))).map((g): Tree => ({ map: [...g, ...map] })));
const scalarTree = scalar.map((s): Tree => ({ scalar: s }));
const scalarOrList: fc.Arbitrary<Tree> = fc.oneof(
  { arbitrary: scalarTree, weight: 3 },
  fc.array(scalarTree, { maxLength: 3 }).map((seq): Tree => ({ seq })),
);
const CERT: Array<[string, Tree]> = [['cert_file', { scalar: 'server.crt' }], ['key_file', { scalar: 'server.key' }]];

/** A document whose sections hold their own keys, each once: values get checked, not just shapes. */
export const sectionDoc: fc.Arbitrary<string> = fc.uniqueArray(fc.oneof(
  section(TLS_KEYS, scalarOrList, CERT).map((t) => ['tls_server_config', t] as const),
  section(HTTP_KEYS, fc.oneof(scalarOrList, section(HEADERS, scalarTree))).map((t) => ['http_server_config', t] as const),
  section(['prometheus', 'grafana'], scalarTree).map((t) => ['basic_auth_users', t] as const),
  section(RATE_KEYS, scalarTree).map((t) => ['rate_limit', t] as const),
), { minLength: 1, maxLength: 3, selector: ([k]) => k }).map((entries) => entries.map(([k, v]) => `${k}:${render(v, '  ')}`).join(''));
