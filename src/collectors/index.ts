// Every collector the exporter knows, each with its own --[no-]collector.<name> flag.
import { fdbCollector } from './fdb.js';
import { ipvsCollector } from './ipvs.js';
import { neighbourCollector } from './neighbour.js';
import { netdevCollector } from './netdev.js';
import { createOverlayCollector } from './overlay.js';
import { swarmCollector } from './swarm.js';
import type { Collector } from './types.js';
import { vxlanCollector } from './vxlan.js';

export interface CollectorOptions {
  netdevExtendedStats: boolean;
  overlayMaxEndpointSeries: number;
}

export const DEFAULT_COLLECTOR_OPTIONS: CollectorOptions = { netdevExtendedStats: false, overlayMaxEndpointSeries: 100 };

export function allCollectors(opts: Partial<CollectorOptions> = {}): Collector[] {
  const o = { ...DEFAULT_COLLECTOR_OPTIONS, ...opts };
  return [
    netdevCollector({ extendedStats: o.netdevExtendedStats }),
    fdbCollector,
    vxlanCollector,
    swarmCollector,
    createOverlayCollector({ maxEndpointSeries: o.overlayMaxEndpointSeries }),
    ipvsCollector,
    neighbourCollector,
  ];
}
