// Families of the VXLAN receive path: the kernel UDP sockets on the VXLAN ports
// (sock_diag) and the namespace's UDP error counters (/proc/net/snmp read inside it).
import { metric } from '../family.js';

const SOCKET_LABELS = ['netns', 'port'] as const;

export const udpSocketDrops = metric('swarmnet_udp_socket_drops_total', 'counter',
  'Datagrams dropped by the UDP sockets bound to a VXLAN port (receive buffer full, or a filter), summed over the sockets on that port (IPv4 and IPv6). From INET_DIAG_SKMEMINFO SK_MEMINFO_DROPS, as ss -m shows it (d).',
  SOCKET_LABELS);
export const udpSocketReceiveQueue = metric('swarmnet_udp_socket_receive_queue_bytes', 'gauge',
  'Bytes waiting in the receive queue of the UDP sockets bound to a VXLAN port. From INET_DIAG_SKMEMINFO SK_MEMINFO_RMEM_ALLOC (ss -m: r).',
  SOCKET_LABELS);
export const udpSocketReceiveBuffer = metric('swarmnet_udp_socket_receive_buffer_bytes', 'gauge',
  'Receive buffer size of the UDP sockets bound to a VXLAN port: a queue that reaches it drops. From INET_DIAG_SKMEMINFO SK_MEMINFO_RCVBUF (ss -m: rb).',
  SOCKET_LABELS);
export const udpReceiveBufferErrors = metric('swarmnet_udp_receive_buffer_errors_total', 'counter',
  'UDP datagrams the namespace dropped because a socket\'s receive buffer was full (Udp RcvbufErrors of the namespace\'s own /proc/net/snmp, read inside it on the same entry as its sockets). For every namespace the udp collector reads (the host namespace by default, Docker\'s namespace files included).',
  ['netns']);
export const udpReceiveErrors = metric('swarmnet_udp_receive_errors_total', 'counter',
  'UDP datagrams the namespace could not deliver (Udp InErrors of the namespace\'s own /proc/net/snmp: buffer full, checksum and other errors). Same namespaces as swarmnet_udp_receive_buffer_errors_total.',
  ['netns']);
