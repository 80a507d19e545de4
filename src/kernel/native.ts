// The one place that loads the native addon. It only crosses the syscall
// boundary: enter a namespace once, open netlink sockets there, exchange raw
// bytes over them, close them.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface NativeError {
  errno: string;
  syscall: string;
  message: string;
  /** set when the namespace itself could not be entered or its sockets opened */
  namespace?: true;
}

/** Sockets opened inside one namespace; `ports` are their netlink port ids, in the order of the protocols asked for. */
export interface NativeSession {
  handle: unknown;
  ports: number[];
  /** each /proc/thread-self/net file asked for, read inside the namespace, in the order asked */
  files: Array<Buffer | NativeError>;
  /** the replies to open()'s requests, when it was given some (an addon that does not take them leaves this out) */
  replies?: NativeReply[];
  /** the namespace's inode number: its identity (a file replaced by another namespace shows another); absent if unknown */
  ino?: number;
  /** the watch asked for with `watch` (absent if it could not be made, or the addon has none) */
  watch?: NsWatch;
}

/** A socket made in a namespace and subscribed to its link and FDB changes; it keeps the namespace alive until closed. */
export type NsWatch = object;

export type NativeReply = Buffer | NativeError;

/** What reading namespaces needs from the addon: sessions of netlink sockets. */
export interface NetlinkSessions {
  /**
   * On a pool thread: enter nsPath (null: our own namespace), open one netlink socket per protocol, read each
   * /proc/thread-self/net/<name> of `procNetFiles` (at most 2, e.g. "snmp": the file shows the thread's namespace),
   * return home; then send `requests` (at most maxRequests) over the sockets as exchange() does, in the same trip.
   */
  open(nsPath: string | null, protocols: number[], timeoutMs: number, procNetFiles?: string[] | null,
    requests?: Array<[protocol: number, msg: Uint8Array]> | null, watch?: boolean): Promise<NativeSession | (NativeError & { namespace: true })>;
  /**
   * open() for each entry, one after another on one pool thread: one hand-off for the batch (at most maxBatch
   * entries); the results in the order given. Once `budgetMs` has passed, the entries not started are not entered:
   * `{ errno: 'ETIMEDOUT', syscall: 'deadline', namespace: true }`.
   */
  openMany(entries: Array<Parameters<NetlinkSessions['open']>>, budgetMs?: number): Promise<Array<NativeSession | (NativeError & { namespace: true })>>;
  /** Send the requests in order over the session's sockets, reading each until its dump ends. */
  exchange(handle: unknown, requests: Array<[protocol: number, msg: Uint8Array]>, timeoutMs: number): Promise<NativeReply[]>;
  /** Close the session's sockets (after an exchange in flight, if any). */
  close(handle: unknown): void;
  /**
   * What changed in each watch's namespace since it was made or last asked (reads its queue; one poll() for all):
   * bit 1, a link was added, removed or changed; bit 2, a bridge or VXLAN FDB entry; both when more came than the
   * small queue holds. Counters, ARP and ND never count as a change.
   */
  watchChanges?(watches: NsWatch[]): number[];
  /** Close a watch (idempotent): its namespace is no longer kept alive by it. */
  closeWatch?(watch: NsWatch): void;
  /** setns() calls into a namespace since the addon was loaded; link watches open now */
  counters(): { nsEntries: number; watches?: number };
  /** the most requests one exchange takes (set in native/netns.c) */
  readonly maxRequests: number;
  /** the most protocols one session opens */
  readonly maxProtocols: number;
  /** the most namespaces one openMany() takes */
  readonly maxBatch: number;
}

/** One ICMP message that came back: an echo reply (raw sockets: with its IP header), or anything else a raw socket sees. */
export interface ProbeDatagram {
  from: string;
  /** CLOCK_MONOTONIC, nanoseconds */
  atNs: number;
  bytes: Buffer;
}

/** An entry of the socket's error queue (IP_RECVERR): a probe the path refused. */
export interface ProbeQueuedError extends ProbeDatagram {
  /** the destination of the packet that failed */
  from: string;
  /** ee_errno: EMSGSIZE (fragmentation needed), EHOSTUNREACH, ... */
  errno: string;
  /** ee_origin: 1 local, 2 ICMP */
  origin: number;
  /** ICMP type and code of the error, ee_info (the next hop's MTU for fragmentation needed) */
  type: number;
  code: number;
  info: number;
}

export interface ProbeOutcome {
  /** ping: SOCK_DGRAM/IPPROTO_ICMP (the kernel sets identifier and checksum); raw: SOCK_RAW (CAP_NET_RAW) */
  kind: 'ping' | 'raw';
  /** a ping socket's identifier (its port); 0 for raw sockets */
  ident: number;
  /** per packet, in the order given: when it was sent, or why not (EMSGSIZE: larger than the interface allows with DF) */
  sent: Array<{ atNs: number } | NativeError>;
  received: ProbeDatagram[];
  errors: ProbeQueuedError[];
  /** a failure after some packets went out (poll) */
  error?: NativeError;
}

/** ICMP echo from inside a namespace: the overlay path probes. */
export interface IcmpProbes {
  /**
   * On a pool thread: enter nsPath (null: our own), open an ICMP socket there (ping socket, else raw), return home;
   * send each packet (an ICMP message) to its destination with DF, and collect what comes back until every packet
   * is answered or timeoutMs passes. A failure to enter or to open the socket resolves to an error with `namespace`.
   */
  probe(nsPath: string | null, destinations: string[], packets: Array<[destination: number, icmp: Uint8Array]>, timeoutMs: number):
    Promise<ProbeOutcome | (NativeError & { namespace: true })>;
}

export interface NativeBinding extends NetlinkSessions, IcmpProbes {
  /**
   * setns(CLONE_NEWNET) on the calling thread (the main thread), for good: for
   * the CLI's `netns exec`, whose command then forks from this thread. Never
   * called by the exporter. null on success.
   */
  enterNetnsOnThisThread(nsPath: string): NativeError | null;
}

let binding: NativeBinding | undefined;

export function loadNative(): NativeBinding {
  if (binding) return binding;
  const require = createRequire(import.meta.url);
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const candidates = [
    join(root, 'build', 'Release', 'swarmnet_netns.node'),
    join(root, 'build', 'Debug', 'swarmnet_netns.node'),
  ];
  const failures: string[] = [];
  for (const path of candidates) {
    try {
      binding = require(path) as NativeBinding;
      return binding;
    } catch (err) {
      failures.push(`${path}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  throw new Error(`cannot load the native addon (run "npm run build:native"); tried:\n  ${failures.join('\n  ')}`);
}
