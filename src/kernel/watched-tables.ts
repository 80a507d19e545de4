// A namespace's link table and bridge FDB change rarely (a task starts or
// stops, a network comes or goes, a peer joins) while its counters change all
// the time. So the full RTM_GETLINK dump (names, kinds, masters, peers, VXLAN
// parameters and counters: most of a scrape's kernel time and bytes) is made
// only when a link changed, and otherwise RTM_GETSTATS brings the counters
// alone; the FDB is dumped again only when an entry (or a link) changed.
//
// What says "changed" is a watch: a netlink socket made in the namespace,
// subscribed to its link and FDB notifications (native.ts NsWatch). A socket
// keeps its namespace alive, so a watch is closed as soon as its namespace is
// gone: the moment its file is removed (inotify on the directory), within a
// second of its unmounting (Docker unmounts first and removes the file up to a
// minute later; an unmount tells inotify nothing, so every watched file is
// checked each second), and at the end of every scrape that did not read it.
import { type FSWatcher, statSync, watch as watchDir } from 'node:fs';
import { dirname } from 'node:path';
import type { NetlinkSessions, NsWatch } from './native.js';
import type { NetnsRef } from './netns.js';
import type { Link, LinkStats } from './rtnl/link.js';
import type { Neighbour } from './rtnl/neigh.js';

/** watchChanges() bits */
const LINKS_CHANGED = 1;
const FDB_CHANGED = 2;

interface Entry {
  path: string | null;
  /** the namespace's inode number when the watch was made: the file now naming another namespace is not this one */
  ino: number;
  watch: NsWatch;
  /** the links of the last full dump, without counters */
  facts: Link[];
  /** the FDB entries of the last dump (as the fdb reader keeps them), if any */
  fdb?: Neighbour[];
  /** the scrape that last read this namespace */
  gen: number;
  /** what changed since the scrape before, asked of every watch at once when the scrape starts */
  changes: number;
}

export type NsWatches = Pick<NetlinkSessions, 'watchChanges' | 'closeWatch'>;

export interface WatchedTablesOptions {
  /** how often the files of watched namespaces are checked (ms); 0: only at the end of each scrape */
  checkIntervalMs?: number;
}

export class WatchedTables {
  private readonly entries = new Map<string, Entry>();
  private gen = 0;
  private enabled: boolean;
  private timer?: NodeJS.Timeout;
  /** inotify on each directory holding a watched namespace file */
  private readonly dirs = new Map<string, FSWatcher>();
  /** a check is already due: a burst of files made or removed runs one */
  private checkDue = false;
  /** since start: link tables read in full and as counters only; FDBs dumped and taken as remembered */
  readonly reads = { linksFull: 0, linksCounters: 0, fdbFull: 0, fdbRemembered: 0 };

  constructor(private readonly native: NsWatches, private readonly opts: WatchedTablesOptions = {}) {
    // an addon without watches (the test replay) reads every namespace in full, as before
    this.enabled = typeof native.watchChanges === 'function' && typeof native.closeWatch === 'function';
  }

  /** Once per scrape, before any namespace is read: what changed where since the last one. */
  nextScrape(): void {
    this.gen++;
    if (this.entries.size === 0) return;
    const entries = [...this.entries.values()];
    const changes = this.native.watchChanges!(entries.map((e) => e.watch));
    entries.forEach((e, i) => { e.changes = changes[i]!; });
  }

  /** Whether this scrape reads the namespace's links in full (else counters only). */
  linksInFull(ref: Pick<NetnsRef, 'path'>): boolean {
    const e = this.entries.get(keyOf(ref));
    return !e || (e.changes & LINKS_CHANGED) !== 0;
  }

  /** Whether this scrape dumps the namespace's FDB (else its remembered entries stand). */
  fdbDumped(ref: Pick<NetnsRef, 'path'>): boolean {
    const e = this.entries.get(keyOf(ref));
    // the fdb reader keeps entries by link kind: a link change may change what it keeps
    return !e?.fdb || (e.changes & (LINKS_CHANGED | FDB_CHANGED)) !== 0;
  }

  /** Whether entering the namespace should make a watch: it has none yet. */
  wantsWatch(ref: Pick<NetnsRef, 'path'>): boolean {
    return this.enabled && !this.entries.has(keyOf(ref));
  }

