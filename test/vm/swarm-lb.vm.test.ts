// IPVS as Docker itself programs it, read by the exporter as it runs for real: in a guest
// with a real IPVS kernel, a real dockerd and one-node swarm run a VIP-mode service on an
// overlay network with a published port, and the guest runs the exporter wired as main.ts
// wires it (Docker state cache on dockerd's socket, IPVS reader, every collector, the HTTP
// app) and keeps the /metrics text of each phase. The text must label Docker's fwmark
// services in lb_<net> and ingress_sbox with the service, network, VIP and mark, and every
// backend with its task; the numbers must be those ipvsadm lists. After a task's container
// is killed, the replacement must be labelled once the cache follows; a dead task's address
// put back into lb_ (moby#33790) must be down on the next scrape, and so must a backend
// drained to weight 0, while the live ones stay up.
// Slow under TCG (minutes: dockerd runs hundreds of iptables commands).
import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RULES_GLOB } from '../harness/paths.js';
import { freePort } from '../harness/ports.js';
import { type Prometheus, startPrometheus } from '../harness/prometheus.js';
import { sleep, waitFor } from '../harness/wait.js';
import { type PromSample, one, parseProm, pick } from '../harness/prom.js';
import { VM_DIR, type VmRun, cleanup, compileForGuest, guestResult, runVm } from '../harness/vm.js';
import { type DestLike, type ServiceLike, compareWithListing, kindOfOpts, listedDest } from './ipvsadm.js';

const NETWORK = 'net1';
const SERVICE = 'web';
const REPLICAS = 2;

interface NsView { netns: string; kind: string; path: string; ipvs?: { available: boolean; services: ServiceLike[] } }
interface DockerService { VIP?: string; LocalLBIndex: number; Tasks?: Array<{ Name: string; EndpointIP: string }> }
interface DockerView {
  service: { id: string; name: string; vips: Array<{ networkId: string; addr: string }> };
  networks: Array<{ name: string; id: string; ingress: boolean; services: Record<string, DockerService> }>;
  /** ips by network id */
  containers: Array<{ id: string; name: string; running: boolean; task: string; ips: Record<string, string> }>;
}
interface Phase {
  attempt: number;
  metrics: string;
  read: NsView[];
  listings: Array<{ ns: string; opts: string[]; text: string }>;
  docker: DockerView;
  cache: { refreshes: number; up: boolean };
}
interface Result {
  setup: { network: string; service: string; replicas: number; vipRequests: number; publishedRequests: number };
  unsynced: string;
  before: Phase;
  settled: Phase;
  stale: Phase;
  drained: Phase;
  victim: { name: string; task: string; ips: Record<string, string> };
  polls: unknown[];
  staleCommand: string[];
  drainCommand: string[];
  status: { available?: boolean };
  dockerCache: { refreshes: number; up: boolean; errors: Record<string, number> };
  timings: Record<string, number>;
}

const TIMEOUT_S = Number(process.env.SWARMNET_VM_SWARM_TIMEOUT_S ?? 840);
let root: string | undefined;
let run: VmRun | undefined;
let r: Result;
const PHASES = ['before', 'settled', 'stale', 'drained'] as const;
const samples = new Map<string, PromSample[]>();
const prom = (p: Phase) => samples.get(p.metrics) ?? samples.set(p.metrics, parseProm(p.metrics)).get(p.metrics)!;

const network = (d: DockerView, which: 'overlay' | 'ingress') => {
  const n = d.networks.find((x) => (which === 'ingress' ? x.ingress : x.name === NETWORK));
  if (!n) throw new Error(`Docker lists no ${which} network: ${JSON.stringify(d.networks.map((x) => x.name))}`);
  return n;
};
const director = (p: Phase, which: 'overlay' | 'ingress') => {
  const id = network(p.docker, which).id;
  const v = p.read.find((x) => (which === 'ingress' ? x.netns === 'ingress_sbox' : x.kind === 'lb' && id.startsWith(x.netns.slice(3))));
  if (!v) throw new Error(`no ${which} load-balancer namespace read: ${JSON.stringify(p.read.map((x) => x.netns))}`);
  return v;
};
const fwmService = (v: NsView, mark: number) => v.ipvs!.services.find((s) => s.fwmark === mark);
const markOf = (d: DockerView, which: 'overlay' | 'ingress') => network(d, which).services[SERVICE]!.LocalLBIndex;
const running = (d: DockerView) => d.containers.filter((c) => c.running);
const runningIps = (d: DockerView, netId: string) => running(d).map((c) => c.ips[netId]!).sort();
const taskOfIp = (d: DockerView, netId: string, ip: string) => running(d).find((c) => c.ips[netId] === ip)?.task;
const vipOf = (d: DockerView, netId: string) => d.service.vips.find((v) => v.networkId === netId)?.addr;
/** the lb_/ingress_sbox service of SERVICE in a phase: its namespace, IPVS entry, mark, network */
function lbOf(p: Phase, which: 'overlay' | 'ingress') {
  const v = director(p, which);
  const mark = markOf(p.docker, which);
  const svc = fwmService(v, mark);
  if (!svc) throw new Error(`${v.netns} has no FWM ${mark}: ${JSON.stringify(v.ipvs?.services.map((s) => s.fwmark))}`);
  return { v, svc, mark, net: network(p.docker, which) };
}
const backendUp = (p: Phase, ns: string, mark: number, d: DestLike) =>
  one(prom(p), 'swarmnet_lb_backend_up', { netns: ns, fwmark: String(mark), backend: listedDest(d) });

