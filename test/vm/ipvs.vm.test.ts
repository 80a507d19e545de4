// The exporter's IPVS reader and collector against a real IPVS kernel: Debian's 6.1
// kernel under qemu (KVM when it works here, else TCG), where guest-ipvs.mjs builds TCP,
// UDP and fwmark services (several schedulers, a draining backend, thresholds, a
// persistent and an empty service) in namespaces named as swarm names them, pushes
// traffic, and reads them with the exporter's code and with ipvsadm. Here every number
// is compared. Needs root, qemu-system-x86, busybox-static, cpio, kmod, xz-utils, ipvsadm.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PromSample, parseProm, pick } from '../harness/prom.js';
import { VM_DIR, type VmRun, cleanup, compileForGuest, guestResult, runVm } from '../harness/vm.js';
import { type ServiceLike, compareWithListing, kindOfOpts, listedDest, listedName } from './ipvsadm.js';
import { join } from 'node:path';

type Entry = ServiceLike & { stats: Record<string, string>; destinations: Array<ServiceLike['destinations'][number] & { stats: Record<string, string> }> };
interface NsView { netns: string; kind: string; error?: string; ipvs?: { available: boolean; services: Entry[] } }
interface Bracket { attempt: number; read: NsView[]; listings: Array<{ ns: string; opts: string[]; text: string }> }
interface ControlPlaneNs {
  network: string;
  services: Array<{ service: string; fwmark: number; tasks: Array<{ task: string; endpointIp: string }> }>;
  endpoints: Record<string, { task: string; service: string; running: boolean }>;
}
interface Result {
  absent: Record<string, unknown> & { probe: { available?: boolean }; cached: { available?: boolean }; rechecked: { available?: boolean; familyId?: number } };
  totals: Bracket;
  rates: Bracket;
  status: { available?: boolean; familyId?: number };
  controlPlane: Record<string, ControlPlaneNs>;
  metrics: { lb: string; plain: string };
  /** namespace entries (setns) during one read of every namespace, and how many namespaces have a file */
  entries: { entered: number; namespaces: number };
  timings: Record<string, number>;
}

const TIMEOUT_S = Number(process.env.SWARMNET_VM_TIMEOUT_S ?? 420);
let root: string | undefined;
let run: VmRun | undefined;
let result: Result;

const nsOf = (b: Bracket, netns: string) => {
  const v = b.read.find((s) => s.netns === netns);
  if (!v) throw new Error(`namespace ${netns} was not read`);
  return v;
};
const DIRECTORS = ['lb_vmtest', 'ingress_sbox', 'host'];

