// rate_limit: exporter-toolkit's limit on requests (all clients together),
// a token bucket refilled one token per interval.
import { parseDuration } from '../duration.js';
import type { Fields, Node } from './fields.js';

export const RATE_KEYS = ['burst', 'interval'];

export interface RateLimitSpec {
  burst: number;
  intervalMs: number;
}

/** Check rate_limit; undefined when it is off (no interval, or a zero one). */
export function parseRateLimit(f: Fields, value: Node): RateLimitSpec | undefined {
  let burst = 0;
  let intervalMs = 0;
  let intervalNode: Node = null;
  for (const [k, v] of f.entries(value, 'rate_limit', RATE_KEYS)) {
    if (k === 'burst') burst = f.int(v, 'rate_limit.burst') ?? 0;
    else {
      intervalNode = v;
      const s = f.str(v, 'rate_limit.interval');
      intervalMs = s === undefined ? 0 : durationField(f, s, v);
    }
  }
  if (intervalMs <= 0) return undefined;
  if (burst < 1) f.fail('rate_limit.burst', 'must be at least 1 when rate_limit.interval is set (0 would refuse every request)', intervalNode);
  return { burst, intervalMs };
}

function durationField(f: Fields, s: string, node: Node): number {
  try {
    return parseDuration(s);
  } catch (err) {
    return f.fail('rate_limit.interval', (err as Error).message, node);
  }
}

/** Token bucket with Go's rate.Limiter semantics: starts full, refills one token per interval. */
export class RateLimiter {
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
