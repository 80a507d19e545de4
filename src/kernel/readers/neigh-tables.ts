// The kernel's neighbour tables (ARP, ND): gc_thresh1-3, entries and statistics,
// one RTM_GETNEIGHTBL dump. They are global (every namespace's entries count
// against the same limits), so they are read in the host namespace only.
import type { NetnsRef } from '../netns.js';
import { NETLINK_ROUTE, type NlMessage } from '../nl/message.js';
import { type NeighTable, decodeNeighTables, getNeighTableRequest } from '../rtnl/neightbl.js';
import { allocSeq } from '../session.js';
import { type NsReader, messagesOf } from './types.js';

const WHAT = 'RTM_GETNEIGHTBL';

export const neighTablesReader: NsReader<'neighTables'> = {
  need: 'neighTables',
  protocol: NETLINK_ROUTE,
  applies: (ref: NetnsRef) => ref.kind === 'host',
  requests() {
    const seq = allocSeq();
    return [{ protocol: NETLINK_ROUTE, seq, message: getNeighTableRequest(seq), what: WHAT }];
  },
  complete(replies: Array<NlMessage[] | Error>): NeighTable[] {
    return decodeNeighTables(messagesOf(replies[0], WHAT));
  },
};
