// Interfaces: RTM_GETLINK dump, in every namespace.
import type { NetnsRef } from '../netns.js';
import { NETLINK_ROUTE, type NlMessage } from '../nl/message.js';
import { type Link, decodeLinks, getLinkRequest } from '../rtnl/link.js';
import { allocSeq } from '../session.js';
import { type NsReader, messagesOf } from './types.js';

export const linksReader: NsReader<'links'> = {
  need: 'links',
  protocol: NETLINK_ROUTE,
  applies: () => true,
  requests(_ref: NetnsRef) {
    const seq = allocSeq();
    return [{ protocol: NETLINK_ROUTE, seq, message: getLinkRequest(seq), what: 'RTM_GETLINK' }];
  },
  complete(replies: Array<NlMessage[] | Error>): Link[] {
    return decodeLinks(messagesOf(replies[0], 'RTM_GETLINK'));
  },
};
