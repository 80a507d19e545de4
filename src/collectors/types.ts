// A collector is a pure projection of one scrape's snapshot into metric
// families. Reading the kernel and Docker happens once, before any collector runs.
import type { NsSample } from '../kernel/sampler.js';
import type { FamilySet } from '../metrics/family.js';
import type { NameIndex } from '../names.js';
import type { VethPeers } from '../kernel/veth.js';

export interface Snapshot {
  samples: NsSample[];
  /** the same samples by namespace label */
  byNetns: Map<string, NsSample>;
  names: NameIndex;
  /** veth pairs across the namespaces of this snapshot */
  peers: VethPeers;
  /** per-source extras (docker state, control plane, ...) keyed by source name */
  extra: Map<string, unknown>;
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
  collect(snapshot: Snapshot, out: FamilySet): void;
}
