// Scrape benchmark: N swarm-shaped namespaces (bridge, vxlan with peers, veth
// ports), the exporter's full /metrics against the naive shell loop of the
// seed's scripts (nsenter + ip -s -j link + bridge -j fdb per namespace), in
// the same invocation. Run as root: npm run bench -- --sizes=100,400
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { buildApp } from '../app.js';
import { allCollectors } from '../collectors/index.js';
import { loadConfig } from '../config.js';
import { loadNative } from '../kernel/native.js';
import { Scraper } from '../scrape.js';

const PREFIX = 'swb-';
const VETHS = 4;
const PEERS = 6; // remote VTEPs per vxlan device
const MACS_PER_PEER = 3;

function arg(name: string, dflt: string): string {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  return hit ? hit.slice(name.length + 3) : dflt;
}

function sh(script: string): string {
  return execFileSync('bash', ['-ec', script], { encoding: 'utf8', maxBuffer: 1 << 28 });
}

function teardown() {
  const names = sh('ip netns list').split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(PREFIX));
  if (names.length) {
    const f = join(tmpdir(), 'swb-del.batch');
    writeFileSync(f, names.map((n) => `netns del ${n}`).join('\n') + '\n');
    sh(`ip -b ${f}`);
  }
}

/** Create namespaces PREFIX0..N-1 (keeping existing ones) with one batch per namespace. */
function ensureNamespaces(n: number) {
  const have = new Set(sh('ip netns list').split('\n').map((l) => l.split(' ')[0]!));
  const batch = join(tmpdir(), 'swb.batch');
  for (let i = 0; i < n; i++) {
    const ns = `${PREFIX}${i}`;
    if (have.has(ns)) continue;
    sh(`ip netns add ${ns}`);
    const lines = [
      'link set lo up',
      'link add br0 type bridge',
      'link set br0 up',
      `link add vxlan0 type vxlan id ${4096 + i} dstport 4789 nolearning local 203.0.113.1`,
      'link set vxlan0 master br0 up',
    ];
    for (let v = 0; v < VETHS; v++) {
      lines.push(`link add veth${v} type veth peer name ceth${v}`, `link set veth${v} master br0 up`, `link set ceth${v} up`);
    }
    writeFileSync(batch, lines.join('\n') + '\n');
    sh(`ip -n ${ns} -b ${batch}`);
    const fdb: string[] = [];
    for (let p = 0; p < PEERS; p++) {
      for (let m = 0; m < MACS_PER_PEER; m++) {
        fdb.push(`fdb add 02:42:c6:${(p).toString(16).padStart(2, '0')}:${m.toString(16).padStart(2, '0')}:01 dev vxlan0 dst 198.51.100.${p + 1} self permanent`);
      }
    }
    writeFileSync(batch, fdb.join('\n') + '\n');
    sh(`ip netns exec ${ns} bridge -b ${batch}`);
  }
}

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

async function measureExporter(n: number, rounds: number) {
  const log = pino({ level: 'silent' });
  const scraper = new Scraper({
    netnsDirs: ['/run/netns'], hostNetns: false, collectors: allCollectors({ netdevExtendedStats: arg('extended-stats', 'false') === 'true' }), concurrency: Number(arg('concurrency', '2')),
    defaultTimeoutMs: 30_000, netnsFilter: (r) => r.name.startsWith(PREFIX) && Number(r.name.slice(PREFIX.length)) < n,
    // the exporter's defaults, as a plain start would have them
    interfaceExclude: loadConfig([]).interfaceExclude,
    version: { version: 'bench', revision: 'bench' },
  }, { native: loadNative() }, log);
  const app = await buildApp({ scraper, logger: log, maxScrapeMs: 30_000, version: 'bench' });
  await app.inject({ url: '/metrics' }); // warm-up
  const walls: number[] = [];
  let bytes = 0;
  let series = 0;
  let rssMax = 0;
  const cpu0 = process.cpuUsage();
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    const res = await app.inject({ url: '/metrics' });
    walls.push(performance.now() - t0);
    if (r === rounds - 1) {
      const body = res.rawPayload.toString('utf8');
      bytes = res.rawPayload.length;
      series = body.split('\n').filter((l) => l && !l.startsWith('#')).length;
    }
    rssMax = Math.max(rssMax, process.memoryUsage().rss);
  }
  const cpu = process.cpuUsage(cpu0);
  await app.close();
  return {
    medianMs: percentile(walls, 50), p95Ms: percentile(walls, 95),
    cpuMsPerScrape: (cpu.user + cpu.system) / 1000 / rounds,
    rssMB: rssMax / 2 ** 20, series, bytes,
  };
}

function measureShellLoop(n: number, rounds: number) {
  // the seed's approach: one nsenter per namespace per tool; CPU from bash's `times`
  const script = `for i in $(seq 0 ${n - 1}); do
  nsenter --net=/run/netns/${PREFIX}$i ip -s -j link show >/dev/null
  nsenter --net=/run/netns/${PREFIX}$i bridge -j fdb show >/dev/null
done; times`;
  const walls: number[] = [];
  const cpus: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    const res = spawnSync('bash', ['-c', script], { encoding: 'utf8' });
    walls.push(performance.now() - t0);
    // second line of `times`: children's user and system time, e.g. "0m1.234s 0m2.345s"
    const line = res.stdout.trim().split('\n').pop()!;
    const secs = [...line.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
    cpus.push((secs[0]! + secs[1]!) * 1000);
  }
  return { medianMs: percentile(walls, 50), p95Ms: percentile(walls, 95), cpuMsPerScrape: cpus.reduce((a, b) => a + b, 0) / cpus.length };
}

async function main() {
  const sizes = arg('sizes', '100,200,400').split(',').map(Number);
  const rounds = Number(arg('rounds', '30'));
  const shellRounds = Number(arg('shell-rounds', '3'));
  console.error(`machine: ${cpus().length} x ${cpus()[0]?.model}, kernel ${sh('uname -r').trim()}, node ${process.version}`);
  teardown();
  const rows = [];
  try {
    for (const n of sizes) {
      const t0 = performance.now();
      ensureNamespaces(n);
      console.error(`${n} namespaces ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      const exporter = await measureExporter(n, rounds);
      const shell = measureShellLoop(n, shellRounds);
      const row = { namespaces: n, exporter, shell, speedup: shell.medianMs / exporter.medianMs };
      console.error(JSON.stringify(row));
      rows.push(row);
    }
  } finally {
    if (arg('keep', 'false') !== 'true') teardown();
  }
  console.log('| namespaces | series | exporter median ms | p95 ms | CPU ms/scrape | RSS MB | shell loop median ms | shell CPU ms | speed-up |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.namespaces} | ${r.exporter.series} | ${r.exporter.medianMs.toFixed(1)} | ${r.exporter.p95Ms.toFixed(1)} | ${r.exporter.cpuMsPerScrape.toFixed(1)} | ${r.exporter.rssMB.toFixed(0)} | ${r.shell.medianMs.toFixed(0)} | ${r.shell.cpuMsPerScrape.toFixed(0)} | ${r.speedup.toFixed(0)}x |`);
  }
}

void main();
