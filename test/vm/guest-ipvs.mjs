#!/usr/bin/env node
// Run in the guest by run-vm.sh (see ipvs.vm.test.ts): guest-ipvs.mjs DIST OUT [--capture]
// One node process does the work (under TCG every fork costs ~0.1 s):
//  1. IPVS absent: with ip_vs blocked from loading, the family does not resolve; the
//     answer is cached until the re-check interval, then IPVS is found.
//  2. guest-ipvs-setup.sh builds load balancers in lb_vmtest and ingress_sbox and sends
//     traffic; after 2.5 s (IPVS folds per-CPU counters every 2 s) the exporter's reader
//     (compiled JS in DIST) reads every namespace, bracketing ipvsadm's own listings. A
//     bracket counts only if the two reads around ipvsadm agree (rates move every 2 s).
//  3. The collector renders metrics with and without a control-plane view.
// Everything goes to OUT/result.json for the host to assert. --capture also writes raw
// replies with ipvsadm listings taken in the same bracket to OUT/raw (fixtures).
import { execFile as execFileCb, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const [dist, out = '/out', ...flags] = process.argv.slice(2);
if (!dist) throw new Error('usage: guest-ipvs.mjs DIST OUT [--capture]');
const capture = flags.includes('--capture');
const here = dirname(fileURLToPath(import.meta.url));
const execFile = promisify(execFileCb);
const load = (m) => import(join(dist, m));
const { loadNative } = await load('kernel/native.js');
const { discoverNetns } = await load('kernel/netns.js');
const { sampleAll } = await load('kernel/sampler.js');
const { IpvsReader } = await load('kernel/readers/ipvs.js');
const { getFamilyRequest } = await load('kernel/genl/ctrl.js');
const { getServicesRequest, getDestsRequest, serviceKey, decodeServices, decodeDests } = await load('kernel/genl/ipvs.js');
const { parseReply } = await load('kernel/nl/message.js');
const { ipvsCollector } = await load('collectors/ipvs.js');
const { pairVeths } = await load('kernel/veth.js');
const { FamilySet } = await load('metrics/family.js');
const { LabelInterner } = await load('metrics/intern.js');
const { renderPrometheus } = await load('metrics/render.js');

const native = loadNative();
// one session: enter (or stay in) a namespace, exchange, close; the port id comes back for the capture
const exchangeIn = async (nsPath, requests) => {
  const session = await native.open(nsPath, [16], 2000);
  if (session.errno) throw new Error(`open ${nsPath}: ${session.message}`);
  try {
    return { replies: await native.exchange(session.handle, requests, 2000), port: session.ports[0] };
  } finally {
    native.close(session.handle);
  }
};
const uptime = () => Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
const t0 = uptime();
const timings = {};
const mark = (what) => { timings[what] = +(uptime() - t0).toFixed(2); console.log(`guest: ${what} at +${timings[what]}s`); };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// JSON with bigints as strings
const json = (v) => JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? x.toString() : x), 1);
const result = { timings };

// 1. No IPVS: keep ip_vs from loading (the family lookup itself would autoload it).
const block = '/etc/modprobe.d/swarmnet-vm-block-ipvs.conf';
writeFileSync(block, 'install ip_vs /bin/false\n');
let clock = 1_000_000;
const reader = new IpvsReader({ recheckMs: 60_000, now: () => clock });
const host = { name: 'host', kind: 'host', path: null };
const absent = {
  loadedBefore: existsSync('/sys/module/ip_vs'),
  probe: await reader.probe(native, 2000),
  read: (await sampleAll(native, [{ name: 'lb_x', kind: 'lb', path: null }], { concurrency: 1, timeoutMs: 2000, readers: [reader] },
    performance.now() + 5000))[0].ipvs,
};
if (capture) {
  mkdirSync(join(out, 'raw'), { recursive: true });
  const r = await exchangeIn(null, [[16, getFamilyRequest(901, 'IPVS')]]);
  writeFileSync(join(out, 'raw', 'family-absent.bin'), r.replies[0]);
  writeFileSync(join(out, 'raw', 'family-absent.seq'), '901');
  writeFileSync(join(out, 'raw', 'family-absent.port'), String(r.port));
}
unlinkSync(block);
clock += 1000; // within the re-check interval: the cached answer, no kernel lookup (ip_vs stays unloaded)
absent.cached = await reader.probe(native, 2000);
absent.loadedWhileCached = existsSync('/sys/module/ip_vs');
clock += 60_000;
absent.rechecked = await reader.probe(native, 2000);
absent.loadedAfter = existsSync('/sys/module/ip_vs');
result.absent = absent;
mark('absent checked');

