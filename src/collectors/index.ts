// Every collector the exporter knows, each with its own --[no-]collector.<name> flag.
import { fdbCollector } from './fdb.js';
import { ipvsCollector } from './ipvs.js';
import { mtuCollector } from './mtu.js';
import { neighbourCollector } from './neighbour.js';
import { netdevCollector } from './netdev.js';
import { createOverlayCollector } from './overlay.js';
import { swarmCollector } from './swarm.js';
import type { Collector } from './types.js';
import { DEFAULT_VXLAN_PORTS, udpCollector } from './udp.js';
import { vxlanCollector } from './vxlan.js';

export interface CollectorOptions {
  netdevExtendedStats: boolean;
  overlayMaxEndpointSeries: number;
  /** UDP ports whose sockets the udp collector reports (VXLAN devices' own ports are added) */
  udpPorts: readonly number[];
}

export const DEFAULT_COLLECTOR_OPTIONS: CollectorOptions = { netdevExtendedStats: false, overlayMaxEndpointSeries: 100, udpPorts: DEFAULT_VXLAN_PORTS };

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
    udpCollector({ ports: o.udpPorts }),
    mtuCollector,
  ];
}
