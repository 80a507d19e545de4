// Cost model: what the exporter costs per namespace, per interface and per
// series, side by side with the seed's shell loop and node_exporter's netdev
// collector, all in one invocation. Run as root (creates and deletes
// namespaces `swb-*`, like scrape-bench.ts, whose helpers it uses):
//
//   npm run build && node dist/bench/cost-model.js   (or: npm run bench:cost --)
//     --sizes=100,400,1000  namespace counts, swarm-shaped (scrape-bench's shape, 4 veth pairs)
//     --rounds=N (20)       scrapes after one warm-up, a fresh exporter process per point
//     --wide-veths=N (12)   veth pairs per namespace of the second shape (at the first size)
//     --shell-rounds=N (2)  rounds of the shell loop (at the first size)
//     --setup-budget-s=N (300)  skip a size whose namespaces would take longer to create
//
// It prints markdown tables:
//  1. the exporter (default flags, plain scrape) at each size: median ms, CPU ms a
//     scrape (/proc/<pid>/stat), body bytes, series, VmHWM;
//  2. the marginal cost: least-squares slope per namespace over those points,
//     and per interface from the first size with 4 against --wide-veths veth pairs;
//  3. cost per series: the exporter and the shell loop over the first size's
//     namespaces (the loop's "series" counted as the exporter's), then one
//     namespace holding as many interfaces as those namespaces (veth pairs) scraped
//     by Debian's prometheus-node-exporter (--collector.disable-defaults
//     --collector.netdev, run with `ip netns exec`, scraped over that
//     namespace's loopback by a child of this script) and by the exporter.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fakeDockerd, procCpuMs } from './exporter-process.js';
import { DOCKER_SOCK, PREFIX, arg, ensureNamespaces, machineLoad, measureExporter, measureShellLoop, median, percentile, printUsage, sh, teardown } from './scrape-bench.js';

const NE_NS = `${PREFIX}ne`;
const NE_BIN = '/usr/bin/prometheus-node-exporter';
const NE_PORT = 19100;
const BASE_VETHS = 4; // scrape-bench's shape

const count = (text: string, re: RegExp) => text.split('\n').filter((l) => re.test(l)).length;
const f = (x: number | undefined, d = 1) => (x === undefined || !Number.isFinite(x) ? 'n/a' : x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }));

/** Least-squares slope of y over x. */
function slope(xs: number[], ys: number[]): number {
  if (xs.length < 2) return NaN;
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return num / den;
}

/**
 * Child mode, run inside the namespace by `ip netns exec`: scrape
 * 127.0.0.1:<port>/metrics once to warm up, then `rounds` times with
 * keep-alive; CPU of <pid> from /proc (same PID namespace).
 */