  /**
   * The links of a full dump, remembered with the watch made on this entry (if
   * any) for the scrapes after it. `ino` is the namespace's the session is in.
   */
  rememberLinks(ref: Pick<NetnsRef, 'path'>, ino: number | undefined, newWatch: NsWatch | undefined, links: readonly Link[]): void {
    this.reads.linksFull++;
    const key = keyOf(ref);
    const old = this.entries.get(key);
    // the file names another namespace than the watched one: that watch says nothing about this one
    if (old && old.ino !== ino) this.forget(key);
    const current = this.entries.get(key);
    if (current) {
      current.facts = links.map(withoutStats);
      current.gen = this.gen;
      return;
    }
    if (!newWatch) return;
    if (!this.enabled || ino === undefined) {
      this.native.closeWatch?.(newWatch);
      return;
    }
    this.entries.set(key, { path: ref.path, ino, watch: newWatch, facts: links.map(withoutStats), gen: this.gen, changes: 0 });
    this.startChecking(ref.path);
  }

  /**
   * The remembered links with these counters; undefined when they do not fit
   * (another namespace behind the file, or the interfaces differ): the caller
   * then reads the links in full.
   */
  withStats(ref: Pick<NetnsRef, 'path'>, ino: number | undefined, stats: ReadonlyMap<number, LinkStats>): Link[] | undefined {
    const key = keyOf(ref);
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.ino !== ino) {
      this.forget(key);
      return undefined;
    }
    if (stats.size !== e.facts.length) return undefined;
    const out: Link[] = new Array(e.facts.length);
    for (let i = 0; i < e.facts.length; i++) {
      const fact = e.facts[i]!;
      const s = stats.get(fact.index);
      if (!s) return undefined;
      out[i] = { ...fact, stats: s };
    }
    e.gen = this.gen;
    this.reads.linksCounters++;
    return out;
  }

  /** The FDB entries of a dump made this scrape, kept for the scrapes after it while nothing changes. */
  rememberFdb(ref: Pick<NetnsRef, 'path'>, ino: number | undefined, fdb: Neighbour[]): void {
    this.reads.fdbFull++;
    const e = this.entries.get(keyOf(ref));
    if (e && e.ino === ino) e.fdb = fdb;
  }

  /** The remembered FDB entries, when fdbDumped() said no dump was needed and the session is in the watched namespace. */
  rememberedFdb(ref: Pick<NetnsRef, 'path'>, ino: number | undefined): Neighbour[] | undefined {
    const e = this.entries.get(keyOf(ref));
    if (!e?.fdb || e.ino !== ino) return undefined;
    this.reads.fdbRemembered++;
    return e.fdb;
  }

  /** The kernel refused RTM_GETSTATS: read every namespace in full from now on. */
  disable(): void {
    this.enabled = false;
    this.close();
  }

  /** After a scrape: close the watches of namespaces it did not read (gone, failed, filtered out). */
  retainRead(): void {
    for (const [key, e] of this.entries) if (e.gen !== this.gen) this.forget(key);
  }

  /** Close the watches of namespaces whose file is gone or names another namespace now. */
  checkFiles(): void {
    for (const [key, e] of this.entries) {
      if (e.path === null) continue;
      let ino: number | undefined;
      try {
        ino = statSync(e.path, { throwIfNoEntry: false })?.ino;
      } catch {
        ino = undefined;
      }
      if (ino !== e.ino) this.forget(key);
    }
  }

  /** watches open now */
  get size(): number {
    return this.entries.size;
  }

  close(): void {
    for (const key of [...this.entries.keys()]) this.forget(key);
  }

  private forget(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    this.native.closeWatch!(e.watch);
    if (this.entries.size === 0) this.stopChecking();
  }

  private startChecking(path: string | null): void {
    const every = this.opts.checkIntervalMs ?? 1000;
    if (every <= 0) return;
    if (!this.timer) {
      this.timer = setInterval(() => this.checkFiles(), every);
      this.timer.unref();
    }
    const dir = path === null ? undefined : dirname(path);
    if (dir === undefined || this.dirs.has(dir)) return;
    try {
      // a removal shows at once; the timer covers unmounts, and a directory inotify cannot watch
      const watcher = watchDir(dir, { persistent: false }, (event) => { if (event === 'rename') this.checkSoon(); });
      watcher.on('error', () => { watcher.close(); this.dirs.delete(dir); });
      this.dirs.set(dir, watcher);
    } catch {
      // no inotify here (limits, filesystem): the timer alone
    }
  }

  private checkSoon(): void {
    if (this.checkDue) return;
    this.checkDue = true;
    setImmediate(() => {
      this.checkDue = false;
      this.checkFiles();
    });
  }

  private stopChecking(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const w of this.dirs.values()) w.close();
    this.dirs.clear();
  }
}

const keyOf = (ref: Pick<NetnsRef, 'path'>): string => ref.path ?? '';

// the same shape as a decoded link (so spreading it keeps one hidden class), counters left out
const withoutStats = (l: Link): Link => ({ ...l, stats: undefined });
