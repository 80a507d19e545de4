// Scrape benchmark: N swarm-shaped namespaces (bridge, vxlan with peers, veth
// ports); the exporter as a process scraped over loopback HTTP (plain and
// gzip) against a C floor making the same netlink dumps and decoding nothing
// (floor.c) and the naive shell loop of the seed's scripts (nsenter + ip -s -j
// link + bridge -j fdb per namespace), all in the same invocation.
// Run as root: npm run bench -- --sizes=100,400
//   --rounds=N (30)  --shell-rounds=N (3)  --concurrency=N (2)
//   --compare=PATH/main.js   another build in the same run (gzip requested), run with
//                            --compare-node-args (default "none": V8's defaults)
//   --node-args="FLAGS"      node flags of the main runs (default: the shipped ones,
//                            SHIPPED_NODE_FLAGS; "none" for V8's defaults)
//   --v8-variant="FLAGS"     this build again with node FLAGS (gzip; "none": V8's defaults)
//   --memory-runs=N (3)      the gzip run this often (fresh processes): VmHWM of each,
//                            since the peak depends on when V8 collects
//   --no-watch=true (true)   a plain run of this build with --no-netns.watch: full link and FDB
//                            dumps of every namespace on every scrape (as if all of them changed)
//   --cost-model=SIZES (100,400,1000)  then the cost model (cost-model.ts) at these sizes, in the
//                            same run ("none": skip it); --cost-rounds=N (20)
//   --keep=true  --setup-only=true  --help
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import { ExporterProcess, SHIPPED_NODE_FLAGS, type ScrapeReply, fakeDockerd, procCpuMs, procStatus } from './exporter-process.js';

export const PREFIX = 'swb-';
export const DOCKER_SOCK = join(tmpdir(), 'swb-docker.sock');
const VETHS = 4;
const PEERS = 6; // remote VTEPs per vxlan device
const MACS_PER_PEER = 3;

export function arg(name: string, dflt: string): string {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  return hit ? hit.slice(name.length + 3) : dflt;
}

export function sh(script: string): string {
  return execFileSync('bash', ['-ec', script], { encoding: 'utf8', maxBuffer: 1 << 28 });
}

export function teardown(prefix = PREFIX) {
  const names = sh('ip netns list').split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(prefix));
  if (names.length) {
    const f = join(tmpdir(), 'swb-del.batch');
    writeFileSync(f, names.map((n) => `netns del ${n}`).join('\n') + '\n');
    sh(`ip -b ${f}`);
  }
}

