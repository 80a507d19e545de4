// Fuzzing the web config parser and parseDuration: any text either parses into
// a spec whose every field has its type and allowed value, or fails with a
// WebConfigError (DurationError for a duration) naming the file and a line in it.
import { isAbsolute } from 'node:path';
import { describe, expect, test } from 'vitest';
import { fc, it } from '@fast-check/vitest';
import { type WebConfigSpec, parseWebConfig } from '../../src/web/schema.js';
import { WebConfigError } from '../../src/web/fields.js';
import { CLIENT_AUTH_TYPES } from '../../src/web/tls.js';
import { DurationError, parseDuration } from '../../src/duration.js';
import { TIMEOUT, runs } from './runs.js';
import { VALID_CONFIGS, configDoc, lineSoup, mutatedConfig, sectionDoc } from './yaml-gen.js';
import { show } from './invariants.js';

const FILE = '/etc/swarmnet/web.yml';
const HEADERS: Record<string, readonly string[] | null> = {
  'Strict-Transport-Security': null,
  'X-Content-Type-Options': ['nosniff'],
  'X-Frame-Options': ['deny', 'sameorigin'],
  'X-XSS-Protection': null,
  'Content-Security-Policy': null,
};
const VERSIONS = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];
const BCRYPT = /^\$2[aby]?\$(0[4-9]|[12]\d|3[01])\$[./A-Za-z0-9]{53}$/;

function fail(what: string, spec: unknown): never {
  throw new Error(`${what}: ${show(spec)}`);
}

function checkSpec(spec: WebConfigSpec): void {
  if (typeof spec.http2 !== 'boolean') fail('http2', spec);
  for (const [name, value] of Object.entries(spec.headers)) {
    if (!Object.hasOwn(HEADERS, name) || typeof value !== 'string') fail(`header ${name}`, spec.headers);
    const allowed = HEADERS[name];
    if (allowed && !allowed.includes(value)) fail(`header ${name} value`, value);
  }
  if (Object.getPrototypeOf(spec.headers) !== Object.prototype) fail('headers prototype changed', spec.headers);
  for (const [user, hash] of spec.users) if (typeof user !== 'string' || !BCRYPT.test(hash)) fail('user', [user, hash]);
  if (spec.rateLimit) {
    const { burst, intervalMs } = spec.rateLimit;
    if (!Number.isInteger(burst) || burst < 1 || !Number.isFinite(intervalMs) || intervalMs <= 0) fail('rate limit', spec.rateLimit);
  }
  const t = spec.tls;
  if (t) {
    if (!(CLIENT_AUTH_TYPES as readonly string[]).includes(t.clientAuth)) fail('clientAuth', t);
    if (!VERSIONS.includes(t.minVersion) || !VERSIONS.includes(t.maxVersion)) fail('TLS versions', t);
    if (VERSIONS.indexOf(t.minVersion) > VERSIONS.indexOf(t.maxVersion)) fail('min_version above max_version', t);
    if (t.ciphers !== undefined && !(typeof t.ciphers === 'string' && t.ciphers.split(':').every((c) => /^[A-Z0-9_-]+$/.test(c)))) fail('ciphers', t);
    if (t.ecdhCurve !== undefined && !(typeof t.ecdhCurve === 'string' && t.ecdhCurve.split(':').every((c) => ['P-256', 'P-384', 'P-521', 'X25519'].includes(c)))) {
      fail('curves', t);
    }
    for (const k of ['certFile', 'keyFile', 'clientCaFile'] as const) if (t[k] !== undefined && !(typeof t[k] === 'string' && isAbsolute(t[k]))) fail(k, t);
    for (const k of ['cert', 'key', 'clientCa'] as const) if (t[k] !== undefined && typeof t[k] !== 'string') fail(k, t);
    if (!(t.certFile || t.cert) || !(t.keyFile || t.key)) fail('TLS without certificate or key', t);
    if (typeof t.honorCipherOrder !== 'boolean') fail('honorCipherOrder', t);
    if (t.clientAllowedSans !== undefined && !t.clientAllowedSans.every((s) => typeof s === 'string')) fail('sans', t);
  }
}

