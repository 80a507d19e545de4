// Durations as Prometheus writes them (model.ParseDuration): a sequence of
// number+unit, largest unit first, each unit at most once, e.g. 500ms, 10s,
// 1m30s, 1h, 2d, 1w, 1y (a day is 24h, a week 7d, a year 365d), or a bare 0.
// Flags and the web config file share this one parser so the same text means
// the same thing everywhere. It also takes what Go's time.ParseDuration adds,
// since exporter-toolkit reads rate_limit.interval with it and the flags took
// fractions before: decimal numbers (1.5h) and the units us, µs and ns.

const UNITS: ReadonlyArray<readonly [unit: string, ms: number]> = [
  ['y', 365 * 86_400_000],
  ['w', 7 * 86_400_000],
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1000],
  ['ms', 1],
  ['us', 1e-3],
  ['µs', 1e-3],
  ['ns', 1e-6],
];
const VALUE = new Map(UNITS);
/** order of a unit; us and µs are one unit under two spellings */
const RANK = new Map(UNITS.map(([u], i) => [u, u === 'µs' ? i - 1 : i]));
// ms before m and s, µs/us/ns before s: the longest unit that matches wins
const TERM = /(\d+(?:\.\d*)?|\.\d+)(ms|us|µs|ns|y|w|d|h|m|s)?/y;

const EXAMPLES = 'e.g. 500ms, 10s, 1m30s, 1h, 2d';

export class DurationError extends Error {
  constructor(readonly text: string, readonly reason: string) {
    super(`"${text}" is not a duration: ${reason} (${EXAMPLES})`);
    this.name = 'DurationError';
  }
}

/** Parse a duration into milliseconds; throws DurationError naming the text and what is wrong with it. */
export function parseDuration(text: string): number {
  if (text === '') throw new DurationError(text, 'empty');
  if (text === '0') return 0;
  let total = 0;
  let last = -1;
  let i = 0;
  while (i < text.length) {
    TERM.lastIndex = i;
    const m = TERM.exec(text);
    if (!m) {
      const rest = text.slice(i);
      throw new DurationError(text, /^-/.test(rest) ? 'negative durations are not allowed' : `unexpected "${rest}"`);
    }
    const [, num, unit] = m;
    if (unit === undefined) {
      const after = text.slice(TERM.lastIndex);
      throw new DurationError(text, after ? `unknown unit in "${num}${after}"` : `missing unit after "${num}"`);
    }
    const rank = RANK.get(unit)!;
    if (rank <= last) throw new DurationError(text, `unit "${unit}" out of order or repeated (largest first: y, w, d, h, m, s, ms)`);
    last = rank;
    total += Number(num) * VALUE.get(unit)!;
    i = TERM.lastIndex;
  }
  if (!Number.isFinite(total) || total > Number.MAX_SAFE_INTEGER) throw new DurationError(text, 'too long');
  return total;
}
