// Bridge forwarding databases and VXLAN devices' own entries: RTM_GETNEIGH
// over AF_BRIDGE, in every namespace.
// Where the namespace's watch says no entry and no link changed since the last
// dump, that dump's entries stand and nothing is asked.
import type { NetnsRef } from '../netns.js';
import { DumpInterruptedError, NETLINK_ROUTE, type NlMessage } from '../nl/message.js';
import { AF_BRIDGE, NTF_SELF, type Neighbour, decodeNeighbours, getNeighRequest } from '../rtnl/neigh.js';
import { type NlRequest, allocSeq } from '../session.js';
import type { WatchedTables } from '../watched-tables.js';
import type { FamilySet } from '../../metrics/family.js';
import { tableReads } from '../../metrics/catalog/self.js';
import { type CompleteContext, type NsReader, messagesOf } from './types.js';

const WHAT = 'RTM_GETNEIGH(bridge)';

function dumpRequest(): NlRequest {
  const seq = allocSeq();
  return { protocol: NETLINK_ROUTE, seq, message: getNeighRequest(seq, AF_BRIDGE), what: WHAT };
}

export class FdbReader implements NsReader<'fdb'> {
  readonly need = 'fdb';
  readonly protocol = NETLINK_ROUTE;

  /** without a WatchedTables: a dump every time */
  constructor(private readonly tables?: WatchedTables) {}

  applies(): boolean {
    return true;
  }

  requests(ref: NetnsRef): NlRequest[] {
    return this.tables && !this.tables.fdbDumped(ref) ? [] : [dumpRequest()];
  }

  async complete(replies: Array<NlMessage[] | Error>, ctx: CompleteContext): Promise<Neighbour[]> {
    const { tables } = this;
    if (replies.length === 0) {
      // nothing asked: the remembered entries, unless the namespace behind the file turned out not to be the watched one
      const remembered = tables?.rememberedFdb(ctx.ref, ctx.session.ino);
      if (remembered) return remembered;
      replies = await ctx.session.exchange([dumpRequest()]);
      if (replies[0] instanceof DumpInterruptedError) replies = await ctx.session.exchange([dumpRequest()]);
    }
    // a device's own (NTF_SELF) address list matters only on vxlan devices, where it holds the remote VTEPs:
    // skip the rest before decoding (a veth's own list is one entry per port and nobody reads it)
    const vxlans = new Set(ctx.sample.links.filter((l) => l.kind === 'vxlan').map((l) => l.index));
    const fdb = decodeNeighbours(messagesOf(replies[0], WHAT), (ifindex, flags) => (flags & NTF_SELF) === 0 || vxlans.has(ifindex));
    tables?.rememberFdb(ctx.ref, ctx.session.ino, fdb);
    return fdb;
  }

  report(out: FamilySet): void {
    if (!this.tables) return;
    const f = out.of(tableReads);
    f.add({ table: 'fdb', read: 'full' }, this.tables.reads.fdbFull);
    f.add({ table: 'fdb', read: 'remembered' }, this.tables.reads.fdbRemembered);
  }
}

/** A dump every time: for one-off reads. */
export const fdbReader: NsReader<'fdb'> = new FdbReader();
