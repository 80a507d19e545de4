#!/usr/bin/env node
// Run in the guest by guest-swarm-lb.sh once dockerd, a one-node swarm and a VIP-mode
// service with a published port are up and traffic went through (OUT/setup.json says
// which). Runs the exporter as main.ts wires it (compiled JS in DIST): the Docker state
// cache on dockerd's socket, the IPVS reader, every collector, the HTTP app; and takes
// each phase's /metrics text from app.inject, with ipvsadm listings bracketed by two
// scrapes. Docker's own answers (its API over the socket, raw) are kept beside them as
// the truth to judge by.
// Phases: before; settled (a task's container killed, its replacement running, and the
// cache caught up through events); stale (the dead task's address put back into lb_ as
// moby#33790 leaves it); drained (a live backend set to weight 0). Writes OUT/result.json.
import { execFile as execFileCb } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';

const [dist, out] = process.argv.slice(2);
if (!dist || !out) throw new Error('usage: guest-swarm-lb.mjs DIST OUT (OUT/setup.json written by guest-swarm-lb.sh)');
const setup = JSON.parse(readFileSync(join(out, 'setup.json'), 'utf8'));
const uptime = () => Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
const t0 = uptime();
const timings = {};
const mark = (what) => { timings[what] = +(uptime() - t0).toFixed(2); console.log(`guest: ${what} at +${timings[what]}s`); };
const execFile = promisify(execFileCb);
const load = (m) => import(join(dist, m));
const { pino } = await import('pino');
const { buildApp } = await load('app.js');
const { allCollectors } = await load('collectors/index.js');
const { DockerStateCache } = await load('docker/cache.js');
const { createReaders } = await load('kernel/readers/index.js');
const { FWD_METHODS } = await load('kernel/genl/ipvs.js');
const { loadNative } = await load('kernel/native.js');
const { Scraper } = await load('scrape.js');
mark('modules loaded');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const json = (v) => JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? x.toString() : x), 1);

// ---- Docker's answers, raw, over the same socket (no CLI: a fork costs ~0.1 s here)
const socketPath = setup.dockerHost.replace(/^unix:\/\//, '');
function api(method, path) {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path, headers: { host: 'docker' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => (res.statusCode >= 300
        ? reject(new Error(`${method} ${path}: ${res.statusCode} ${body}`))
        : resolve(body ? JSON.parse(body) : undefined)));
    });
    req.on('error', reject);
    req.end();
  });
}
const q = (filters) => encodeURIComponent(JSON.stringify(filters));
const stripPrefix = (a) => (a ?? '').split('/')[0];

