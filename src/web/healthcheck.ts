// Container health check (Dockerfile HEALTHCHECK, stack healthcheck):
//   node dist/web/healthcheck.js [URL]
// URL defaults to $SWARMNET_HEALTHCHECK_URL, else to /healthz on the port of
// the exporter's own --web.listen-address (read from PID 1's command line in
// the container), else http://127.0.0.1:9477/healthz.
// Exit 0 when the exporter answers on its port, 1 otherwise. It works whatever
// the web config file says: a 401 (basic auth on) or 429 (rate limit) is an
// answer; when the port speaks TLS the check retries over HTTPS without
// verifying the certificate (it only talks to its own container), and a TLS
// alert asking for a client certificate also proves the server is alive.
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';

type Outcome = { alive: true; detail: string } | { alive: false; detail: string; tlsHint: boolean };

function probe(url: URL, timeoutMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const isTls = url.protocol === 'https:';
    let handshook = false;
    const opts = { method: 'GET', timeout: timeoutMs, agent: false as const, rejectUnauthorized: false };
    const req = (isTls ? https : http).request(url, opts, (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      if (status > 0 && status < 500) resolve({ alive: true, detail: `HTTP ${status}` });
      else resolve({ alive: false, detail: `HTTP ${status}`, tlsHint: false });
    });
    req.on('socket', (s) => s.once('secureConnect', () => (handshook = true)));
    req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? '';
      if (isTls && (handshook || /ALERT/.test(code))) {
        // the server completed or refused the handshake on policy (client certificate required)
        resolve({ alive: true, detail: `TLS server answered (${code || err.message})` });
        return;
      }
      const tlsHint = !isTls && (code === 'ECONNRESET' || code.startsWith('HPE_') || /socket hang up/.test(err.message));
      resolve({ alive: false, detail: `${code || err.message}`, tlsHint });
    });
    req.end();
  });
}

export async function healthcheck(target: string, timeoutMs = 3000): Promise<Outcome> {
  const url = new URL(target);
  const first = await probe(url, timeoutMs);
  if (first.alive || !first.tlsHint) return first;
  const secure = new URL(url);
  secure.protocol = 'https:';
  return probe(secure, timeoutMs);
}

/** /healthz on the address the exporter (PID 1 in its container) listens on. */
export function defaultTarget(cmdline: string[] | undefined = readCmdline('/proc/1/cmdline')): string {
  let listen = ':9477';
  if (cmdline) {
    for (let i = 0; i < cmdline.length; i++) {
      const a = cmdline[i]!;
      if (a.startsWith('--web.listen-address=')) listen = a.slice('--web.listen-address='.length);
      else if (a === '--web.listen-address' && cmdline[i + 1]) listen = cmdline[i + 1]!;
    }
  }
  const i = listen.lastIndexOf(':');
  const port = listen.slice(i + 1) || '9477';
  let host = listen.slice(0, Math.max(i, 0)).replace(/^\[|\]$/g, '');
  if (host === '' || host === '0.0.0.0') host = '127.0.0.1';
  else if (host === '::') host = '::1';
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}/healthz`;
}

function readCmdline(path: string): string[] | undefined {
  try {
    return readFileSync(path, 'utf8').split('\0').filter(Boolean);
  } catch {
    return undefined;
  }
}

const isMain = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  const target = process.argv[2] ?? process.env.SWARMNET_HEALTHCHECK_URL ?? defaultTarget();
  healthcheck(target).then(
    (o) => {
      process.stdout.write(`${target}: ${o.alive ? 'healthy' : 'unhealthy'}: ${o.detail}\n`);
      process.exit(o.alive ? 0 : 1);
    },
    (err: Error) => {
      process.stdout.write(`${target}: unhealthy: ${err.message}\n`);
      process.exit(1);
    },
  );
}
