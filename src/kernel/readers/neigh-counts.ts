// ARP and ND entries of a namespace by family and state: one RTM_GETNEIGH dump
// over AF_UNSPEC (both tables), in every namespace, counted from the fixed
// headers. The table limits are global: this is where the entries come from.
import { NETLINK_ROUTE, type NlMessage } from '../nl/message.js';
import { AF_UNSPEC, type NeighbourCount, countNeighbours, getNeighRequest } from '../rtnl/neigh.js';
import { allocSeq } from '../session.js';
import { type NsReader, messagesOf } from './types.js';

const WHAT = 'RTM_GETNEIGH(unspec)';

export const neighCountsReader: NsReader<'neighCounts'> = {
  need: 'neighCounts',
  protocol: NETLINK_ROUTE,
  applies: () => true,
  requests() {
    const seq = allocSeq();
    return [{ protocol: NETLINK_ROUTE, seq, message: getNeighRequest(seq, AF_UNSPEC), what: WHAT }];
  },
  complete(replies: Array<NlMessage[] | Error>): NeighbourCount[] {
    return countNeighbours(messagesOf(replies[0], WHAT));
  },
};
