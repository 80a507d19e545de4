// IPVS load balancers: per virtual service and per backend totals, connection
// gauges and weights, and, where Docker's view of the services is known,
// whether each backend is a live task and which tasks IPVS is missing.
import { AF_INET6, protocolName, type IpvsDest, type IpvsStats } from '../kernel/genl/ipvs.js';
import type { IpvsServiceEntry } from '../kernel/readers/ipvs.js';
import {
  ipvsUp, lbBackendActiveConnections, lbBackendInactiveConnections, lbBackendStatMetrics, lbBackendUp, lbBackendWeight,
  lbServiceBackends, lbServiceMissingBackends, lbServiceStatMetrics,
} from '../metrics/catalog/ipvs.js';
import type { NetnsRef } from '../kernel/netns.js';
import type { FamilySet, Labels } from '../metrics/family.js';
import type { LbService, NameIndex } from '../names.js';
import { nsLabels } from './labels.js';
import { type Collector, NoDataError, type Snapshot } from './types.js';

export const backendAddress = (d: IpvsDest): string =>
  d.af === AF_INET6 ? `[${d.address ?? ''}]:${d.port ?? ''}` : `${d.address ?? ''}:${d.port ?? ''}`;

/** Whether the kernel has IPVS: the reader's own status if the scrape carries it, else what the reads found. */
function ipvsAvailable(snap: Snapshot): boolean | undefined {
  const status = snap.kernel.ipvs;
  if (status?.available !== undefined) return status.available;
  let available: boolean | undefined;
  for (const s of snap.samples) {
    if (s.ipvs) available = (available ?? false) || s.ipvs.available;
  }
  return available;
}

function addStats(out: FamilySet, defs: typeof lbServiceStatMetrics, labels: Labels, stats: IpvsStats | undefined) {
  if (!stats) return;
  for (const { field, def } of defs) {
    const v = stats[field];
    if (v !== undefined) out.of(def).add(labels, v);
  }
}

export const ipvsCollector: Collector = {
  name: 'ipvs',
  help: 'IPVS load balancers (swarm VIPs and the routing mesh): per service and backend traffic, connections, weights, backend health',
  defaultEnabled: true,
  needs: ['ipvs'],
  collect(snap: Snapshot, out: FamilySet) {
    const available = ipvsAvailable(snap);
    if (available === undefined) throw new NoDataError('IPVS was not read in this scrape (no load-balancer namespace)');
    out.of(ipvsUp).add({}, available ? 1 : 0);
    const names = snap.names;
    for (const s of snap.samples) {
      const result = s.ipvs;
      if (!result?.available) continue;
      const base = nsLabels(snap, s);
      const lbServices = names.lbServices(s.ref);
      // Docker knows no service here (unreachable, or the network not seen yet): no view to judge backends by
      const judge = lbServices.size > 0;
      for (const svc of result.services) {
        const lb = svc.fwmark ? lbServices.get(svc.fwmark) : undefined;
        collectService(out, s.ref, base, svc, lb, names, judge);
      }
    }
  },
};

function collectService(out: FamilySet, ref: NetnsRef, base: Labels, svc: IpvsServiceEntry, lb: LbService | undefined,
  names: NameIndex, judge: boolean) {
  const byMark = svc.fwmark !== undefined && svc.fwmark !== 0;
  const id = {
    vip: byMark ? lb?.vip ?? '' : svc.address ?? '',
    fwmark: byMark ? String(svc.fwmark) : '',
    protocol: byMark ? '' : protocolName(svc.protocol),
    port: byMark || svc.port === undefined ? '' : String(svc.port),
  };
  const svcLabels: Labels = {
    netns: base.netns!, netns_kind: base.netns_kind!, network: base.network!,
    service: lb?.service ?? base.service!, task: '', ...id, scheduler: svc.scheduler ?? '',
  };
  addStats(out, lbServiceStatMetrics, svcLabels, svc.stats);
  out.of(lbServiceBackends).add(svcLabels, svc.destinations.length);
  if (lb) {
    const present = new Set(svc.destinations.map((d) => d.address));
    out.of(lbServiceMissingBackends).add(svcLabels, lb.tasks.filter((t) => !present.has(t.endpointIp)).length);
  }
  for (const d of svc.destinations) {
    const ep = d.address !== undefined ? names.taskOfEndpoint(ref, d.address) : undefined;
    const labels: Labels = {
      netns: base.netns!, netns_kind: base.netns_kind!, network: base.network!,
      service: ep?.service ?? lb?.service ?? base.service!, task: ep?.task ?? '', ...id, backend: backendAddress(d),
    };
    addStats(out, lbBackendStatMetrics, labels, d.stats);
    if (d.activeConns !== undefined) out.of(lbBackendActiveConnections).add(labels, d.activeConns);
    if (d.inactiveConns !== undefined) out.of(lbBackendInactiveConnections).add(labels, d.inactiveConns);
    if (d.weight !== undefined) out.of(lbBackendWeight).add(labels, d.weight);
    // a backend unknown to the control plane is a stale one (moby#33790): down
    if (judge) out.of(lbBackendUp).add(labels, ep?.running && (d.weight ?? 0) > 0 ? 1 : 0);
  }
}
