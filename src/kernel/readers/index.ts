// Every namespace reader the exporter has, in the order they run. A new reader
// is a codec (kernel/nl, rtnl, genl), a module here, and a line in this list.
import type { NetnsKind } from '../netns.js';
import { FdbReader } from './fdb.js';
import { IpvsReader } from './ipvs.js';
import type { WatchedTables } from '../watched-tables.js';
import { LinksReader } from './links.js';
import { neighReader } from './neigh.js';
import { neighCountsReader } from './neigh-counts.js';
import { neighTablesReader } from './neigh-tables.js';
import { UdpReader } from './udp.js';
import { addrsReader } from './addrs.js';
import { NEEDS, type Need, type NsReader } from './types.js';

export interface ReaderOptions {
  /** namespace kinds IPVS is read in */
  ipvsKinds?: readonly NetnsKind[];
  /** namespace kinds UDP sockets are read in (default: host, where Docker's VXLAN sockets are) */
  udpKinds?: readonly NetnsKind[];
  /** tables remembered per namespace: counters only where no link changed, no FDB dump where no entry changed (default: full dumps every scrape) */
  watched?: WatchedTables;
}

export function createReaders(opts: ReaderOptions = {}): NsReader[] {
  const readers: NsReader[] = [new LinksReader(opts.watched), new FdbReader(opts.watched), neighReader, new IpvsReader({ kinds: opts.ipvsKinds }),
    neighCountsReader, neighTablesReader, new UdpReader({ kinds: opts.udpKinds }),
    addrsReader];
  return readers.sort((a, b) => NEEDS.indexOf(a.need) - NEEDS.indexOf(b.need));
}

/** The readers that serve `needs`. */
export function readersFor(readers: readonly NsReader[], needs: Iterable<Need>): NsReader[] {
  const wanted = new Set(needs);
  return readers.filter((r) => wanted.has(r.need));
}
