// A collector is a pure projection of one scrape's snapshot into metric
// families. It declares what it needs read from each namespace; reading the
// kernel and Docker happens once, before any collector runs.
import type { DockerView } from '../docker/cache.js';
import type { NsSample, Need, ScrapeData } from '../kernel/readers/types.js';
import type { VethPeers } from '../kernel/veth.js';
import type { FamilySet } from '../metrics/family.js';
import type { LabelInterner } from '../metrics/intern.js';
import type { NameIndex } from '../names.js';

export interface Snapshot {
  /** namespaces that were read and pass the network filters */
  samples: NsSample[];
  /** every namespace that was read, by label (filtered ones included: veth peers may live there) */
  byNetns: Map<string, NsSample>;
  /** the swarm names of kernel objects: the one place collectors take names from */
  names: NameIndex;
  /** veth pairs across the namespaces of this snapshot */
  peers: VethPeers;
  /** the Docker state cache's view; undefined when the Docker source is off */
  docker?: DockerView;
  /** what readers learned once for the whole scrape (IPVS availability) */
  kernel: Partial<ScrapeData>;
  /** the scraper's label interner: label sets that repeat across scrapes are built once */
  interner: LabelInterner;
}

/** Thrown by a collector whose source is absent here (e.g. no IPVS): logged at debug, not an error. */
export class NoDataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NoDataError';
  }
}

export interface Collector {
  /** flag --collector.<name> / --no-collector.<name> */
  name: string;
  help: string;
  defaultEnabled: boolean;
  /** what the sampler must read in each namespace for this collector */
  needs: readonly Need[];
  collect(snapshot: Snapshot, out: FamilySet): void;
}
