// The one way tests build a scrape's snapshot by hand (collectors are pure
// projections of it): samples from captured kernel data, names and Docker view
// from captured API state.
import type { Snapshot } from '../../src/collectors/types.js';
import type { DockerView } from '../../src/docker/cache.js';
import type { DockerState } from '../../src/docker/state.js';
import type { NetnsRef } from '../../src/kernel/netns.js';
import type { NsSample, ScrapeData } from '../../src/kernel/readers/types.js';
import { pairVeths } from '../../src/kernel/veth.js';
import { LabelInterner } from '../../src/metrics/intern.js';
import { EMPTY_NAMES, type NameIndex } from '../../src/names.js';

export const sampleOf = (ref: NetnsRef, data: Partial<Omit<NsSample, 'ref'>> = {}): NsSample =>
  ({ ref, links: [], fdb: [], neigh: [], durationSeconds: 0, ...data });

/** A Docker view that answers, over `state`. */
export const dockerViewOf = (state: DockerState, view: Partial<DockerView> = {}): DockerView =>
  ({ up: true, target: 'unix:///fixture.sock', state, lastSuccessAt: Date.now(), lastRefreshSeconds: 0.01, errors: new Map(), ...view });

export interface SnapshotParts {
  names?: NameIndex;
  docker?: DockerView;
  kernel?: Partial<ScrapeData>;
  interner?: LabelInterner;
}

export function snapshotOf(samples: NsSample[], parts: SnapshotParts = {}): Snapshot {
  const interner = parts.interner ?? new LabelInterner();
  interner.nextGeneration();
  return {
    samples,
    byNetns: new Map(samples.map((s) => [s.ref.name, s])),
    names: parts.names ?? EMPTY_NAMES,
    peers: pairVeths(samples),
    docker: parts.docker,
    kernel: parts.kernel ?? {},
    interner,
  };
}