// 2. Load balancers, traffic, then the reader against ipvsadm.
execFileSync('bash', [join(here, 'guest-ipvs-setup.sh')], { stdio: 'inherit' });
mark('traffic sent');
await sleep(2500);

const hostReader = new IpvsReader({ kinds: ['host'] }); // the guest's own namespace: no services
await hostReader.probe(native, 2000);
const NAMESPACES = ['lb_vmtest', 'ingress_sbox', ''];
const read = async () => {
  const { namespaces } = await discoverNetns(['/run/netns'], null);
  const entriesBefore = native.counters().nsEntries;
  const samples = await sampleAll(native, namespaces, { concurrency: 2, timeoutMs: 5000, readers: [reader, hostReader] },
    performance.now() + 20_000);
  // each namespace entered once for its services and then their destinations (the host needs no entry)
  // (a namespace no reader applies to is not entered at all)
  const readable = namespaces.filter((n) => n.path && (reader.applies(n) || hostReader.applies(n)));
  result.entries = { entered: native.counters().nsEntries - entriesBefore, namespaces: readable.length };
  return samples;
};
const view = (samples) => samples.map((s) => ({
  netns: s.ref.name, kind: s.ref.kind, error: s.error && `${s.error.reason}: ${s.error.message}`, ipvs: s.ipvs,
}));
const ipvsadm = async (ns, opts) => {
  const args = ['-Ln', ...opts];
  const { stdout } = ns ? await execFile('ip', ['netns', 'exec', ns, 'ipvsadm', ...args]) : await execFile('ipvsadm', args);
  return stdout;
};
const RATE_FIELDS = new Set(['cps', 'inpps', 'outpps', 'inbps', 'outbps']);
const withoutRates = (v) => JSON.stringify(v, (k, x) => (RATE_FIELDS.has(k) ? undefined : typeof x === 'bigint' ? x.toString() : x));
// read, list, read again; keep it when both reads agree on what `same` compares
async function bracket(listings, same, tries = 12) {
  for (let attempt = 1; attempt <= tries; attempt++) {
    const a = await read();
    const texts = await Promise.all(listings.map(([ns, opts]) => ipvsadm(ns, opts)));
    const b = await read();
    if (same(view(a)) === same(view(b))) return { samples: a, attempt, listings: listings.map(([ns, opts], i) => ({ ns, opts, text: texts[i] })) };
  }
  throw new Error(`the reads around ipvsadm never agreed in ${tries} tries`);
}
const OPTS = [['--stats', '--exact'], [], ['--thresholds'], ['--persistent-conn']];
const totals = await bracket(NAMESPACES.flatMap((ns) => OPTS.map((o) => [ns, o])), withoutRates);
mark(`totals bracketed (attempt ${totals.attempt})`);
const rates = await bracket(NAMESPACES.map((ns) => [ns, ['--rate', '--exact']]), (v) => json(v));
mark(`rates bracketed (attempt ${rates.attempt})`);
result.totals = { attempt: totals.attempt, read: view(totals.samples), listings: totals.listings };
result.rates = { attempt: rates.attempt, read: view(rates.samples), listings: rates.listings };
result.status = reader.status();

