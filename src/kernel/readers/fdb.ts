// Bridge forwarding databases and VXLAN devices' own entries: RTM_GETNEIGH
// over AF_BRIDGE, in every namespace.
import { NETLINK_ROUTE, type NlMessage } from '../nl/message.js';
import { AF_BRIDGE, NTF_SELF, type Neighbour, decodeNeighbours, getNeighRequest } from '../rtnl/neigh.js';
import { allocSeq } from '../session.js';
import { type CompleteContext, type NsReader, messagesOf } from './types.js';

const WHAT = 'RTM_GETNEIGH(bridge)';

export const fdbReader: NsReader<'fdb'> = {
  need: 'fdb',
  protocol: NETLINK_ROUTE,
  applies: () => true,
  requests() {
    const seq = allocSeq();
    return [{ protocol: NETLINK_ROUTE, seq, message: getNeighRequest(seq, AF_BRIDGE), what: WHAT }];
  },
  complete(replies: Array<NlMessage[] | Error>, ctx: CompleteContext): Neighbour[] {
    // a device's own (NTF_SELF) address list matters only on vxlan devices, where it holds the remote VTEPs:
    // skip the rest before decoding (a veth's own list is one entry per port and nobody reads it)
    const vxlans = new Set(ctx.sample.links.filter((l) => l.kind === 'vxlan').map((l) => l.index));
    return decodeNeighbours(messagesOf(replies[0], WHAT), (ifindex, flags) => (flags & NTF_SELF) === 0 || vxlans.has(ifindex));
  },
};