describe('IPVS in a guest kernel', () => {
  beforeAll(async () => {
    root = await compileForGuest(['kernel/readers/ipvs.js', 'collectors/ipvs.js', 'metrics/render.js']);
    run = await runVm(join(VM_DIR, 'guest-ipvs.mjs'), [join(root, 'dist'), '/out'], TIMEOUT_S);
    console.log(`VM run: ${run.accel}, ${run.wallSeconds.toFixed(1)} s (guest timings ${JSON.stringify(guestResultTimings(run))})`);
    result = guestResult<Result>(run);
  }, (TIMEOUT_S + 120) * 1000);
  afterAll(() => cleanup(root, run?.out));

  it('reports no IPVS while ip_vs cannot load, caches that, and finds it on re-check', () => {
    const a = result.absent;
    expect(a.loadedBefore).toBe(false);
    expect(a.probe.available).toBe(false);
    expect(a.read).toEqual({ available: false, services: [] });
    // within the re-check interval the kernel is not asked (asking would have loaded ip_vs)
    expect(a.cached.available).toBe(false);
    expect(a.loadedWhileCached).toBe(false);
    expect(a.rechecked.available).toBe(true);
    expect(a.rechecked.familyId).toBeGreaterThan(0x10);
    expect(a.loadedAfter).toBe(true);
    expect(result.status).toMatchObject({ available: true, familyId: a.rechecked.familyId });
  });

  it('enters each namespace once per read, IPVS services and their destinations included', () => {
    expect(result.entries.namespaces).toBeGreaterThanOrEqual(2);
    expect(result.entries.entered).toBe(result.entries.namespaces);
    // and that one entry served both rounds: every service read has its destinations
    const lb = nsOf(result.totals, 'lb_vmtest').ipvs!;
    expect(lb.services.length).toBeGreaterThan(0);
    expect(lb.services.some((svc) => svc.destinations.length > 0)).toBe(true);
  });

  it('reads IPVS in lb and ingress_sbox namespaces only, by default, and every namespace without error', () => {
    for (const s of result.totals.read) {
      expect(s.error, s.netns).toBeUndefined();
      const expectRead = s.kind === 'lb' || s.kind === 'ingress_sbox' || s.kind === 'host'; // host: a reader configured for it
      expect(s.ipvs !== undefined && s.ipvs !== null, s.netns).toBe(expectRead);
    }
    expect(nsOf(result.totals, 'host').ipvs).toEqual({ available: true, services: [] });
  });

  it('decodes every service and destination exactly as ipvsadm lists them (totals, weights, conns, thresholds, persistence)', () => {
    let compared = 0;
    for (const l of result.totals.listings) {
      const netns = l.ns || 'host';
      compared += compareWithListing(nsOf(result.totals, netns).ipvs!.services, kindOfOpts(l.opts), l.text);
    }
    expect(result.totals.listings.map((l) => l.ns || 'host').sort()).toEqual(DIRECTORS.flatMap((d) => [d, d, d, d]).sort());
    expect(compared).toBeGreaterThan(200);
  });

  it('decodes the estimator rates exactly as ipvsadm --rate lists them', () => {
    let compared = 0;
    for (const l of result.rates.listings) compared += compareWithListing(nsOf(result.rates, l.ns || 'host').ipvs!.services, 'rate', l.text);
    expect(compared).toBeGreaterThan(50);
    // traffic ended seconds ago: the rates have not decayed to nothing yet
    const lb = nsOf(result.rates, 'lb_vmtest').ipvs!.services;
    expect(lb.reduce((n, s) => n + BigInt(s.stats!.inbps!), 0n)).toBeGreaterThan(0n);
  });

  it('covers what the guest built: TCP, UDP and fwmark services, schedulers, draining, persistence, live connections', () => {
    const lb = nsOf(result.totals, 'lb_vmtest').ipvs!.services;
    const fwm = lb.filter((s) => s.fwmark);
    expect(fwm.length).toBeGreaterThan(0);
    for (const s of fwm) expect([s.protocol, s.address, s.port]).toEqual([undefined, undefined, undefined]);
    expect(new Set(lb.map((s) => s.protocol).filter((p) => p !== undefined))).toEqual(new Set([6, 17]));
    expect(new Set(lb.map((s) => s.scheduler)).size).toBeGreaterThanOrEqual(4);
    const dests = lb.flatMap((s) => s.destinations);
    const draining = dests.filter((d) => d.weight === 0);
    expect(draining.length).toBeGreaterThan(0);
    for (const d of draining) expect(BigInt(d.stats!.conns!)).toBe(0n); // weight 0 gets no new connections
    expect(dests.some((d) => (d.persistentConns ?? 0) > 0)).toBe(true);
    expect(dests.some((d) => (d.activeConns ?? 0) > 0)).toBe(true);
    expect(dests.some((d) => (d.upperThreshold ?? 0) > 0)).toBe(true);
    expect(lb.some((s) => s.destinations.length === 0)).toBe(true);
    for (const s of lb.filter((x) => x.destinations.length > 0 && x.stats.conns !== '0')) {
      // a service's totals are its destinations' sums
      const sum = (f: string) => s.destinations.reduce((n, d) => n + BigInt(d.stats![f]!), 0n);
      for (const f of ['conns', 'inpkts', 'outpkts', 'inbytes', 'outbytes']) expect(sum(f), `${listedName(s)} ${f}`).toBe(BigInt(s.stats[f]!));
    }
    expect(lb.reduce((n, s) => n + BigInt(s.stats!.conns!), 0n)).toBeGreaterThan(0n);
  });

  describe('collector', () => {
    let lbm: PromSample[];
    let plain: PromSample[];
    beforeAll(() => {
      lbm = parseProm(result.metrics.lb);
      plain = parseProm(result.metrics.plain);
    });

    it('says IPVS is up', () => {
      expect(pick(lbm, 'swarmnet_ipvs_up', {}).map((s) => s.value)).toEqual([1]);
      expect(pick(plain, 'swarmnet_ipvs_up', {}).map((s) => s.value)).toEqual([1]);
    });

    it('exports every service and backend counter and gauge with the kernel values', () => {
      for (const netns of ['lb_vmtest', 'ingress_sbox']) {
        const cp = result.controlPlane[netns]!;
        for (const s of nsOf(result.totals, netns).ipvs!.services) {
          const id: Record<string, string> = s.fwmark ? { fwmark: String(s.fwmark) } : { vip: s.address!, port: String(s.port), fwmark: '' };
          const svcMatch = { netns, network: cp.network, ...id, scheduler: s.scheduler! };
          const value = (samples: PromSample[], name: string, match: Record<string, string>) => {
            const found = pick(samples, name, match);
            expect(found, `${name} ${JSON.stringify(match)}`).toHaveLength(1);
            return found[0]!.value;
          };
          const counters: Array<[string, string]> = [['connections_total', 'conns'], ['receive_packets_total', 'inpkts'],
            ['transmit_packets_total', 'outpkts'], ['receive_bytes_total', 'inbytes'], ['transmit_bytes_total', 'outbytes']];
          for (const samples of [lbm, plain]) {
            for (const [m, f] of counters) {
              expect(value(samples, `swarmnet_lb_service_${m}`, svcMatch)).toBe(Number(s.stats[f]));
            }
            expect(value(samples, 'swarmnet_lb_service_backends', svcMatch)).toBe(s.destinations.length);
            for (const d of s.destinations) {
              const bm = { netns, ...id, backend: listedDest(d) };
              for (const [m, f] of counters) {
                expect(value(samples, `swarmnet_lb_backend_${m}`, bm)).toBe(Number(d.stats[f]));
              }
              expect(value(samples, 'swarmnet_lb_backend_weight', bm)).toBe(d.weight);
              expect(value(samples, 'swarmnet_lb_backend_active_connections', bm)).toBe(d.activeConns);
              expect(value(samples, 'swarmnet_lb_backend_inactive_connections', bm)).toBe(d.inactiveConns);
            }
          }
        }
      }
    });

    it('with the control plane: names services and tasks, marks draining, dead and unknown backends down, counts missing tasks', () => {
      let ups = 0;
      for (const netns of ['lb_vmtest', 'ingress_sbox']) {
        const cp = result.controlPlane[netns]!;
        for (const s of nsOf(result.totals, netns).ipvs!.services) {
          const known = s.fwmark ? cp.services.find((x) => x.fwmark === s.fwmark) : undefined;
          const id: Record<string, string> = s.fwmark ? { fwmark: String(s.fwmark) } : { vip: s.address!, port: String(s.port), fwmark: '' };
          const missing = pick(lbm, 'swarmnet_lb_service_missing_backends', { netns, ...id });
          if (known) {
            const present = new Set(s.destinations.map((d) => d.address));
            expect(missing.map((m) => m.value)).toEqual([known.tasks.filter((t) => !present.has(t.endpointIp)).length]);
            expect(pick(lbm, 'swarmnet_lb_service_connections_total', { netns, ...id })[0]!.labels.service).toBe(known.service);
          } else {
            expect(missing).toEqual([]);
          }
          for (const d of s.destinations) {
            const ep = cp.endpoints[d.address!];
            const up = pick(lbm, 'swarmnet_lb_backend_up', { netns, ...id, backend: listedDest(d) });
            expect(up.map((u) => u.value), `${netns} ${listedName(s)} -> ${listedDest(d)}`).toEqual([ep?.running && d.weight! > 0 ? 1 : 0]);
            expect(up[0]!.labels.task).toBe(ep?.task ?? '');
            ups += up[0]!.value;
          }
        }
      }
      // the run had live, draining, dead and unknown backends
      expect(ups).toBeGreaterThan(0);
      expect(pick(lbm, 'swarmnet_lb_backend_up', {}).some((u) => u.value === 0)).toBe(true);
      expect(pick(lbm, 'swarmnet_lb_service_missing_backends', {}).some((m) => m.value > 0)).toBe(true);
    });

    it('without the control plane: kernel labels only, no up or missing series', () => {
      expect(pick(plain, 'swarmnet_lb_backend_up', {})).toEqual([]);
      expect(pick(plain, 'swarmnet_lb_service_missing_backends', {})).toEqual([]);
      for (const s of plain.filter((x) => x.name.startsWith('swarmnet_lb_'))) {
        expect(s.labels.task).toBe('');
        expect(s.labels.service).toBe('');
      }
    });
  });
});

function guestResultTimings(r: VmRun): Record<string, number> | string {
  try {
    return guestResult<Result>(r).timings;
  } catch {
    return 'none';
  }
}
