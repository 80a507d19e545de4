// IPVS as Docker itself programs it: in a guest with a real IPVS kernel, a real dockerd
// and one-node swarm run service "web" (VIP mode on overlay net1, port 8080 published).
// The exporter's reader must see the fwmark services Docker made in lb_<net> and
// ingress_sbox with the task IPs as backends and the same numbers as ipvsadm; after a
// task's container is killed, its backends must drain (weight 0) or go. The collector,
// given Docker's view as control plane, must mark dead or draining backends down.
// Slow under TCG (minutes: dockerd runs hundreds of iptables commands).
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PromSample, parseProm, pick } from '../helpers/prom.js';
import { VM_DIR, type VmRun, cleanup, compileForGuest, guestResult, runVm } from './harness.js';
import { type ServiceLike, compareWithListing, kindOfOpts, listedDest } from './ipvsadm.js';

interface NsView { netns: string; kind: string; error?: string; ipvs?: { available: boolean; services: ServiceLike[] } }
interface DockerService { VIP?: string; LocalLBIndex: number; Tasks?: Array<{ Name: string; EndpointIP: string }> }
interface DockerView {
  networks: Array<{ name: string; id: string; services: Record<string, DockerService> }>;
  containers: Array<{ id: string; name: string; running: boolean; task: string; ips: Record<string, string> }>;
}
interface Phase { attempt: number; read: NsView[]; listings: Array<{ ns: string; opts: string[]; text: string }>; docker: DockerView }
interface Result {
  before: Phase;
  after: Phase;
  victim: { name: string; ips: Record<string, string> };
  polls: Array<{ t: number; dead: Array<{ netns: string; address: string; weight: number }> }>;
  metrics: { lb: string; plain: string };
  status: { available?: boolean };
  timings: Record<string, number>;
}

const TIMEOUT_S = Number(process.env.SWARMNET_VM_SWARM_TIMEOUT_S ?? 840);
let root: string | undefined;
let run: VmRun | undefined;
let r: Result;

const network = (d: DockerView, name: string) => d.networks.find((n) => n.name === name)!;
const lbNs = (p: Phase) => p.read.find((v) => v.kind === 'lb' && network(p.docker, 'net1').id.startsWith(v.netns.slice(3)))!;
const ingressNs = (p: Phase) => p.read.find((v) => v.netns === 'ingress_sbox')!;
const fwmService = (v: NsView, mark: number) => v.ipvs!.services.find((s) => s.fwmark === mark);
const runningIps = (d: DockerView, net: string) => d.containers.filter((c) => c.running).map((c) => c.ips[net]!).sort();