/** Networks (verbose) with their load-balanced services, the service's VIPs, tasks and containers. */
async function dockerView() {
  const [svc] = await api('GET', `/services?filters=${q({ name: [setup.service] })}`);
  const nets = await api('GET', '/networks');
  const wanted = nets.filter((n) => n.Name === setup.network || n.Ingress);
  const networks = await Promise.all(wanted.map((n) => api('GET', `/networks/${n.Id}?verbose=true`)));
  const tasks = await api('GET', `/tasks?filters=${q({ service: [svc.ID] })}`);
  const listed = await api('GET', `/containers/json?all=1&filters=${q({ label: [`com.docker.swarm.service.id=${svc.ID}`] })}`);
  const containers = await Promise.all(listed.map((c) => api('GET', `/containers/${c.Id}/json`)));
  return {
    service: { id: svc.ID, name: svc.Spec.Name, vips: (svc.Endpoint?.VirtualIPs ?? []).map((v) => ({ networkId: v.NetworkID, addr: stripPrefix(v.Addr) })) },
    networks: networks.map((n) => ({ name: n.Name, id: n.Id, ingress: n.Ingress === true, services: n.Services ?? {} })),
    tasks: tasks.map((t) => ({ id: t.ID, slot: t.Slot, desired: t.DesiredState, state: t.Status?.State })),
    containers: containers.map((c) => ({
      id: c.Id, name: c.Name.replace(/^\//, ''), running: c.State.Running === true, task: c.Config.Labels['com.docker.swarm.task.name'],
      ips: Object.fromEntries(Object.values(c.NetworkSettings.Networks ?? {}).filter((v) => v.IPAddress).map((v) => [v.NetworkID, v.IPAddress])),
    })),
  };
}

// ---- the exporter, as main.ts wires it
const log = pino({ level: 'silent' });
const native = loadNative();
const cache = new DockerStateCache({ host: setup.dockerHost, logger: log });
const readers = createReaders();
const ipvs = readers.find((r) => r.need === 'ipvs');
const scraper = new Scraper({
  readers,
  netnsDirs: [setup.netnsDir],
  hostNetns: null,
  collectors: allCollectors(),
  concurrency: 2,
  defaultTimeoutMs: 30_000,
  version: { version: 'vm-test', revision: 'vm-test' },
}, { native, docker: cache }, log);
const app = await buildApp({ scraper, logger: log, maxScrapeMs: 30_000, version: 'vm-test' });
// which collection answered a request (the app joins the one in flight, if any)
const collections = [];
const scrapeFn = scraper.scrape.bind(scraper);
scraper.scrape = (budget) => {
  const p = scrapeFn(budget);
  collections.push(p);
  return p;
};

/** GET /metrics: its text and the snapshot of the collection behind it. */
async function metrics() {
  const n = collections.length;
  const res = await app.inject({ method: 'GET', url: '/metrics' });
  if (res.statusCode !== 200) throw new Error(`/metrics answered ${res.statusCode}: ${res.body}`);
  if (collections.length !== n + 1) throw new Error(`/metrics made ${collections.length - n} collections`);
  const { snapshot } = await collections[n];
  return { text: res.body, snapshot };
}
const view = (snapshot) => [...snapshot.byNetns.values()].map((s) => ({
  netns: s.ref.name, kind: s.ref.kind, path: s.ref.path, ipvs: s.ipvs,
}));
const directors = (snapshot) => [...snapshot.byNetns.values()].filter((s) => s.ipvs?.available).map((s) => s.ref);
const ipvsadm = async (path, ...args) => (await execFile('nsenter', [`--net=${path}`, 'ipvsadm', ...args])).stdout;
const RATE_FIELDS = new Set(['cps', 'inpps', 'outpps', 'inbps', 'outbps']);
const withoutRates = (v) => JSON.stringify(v, (k, x) => (RATE_FIELDS.has(k) ? undefined : typeof x === 'bigint' ? x.toString() : x));

/** scrape, list, scrape: kept when both scrapes read the same IPVS tables (counters and conns can move between) */
async function phase(name, tries = 12) {
  for (let attempt = 1; attempt <= tries; attempt++) {
    const a = await metrics();
    const listings = directors(a.snapshot).flatMap((ref) => [['-Ln', '--stats', '--exact'], ['-Ln']].map((opts) => ({ ns: ref.name, path: ref.path, opts })));
    const texts = await Promise.all(listings.map((l) => ipvsadm(l.path, ...l.opts)));
    const b = await metrics();
    if (withoutRates(view(a.snapshot)) === withoutRates(view(b.snapshot))) {
      const docker = await dockerView();
      mark(`${name}: scraped (attempt ${attempt})`);
      return {
        attempt, metrics: a.text, read: view(a.snapshot), docker,
        listings: listings.map((l, i) => ({ ns: l.ns, opts: l.opts.slice(1), text: texts[i] })),
        cache: { refreshes: cache.refreshes, up: cache.state().up },
      };
    }
  }
  throw new Error(`${name}: the scrapes around ipvsadm never agreed in ${tries} tries`);
}

const result = { setup, timings };
// before dockerd is known: what the exporter says while its cache has not answered yet
result.unsynced = (await metrics()).text;
cache.start();
if (!(await cache.whenSynced(120_000))) throw new Error(`the Docker state cache did not sync with ${setup.dockerHost}: ${json(cache.state())}`);
mark('cache synced');
result.before = await phase('before');

const truth = result.before.docker;
const netOf = (d, ingress) => d.networks.find((n) => (ingress ? n.ingress : n.name === setup.network));
const lbNetnsName = `lb_${netOf(truth, false).id.slice(0, 9)}`;
const marks = { lb: netOf(truth, false).services[setup.service].LocalLBIndex, ingress: netOf(truth, true).services[setup.service].LocalLBIndex };
const victim = truth.containers.find((c) => c.running);
if (!victim) throw new Error(`no running container of ${setup.service}: ${json(truth.containers)}`);
const deadIps = new Set(Object.values(victim.ips));

// Kill one task's container. Swarm takes its backends out of IPVS and starts a
// replacement task; wait until IPVS balances over REPLICAS live tasks again and the
// cache (through its events stream) has the replacement.
await api('POST', `/containers/${victim.id}/kill`);
mark(`killed ${victim.name}`);
const polls = [];
for (let i = 0; ; i++) {
  const { snapshot } = await scraper.scrape();
  const state = [['lb', lbNetnsName], ['ingress', 'ingress_sbox']].map(([which, ns]) => {
    const s = snapshot.byNetns.get(ns);
    const svc = s && s.ipvs?.services.find((x) => x.fwmark === marks[which]);
    const dests = svc?.destinations ?? [];
    const live = dests.filter((d) => d.weight > 0);
    const known = s ? snapshot.names.lbServices(s.ref).get(marks[which]) : undefined;
    return {
      ns,
      dead: dests.filter((d) => deadIps.has(d.address)).map((d) => ({ address: d.address, weight: d.weight })),
      live: live.map((d) => ({ address: d.address, owner: s && snapshot.names.taskOfEndpoint(s.ref, d.address) })),
      controlPlane: known?.tasks.map((t) => t.endpointIp) ?? [],
    };
  });
  const summary = state.map((x) => `${x.ns}: ${x.live.map((d) => `${d.address}=${d.owner ? `${d.owner.task}${d.owner.running ? '' : '(not running)'}` : '?'}`).join(' ')}`
    + `${x.dead.length ? ` dead ${x.dead.map((d) => `${d.address}/w${d.weight}`).join(' ')}` : ''} control plane ${x.controlPlane.join(' ')}`).join('; ');
  if (summary !== polls.at(-1)?.summary) console.log(`guest: +${(uptime() - t0).toFixed(1)}s cache refreshes ${cache.refreshes}: ${summary}`);
  polls.push({ t: +(uptime() - t0).toFixed(1), refreshes: cache.refreshes, state, summary });
  const settled = state.every((x) => x.dead.every((d) => d.weight === 0) && x.live.length === setup.replicas
    && x.live.every((d) => !deadIps.has(d.address) && d.owner?.running === true)
    && x.controlPlane.length === setup.replicas && x.controlPlane.every((ip) => x.live.some((d) => d.address === ip)));
  if (settled) break;
  if (i >= 360) throw new Error(`IPVS and the cache did not settle after the kill: ${json(polls.slice(-3))}`);
  await sleep(500);
}
mark('replacement running, cache caught up');
result.victim = victim;
result.polls = polls;
result.settled = await phase('settled');

// moby#33790/#38841: a dead task's address left behind in IPVS. Put it back as Docker
// programs a backend (same forwarding method, weight and port as a live one).
const lbView = result.settled.read.find((v) => v.netns === lbNetnsName);
const lbSvc = lbView.ipvs.services.find((s) => s.fwmark === marks.lb);
const model = lbSvc.destinations.find((d) => d.weight > 0);
const deadLbIp = victim.ips[netOf(truth, false).id];
const FWD_FLAG = { masq: '-m', route: '-g', tunnel: '-i' };
const fwd = FWD_FLAG[FWD_METHODS[model.fwdMethod]];
if (!fwd) throw new Error(`a live backend forwards by ${FWD_METHODS[model.fwdMethod]}: no ipvsadm flag for it`);
const present = lbSvc.destinations.find((d) => d.address === deadLbIp);
if (present?.weight > 0) throw new Error(`${deadLbIp} is a live backend again (the address was reused): ${json(lbSvc.destinations)}`);
const stale = ['-f', String(marks.lb), '-r', `${deadLbIp}:${model.port}`, fwd, '-w', String(model.weight)];
// still listed at weight 0 (drained, not yet removed): give it its weight back instead
result.staleCommand = [present ? '-e' : '-a', ...stale];
await ipvsadm(lbView.path, ...result.staleCommand);
mark(`stale backend ${deadLbIp} in ${lbNetnsName}`);
result.stale = await phase('stale');

// a live backend drained by hand: weight 0
const drain = lbSvc.destinations.find((d) => d.weight > 0 && d.address !== deadLbIp);
result.drainCommand = ['-e', '-f', String(marks.lb), '-r', `${drain.address}:${drain.port}`, fwd, '-w', '0'];
await ipvsadm(lbView.path, ...result.drainCommand);
mark(`drained backend ${drain.address} in ${lbNetnsName}`);
result.drained = await phase('drained');

result.status = ipvs.status();
result.dockerCache = { refreshes: cache.refreshes, up: cache.state().up, errors: Object.fromEntries(cache.state().errors) };
await cache.stop();
await app.close();
writeFileSync(join(out, 'result.json'), json(result));
mark('done');