describe('IPVS programmed by a real swarm, scraped by the real exporter in a guest kernel', () => {
  beforeAll(async () => {
    root = await compileForGuest(['app.js', 'scrape.js', 'docker/cache.js', 'collectors/index.js', 'kernel/readers/index.js', 'kernel/genl/ipvs.js']);
    run = await runVm(join(VM_DIR, 'guest-swarm-lb.sh'), [join(root, 'dist'), '/out', NETWORK, SERVICE, String(REPLICAS)], TIMEOUT_S);
    r = guestResult<Result>(run);
    console.log(`VM run: ${run.accel}, ${run.wallSeconds.toFixed(1)} s (guest timings after traffic ${JSON.stringify(r.timings)})`);
  }, (TIMEOUT_S + 120) * 1000);
  afterAll(() => cleanup(root, run?.out));

  it('reads the load-balancer namespaces Docker made; ipvsadm lists the numbers /metrics shows', () => {
    for (const name of PHASES) {
      const p = r[name];
      const directors = p.read.filter((v) => v.kind === 'lb' || v.kind === 'ingress_sbox');
      expect(directors.map((v) => v.netns), name).toContain('ingress_sbox');
      expect(directors.some((v) => v.kind === 'lb'), name).toBe(true);
      for (const v of directors) expect(v.ipvs?.available, `${name} ${v.netns}`).toBe(true);
      // namespaces of other kinds are not IPVS-read
      for (const v of p.read.filter((x) => x.kind !== 'lb' && x.kind !== 'ingress_sbox')) expect(v.ipvs ?? undefined, `${name} ${v.netns}`).toBeUndefined();
      let compared = 0;
      for (const l of p.listings) compared += compareWithListing(p.read.find((v) => v.netns === l.ns)!.ipvs!.services, kindOfOpts(l.opts), l.text);
      expect(compared, name).toBeGreaterThan(20);
      // the text of the same collection carries those numbers
      const m = prom(p);
      const stat = (metric: string, labels: Record<string, string>) => one(m, metric, labels).value;
      const fields = [['conns', 'connections_total'], ['inpkts', 'receive_packets_total'], ['outpkts', 'transmit_packets_total'],
        ['inbytes', 'receive_bytes_total'], ['outbytes', 'transmit_bytes_total']] as const;
      let inText = 0;
      for (const v of directors) {
        for (const s of v.ipvs!.services) {
          const sl = { netns: v.netns, fwmark: s.fwmark ? String(s.fwmark) : '' };
          for (const [f, metric] of fields) expect(stat(`swarmnet_lb_service_${metric}`, sl), `${name} ${v.netns} ${f}`).toBe(Number(s.stats![f]));
          expect(stat('swarmnet_lb_service_backends', sl)).toBe(s.destinations.length);
          for (const d of s.destinations) {
            const dl = { ...sl, backend: listedDest(d) };
            for (const [f, metric] of fields) expect(stat(`swarmnet_lb_backend_${metric}`, dl), `${name} ${v.netns} ${dl.backend} ${f}`).toBe(Number(d.stats![f]));
            expect(stat('swarmnet_lb_backend_weight', dl)).toBe(d.weight);
            expect(stat('swarmnet_lb_backend_active_connections', dl)).toBe(d.activeConns);
            expect(stat('swarmnet_lb_backend_inactive_connections', dl)).toBe(d.inactiveConns);
            inText++;
          }
        }
      }
      expect(inText, name).toBeGreaterThanOrEqual(2 * REPLICAS);
      expect(pick(m, 'swarmnet_ipvs_up', {}).map((s) => s.value)).toEqual([1]);
      expect(pick(m, 'swarmnet_docker_up', {}).map((s) => s.value), `${name}: the cache is connected`).toEqual([1]);
    }
    expect(r.status.available).toBe(true);
  });

  it("has Docker's fwmark services: the VIP's LocalLBIndex in lb_, the published port's in ingress_sbox, task IPs as backends", () => {
    const d = r.before.docker;
    expect(markOf(d, 'overlay')).toBeGreaterThan(0);
    expect(markOf(d, 'ingress')).toBeGreaterThan(0);
    expect(markOf(d, 'overlay')).not.toBe(markOf(d, 'ingress'));
    const lb = lbOf(r.before, 'overlay');
    const ingress = lbOf(r.before, 'ingress');
    expect(runningIps(d, lb.net.id)).toHaveLength(REPLICAS);
    expect(lb.svc.destinations.map((x) => x.address).sort()).toEqual(runningIps(d, lb.net.id));
    expect(ingress.svc.destinations.map((x) => x.address).sort()).toEqual(runningIps(d, ingress.net.id));
    for (const x of [...lb.svc.destinations, ...ingress.svc.destinations]) expect(x.weight).toBeGreaterThan(0);
    // the traffic guest-swarm-lb.sh sent: from a task to the VIP, and to the published port
    expect(BigInt(lb.svc.stats!.conns!)).toBeGreaterThanOrEqual(BigInt(r.setup.vipRequests));
    expect(BigInt(ingress.svc.stats!.conns!)).toBeGreaterThanOrEqual(BigInt(r.setup.publishedRequests));
    expect(BigInt(lb.svc.stats!.inbytes!)).toBeGreaterThan(0n);
  });

  it("labels lb_ and ingress_sbox from the exporter's Docker state cache: service, network, VIP, mark, task per backend", () => {
    for (const name of ['before', 'settled'] as const) {
      const p = r[name];
      for (const which of ['overlay', 'ingress'] as const) {
        const { v, svc, mark, net } = lbOf(p, which);
        const vip = vipOf(p.docker, net.id);
        expect(vip, `${SERVICE} has a VIP on ${net.name}`).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
        const sl = { netns: v.netns, fwmark: String(mark) };
        const expected = { netns_kind: v.kind, network: net.name, service: SERVICE, task: '', vip, protocol: '', port: '' };
        expect(one(prom(p), 'swarmnet_lb_service_backends', sl).labels, `${name} ${v.netns}`).toMatchObject({ ...expected, scheduler: svc.scheduler });
        expect(one(prom(p), 'swarmnet_lb_service_backends', sl).value).toBe(REPLICAS);
        expect(one(prom(p), 'swarmnet_lb_service_missing_backends', sl).value, `${name} ${v.netns}`).toBe(0);
        expect(svc.destinations).toHaveLength(REPLICAS);
        for (const d of svc.destinations) {
          const up = backendUp(p, v.netns, mark, d);
          const task = taskOfIp(p.docker, net.id, d.address!);
          expect(task, `${name}: ${d.address} is a running task's address on ${net.name}`).toBeTruthy();
          expect(up.labels, `${name} ${v.netns} ${listedDest(d)}`).toMatchObject({ ...expected, task });
          expect(up.value, `${name} ${v.netns} ${listedDest(d)}`).toBe(1);
        }
      }
    }
    // the replacement task was picked up through the cache's events stream
    const before = new Set(running(r.before.docker).map((c) => c.task));
    const fresh = running(r.settled.docker).filter((c) => !before.has(c.task));
    expect(fresh.map((c) => c.task), 'a replacement task runs').toHaveLength(1);
    expect(r.settled.cache.refreshes).toBeGreaterThan(r.before.cache.refreshes);
  });

  it("drains or removes a killed task's backends", () => {
    const dead = new Set(Object.values(r.victim.ips));
    expect(dead.size).toBeGreaterThanOrEqual(2); // the overlay network and ingress
    expect(r.settled.docker.containers.find((c) => c.name === r.victim.name)?.running).toBe(false);
    for (const v of r.settled.read.filter((x) => x.ipvs?.available)) {
      for (const s of v.ipvs!.services) {
        for (const x of s.destinations.filter((y) => dead.has(y.address!))) expect(x.weight, `${v.netns} ${listedDest(x)}`).toBe(0);
      }
    }
    // ...and it was a live backend before the kill
    const before = [director(r.before, 'overlay'), director(r.before, 'ingress')].flatMap((v) => v.ipvs!.services.flatMap((s) => s.destinations));
    expect(before.filter((x) => dead.has(x.address!) && x.weight! > 0).length).toBeGreaterThanOrEqual(2);
    console.log(`killed ${r.victim.name}; ${r.polls.length} polls until the replacement ran and the cache had it`);
  });

  it("marks a dead task's stale backend down on the next scrape, the live ones staying up", () => {
    const p = r.stale;
    expect(p.attempt, 'the first scrape after ipvsadm added it was kept').toBe(1);
    const { v, svc, mark, net } = lbOf(p, 'overlay');
    const deadIp = r.victim.ips[net.id]!;
    expect(r.staleCommand).toEqual(expect.arrayContaining(['-f', String(mark), '-r']));
    const stale = svc.destinations.find((d) => d.address === deadIp);
    expect(stale, `${deadIp} is back in ${v.netns}`).toBeDefined();
    expect(stale!.weight).toBeGreaterThan(0);
    expect(running(p.docker).some((c) => Object.values(c.ips).includes(deadIp)), `no running container has ${deadIp}`).toBe(false);
    const up = backendUp(p, v.netns, mark, stale!);
    expect(up.value).toBe(0);
    // unknown to the control plane (''), or known as the dead task: never a live task's name
    expect(['', r.victim.task]).toContain(up.labels.task);
    const live = svc.destinations.filter((d) => d !== stale);
    expect(live.map((d) => d.address).sort()).toEqual(runningIps(p.docker, net.id));
    for (const d of live) expect(backendUp(p, v.netns, mark, d).value, listedDest(d)).toBe(1);
    const sl = { netns: v.netns, fwmark: String(mark) };
    expect(one(prom(p), 'swarmnet_lb_service_backends', sl).value).toBe(REPLICAS + 1);
    expect(one(prom(p), 'swarmnet_lb_service_missing_backends', sl).value).toBe(0);
    console.log(`stale backend ${listedDest(stale!)} (ipvsadm ${r.staleCommand.join(' ')}): up ${up.value}, task "${up.labels.task}"`);
  });

  it('marks a backend drained to weight 0 down, its task still running', () => {
    const p = r.drained;
    const { v, svc, mark, net } = lbOf(p, 'overlay');
    const drainedAt = r.drainCommand[r.drainCommand.indexOf('-r') + 1]!;
    const drained = svc.destinations.find((d) => listedDest(d) === drainedAt)!;
    expect(drained, `${drainedAt} in ${v.netns}`).toBeDefined();
    expect(drained.weight).toBe(0);
    const task = taskOfIp(p.docker, net.id, drained.address!);
    expect(task, 'its task still runs').toBeTruthy();
    const up = backendUp(p, v.netns, mark, drained);
    expect(up.labels.task).toBe(task);
    expect(up.value).toBe(0);
    expect(one(prom(p), 'swarmnet_lb_backend_weight', { netns: v.netns, fwmark: String(mark), backend: drainedAt }).value).toBe(0);
    const others = svc.destinations.filter((d) => d !== drained);
    const deadIp = r.victim.ips[net.id]!;
    for (const d of others) expect(backendUp(p, v.netns, mark, d).value, listedDest(d)).toBe(d.address === deadIp ? 0 : 1);
    expect(others.filter((d) => d.address !== deadIp)).toHaveLength(REPLICAS - 1);
    expect(one(prom(p), 'swarmnet_lb_service_missing_backends', { netns: v.netns, fwmark: String(mark) }).value).toBe(0);
    // ingress_sbox was left alone: all up
    const ing = lbOf(p, 'ingress');
    for (const d of ing.svc.destinations) expect(backendUp(p, ing.v.netns, ing.mark, d).value, listedDest(d)).toBe(1);
  });

  it('in every phase: each backend up exactly when a running task has its address and its weight is above 0', () => {
    for (const name of PHASES) {
      const p = r[name];
      for (const which of ['overlay', 'ingress'] as const) {
        const { v, svc, mark, net } = lbOf(p, which);
        const live = new Set(runningIps(p.docker, net.id));
        for (const d of svc.destinations) {
          expect(backendUp(p, v.netns, mark, d).value, `${name} ${v.netns} ${listedDest(d)}`).toBe(live.has(d.address!) && d.weight! > 0 ? 1 : 0);
        }
      }
    }
  });

  it('before its cache has heard from dockerd: kernel numbers only, no up series', () => {
    const m = parseProm(r.unsynced);
    expect(pick(m, 'swarmnet_docker_up', {}).map((s) => s.value)).toEqual([0]);
    expect(pick(m, 'swarmnet_lb_backend_up', {})).toEqual([]);
    expect(pick(m, 'swarmnet_lb_service_missing_backends', {})).toEqual([]);
    const ingress = pick(m, 'swarmnet_lb_service_backends', { netns: 'ingress_sbox' });
    expect(ingress.length).toBeGreaterThan(0);
    for (const s of ingress) expect(s.labels).toMatchObject({ network: '', service: '', vip: '' });
  });
});

