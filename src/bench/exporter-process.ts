// The exporter as a separate process (node dist/main.js), scraped over
// loopback HTTP as Prometheus does: wall time from request to last byte, bytes
// received on the socket, the process' CPU time and its peak RSS (VmHWM).
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The node flags the exporter ships with: the image's ENTRYPOINT and `npm start`
 * (test/unit/deploy.test.ts keeps them in step). The benchmark runs the exporter
 * with them unless told otherwise.
 */
export const SHIPPED_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2', '--heap-growing-percent=20'];

const MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'main.js');

export interface ScrapeReply {
  ms: number;
  /** bytes read from the socket for this response (status line, headers, body) */
  wireBytes: number;
  body: Buffer;
  headers: http.IncomingHttpHeaders;
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** /proc/<pid>/status fields in kB */
export function procStatus(pid: number): { vmHwmKB: number; vmRssKB: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? 0);
  return { vmHwmKB: kb('VmHWM'), vmRssKB: kb('VmRSS') };
}

/** user + system CPU of a process, ms */
export function procCpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // utime and stime are fields 14 and 15 (1-based), i.e. 11 and 12 after "pid (comm) "
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/**
 * A stand-in for dockerd on a unix socket: empty lists, an empty info object
 * and an events stream that stays open. The exporter then loads and runs its
 * Docker client as it does on a real node (the client costs memory), without
 * the benchmark depending on a Docker daemon.
 */
export async function fakeDockerd(path: string): Promise<http.Server> {
  rmSync(path, { force: true });
  const srv = http.createServer((req, res) => {
    const url = req.url ?? '';
    res.setHeader('content-type', 'application/json');
    if (url.includes('/events')) {
      res.writeHead(200);
      res.flushHeaders();
      return; // open until the exporter goes
    }
    const list = /\/(containers|networks|services|nodes|tasks)\/json|\/(networks|services|nodes|tasks)(\?|$)/.test(url);
    res.end(list ? '[]' : '{}');
  });
  await new Promise<void>((r) => srv.listen(path, r));
  return srv;
}

export class ExporterProcess {
  private child!: ChildProcess;
  private port = 0;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  stderr = '';

  constructor(private readonly args: string[], private readonly nodeArgs: string[] = [], private readonly main = MAIN) {}

  get pid(): number {
    return this.child.pid!;
  }

  async start(): Promise<void> {
    this.port = await freePort();
    this.child = spawn(process.execPath, [...this.nodeArgs, this.main, `--web.listen-address=127.0.0.1:${this.port}`, '--log.level=warn', ...this.args], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child.stderr!.on('data', (d: Buffer) => { this.stderr += d.toString(); });
    for (let i = 0; i < 200; i++) {
      try {
        await this.get('/healthz');
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    throw new Error(`exporter did not start: ${this.stderr}`);
  }

  /** `ownConnection`: not over the kept-alive connection (it takes one request at a time): for concurrent requests */
  get(path: string, headers: Record<string, string> = {}, ownConnection = false): Promise<ScrapeReply> {
    return new Promise((resolve, reject) => {
      const t0 = performance.now();
      const req = http.get({ host: '127.0.0.1', port: this.port, path, headers, agent: ownConnection ? false : this.agent }, (res) => {
        const sock = res.socket;
        const read0 = (sock as unknown as { _benchRead?: number })._benchRead ?? 0;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const ms = performance.now() - t0;
          const wireBytes = sock.bytesRead - read0;
          (sock as unknown as { _benchRead?: number })._benchRead = sock.bytesRead;
          resolve({ ms, wireBytes, body: Buffer.concat(chunks), headers: res.headers });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
    });
  }

  async stop(): Promise<void> {
    this.agent.destroy();
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    await exited;
  }
}
