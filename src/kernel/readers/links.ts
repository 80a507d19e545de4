// Interfaces, in every namespace: a full RTM_GETLINK dump, or, where a
// namespace's watch says its links have not changed since the last full dump,
// only their counters (RTM_GETSTATS) put on the links remembered from it.
import type { WatchedTables } from '../watched-tables.js';
import type { NetnsRef } from '../netns.js';
import { DumpInterruptedError, NETLINK_ROUTE, NetlinkError, type NlMessage } from '../nl/message.js';
import { type Link, decodeLinkStats, decodeLinks, getLinkRequest, getLinkStatsRequest } from '../rtnl/link.js';
import { type NsSession, allocSeq } from '../session.js';
import type { FamilySet } from '../../metrics/family.js';
import { tableReads } from '../../metrics/catalog/self.js';
import { type CompleteContext, type NsReader, type ScrapeData, messagesOf } from './types.js';

const FULL = 'RTM_GETLINK';
const STATS = 'RTM_GETSTATS';

export class LinksReader implements NsReader<'links'> {
  readonly need = 'links';
  readonly protocol = NETLINK_ROUTE;

  /** without a WatchedTables: a full dump every time */
  constructor(private readonly tables?: WatchedTables) {}

  applies(): boolean {
    return true;
  }

  prepare(): Promise<Partial<ScrapeData>> {
    this.tables?.nextScrape();
    return Promise.resolve({});
  }

  afterScrape(): void {
    this.tables?.retainRead();
  }

  watch(ref: NetnsRef): boolean {
    return this.tables?.wantsWatch(ref) ?? false;
  }

  requests(ref: NetnsRef) {
    const seq = allocSeq();
    if (this.tables && !this.tables.linksInFull(ref)) return [{ protocol: NETLINK_ROUTE, seq, message: getLinkStatsRequest(seq), what: STATS }];
    return [{ protocol: NETLINK_ROUTE, seq, message: getLinkRequest(seq), what: FULL }];
  }

  async complete(replies: Array<NlMessage[] | Error>, ctx: CompleteContext): Promise<Link[]> {
    const tables = this.tables;
    const { session, ref } = ctx;
    if (!tables || tables.linksInFull(ref)) {
      const links = decodeLinks(messagesOf(replies[0], FULL));
      tables?.rememberLinks(ref, session.ino, session.takeWatch(), links);
      return links;
    }
    const reply = replies[0];
    if (reply instanceof NetlinkError) {
      // a kernel without RTM_GETSTATS (before 4.7) refuses the message type: every namespace in full from now on
      if (reply.code === 'EOPNOTSUPP' || reply.code === 'EINVAL') tables.disable();
      return fullDump(session);
    }
    const links = tables.withStats(ref, session.ino, decodeLinkStats(messagesOf(reply, STATS)));
    if (links) return links;
    // the interfaces are not the remembered ones (a change raced the watch, or another namespace is behind the file)
    const fresh = await fullDump(session);
    tables.rememberLinks(ref, session.ino, undefined, fresh);
    return fresh;
  }

  report(out: FamilySet): void {
    if (!this.tables) return;
    const f = out.of(tableReads);
    f.add({ table: 'links', read: 'full' }, this.tables.reads.linksFull);
    f.add({ table: 'links', read: 'counters_only' }, this.tables.reads.linksCounters);
  }
}

/** The full link dump over an open session, asked once more if a change interrupted it. */
async function fullDump(session: NsSession): Promise<Link[]> {
  for (let attempt = 0; ; attempt++) {
    const seq = allocSeq();
    const [reply] = await session.exchange([{ protocol: NETLINK_ROUTE, seq, message: getLinkRequest(seq), what: FULL }]);
    if (reply instanceof DumpInterruptedError && attempt === 0) continue;
    return decodeLinks(messagesOf(reply, FULL));
  }
}

/** Full dumps only: for one-off reads (the prober, the CLI). */
export const linksReader: NsReader<'links'> = new LinksReader();
