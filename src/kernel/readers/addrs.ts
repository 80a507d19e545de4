// Interface addresses of the host namespace (RTM_GETADDR dump): where the
// VXLAN tunnels' local address lives, i.e. the underlay interface and its MTU.
import type { NetnsRef } from '../netns.js';
import { NETLINK_ROUTE, type NlMessage } from '../nl/message.js';
import { type IfAddress, decodeAddrs, getAddrRequest } from '../rtnl/addr.js';
import { allocSeq } from '../session.js';
import { type NsReader, messagesOf } from './types.js';

const WHAT = 'RTM_GETADDR';

export const addrsReader: NsReader<'addrs'> = {
  need: 'addrs',
  protocol: NETLINK_ROUTE,
  applies: (ref: NetnsRef) => ref.kind === 'host',
  requests() {
    const seq = allocSeq();
    return [{ protocol: NETLINK_ROUTE, seq, message: getAddrRequest(seq), what: WHAT }];
  },
  complete(replies: Array<NlMessage[] | Error>): IfAddress[] {
    return decodeAddrs(messagesOf(replies[0], WHAT));
  },
};
