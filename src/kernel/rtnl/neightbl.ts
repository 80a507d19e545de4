// rtnetlink neighbour tables (RTM_GETNEIGHTBL dump): the kernel's ARP (arp_cache)
// and ND (ndisc_cache) tables with their garbage-collection thresholds, the
// entry count and the statistics (linux/neighbour.h: struct ndtmsg, NDTA_*,
// struct ndt_config, struct ndt_stats). The thresholds, the entry count and the
// statistics are the table's, shared by every network namespace; the dump also
// carries one message per device's parameters (no NDTA_CONFIG), skipped here.
import { AttrReader, DecodeError, viewOf } from '../nl/attr.js';
import { NLM_F_DUMP, NLM_F_REQUEST, encodeMessage, type NlMessage } from '../nl/message.js';

export const RTM_NEWNEIGHTBL = 64;
export const RTM_GETNEIGHTBL = 66;

const NDTA_NAME = 1;
const NDTA_THRESH1 = 2;
const NDTA_THRESH2 = 3;
const NDTA_THRESH3 = 4;
const NDTA_CONFIG = 5;
const NDTA_STATS = 7;
const NDTA_GC_INTERVAL = 8;

/** struct ndtmsg: family, pad1, pad2 */
const NDTMSG_LEN = 4;
/** struct ndt_config up to ndtc_entries (key_len u16, entry_size u16, entries u32) */
const NDT_CONFIG_MIN = 8;

/** struct ndt_stats, in order; ndts_table_fulls came last (Linux 4.x), absent on older kernels */
export const NDT_STATS = [
  'allocs', 'destroys', 'hashGrows', 'resFailed', 'lookups', 'hits', 'rcvProbesMcast', 'rcvProbesUcast',
  'periodicGcRuns', 'forcedGcRuns', 'tableFulls',
] as const;
export type NeighTableStatName = typeof NDT_STATS[number];

export interface NeighTable {
  /** AF_INET (arp_cache), AF_INET6 (ndisc_cache) */
  family: number;
  name: string;
  /** gc_thresh1: below it the periodic GC leaves entries alone */
  thresh1?: number;
  /** gc_thresh2: above it for 5 s, a forced GC runs */
  thresh2?: number;
  /** gc_thresh3: the hard limit; an entry that cannot be made room for is a "table full" */
  thresh3?: number;
  gcIntervalMs?: number;
  /** ndtc_entries: entries in the table, every namespace's (permanent ones included) */
  entries?: number;
  stats: Partial<Record<NeighTableStatName, number>>;
}

export function getNeighTableRequest(seq: number, family = 0): Uint8Array {
  const ndtmsg = new Uint8Array(NDTMSG_LEN);
  ndtmsg[0] = family;
  return encodeMessage(RTM_GETNEIGHTBL, NLM_F_REQUEST | NLM_F_DUMP, seq, [ndtmsg]);
}

/** One table's own message; undefined for a per-device parameters message (no NDTA_CONFIG). */
export function decodeNeighTable(msg: NlMessage): NeighTable | undefined {
  const p = msg.payload;
  if (p.length < NDTMSG_LEN) throw new DecodeError(`neighbour table message of ${p.length} bytes`);
  const t: NeighTable = { family: p[0]!, name: '', stats: {} };
  let hasConfig = false;
  const r = new AttrReader(p, NDTMSG_LEN);
  while (r.next()) {
    switch (r.type) {
      case NDTA_NAME: t.name = r.str(); break;
      case NDTA_THRESH1: t.thresh1 = r.u32(); break;
      case NDTA_THRESH2: t.thresh2 = r.u32(); break;
      case NDTA_THRESH3: t.thresh3 = r.u32(); break;
      case NDTA_GC_INTERVAL: t.gcIntervalMs = Number(r.u64()); break;
      case NDTA_CONFIG: {
        const b = r.bytes();
        if (b.length < NDT_CONFIG_MIN) throw new DecodeError(`neighbour table ${t.name}: ndt_config of ${b.length} bytes`);
        t.entries = viewOf(b).getUint32(b.byteOffset + 4, true);
        hasConfig = true;
        break;
      }
      case NDTA_STATS: {
        // u64s; exact to 2^53, as a Prometheus sample holds them
        const v = r.u64sAsNumbers(NDT_STATS.length - 1);
        if (v) NDT_STATS.forEach((name, i) => { if (i < v.length) t.stats[name] = v[i]!; });
        break;
      }
    }
  }
  if (r.err) throw new DecodeError(`neighbour table ${t.name || `of family ${t.family}`}: ${r.err.message}`);
  return hasConfig ? t : undefined;
}

export function decodeNeighTables(msgs: NlMessage[]): NeighTable[] {
  const out: NeighTable[] = [];
  for (const m of msgs) {
    if (m.type !== RTM_NEWNEIGHTBL) continue;
    const t = decodeNeighTable(m);
    if (t) out.push(t);
  }
  return out;
}
