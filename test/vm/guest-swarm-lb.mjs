#!/usr/bin/env node
// Run in the guest by guest-swarm-lb.sh once dockerd, a one-node swarm and service "web"
// (2 replicas, VIP on overlay net1, port 8080 published) are up and traffic went through.
// Reads every namespace Docker made with the exporter's code (compiled JS in DIST) and
// lists lb_* and ingress_sbox with ipvsadm in the same bracket; takes Docker's own view
// (network inspect --verbose, service ps, container inspect); kills one task's container,
// polls until IPVS no longer sends to it, then reads and lists again. Writes OUT/result.json.
import { execFile as execFileCb, execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const [dist, out = '/out'] = process.argv.slice(2);
if (!dist) throw new Error('usage: guest-swarm-lb.mjs DIST OUT');
const execFile = promisify(execFileCb);
const load = (m) => import(join(dist, m));
const { loadNative } = await load('kernel/native.js');
const { discoverNetns } = await load('kernel/netns.js');
const { sampleAll } = await load('kernel/sampler.js');
const { IpvsReader, ipvsResultOf } = await load('kernel/ipvs.js');
const { ipvsCollector } = await load('collectors/ipvs.js');
const { pairVeths } = await load('kernel/veth.js');
const { FamilySet } = await load('metrics/family.js');
const { renderPrometheus } = await load('metrics/render.js');

const NETNS_DIR = '/var/run/docker/netns';
const native = loadNative();
const uptime = () => Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
const t0 = uptime();
const timings = {};
const mark = (what) => { timings[what] = +(uptime() - t0).toFixed(2); console.log(`guest: ${what} at +${timings[what]}s`); };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const json = (v) => JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? x.toString() : x), 1);
const docker = (...args) => execFileSync('docker', args, { encoding: 'utf8' });

const reader = new IpvsReader();
const read = async () => {
  const { namespaces } = await discoverNetns([NETNS_DIR], null);
  return sampleAll(native, namespaces, { concurrency: 2, timeoutMs: 10_000, readers: [reader] }, performance.now() + 60_000);
};
const view = (samples) => samples.map((s) => ({
  netns: s.ref.name, kind: s.ref.kind, error: s.error && `${s.error.reason}: ${s.error.message}`, ipvs: ipvsResultOf(s),
}));
const directors = () => readdirSync(NETNS_DIR).filter((n) => n.startsWith('lb_') || n === 'ingress_sbox');
const ipvsadm = async (ns, opts) => (await execFile('nsenter', [`--net=${join(NETNS_DIR, ns)}`, 'ipvsadm', '-Ln', ...opts])).stdout;
const RATE_FIELDS = new Set(['cps', 'inpps', 'outpps', 'inbps', 'outbps']);
const withoutRates = (v) => JSON.stringify(v, (k, x) => (RATE_FIELDS.has(k) ? undefined : typeof x === 'bigint' ? x.toString() : x));
// read, list, read again: kept when both reads agree (counters and conns can move between)
async function bracket(tries = 12) {
  const listings = directors().flatMap((ns) => [['--stats', '--exact'], []].map((opts) => [ns, opts]));
  for (let attempt = 1; attempt <= tries; attempt++) {
    const a = await read();
    const texts = await Promise.all(listings.map(([ns, opts]) => ipvsadm(ns, opts)));
    const b = await read();
    if (withoutRates(view(a)) === withoutRates(view(b))) {
      return { samples: a, attempt, read: view(a), listings: listings.map(([ns, opts], i) => ({ ns, opts, text: texts[i] })) };
    }
  }
  throw new Error(`the reads around ipvsadm never agreed in ${tries} tries`);
}

