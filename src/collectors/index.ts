// Every collector the exporter knows, each with its own --[no-]collector.<name> flag.
import { fdbCollector } from './fdb.js';
import { netdevCollector } from './netdev.js';
import type { Collector } from './types.js';
import { vxlanCollector } from './vxlan.js';

export interface CollectorOptions {
  netdevExtendedStats: boolean;
}

export const DEFAULT_COLLECTOR_OPTIONS: CollectorOptions = { netdevExtendedStats: false };

export function allCollectors(opts: CollectorOptions = DEFAULT_COLLECTOR_OPTIONS): Collector[] {
  return [netdevCollector({ extendedStats: opts.netdevExtendedStats }), fdbCollector, vxlanCollector];
}
