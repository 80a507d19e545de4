// Families of the kernel's neighbour tables (ARP for IPv4, ND for IPv6): the
// global limits and statistics, and each namespace's share of the entries.
import { metric } from '../family.js';
import { NS_LABELS } from './kernel.js';

export const neighbourTableEntries = metric('swarmnet_neighbour_table_entries', 'gauge',
  'Entries in the kernel neighbour table (ARP for family="ipv4", ND for "ipv6"), all namespaces together, permanent ones included. From NDTA_CONFIG ndtc_entries (RTM_GETNEIGHTBL, read in the host namespace).',
  ['family']);
export const neighbourTableThreshold = metric('swarmnet_neighbour_table_threshold', 'gauge',
  'Garbage-collection thresholds of the kernel neighbour table (net.ipv4/ipv6.neigh.default.gc_thresh1-3): level="3" is the hard limit, above level="2" for 5 s entries are forcibly collected, below level="1" never. Global to all namespaces. From NDTA_THRESH1-3.',
  ['family', 'level']);
export const neighbourTableFulls = metric('swarmnet_neighbour_table_fulls_total', 'counter',
  'Times a new neighbour entry could not be created because the table was at gc_thresh3 and a forced collection freed nothing ("neighbour table overflow", moby#32195): packets to that neighbour are dropped. From NDTA_STATS ndts_table_fulls.',
  ['family']);
export const neighbourTableForcedGcRuns = metric('swarmnet_neighbour_table_forced_gc_runs_total', 'counter',
  'Forced garbage collections of the neighbour table (entries over gc_thresh2, or at gc_thresh3). From NDTA_STATS ndts_forced_gc_runs.',
  ['family']);
export const neighbourEntries = metric('swarmnet_neighbour_entries', 'gauge',
  'ARP (family="ipv4") and ND (family="ipv6") entries in the namespace, by state (reachable, stale, delay, probe, incomplete, failed, noarp, permanent, none); only the states present are exported. From an RTM_GETNEIGH dump.',
  [...NS_LABELS, 'family', 'state']);
