// How long the fuzz properties run. `npm test` runs a bounded number of cases
// (FUZZ_RUNS, default 200 per property) from a fresh random seed each time;
// fast-check prints the seed and path of any failure, and FUZZ_SEED (with
// FUZZ_PATH) replays it. A long run: FUZZ_RUNS=100000 npx vitest run test/fuzz/
import { fc } from '@fast-check/vitest';

function intFromEnv(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw new Error(`${name} must be an integer, got "${raw}"`);
  return n;
}

/** cases per property (before its weight) */
export const FUZZ_RUNS = Math.max(1, intFromEnv('FUZZ_RUNS') ?? 200);
const seed = intFromEnv('FUZZ_SEED');
const path = process.env.FUZZ_PATH;

fc.configureGlobal({
  numRuns: FUZZ_RUNS,
  ...(seed !== undefined ? { seed } : {}),
  ...(path ? { path } : {}),
});

/** Parameters for one property: `weight` scales FUZZ_RUNS for the slower ones. */
export const runs = (weight = 1): { numRuns: number } => ({ numRuns: Math.max(1, Math.round(FUZZ_RUNS * weight)) });

/** A test timeout that grows with the run count (vitest's default is 60 s here). */
export const TIMEOUT = Math.max(60_000, FUZZ_RUNS * 20);
