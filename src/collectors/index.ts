// Every collector the exporter knows, each with its own --[no-]collector.<name> flag.
import { fdbCollector } from './fdb.js';
import { netdevCollector } from './netdev.js';
import type { Collector } from './types.js';
import { vxlanCollector } from './vxlan.js';

export const ALL_COLLECTORS: Collector[] = [netdevCollector, fdbCollector, vxlanCollector];
