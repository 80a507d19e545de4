// IPv4 neighbours: RTM_GETNEIGH over AF_INET, in overlay namespaces, where the
// VXLAN device's permanent entries map remote endpoints to their MACs.
import type { NetnsRef } from '../netns.js';
import { NETLINK_ROUTE, type NlMessage } from '../nl/message.js';
import { AF_INET, type Neighbour, decodeNeighbours, getNeighRequest } from '../rtnl/neigh.js';
import { allocSeq } from '../session.js';
import { type NsReader, messagesOf } from './types.js';

const WHAT = 'RTM_GETNEIGH(inet)';

export const neighReader: NsReader<'neigh'> = {
  need: 'neigh',
  protocol: NETLINK_ROUTE,
  applies: (ref: NetnsRef) => ref.kind === 'overlay',
  requests() {
    const seq = allocSeq();
    return [{ protocol: NETLINK_ROUTE, seq, message: getNeighRequest(seq, AF_INET), what: WHAT }];
  },
  complete(replies: Array<NlMessage[] | Error>): Neighbour[] {
    return decodeNeighbours(messagesOf(replies[0], WHAT));
  },
};
