// Neighbour tables: the kernel's global ARP/ND limits and statistics (from the
// host namespace's sample), and each namespace's entries by family and state,
// so an overflowing table can be traced to the namespaces that fill it.
import type { NeighbourCount } from '../kernel/rtnl/neigh.js';
import type { NeighTable } from '../kernel/rtnl/neightbl.js';
import {
  neighbourEntries, neighbourTableEntries, neighbourTableForcedGcRuns, neighbourTableFulls, neighbourTableThreshold,
} from '../metrics/catalog/neighbour.js';
import type { FamilySet, Labels } from '../metrics/family.js';
import { nsLabels } from './labels.js';
import type { Collector, Snapshot } from './types.js';

/** the family label: ipv4 (AF_INET, ARP), ipv6 (AF_INET6, ND); undefined for any other table */
export function familyLabel(af: number): string | undefined {
  return af === 2 ? 'ipv4' : af === 10 ? 'ipv6' : undefined;
}

function collectTables(tables: readonly NeighTable[], out: FamilySet): void {
  for (const t of tables) {
    const family = familyLabel(t.family);
    if (!family) continue;
    if (t.entries !== undefined) out.of(neighbourTableEntries).add({ family }, t.entries);
    const levels: Array<[string, number | undefined]> = [['1', t.thresh1], ['2', t.thresh2], ['3', t.thresh3]];
    for (const [level, v] of levels) if (v !== undefined) out.of(neighbourTableThreshold).add({ family, level }, v);
    // a kernel without ndts_table_fulls (before 4.x) has no such series, rather than a false 0
    if (t.stats.tableFulls !== undefined) out.of(neighbourTableFulls).add({ family }, t.stats.tableFulls);
    if (t.stats.forcedGcRuns !== undefined) out.of(neighbourTableForcedGcRuns).add({ family }, t.stats.forcedGcRuns);
  }
}

function collectCounts(snap: Snapshot, counts: readonly NeighbourCount[], base: Labels, out: FamilySet): void {
  const fam = out.of(neighbourEntries);
  for (const c of counts) {
    const family = familyLabel(c.family);
    // interned: the same label sets every scrape, so their exposition bytes are built once
    if (family) fam.add(snap.interner.extend(base, neighbourEntries.labels, [family, c.state]), c.count);
  }
}

export const neighbourCollector: Collector = {
  name: 'neighbour',
  help: 'kernel neighbour tables (ARP/ND): global gc_thresh1-3, entries, table overflows and forced GCs, and entries per namespace by state',
  defaultEnabled: true,
  needs: ['neighCounts', 'neighTables'],
  collect(snap: Snapshot, out: FamilySet) {
    for (const s of snap.samples) {
      if (s.neighTables) collectTables(s.neighTables, out);
      if (s.neighCounts) collectCounts(snap, s.neighCounts, nsLabels(snap, s), out);
    }
  },
};
