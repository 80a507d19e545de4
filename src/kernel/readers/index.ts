// Every namespace reader the exporter has, in the order they run. A new reader
// is a codec (kernel/nl, rtnl, genl), a module here, and a line in this list.
import type { NetnsKind } from '../netns.js';
import { fdbReader } from './fdb.js';
import { IpvsReader } from './ipvs.js';
import type { LinkFactsCache } from '../link-facts.js';
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
  /** remembered link tables: counters only where the links did not change (default: a full link dump every scrape) */
  linkFacts?: LinkFactsCache;
}

export function createReaders(opts: ReaderOptions = {}): NsReader[] {
  const readers: NsReader[] = [new LinksReader(opts.linkFacts), fdbReader, neighReader, new IpvsReader({ kinds: opts.ipvsKinds }),
    neighCountsReader, neighTablesReader, new UdpReader({ kinds: opts.udpKinds }),
    addrsReader];
  return readers.sort((a, b) => NEEDS.indexOf(a.need) - NEEDS.indexOf(b.need));
}

/** The readers that serve `needs`. */
export function readersFor(readers: readonly NsReader[], needs: Iterable<Need>): NsReader[] {
  const wanted = new Set(needs);
  return readers.filter((r) => wanted.has(r.need));
}