/** Create namespaces PREFIX0..N-1 (keeping existing ones) with one batch per namespace; `veths` veth pairs each. */
export function ensureNamespaces(n: number, veths = VETHS, prefix = PREFIX) {
  const have = new Set(sh('ip netns list').split('\n').map((l) => l.split(' ')[0]!));
  const batch = join(tmpdir(), 'swb.batch');
  for (let i = 0; i < n; i++) {
    const ns = `${prefix}${i}`;
    if (have.has(ns)) continue;
    sh(`ip netns add ${ns}`);
    const lines = [
      'link set lo up',
      'link add br0 type bridge',
      'link set br0 up',
      `link add vxlan0 type vxlan id ${4096 + i} dstport 4789 nolearning local 203.0.113.1`,
      'link set vxlan0 master br0 up',
    ];
    for (let v = 0; v < veths; v++) {
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

export const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
export const median = (xs: number[]) => percentile(xs, 50);

/** The floor: a C program making the same dumps in every namespace, decoding nothing (src/bench/floor.c). */
function buildFloor(): string {
  const src = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'bench', 'floor.c');
  const bin = join(tmpdir(), 'swarmnet-floor');
  execFileSync('cc', ['-O2', '-pthread', '-o', bin, src]);
  return bin;
}

/** dumps "full": links with counters and the FDB (the floor the targets are set against); "stats": RTM_GETSTATS alone */
function measureFloor(bin: string, n: number, threads: number, rounds: number, dumps: 'full' | 'stats' = 'full') {
  const paths = Array.from({ length: n }, (_, i) => `/run/netns/${PREFIX}${i}`);
  const out = execFileSync(bin, [String(threads), String(rounds + 1), ...paths], { encoding: 'utf8', env: { ...process.env, FLOOR_DUMPS: dumps } });
  const walls = out.trim().split('\n').map(Number).slice(1); // first round warms up
  return { medianMs: median(walls), p95Ms: percentile(walls, 95) };
}

export const seriesOf = (body: Buffer) => body.toString('utf8').split('\n').filter((l) => l && !l.startsWith('#')).sort();

function selfMetric(body: string, re: RegExp): number {
  let sum = 0;
  for (const m of body.matchAll(re)) sum += Number(m[1]);
  return sum;
}

/** node flags from an option's text: "none" (or nothing) for V8's defaults */
export const nodeFlags = (text: string): string[] => (text === 'none' ? [] : text.split(' ').filter(Boolean));

/**
 * The exporter as a process over loopback HTTP: a fresh process per mode, one
 * warm-up scrape, then `rounds` scrapes; VmHWM read after 15 scrapes and at the end.
 */
export async function measureExporter(n: number, rounds: number, gzip: boolean, main?: string,
  nodeArgs = arg('node-args', SHIPPED_NODE_FLAGS.join(' ')), exclude = `^(?!${PREFIX}\\d+$)`, extraArgs: string[] = []) {
  const exporter = new ExporterProcess([
    '--netns.dir=/run/netns', '--netns.host=none', `--netns.exclude=${exclude}`,
    `--docker.host=unix://${DOCKER_SOCK}`, `--scrape.concurrency=${arg('concurrency', '2')}`,
    ...(arg('extended-stats', 'false') === 'true' ? ['--collector.netdev.extended-stats'] : []),
    ...extraArgs,
  ], nodeFlags(nodeArgs), main);
  await exporter.start();
  const headers: Record<string, string> = gzip ? { 'accept-encoding': 'gzip' } : {};
  try {
    await exporter.get('/metrics', headers); // warm-up
    const walls: number[] = [];
    // VmRSS after each scrape: the curve, not just its peak
    const rssCurve: number[] = [];
    let last!: ScrapeReply;
    let hwmAt15 = 0;
    const cpu0 = procCpuMs(exporter.pid);
    for (let r = 0; r < rounds; r++) {
      last = await exporter.get('/metrics', headers);
      walls.push(last.ms);
      const st = procStatus(exporter.pid);
      rssCurve.push(Math.round(st.vmRssKB / 1024));
      if (r === 14) hwmAt15 = st.vmHwmKB;
    }
    const cpu = procCpuMs(exporter.pid) - cpu0;
    const status = procStatus(exporter.pid);
    // a plain and a gzip scrape at once share one collection: the gunzipped body must be the plain one, byte for byte
    const [asPlain, asGzip] = await Promise.all([exporter.get('/metrics', {}, true), exporter.get('/metrics', { 'accept-encoding': 'gzip' }, true)]);
    const gzipSameAsPlain = asGzip.headers['content-encoding'] === 'gzip' && gunzipSync(asGzip.body).equals(asPlain.body);
    const encoding = last.headers['content-encoding'] ?? 'identity';
    const plain = encoding === 'gzip' ? gunzipSync(last.body) : last.body;
    const text = plain.toString('utf8');
    return {
      medianMs: median(walls), p95Ms: percentile(walls, 95), cpuMsPerScrape: cpu / rounds,
      hwmAt15MB: hwmAt15 / 1024, hwmMB: status.vmHwmKB / 1024, rssEndMB: status.vmRssKB / 1024,
      encoding, gzipSameAsPlain, series: seriesOf(plain).length, wireBytes: last.wireBytes, bodyBytes: last.body.length, plain, rssCurve,
      // the exporter's own account of its last collection (before rendering)
      collectMs: selfMetric(text, /^swarmnet_scrape_duration_seconds (\S+)$/gm) * 1000,
      netnsMs: selfMetric(text, /^swarmnet_scrape_collector_duration_seconds\{collector="netns"\} (\S+)$/gm) * 1000,
      // how the namespaces' tables were read over the whole run (counters only where nothing changed)
      reads: {
        linksFull: selfMetric(text, /^swarmnet_netns_table_reads_total\{table="links",read="full"\} (\S+)$/gm),
        linksCounters: selfMetric(text, /^swarmnet_netns_table_reads_total\{table="links",read="counters_only"\} (\S+)$/gm),
        fdbFull: selfMetric(text, /^swarmnet_netns_table_reads_total\{table="fdb",read="full"\} (\S+)$/gm),
        fdbRemembered: selfMetric(text, /^swarmnet_netns_table_reads_total\{table="fdb",read="remembered"\} (\S+)$/gm),
      },
    };
  } finally {
    await exporter.stop();
  }
}

/** CPU and bytes of each gzip level on one exposition (median of 5, this process, synchronous). */
function gzipLevels(body: Buffer) {
  return [1, 2, 3, 4, 5, 6, 9].map((level) => {
    const ms: number[] = [];
    let bytes = 0;
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      bytes = gzipSync(body, { level }).length;
      ms.push(performance.now() - t0);
    }
    return { level, ms: median(ms), bytes, ratio: body.length / bytes };
  });
}

export function measureShellLoop(n: number, rounds: number) {
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

/** --help: print the comment at the top of src/bench/<file> (its options) and say so. */
export function printUsage(file: string): boolean {
  if (!process.argv.includes('--help')) return false;
  const src = readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'bench', file), 'utf8');
  const head: string[] = [];
  for (const line of src.split('\n')) {
    if (!line.startsWith('//')) break;
    head.push(line.replace(/^\/\/ ?/, ''));
  }
  console.log(head.join('\n'));
  return true;
}