async function scrapeChild(port: number, rounds: number, pid: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const get = () => new Promise<{ ms: number; body: Buffer }>((resolve, reject) => {
    const t0 = performance.now();
    const req = http.get({ host: '127.0.0.1', port, path: '/metrics', agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ ms: performance.now() - t0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
  let last: { ms: number; body: Buffer } | undefined;
  for (let i = 0; i < 200 && !last; i++) {
    try {
      last = await get(); // warm-up
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  if (!last) throw new Error(`nothing answered on 127.0.0.1:${port}`);
  const walls: number[] = [];
  const cpu0 = procCpuMs(pid);
  for (let r = 0; r < rounds; r++) {
    last = await get();
    walls.push(last.ms);
  }
  const cpu = procCpuMs(pid) - cpu0;
  const text = last.body.toString('utf8');
  agent.destroy();
  console.log(JSON.stringify({
    medianMs: median(walls), p95Ms: percentile(walls, 95), cpuMsPerScrape: cpu / rounds,
    bodyBytes: last.body.length, series: count(text, /^node_network_/),
    comm: readFileSync(`/proc/${pid}/comm`, 'utf8').trim(),
  }));
}

/** One namespace holding `pairs` veth pairs (both ends) and lo. */
function singleNamespace(pairs: number) {
  sh(`ip netns add ${NE_NS}`);
  const lines = ['link set lo up'];
  for (let v = 0; v < pairs; v++) lines.push(`link add veth${v} type veth peer name ceth${v}`, `link set veth${v} up`, `link set ceth${v} up`);
  const batch = join(tmpdir(), 'swb-ne.batch');
  writeFileSync(batch, lines.join('\n') + '\n');
  sh(`ip -n ${NE_NS} -b ${batch}`);
}

/** node_exporter's netdev collector in NE_NS, scraped by a child of this script in the same namespace. */
async function measureNodeExporter(rounds: number) {
  const child: ChildProcess = spawn('ip', ['netns', 'exec', NE_NS, NE_BIN, '--collector.disable-defaults', '--collector.netdev',
    `--web.listen-address=127.0.0.1:${NE_PORT}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  try {
    await new Promise((r) => setTimeout(r, 300));
    // `ip netns exec` execs the command in place; should it have forked, measure its child
    let pid = child.pid!;
    const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    if (comm === 'ip') pid = Number(readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ')[0]);
    const res = spawnSync('ip', ['netns', 'exec', NE_NS, process.execPath, fileURLToPath(import.meta.url),
      `--scrape-child=${NE_PORT}`, `--rounds=${rounds}`, `--pid=${pid}`], { encoding: 'utf8' });
    const line = res.stdout.trim().split('\n').pop() ?? '';
    if (res.status !== 0 || !line.startsWith('{')) throw new Error(`node_exporter scrape failed: ${res.stderr} ${stderr}`);
    return JSON.parse(line) as { medianMs: number; p95Ms: number; cpuMsPerScrape: number; bodyBytes: number; series: number; comm: string };
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
}

type Run = Awaited<ReturnType<typeof measureExporter>>;
interface Point {
  namespaces: number; interfaces: number; medianMs: number; p95Ms: number; cpuMsPerScrape: number;
  bytes: number; series: number; hwmMB: number; setupS: number; ifSeries: number; ifCounters: number;
}

function point(namespaces: number, r: Run, setupS: number): Point {
  const text = r.plain.toString('utf8');
  return {
    namespaces, interfaces: count(text, /^swarmnet_interface_up\{/), medianMs: r.medianMs, p95Ms: r.p95Ms,
    cpuMsPerScrape: r.cpuMsPerScrape, bytes: r.bodyBytes, series: r.series, hwmMB: r.hwmMB, setupS,
    // per-interface series (all of swarmnet_interface_*, and its counters alone: node_exporter's netdev is counters)
    ifSeries: count(text, /^swarmnet_interface_/), ifCounters: count(text, /^swarmnet_interface_\w+_total\{/),
  };
}

async function main() {
  if (printUsage('cost-model.ts')) return;
  const sizes = arg('sizes', '100,400,1000').split(',').map(Number);
  const rounds = Number(arg('rounds', '20'));
  const wideVeths = Number(arg('wide-veths', '12'));
  const shellRounds = Number(arg('shell-rounds', '2'));
  const budgetS = Number(arg('setup-budget-s', '300'));
  const base = sizes[0]!;
  const notes: string[] = [];
  console.log(`command: node dist/bench/cost-model.js ${process.argv.slice(2).join(' ')}`);
  console.log(`machine: ${cpus().length} x ${cpus()[0]?.model}, ${(totalmem() / 2 ** 30).toFixed(0)} GB, kernel ${sh('uname -r').trim()}, node ${process.version}, ${new Date().toISOString()}`);
  console.log(`at start: ${machineLoad()}`);
  const dockerd = await fakeDockerd(DOCKER_SOCK);
  teardown();
  const points: Point[] = [];
  let shell: ReturnType<typeof measureShellLoop> | undefined;
  let wide: Point | undefined;
  let single: Point | undefined;
  let ne: Awaited<ReturnType<typeof measureNodeExporter>> | undefined;
  let nePairs = 0;
  const t00 = performance.now();
  try {
    let perNsS = 0;
    let have = 0;
    for (const n of sizes) {
      if (have && perNsS * (n - have) > budgetS) {
        notes.push(`${n} namespaces skipped: creating them would take about ${f(perNsS * (n - have), 0)} s (budget ${budgetS} s)`);
        break;
      }
      const t0 = performance.now();
      try {
        ensureNamespaces(n);
      } catch (e) {
        notes.push(`${n} namespaces failed to set up: ${(e as Error).message.split('\n')[0]}`);
        break;
      }
      const setupS = (performance.now() - t0) / 1000;
      perNsS = setupS / (n - have);
      have = n;
      console.error(`${n} namespaces ready in ${f(setupS)} s`);
      try {
        points.push(point(n, await measureExporter(n, rounds, false), setupS));
      } catch (e) {
        notes.push(`exporter at ${n} namespaces failed: ${(e as Error).message.split('\n')[0]}`);
        break;
      }
      console.error(JSON.stringify(points[points.length - 1]));
      if (n === base) shell = measureShellLoop(n, shellRounds);
    }
    // the second shape: more veth pairs per namespace at the first size
    teardown();
    ensureNamespaces(base, wideVeths);
    wide = point(base, await measureExporter(base, rounds, false), 0);
    console.error(JSON.stringify(wide));
    teardown();
    // one namespace, as many interfaces as the first size's namespaces (lo + veth ends)
    nePairs = Math.ceil(((points[0]?.interfaces ?? base * (3 + 2 * BASE_VETHS)) - 1) / 2);
    singleNamespace(nePairs);
    single = point(1, await measureExporter(1, rounds, false, undefined, undefined, `^(?!${NE_NS}$)`), 0);
    console.error(JSON.stringify(single));
    if (existsSync(NE_BIN)) ne = await measureNodeExporter(rounds);
    else notes.push(`node_exporter not measured: ${NE_BIN} is not installed (apt-get install prometheus-node-exporter)`);
  } catch (e) {
    notes.push(`run stopped: ${(e as Error).message.split('\n')[0]}`);
  } finally {
    teardown();
    dockerd.closeAllConnections();
    dockerd.close();
  }
  console.log(`at end: ${machineLoad()}; ${f((performance.now() - t00) / 1000, 0)} s`);

  console.log(`\n1. The exporter, default flags, plain scrape, ${rounds} scrapes after a warm-up (a fresh process per row):\n`);
  console.log('| namespaces | interfaces | series | median ms | p95 ms | CPU ms/scrape | bytes | VmHWM MB | namespaces set up in s |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const p of points) console.log(`| ${f(p.namespaces, 0)} | ${f(p.interfaces, 0)} | ${f(p.series, 0)} | ${f(p.medianMs)} | ${f(p.p95Ms)} | ${f(p.cpuMsPerScrape)} | ${f(p.bytes, 0)} | ${f(p.hwmMB, 0)} | ${f(p.setupS)} |`);

  const xs = points.map((p) => p.namespaces);
  const per = (k: keyof Point) => slope(xs, points.map((p) => p[k]));
  const narrow = points[0];
  const addedIf = wide && narrow ? wide.interfaces - narrow.interfaces : NaN;
  const perIf = (k: keyof Point) => (wide && narrow ? (wide[k] - narrow[k]) / addedIf : NaN);
  console.log(`\n2. Marginal cost: per namespace, the least-squares slope over ${xs.join(', ')} namespaces; per interface, ${base} namespaces with ${wideVeths} against ${BASE_VETHS} veth pairs each (${f(addedIf, 0)} interfaces added):\n`);
  console.log('| marginal cost | median ms | CPU ms/scrape | bytes | series | VmHWM MB |');
  console.log('|---|---|---|---|---|---|');
  console.log(`| per namespace (${2 + 2 * BASE_VETHS} interfaces besides lo, 18 FDB entries) | ${f(per('medianMs'), 3)} | ${f(per('cpuMsPerScrape'), 3)} | ${f(per('bytes'), 0)} | ${f(per('series'))} | ${f(per('hwmMB'), 3)} |`);
  console.log(`| per interface (veth end) | ${f(perIf('medianMs'), 4)} | ${f(perIf('cpuMsPerScrape'), 4)} | ${f(perIf('bytes'), 0)} | ${f(perIf('series'))} | ${f(perIf('hwmMB'), 4)} |`);
  if (wide) console.log(`\n(${base} namespaces x ${wideVeths} veth pairs: ${f(wide.interfaces, 0)} interfaces, ${f(wide.series, 0)} series, median ${f(wide.medianMs)} ms, CPU ${f(wide.cpuMsPerScrape)} ms/scrape, ${f(wide.bytes, 0)} bytes, VmHWM ${f(wide.hwmMB, 0)} MB)`);

  console.log('\n3. Cost per series:\n');
  console.log('| scraper | namespaces | interfaces | series | median ms | CPU ms/scrape | bytes | ms per 1,000 series | CPU ms per 1,000 series |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  const row = (what: string, ns: number, ifs: number, series: number, ms: number, cpu: number, bytes?: number) =>
    console.log(`| ${what} | ${f(ns, 0)} | ${f(ifs, 0)} | ${f(series, 0)} | ${f(ms)} | ${f(cpu)} | ${bytes === undefined ? 'n/a' : f(bytes, 0)} | ${f((ms * 1000) / series, 2)} | ${f((cpu * 1000) / series, 2)} |`);
  if (narrow) row('exporter', narrow.namespaces, narrow.interfaces, narrow.series, narrow.medianMs, narrow.cpuMsPerScrape, narrow.bytes);
  if (narrow && shell) row(`shell loop (nsenter + ip -s -j link + bridge -j fdb), ${shellRounds} rounds; series = the exporter's`, narrow.namespaces, narrow.interfaces, narrow.series, shell.medianMs, shell.cpuMsPerScrape);
  if (single) row('exporter, one namespace', 1, single.interfaces, single.series, single.medianMs, single.cpuMsPerScrape, single.bytes);
  if (single && ne) row(`node_exporter netdev, same namespace (series: node_network_*)`, 1, single.interfaces, ne.series, ne.medianMs, ne.cpuMsPerScrape, ne.bodyBytes);
  if (single) {
    const i = single.interfaces;
    console.log(`\nSeries per interface in the one namespace (lo + ${nePairs * 2} veth ends): exporter swarmnet_interface_* ${f(single.ifSeries / i, 2)} (counters *_total ${f(single.ifCounters / i, 2)}), all series ${f(single.series / i, 2)}; node_exporter node_network_* ${ne ? f(ne.series / i, 2) : 'n/a'}${ne ? ` (measured pid's comm: ${ne.comm})` : ''}.`);
  }
  if (notes.length) console.log(`\nNot measured:\n${notes.map((n) => `- ${n}`).join('\n')}`);
}

if (arg('scrape-child', '')) void scrapeChild(Number(arg('scrape-child', '')), Number(arg('rounds', '20')), Number(arg('pid', '0')));
else void main();