// 3. The collector over a snapshot of the first read: with a control-plane view (what the
// Docker source will provide; here a fixed table) and with a plain NameIndex.
const controlPlane = {
  lb_vmtest: {
    network: 'vmnet',
    services: [{ service: 'web', vip: '203.0.113.10', ports: [], fwmark: 257, tasks: [
      { task: 'web.1.a', endpointIp: '198.51.100.21' }, { task: 'web.2.b', endpointIp: '198.51.100.22' },
      { task: 'web.3.c', endpointIp: '198.51.100.24' }] }],
    endpoints: { '198.51.100.21': { task: 'web.1.a', service: 'web', running: true },
      '198.51.100.22': { task: 'web.2.b', service: 'web', running: false } },
  },
  ingress_sbox: {
    network: 'ingress',
    services: [{ service: 'web', ports: ['tcp/8080:80'], fwmark: 256, tasks: [
      { task: 'web.1.a', endpointIp: '198.18.1.5' }, { task: 'web.2.b', endpointIp: '198.18.1.6' }] }],
    endpoints: { '198.18.1.5': { task: 'web.1.a', service: 'web', running: true } },
  },
};
const plainNames = {
  netns: (ref) => ({ network: controlPlane[ref.name]?.network }),
  networkOfSandboxInterface: () => undefined,
  networkOf: () => undefined,
  lbServices: () => new Map(),
  taskOfEndpoint: () => undefined,
};
const lbNames = {
  ...plainNames,
  lbServices: (ref) => new Map((controlPlane[ref.name]?.services ?? []).map((s) => [s.fwmark, s])),
  taskOfEndpoint: (ref, ip) => controlPlane[ref.name]?.endpoints[ip],
};
const metricsWith = (names, kernel) => {
  const samples = totals.samples.filter((s) => !s.error);
  const interner = new LabelInterner();
  interner.nextGeneration();
  const snap = { samples, byNetns: new Map(samples.map((s) => [s.ref.name, s])), names, peers: pairVeths(samples), kernel, interner };
  const fams = new FamilySet();
  ipvsCollector.collect(snap, fams);
  return renderPrometheus(fams.all()).toString('utf8');
};
result.controlPlane = controlPlane;
result.metrics = {
  lb: metricsWith(lbNames, { ipvs: reader.status() }),
  plain: metricsWith(plainNames, {}),
};
mark('metrics rendered');

writeFileSync(join(out, 'result.json'), json(result));

// Fixtures: raw replies from lb_vmtest, bracketed by ipvsadm listings like the reads above.
if (capture) {
  const ns = '/run/netns/lb_vmtest';
  const fam = await exchangeIn(null, [[16, getFamilyRequest(900, 'IPVS')]]);
  writeFileSync(join(out, 'raw', 'family.bin'), fam.replies[0]);
  writeFileSync(join(out, 'raw', 'family.seq'), '900');
  writeFileSync(join(out, 'raw', 'family.port'), String(fam.port));
  const family = reader.status().familyId;
  const grab = async () => {
    const keys = totals.samples.find((s) => s.ref.name === 'lb_vmtest').ipvs.services.map(serviceKey);
    const session = await native.open(ns, [16], 2000);
    try {
      const [svc] = await native.exchange(session.handle, [[16, getServicesRequest(family, 1000)]], 2000);
      const dests = await native.exchange(session.handle, keys.map((k, i) => [16, getDestsRequest(family, 1001 + i, k)]), 2000);
      return { svc, dests, keys, port: session.ports[0] };
    } finally {
      native.close(session.handle);
    }
  };
  for (let attempt = 1; ; attempt++) {
    const a = await grab();
    const texts = await Promise.all(['--stats --exact', '--rate --exact', '', '--thresholds', '--persistent-conn']
      .map((o) => ipvsadm('lb_vmtest', o ? o.split(' ') : [])));
    const b = await grab();
    // replies differ in their port ids (a socket each): compare what they say
    const said = (g) => json([decodeServices(parseReply(g.svc, { seq: 1000, port: g.port }, 'svc'), family),
      g.dests.map((d, i) => decodeDests(parseReply(d, { seq: 1001 + i, port: g.port }, 'dest'), family))]);
    if (said(a) === said(b)) {
      writeFileSync(join(out, 'raw', 'services.bin'), a.svc);
      writeFileSync(join(out, 'raw', 'services.seq'), '1000');
      writeFileSync(join(out, 'raw', 'services.port'), String(a.port));
      a.dests.forEach((d, i) => {
        writeFileSync(join(out, 'raw', `dests-${i}.bin`), d);
        writeFileSync(join(out, 'raw', `dests-${i}.seq`), String(1001 + i));
        writeFileSync(join(out, 'raw', `dests-${i}.port`), String(a.port));
      });
      writeFileSync(join(out, 'raw', 'dests-keys.json'), JSON.stringify(a.keys));
      ['stats', 'rate', 'list', 'thresholds', 'persistent-conn'].forEach((n, i) => writeFileSync(join(out, 'raw', `ipvsadm-${n}.txt`), texts[i]));
      writeFileSync(join(out, 'raw', 'kernel.txt'), execFileSync('uname', ['-r']));
      break;
    }
    if (attempt >= 12) throw new Error('capture: the replies around ipvsadm never agreed');
  }
  mark('raw replies captured');
}

mark('done');