/** What Docker says: networks with their services (verbose), the service's tasks, and their containers. */
function dockerView() {
  const networks = ['net1', 'ingress'].map((n) => JSON.parse(docker('network', 'inspect', '--verbose', n, '-f', '{{json .}}')));
  const tasks = docker('service', 'ps', 'web', '--no-trunc', '--format', '{{json .}}').trim().split('\n').map((l) => JSON.parse(l));
  const ids = docker('ps', '-aq', '--no-trunc', '-f', 'label=com.docker.swarm.service.name=web').trim().split('\n').filter(Boolean);
  const containers = ids.length ? JSON.parse(docker('inspect', ...ids)).map((c) => ({
    id: c.Id, name: c.Name.replace(/^\//, ''), running: c.State.Running, task: c.Config.Labels['com.docker.swarm.task.name'],
    ips: Object.fromEntries(Object.entries(c.NetworkSettings.Networks).map(([n, v]) => [n, v.IPAddress])),
  })) : [];
  return {
    networks: networks.map((n) => ({ name: n.Name, id: n.Id, services: n.Services ?? {} })),
    tasks: tasks.map((t) => ({ id: t.ID, name: t.Name, desired: t.DesiredState, current: t.CurrentState })),
    containers,
  };
}

// The control-plane view the Docker source will provide, built here from Docker's answers.
function namesFrom(d) {
  const running = new Set(d.containers.filter((c) => c.running).map((c) => c.task));
  const netOf = (ref) => d.networks.find((n) => (ref.name === 'ingress_sbox' ? n.name === 'ingress' : ref.name.startsWith('lb_') && n.id.startsWith(ref.name.slice(3))));
  const plain = { netns: (ref) => ({ network: netOf(ref)?.name }), networkOfSandboxInterface: () => undefined };
  return {
    plain,
    lb: {
      ...plain,
      lbServices: (ref) => new Map(Object.entries(netOf(ref)?.services ?? {}).filter(([name]) => name).map(([name, s]) => [s.LocalLBIndex, {
        service: name, vip: (s.VIP ?? '').split('/')[0], ports: s.Ports ?? [], fwmark: s.LocalLBIndex,
        tasks: (s.Tasks ?? []).map((t) => ({ task: t.Name, endpointIp: t.EndpointIP })),
      }])),
      taskOfEndpoint: (ref, ip) => {
        for (const [name, s] of Object.entries(netOf(ref)?.services ?? {})) {
          const t = (s.Tasks ?? []).find((x) => x.EndpointIP === ip);
          if (t) return { task: t.Name, service: name, running: running.has(t.Name) };
        }
        return undefined;
      },
    },
  };
}

function metrics(samples, names) {
  const ok = samples.filter((s) => !s.error);
  const snap = { samples: ok, byNetns: new Map(ok.map((s) => [s.ref.name, s])), names, peers: pairVeths(ok), extra: new Map([['ipvs', reader.status()]]) };
  const fams = new FamilySet();
  ipvsCollector.collect(snap, fams);
  return renderPrometheus(fams.all()).toString('utf8');
}

const result = { timings };
const before = await bracket();
const dockerBefore = dockerView();
mark(`before: read (attempt ${before.attempt})`);
result.before = { attempt: before.attempt, read: before.read, listings: before.listings, docker: dockerBefore };

// Kill one task's container: swarm removes its backends (weight 0 first, then gone) and
// starts a replacement task.
const victim = dockerBefore.containers.find((c) => c.running);
docker('kill', victim.id);
mark(`killed ${victim.name}`);
const deadIps = new Set(Object.values(victim.ips));
const polls = [];
for (let i = 0; ; i++) {
  const samples = await read();
  const live = view(samples).filter((v) => v.ipvs?.available).flatMap((v) => v.ipvs.services.flatMap((s) =>
    s.destinations.filter((d) => deadIps.has(d.address)).map((d) => ({ netns: v.netns, fwmark: s.fwmark, address: d.address, weight: d.weight }))));
  polls.push({ t: +(uptime() - t0).toFixed(1), dead: live });
  if (live.every((d) => d.weight === 0)) break;
  if (i >= 300) throw new Error(`IPVS still sends to the killed task after ${i} polls: ${JSON.stringify(live)}`);
  await sleep(500);
}
mark('dead backend drained or gone');
const after = await bracket();
const dockerAfter = dockerView();
mark(`after: read (attempt ${after.attempt})`);
const names = namesFrom(dockerAfter);
result.victim = { ...victim, ips: victim.ips };
result.polls = polls;
result.after = { attempt: after.attempt, read: after.read, listings: after.listings, docker: dockerAfter };
result.metrics = { lb: metrics(after.samples, names.lb), plain: metrics(after.samples, names.plain) };
result.status = reader.status();
writeFileSync(join(out, 'result.json'), json(result));
mark('done');
