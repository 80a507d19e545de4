// Waiting for a condition: one poll loop with a deadline and an error that
// says what was awaited and what was last seen.

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface WaitOptions {
  /** default 30 s */
  timeoutMs?: number;
  /** default 200 ms */
  intervalMs?: number;
}

/**
 * Poll `fn` until it returns something other than undefined/false, and return
 * that; throw after timeoutMs naming what was awaited and the last error or
 * value seen. An error thrown by `fn` counts as "not yet".
 */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, opts: WaitOptions = {}): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${detail})`);
    }
    await sleep(opts.intervalMs ?? 200);
  }
}

/**
 * Poll `check`, which asserts (throws) until the condition holds, and return
 * its value once it passes; the last assertion failure is in the timeout error.
 */
export async function eventually<T>(what: string, check: () => Promise<T> | T, opts: WaitOptions = {}): Promise<T> {
  let result: T | undefined;
  await waitFor(what, async () => {
    result = await check();
    return true;
  }, opts);
  return result as T;
}