// The shipped alert rules, evaluated by a real Prometheus on the host over the
// /metrics the exporter served in the guest in each phase: the guest kernel has
// IPVS and this one does not, so each phase's exposition is served here as the
// scrape target, in order.
describe('load-balancer alerts in a real Prometheus, over the guest exporter\'s output', () => {
  let served = '';
  let server: ReturnType<typeof createServer> | undefined;
  let promDir: string | undefined;
  let promServer: Prometheus | undefined;

  beforeAll(async () => {
    const port = await freePort();
    server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(served);
    });
    await new Promise<void>((ok) => server!.listen(port, '127.0.0.1', ok));
    served = r.before.metrics;
    promDir = mkdtempSync(join(tmpdir(), 'swarmnet-lb-prom-'));
    promServer = await startPrometheus({
      dir: promDir, port: await freePort(),
      config: {
        global: { scrape_interval: '1s', scrape_timeout: '900ms', evaluation_interval: '1s' },
        rule_files: [RULES_GLOB],
        scrape_configs: [{ job_name: 'swarmnet', static_configs: [{ targets: [`127.0.0.1:${port}`], labels: { node: 'guest' } }] }],
      },
    });
  }, 120_000);
  afterAll(async () => {
    await promServer?.stop();
    server?.close();
    if (promDir) rmSync(promDir, { recursive: true, force: true });
  });

  const lbAlerts = async () => (await promServer!.alerts()).filter((a) => a.labels.alertname!.startsWith('SwarmnetLb'));
  /** serve a phase and wait until Prometheus has scraped it and evaluated the rules on it */
  const servePhase = async (metrics: string, probe: string) => {
    served = metrics;
    await waitFor(`Prometheus to scrape the new phase (${probe})`, async () => (await promServer!.series(probe)).length > 0, { timeoutMs: 30_000, intervalMs: 500 });
    await sleep(2500); // two rule evaluations
  };

  it('healthy backends: no load-balancer alert is pending', async () => {
    await servePhase(r.before.metrics, 'swarmnet_lb_backend_up{job="swarmnet"} == 1');
    expect(await lbAlerts()).toEqual([]);
  });

  it('a dead task\'s stale backend makes SwarmnetLbBackendDown pending for that backend, and only for it', async () => {
    const { v, svc, mark, net } = lbOf(r.stale, 'overlay');
    const deadIp = r.victim.ips[net.id]!;
    const stale = svc.destinations.find((d) => d.address === deadIp)!;
    await servePhase(r.stale.metrics, `swarmnet_lb_backend_up{job="swarmnet",backend="${listedDest(stale)}"} == 0`);
    const pending = await waitFor('SwarmnetLbBackendDown pending', async () => {
      const a = (await lbAlerts()).filter((x) => x.labels.alertname === 'SwarmnetLbBackendDown');
      return a.length > 0 ? a : undefined;
    }, { timeoutMs: 30_000, intervalMs: 500 });
    expect(pending.map((a) => [a.state, a.labels.netns, a.labels.fwmark, a.labels.backend, a.labels.service])).toEqual([
      ['pending', v.netns, String(mark), listedDest(stale), SERVICE],
    ]);
    expect(pending[0]!.annotations.summary).toContain(SERVICE);
  });

  it('a backend drained to weight 0 (a task in its stop grace period) makes no load-balancer alert pending', async () => {
    const { svc } = lbOf(r.drained, 'overlay');
    expect(svc.destinations.filter((d) => d.weight === 0).length).toBeGreaterThan(0);
    // the previous phase's stale backend (weight above 0) is still there and still down: look at the drained ones
    await servePhase(r.drained.metrics, `swarmnet_lb_backend_weight{job="swarmnet"} == 0`);
    const drained = new Set(svc.destinations.filter((d) => d.weight === 0).map(listedDest));
    await new Promise((ok) => setTimeout(ok, 5000)); // a few more evaluations
    const onDrained = (await lbAlerts()).filter((a) => drained.has(a.labels.backend ?? ''));
    expect(onDrained.map((a) => `${a.labels.alertname} ${a.labels.backend}`)).toEqual([]);
  });
});
