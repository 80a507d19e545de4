// UDP sockets of a namespace over sock_diag (IPv4 and IPv6 dumps with
// INET_DIAG_SKMEMINFO: receive queue, buffer, drops), and the namespace's UDP
// counters (RcvbufErrors, InErrors) where its /proc snmp file is known. Docker
// creates the VXLAN devices in the host namespace before moving them into the
// overlay namespaces, so the kernel's VXLAN UDP sockets live in the host
// namespace: it is the one read by default.
import { AF_INET, AF_INET6, IPPROTO_UDP, type InetSocket, NETLINK_SOCK_DIAG, decodeInetSockets, getInetSocketsRequest } from '../diag/inet.js';
import type { NetnsKind, NetnsRef } from '../netns.js';
import type { NlMessage } from '../nl/message.js';
import { type UdpSnmp, readUdpSnmp } from '../proc-snmp.js';
import { type NlRequest, allocSeq } from '../session.js';
import { type CompleteContext, type NsReader, messagesOf } from './types.js';

export const DEFAULT_UDP_KINDS: readonly NetnsKind[] = ['host'];

export interface UdpNsResult {
  sockets: InetSocket[];
  /** the namespace's Udp: counters; undefined where no /proc file shows this namespace */
  snmp?: UdpSnmp;
}

const WHAT = ['SOCK_DIAG_BY_FAMILY(inet, udp)', 'SOCK_DIAG_BY_FAMILY(inet6, udp)'];

export class UdpReader implements NsReader<'udp'> {
  readonly need = 'udp';
  readonly protocol = NETLINK_SOCK_DIAG;
  private readonly kinds: ReadonlySet<NetnsKind>;

  constructor(opts: { kinds?: readonly NetnsKind[] } = {}) {
    this.kinds = new Set(opts.kinds ?? DEFAULT_UDP_KINDS);
  }

  applies(ref: NetnsRef): boolean {
    return this.kinds.has(ref.kind);
  }

  requests(): NlRequest[] {
    return [AF_INET, AF_INET6].map((family, i) => {
      const seq = allocSeq();
      return { protocol: NETLINK_SOCK_DIAG, seq, message: getInetSocketsRequest(seq, family, IPPROTO_UDP), what: WHAT[i]! };
    });
  }

  async complete(replies: Array<NlMessage[] | Error>, ctx: CompleteContext): Promise<UdpNsResult> {
    const sockets = replies.flatMap((r, i) => decodeInetSockets(messagesOf(r, WHAT[i]!)));
    let snmp: UdpSnmp | undefined;
    try {
      snmp = await readUdpSnmp(ctx.ref.path);
    } catch {
      // the process behind a /proc/<pid>/ns/net path exited: no counters this time, the sockets stand
    }
    return { sockets, snmp };
  }
}
