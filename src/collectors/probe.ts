// The overlay path probes' last round, from the prober's cache: the scrape
// sends nothing. Added to the collectors only with --probe.overlay.
import { probeFullSizeOk, probeLastRound, probeLossRatio, probeMtu, probeRtt } from '../metrics/catalog/probe.js';
import type { FamilySet } from '../metrics/family.js';
import type { NetworkRound } from '../probes/prober.js';
import type { Collector, Snapshot } from './types.js';

export interface ProbeCollectorOptions {
  /** --network.include / --network.exclude, as the scrape applies them to namespaces */
  networkInclude?: RegExp;
  networkExclude?: RegExp;
}

export const probeCollector = (source: { results(): NetworkRound[] }, opts: ProbeCollectorOptions = {}): Collector => ({
  name: 'probe',
  help: 'overlay path probes (--probe.overlay): loss, RTT and full-size path per overlay network and peer node, from the last round',
  defaultEnabled: false,
  needs: [],
  collect(_snap: Snapshot, out: FamilySet) {
    for (const r of source.results()) {
      if (opts.networkInclude && !opts.networkInclude.test(r.network)) continue;
      if (opts.networkExclude?.test(r.network)) continue;
      out.of(probeLastRound).add({ network: r.network, netns: r.netns }, r.finishedAt / 1000);
      for (const p of r.peers) {
        const labels = { network: r.network, netns: r.netns, peer_node: p.peerNode, peer_ip: p.peerIp };
        if (p.sent > 0) out.of(probeLossRatio).add(labels, 1 - p.rttSeconds.length / p.sent);
        if (p.rttSeconds.length > 0) out.of(probeRtt).add(labels, p.rttSeconds.reduce((a, b) => a + b, 0) / p.rttSeconds.length);
        out.of(probeFullSizeOk).add(labels, p.fullSize.ok ? 1 : 0);
        out.of(probeMtu).add(labels, r.mtuBytes);
      }
    }
  },
});