describe('IPVS programmed by a real swarm in a guest kernel', () => {
  beforeAll(async () => {
    root = compileForGuest(['kernel/ipvs.js', 'collectors/ipvs.js', 'metrics/render.js']);
    run = await runVm(join(VM_DIR, 'guest-swarm-lb.sh'), [join(root, 'dist'), '/out'], TIMEOUT_S);
    r = guestResult<Result>(run);
    console.log(`VM run: ${run.accel}, ${run.wallSeconds.toFixed(1)} s (guest timings after dockerd setup ${JSON.stringify(r.timings)})`);
  }, (TIMEOUT_S + 120) * 1000);
  afterAll(() => cleanup(root, run?.out));

  it('reads the load-balancer namespaces Docker made, with the numbers ipvsadm lists', () => {
    for (const p of [r.before, r.after]) {
      const directors = p.read.filter((v) => v.kind === 'lb' || v.kind === 'ingress_sbox');
      expect(directors.map((v) => v.netns)).toContain('ingress_sbox');
      expect(directors.some((v) => v.kind === 'lb')).toBe(true);
      for (const v of directors) {
        expect(v.error, v.netns).toBeUndefined();
        expect(v.ipvs?.available, v.netns).toBe(true);
      }
      // namespaces of other kinds are not IPVS-read
      for (const v of p.read.filter((x) => x.kind !== 'lb' && x.kind !== 'ingress_sbox')) expect(v.ipvs ?? undefined, v.netns).toBeUndefined();
      let compared = 0;
      for (const l of p.listings) compared += compareWithListing(p.read.find((v) => v.netns === l.ns)!.ipvs!.services, kindOfOpts(l.opts), l.text);
      expect(compared).toBeGreaterThan(20);
    }
    expect(r.status.available).toBe(true);
  });

  it("has Docker's fwmark services: the VIP's LocalLBIndex in lb_, the published port's (256) in ingress_sbox, task IPs as backends", () => {
    const d = r.before.docker;
    const vipMark = network(d, 'net1').services.web!.LocalLBIndex;
    const ingressMark = network(d, 'ingress').services.web!.LocalLBIndex;
    expect(ingressMark).toBe(256);
    const lb = fwmService(lbNs(r.before), vipMark);
    const ingress = fwmService(ingressNs(r.before), ingressMark);
    expect(lb, `lb_ has FWM ${vipMark}`).toBeDefined();
    expect(ingress, `ingress_sbox has FWM ${ingressMark}`).toBeDefined();
    expect(lb!.destinations.map((x) => x.address).sort()).toEqual(runningIps(d, 'net1'));
    expect(ingress!.destinations.map((x) => x.address).sort()).toEqual(runningIps(d, 'ingress'));
    expect(runningIps(d, 'net1')).toHaveLength(2);
    for (const x of [...lb!.destinations, ...ingress!.destinations]) expect(x.weight).toBeGreaterThan(0);
    // the guest sent 4 requests to the VIP from a task and 6 to the published port
    expect(BigInt(lb!.stats!.conns!)).toBeGreaterThanOrEqual(4n);
    expect(BigInt(ingress!.stats!.conns!)).toBeGreaterThanOrEqual(6n);
    expect(BigInt(lb!.stats!.inbytes!)).toBeGreaterThan(0n);
  });

  it("drains or removes a killed task's backends", () => {
    const dead = new Set(Object.values(r.victim.ips));
    expect(dead.size).toBeGreaterThanOrEqual(2); // net1 and ingress
    expect(r.after.docker.containers.find((c) => c.name === r.victim.name)?.running).toBe(false);
    for (const v of r.after.read.filter((x) => x.ipvs?.available)) {
      for (const s of v.ipvs!.services) {
        for (const x of s.destinations.filter((y) => dead.has(y.address!))) expect(x.weight, `${v.netns} ${listedDest(x)}`).toBe(0);
      }
    }
    // ...and it was a live backend before the kill
    const before = [lbNs(r.before), ingressNs(r.before)].flatMap((v) => v.ipvs!.services.flatMap((s) => s.destinations));
    expect(before.filter((x) => dead.has(x.address!) && x.weight! > 0).length).toBeGreaterThanOrEqual(2);
    console.log(`killed ${r.victim.name}; polls until drained: ${JSON.stringify(r.polls)}`);
  });

  describe('collector, after the kill', () => {
    let lbm: PromSample[];
    let plain: PromSample[];
    beforeAll(() => {
      lbm = parseProm(r.metrics.lb);
      plain = parseProm(r.metrics.plain);
    });

    it('with Docker as control plane: every backend up exactly when its task runs and its weight is above 0', () => {
      const d = r.after.docker;
      for (const [v, net] of [[lbNs(r.after), 'net1'], [ingressNs(r.after), 'ingress']] as const) {
        const running = new Set(runningIps(d, net));
        const mark = network(d, net).services.web!.LocalLBIndex;
        const svc = fwmService(v, mark)!;
        const conns = pick(lbm, 'swarmnet_lb_service_connections_total', { netns: v.netns, fwmark: String(mark) });
        expect(conns.map((s) => [s.labels.service, s.labels.network, s.value])).toEqual([['web', net, Number(svc.stats!.conns)]]);
        for (const x of svc.destinations) {
          const up = pick(lbm, 'swarmnet_lb_backend_up', { netns: v.netns, fwmark: String(mark), backend: listedDest(x) });
          expect(up.map((u) => u.value), `${v.netns} ${listedDest(x)}`).toEqual([running.has(x.address!) && x.weight! > 0 ? 1 : 0]);
        }
      }
      expect(pick(lbm, 'swarmnet_ipvs_up', {}).map((s) => s.value)).toEqual([1]);
    });

    it('without it: kernel numbers only, no up series', () => {
      expect(pick(plain, 'swarmnet_lb_backend_up', {})).toEqual([]);
      expect(pick(plain, 'swarmnet_lb_service_backends', { netns: 'ingress_sbox' }).length).toBeGreaterThan(0);
    });
  });
});
