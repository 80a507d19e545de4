// UDP sockets of a namespace over sock_diag (IPv4 and IPv6 dumps with
// INET_DIAG_SKMEMINFO: receive queue, buffer, drops), and the namespace's UDP
// counters (RcvbufErrors, InErrors) from /proc/thread-self/net/snmp, read by the
// addon on the pool thread that entered the namespace (no second entry). Docker
// creates the VXLAN devices in the host namespace before moving them into the
// overlay namespaces, so the kernel's VXLAN UDP sockets live in the host
// namespace: it is the one read by default.
import { AF_INET, AF_INET6, IPPROTO_UDP, type InetSocket, NETLINK_SOCK_DIAG, decodeInetSockets, getInetSocketsRequest } from '../diag/inet.js';
import type { NetnsKind, NetnsRef } from '../netns.js';
import type { NlMessage } from '../nl/message.js';
import { SNMP_FILE, type UdpSnmp, parseSnmp } from '../proc-snmp.js';
import { type NlRequest, SampleError, allocSeq } from '../session.js';
import { type CompleteContext, type NsReader, messagesOf } from './types.js';

export const DEFAULT_UDP_KINDS: readonly NetnsKind[] = ['host'];

export interface UdpNsResult {
  sockets: InetSocket[];
  /** the namespace's Udp: counters (/proc/net/snmp read inside it); undefined when that read failed */
  snmp?: UdpSnmp;
}

const WHAT = ['SOCK_DIAG_BY_FAMILY(inet, udp)', 'SOCK_DIAG_BY_FAMILY(inet6, udp)'];

export class UdpReader implements NsReader<'udp'> {
  readonly need = 'udp';
  readonly protocol = NETLINK_SOCK_DIAG;
  readonly procNetFiles = [SNMP_FILE];
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

  complete(replies: Array<NlMessage[] | Error>, ctx: CompleteContext): UdpNsResult {
    const sockets = replies.flatMap((r, i) => decodeInetSockets(messagesOf(r, WHAT[i]!)));
    // the counters failing leaves the sockets standing; the failure is the reader's, counted and logged once
    const file = ctx.session.procNetFile(SNMP_FILE);
    let snmp: UdpSnmp | undefined;
    if (file instanceof SampleError) {
      ctx.partial(file);
    } else {
      snmp = parseSnmp(file.toString('latin1'), 'Udp');
      if (!snmp) ctx.partial(new SampleError('decode', `${ctx.ref.name}: /proc/net/snmp: no well-formed Udp: header and value lines`));
    }
    return { sockets, snmp };
  }
}