export function machineLoad(): string {
  const top = sh('ps -eo pcpu,comm --sort=-pcpu --no-headers | head -5').trim().split('\n').map((l) => l.trim().replace(/\s+/, '% ')).join(', ');
  return `load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}; busiest processes: ${top}`;
}

async function main() {
  if (printUsage('scrape-bench.ts')) return;
  const sizes = arg('sizes', '100,200,400').split(',').map(Number);
  const rounds = Number(arg('rounds', '30'));
  const shellRounds = Number(arg('shell-rounds', '3'));
  const concurrency = Number(arg('concurrency', '2'));
  console.log(`command: npm run bench -- ${process.argv.slice(2).join(' ')}`);
  console.log(`main runs: node ${nodeFlags(arg('node-args', SHIPPED_NODE_FLAGS.join(' '))).join(' ') || '(V8 defaults)'} dist/main.js`);
  console.log(`machine: ${cpus().length} x ${cpus()[0]?.model}, ${(totalmem() / 2 ** 30).toFixed(0)} GB, kernel ${sh('uname -r').trim()}, node ${process.version}, ${new Date().toISOString()}`);
  console.log(`at start: ${machineLoad()}`);
  if (arg('setup-only', 'false') === 'true') {
    // namespaces for trying things by hand; remove them with: ip -all netns delete (or a run without --keep)
    ensureNamespaces(Math.max(...sizes));
    return;
  }
  const floorBin = buildFloor();
  const dockerd = await fakeDockerd(DOCKER_SOCK);
  teardown();
  const rows = [];
  let levels: ReturnType<typeof gzipLevels> = [];
  try {
    for (const n of sizes) {
      const t0 = performance.now();
      ensureNamespaces(n);
      console.error(`${n} namespaces ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      const floor = measureFloor(floorBin, n, concurrency, rounds);
      const floor1 = measureFloor(floorBin, n, 1, rounds);
      const floorStats = measureFloor(floorBin, n, concurrency, rounds, 'stats');
      const plain = await measureExporter(n, rounds, false);
      const gz = await measureExporter(n, rounds, true);
      // more gzip runs for the peak alone: one run's VmHWM moves by several MB with the timing of V8's collections
      const hwms = [{ at15: gz.hwmAt15MB, end: gz.hwmMB }];
      for (let i = 1; i < Number(arg('memory-runs', '3')); i++) {
        const again = await measureExporter(n, rounds, true);
        hwms.push({ at15: again.hwmAt15MB, end: again.hwmMB });
      }
      // another build of the exporter (e.g. the previous release) in the same run, asked for gzip like Prometheus
      const compare = arg('compare', '') ? await measureExporter(n, rounds, true, arg('compare', ''), arg('compare-node-args', 'none')) : undefined;
      // the same build with other node flags ("none": V8's default heap settings), gzip
      const flagged = arg('v8-variant', '') ? await measureExporter(n, rounds, true, undefined, arg('v8-variant', '')) : undefined;
      // the same build reading every namespace in full on every scrape, as if all of them changed
      const noWatch = arg('no-watch', 'true') === 'true' ? await measureExporter(n, rounds, false, undefined, undefined, undefined, ['--no-netns.watch']) : undefined;
      const same = gz.gzipSameAsPlain;
      const shell = measureShellLoop(n, shellRounds);
      const { plain: body, ...plainRow } = plain;
      const { plain: _b, ...gzRow } = gz;
      const { plain: _c, ...compareRow } = compare ?? { plain: undefined };
      const { plain: _d, ...flaggedRow } = flagged ?? { plain: undefined };
      const { plain: _e, ...noWatchRow } = noWatch ?? { plain: undefined };
      const row = {
        namespaces: n, floor, floor1, floorStats, plain: plainRow, gzip: gzRow, hwms, same, shell,
        noWatch: noWatch ? noWatchRow as Omit<typeof gz, 'plain'> : undefined,
        compare: compare ? compareRow as Omit<typeof gz, 'plain'> : undefined,
        flagged: flagged ? flaggedRow as Omit<typeof gz, 'plain'> : undefined,
      };
      console.error(JSON.stringify(row));
      rows.push(row);
      if (n === sizes[sizes.length - 1]) levels = gzipLevels(body);
    }
  } finally {
    if (arg('keep', 'false') !== 'true') teardown();
    dockerd.closeAllConnections();
    dockerd.close();
  }
  console.log(`at end: ${machineLoad()}`);
  const f = (x: number, d = 1) => x.toFixed(d);
  console.log('\n| namespaces | series | floor median ms (1 thread) | plain median ms | p95 | x floor | gzip median ms | p95 | x floor | CPU ms/scrape plain / gzip | shell loop ms | x exporter (plain) |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.namespaces} | ${r.plain.series} | ${f(r.floor.medianMs)} (${f(r.floor1.medianMs)}) | ${f(r.plain.medianMs)} | ${f(r.plain.p95Ms)} | ${f(r.plain.medianMs / r.floor.medianMs, 2)} | ${f(r.gzip.medianMs)} | ${f(r.gzip.p95Ms)} | ${f(r.gzip.medianMs / r.floor.medianMs, 2)} | ${f(r.plain.cpuMsPerScrape)} / ${f(r.gzip.cpuMsPerScrape)} | ${f(r.shell.medianMs, 0)} | ${f(r.shell.medianMs / r.plain.medianMs, 0)}x |`);
  }
  console.log('\n| namespaces | bytes on the wire plain | gzip | ratio | VmHWM MB plain (after 15 / end) | gzip (after 15 / end) | RSS at end plain / gzip | collection ms (netns) | gzip body = plain body (one collection) |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.namespaces} | ${r.plain.wireBytes} | ${r.gzip.wireBytes} | ${f(r.plain.wireBytes / r.gzip.wireBytes)} | ${f(r.plain.hwmAt15MB, 0)} / ${f(r.plain.hwmMB, 0)} | ${f(r.gzip.hwmAt15MB, 0)} / ${f(r.gzip.hwmMB, 0)} | ${f(r.plain.rssEndMB, 0)} / ${f(r.gzip.rssEndMB, 0)} | ${f(r.plain.collectMs)} (${f(r.plain.netnsMs)}) | ${r.same ? 'yes' : 'NO'} (${r.gzip.encoding}) |`);
  }
  console.log('\nHow the exporter read the namespaces over each run (warm-up included), and the counters-only floor (RTM_GETSTATS alone, same threads):');
  console.log('| namespaces | links read in full / counters only (plain run) | FDB dumped / remembered | counters-only floor ms | plain with --no-netns.watch: median ms | x floor | CPU ms/scrape |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const w = r.noWatch;
    console.log(`| ${r.namespaces} | ${r.plain.reads.linksFull} / ${r.plain.reads.linksCounters} | ${r.plain.reads.fdbFull} / ${r.plain.reads.fdbRemembered} | ${f(r.floorStats.medianMs)} | ${w ? f(w.medianMs) : '-'} | ${w ? f(w.medianMs / r.floor.medianMs, 2) : '-'} | ${w ? f(w.cpuMsPerScrape) : '-'} |`);
  }
  console.log(`\nVmHWM MB of the gzip runs (${arg('memory-runs', '3')} fresh processes, after 15 scrapes / at the end of ${rounds}):`);
  console.log('| namespaces | runs | highest after 15 |');
  console.log('|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.namespaces} | ${r.hwms.map((h) => `${f(h.at15, 0)} / ${f(h.end, 0)}`).join(', ')} | ${f(Math.max(...r.hwms.map((h) => h.at15)), 0)} |`);
  }
  if (arg('compare', '')) {
    console.log(`\nthe build at ${arg('compare', '')} (node flags: ${arg('compare-node-args', 'none')}), same run, asked for gzip:`);
    console.log('| namespaces | median ms | p95 | x floor | CPU ms/scrape | bytes on the wire | encoding | VmHWM MB (after 15 / end) |');
    console.log('|---|---|---|---|---|---|---|---|');
    for (const r of rows) {
      const c = r.compare!;
      console.log(`| ${r.namespaces} | ${f(c.medianMs)} | ${f(c.p95Ms)} | ${f(c.medianMs / r.floor.medianMs, 2)} | ${f(c.cpuMsPerScrape)} | ${c.wireBytes} | ${c.encoding} | ${f(c.hwmAt15MB, 0)} / ${f(c.hwmMB, 0)} |`);
    }
  }
  if (arg('v8-variant', '')) {
    console.log(`\nthis build with node ${nodeFlags(arg('v8-variant', '')).join(' ') || "(V8's default heap settings)"}, same run, gzip:`);
    console.log('| namespaces | median ms | p95 | x floor | CPU ms/scrape | VmHWM MB (after 15 / end) |');
    console.log('|---|---|---|---|---|---|');
    for (const r of rows) {
      const c = r.flagged!;
      console.log(`| ${r.namespaces} | ${f(c.medianMs)} | ${f(c.p95Ms)} | ${f(c.medianMs / r.floor.medianMs, 2)} | ${f(c.cpuMsPerScrape)} | ${f(c.hwmAt15MB, 0)} / ${f(c.hwmMB, 0)} |`);
    }
  }
  console.log('\nVmRSS MB after each scrape (after the warm-up), by run:');
  for (const r of rows) {
    const runs: Array<[string, { rssCurve: number[] } | undefined]> = [['plain', r.plain], ['gzip', r.gzip], ['compared build, gzip', r.compare], ['V8 variant, gzip', r.flagged]];
    for (const [what, run] of runs) if (run) console.log(`${r.namespaces} ${what}: ${run.rssCurve.join(' ')}`);
  }
  console.log(`\ngzip levels on the ${sizes[sizes.length - 1]}-namespace exposition (${levels.length ? rows[rows.length - 1]!.plain.bodyBytes : 0} bytes), one thread, median of 5:`);
  console.log('| level | ms | bytes | ratio |');
  console.log('|---|---|---|---|');
  for (const l of levels) console.log(`| ${l.level} | ${f(l.ms)} | ${l.bytes} | ${f(l.ratio)} |`);
  const costSizes = arg('cost-model', '100,400,1000');
  if (costSizes !== 'none') {
    // the cost model is its own program (it builds its own namespaces): run it after this one, output in this one's
    console.log(`\n## Cost model (node dist/bench/cost-model.js --sizes=${costSizes} --rounds=${arg('cost-rounds', '20')})\n`);
    const cost = spawnSync(process.execPath, [join(dirname(fileURLToPath(import.meta.url)), 'cost-model.js'), `--sizes=${costSizes}`, `--rounds=${arg('cost-rounds', '20')}`],
      { stdio: ['ignore', 'inherit', 'inherit'] });
    if (cost.status !== 0) console.log(`cost model failed: exit ${cost.status ?? cost.signal}`);
  }
}

// run only as the entry point: src/bench/cost-model.ts imports the helpers above
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) void main();
