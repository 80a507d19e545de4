// An HTTP request with curl, from this network namespace or from inside
// another one (the root namespace has no route to a swarm node's addresses).
import { run } from './run.js';

export interface CurlOptions {
  /** make the request from inside this network namespace file (nsenter --net) */
  netnsFile?: string;
  /** sent urlencoded as a POST body */
  form?: Record<string, string>;
  method?: string;
  /** default 15 s */
  timeoutMs?: number;
}

/** The body of a successful (2xx) answer; a thrown error (with the body of a 4xx/5xx) otherwise. */
export async function curl(url: string, opts: CurlOptions = {}): Promise<string> {
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const args = ['curl', '-sS', '--fail-with-body', '--max-time', String(Math.ceil(timeoutMs / 1000))];
  if (opts.method) args.push('-X', opts.method);
  for (const [k, v] of Object.entries(opts.form ?? {})) args.push('--data-urlencode', `${k}=${v}`);
  args.push(url);
  const argv = opts.netnsFile ? ['nsenter', `--net=${opts.netnsFile}`, '--', ...args] : args;
  return (await run(argv[0]!, argv.slice(1), { timeoutMs: timeoutMs + 5_000 })).stdout;
}

/** curl from inside a network namespace file. */
export const curlIn = (netnsFile: string, url: string, opts: Omit<CurlOptions, 'netnsFile'> = {}): Promise<string> =>
  curl(url, { ...opts, netnsFile });