function parseChecked(text: string): void {
  let spec: WebConfigSpec;
  try {
    spec = parseWebConfig(text, FILE);
  } catch (e) {
    if (!(e instanceof WebConfigError)) throw e;
    expect(e.file).toBe(FILE);
    expect(e.message.startsWith(`web config file ${FILE}`)).toBe(true);
    if (e.line !== undefined) {
      expect(Number.isInteger(e.line) && e.line >= 1).toBe(true);
      expect(e.line).toBeLessThanOrEqual(text.split('\n').length + 1);
    }
    return;
  }
  checkSpec(spec);
}

describe('web config fuzz', () => {
  test('the valid samples parse', () => {
    for (const text of VALID_CONFIGS) checkSpec(parseWebConfig(text, FILE));
  });

  it.prop([configDoc], runs())('documents of config keys and values: a checked spec or WebConfigError', parseChecked, TIMEOUT);
  it.prop([sectionDoc], runs())('sections of their own keys and values: a checked spec or WebConfigError', parseChecked, TIMEOUT);
  it.prop([lineSoup], runs(0.5))('lines of config tokens at any indentation: a checked spec or WebConfigError', parseChecked, TIMEOUT);
  it.prop([mutatedConfig], runs())('mutated valid files: a checked spec or WebConfigError', parseChecked, TIMEOUT);
  it.prop([fc.string({ unit: 'binary', maxLength: 80 })], runs(0.5))('any text: a checked spec or WebConfigError', parseChecked, TIMEOUT);
});

const UNIT_MS: Record<string, number> = {
  y: 365 * 86_400_000, w: 7 * 86_400_000, d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 1e-3, µs: 1e-3, ns: 1e-6,
};
const ORDER = ['y', 'w', 'd', 'h', 'm', 's', 'ms', 'us', 'ns'];

const number = fc.oneof(
  fc.nat({ max: 100_000 }).map(String),
  fc.tuple(fc.nat({ max: 999 }), fc.nat({ max: 999 })).map(([a, b]) => `${a}.${b}`),
  fc.nat({ max: 99 }).map((n) => `.${n}`),
  fc.nat({ max: 99 }).map((n) => `${n}.`),
);

/** Terms in the order Prometheus requires, each unit at most once. */
const ordered = fc.subarray(ORDER, { minLength: 1 }).chain((units) =>
  fc.tuple(...units.map((u) => fc.tuple(number, u === 'us' ? fc.constantFrom('us', 'µs') : fc.constant(u)))));

describe('parseDuration fuzz', () => {
  it.prop([fc.oneof(fc.string({ maxLength: 16 }), fc.string({ unit: 'binary', maxLength: 8 }),
    fc.array(fc.constantFrom('1', '0', '.', '5', 'y', 'w', 'd', 'h', 'm', 's', 'ms', 'us', 'µs', 'ns', '-', '+', ' ', 'e', '9'.repeat(30)), { maxLength: 8 }).map((xs) => xs.join('')))], runs(2))(
    'any text: a finite number of ms >= 0, or DurationError', (text) => {
      let ms: number;
      try {
        ms = parseDuration(text);
      } catch (e) {
        if (!(e instanceof DurationError)) throw e;
        expect(e.text).toBe(text);
        return;
      }
      expect(Number.isFinite(ms) && ms >= 0 && ms <= Number.MAX_SAFE_INTEGER).toBe(true);
    }, TIMEOUT);

  it.prop([ordered], runs())('terms largest unit first: the sum of the terms', (terms) => {
    const text = terms.map(([n, u]) => n + u).join('');
    const expected = terms.reduce((sum, [n, u]) => sum + Number(n) * UNIT_MS[u]!, 0);
    if (expected > Number.MAX_SAFE_INTEGER) {
      expect(() => parseDuration(text)).toThrow(DurationError);
      return;
    }
    expect(parseDuration(text)).toBe(expected);
  }, TIMEOUT);

  it.prop([ordered.filter((t) => t.length >= 2), fc.nat()], runs(0.5))('a unit out of order or repeated: DurationError', (terms, i) => {
    const swapped = [...terms];
    const j = i % (terms.length - 1);
    [swapped[j], swapped[j + 1]] = [swapped[j + 1]!, swapped[j]!];
    expect(() => parseDuration(swapped.map(([n, u]) => n + u).join(''))).toThrow(DurationError);
    const repeated = [...terms.slice(0, j + 1), terms[j]!, ...terms.slice(j + 1)];
    expect(() => parseDuration(repeated.map(([n, u]) => n + u).join(''))).toThrow(DurationError);
  }, TIMEOUT);
});
