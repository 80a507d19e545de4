// What each dependency costs to load: RSS and heap before and after importing
// it alone into a fresh Node.js process (one child per module, so earlier
// imports do not hide later ones); then the exporter's own RSS when idle, with
// no Docker socket and with a stand-in dockerd (the Docker client is node:http,
// which fastify loads anyway).
// Run: npm run build && node dist/bench/module-cost.js
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExporterProcess, fakeDockerd, procStatus } from './exporter-process.js';

const MODULES = ['fastify', 'pino', 'prom-client', 'node:http', 'bcryptjs', 'yaml', 'node:zlib'];

const PROBE = `
const gc = () => { globalThis.gc?.(); globalThis.gc?.(); };
gc();
const before = process.memoryUsage();
const t0 = performance.now();
await import(process.argv[1]);
const ms = performance.now() - t0;
gc();
const after = process.memoryUsage();
console.log(JSON.stringify({ ms, rss: after.rss - before.rss, heap: after.heapUsed - before.heapUsed, rssAfter: after.rss }));
`;

function probe(mod: string) {
  const out = execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', PROBE, mod], { encoding: 'utf8', cwd: process.cwd() });
  return JSON.parse(out) as { ms: number; rss: number; heap: number; rssAfter: number };
}

const MB = (n: number) => (n / 2 ** 20).toFixed(1);
const bare = probe('node:path');
console.log(`bare node (after importing node:path): RSS ${MB(bare.rssAfter)} MB`);
console.log('| module | load ms | RSS +MB | heap +MB |');
console.log('|---|---|---|---|');
for (const m of MODULES) {
  // median of 3 fresh processes
  const runs = [probe(m), probe(m), probe(m)].sort((a, b) => a.rss - b.rss);
  const r = runs[1]!;
  console.log(`| ${m} | ${r.ms.toFixed(0)} | ${MB(r.rss)} | ${MB(r.heap)} |`);
}

/** The exporter started with nothing to read, RSS after it settled (median of 3 starts). */
async function idleRss(dockerHost: string): Promise<number> {
  const out: number[] = [];
  for (let i = 0; i < 3; i++) {
    const e = new ExporterProcess(['--netns.dir=/nonexistent', '--netns.host=none', `--docker.host=${dockerHost}`]);
    await e.start();
    await new Promise((r) => setTimeout(r, 3000));
    out.push(procStatus(e.pid).vmRssKB * 1024);
    await e.stop();
  }
  return out.sort((a, b) => a - b)[1]!;
}

const sock = join(tmpdir(), 'swb-idle-docker.sock');
const dockerd = await fakeDockerd(sock);
console.log(`\nexporter idle RSS: ${MB(await idleRss('unix:///nonexistent/docker.sock'))} MB without a Docker socket, ${MB(await idleRss(`unix://${sock}`))} MB with one (events stream open, one refresh read)`);
dockerd.closeAllConnections();
dockerd.close();
