// A NetlinkSessions that needs no root and no kernel state: it answers the
// exporter's netlink requests with the replies captured from real kernels in
// test/fixtures/rtnl, neigh, diag, mtu and ipvs, and counts what it is asked.
//
// The bytes it answers with are the kernel's captured replies. Only the
// netlink header of each message is rewritten: the sequence number (offset 8,
// u32 LE) to the request's, and the port id (offset 12) to the session's
// socket. The port id has to be rewritten because the captures were made with
// one socket per request (each .port file names its own socket: links, fdb and
// neigh come from three NETLINK_ROUTE sockets), while a session has one socket
// per protocol; open() reports the ports of the links and services captures,
// and the replies captured on those sockets keep their port id as captured.
//
// A request is recognised by what it asks (netlink message type, and for
// generic netlink the family, command and service key): it must be byte for
// byte the request the exporter's codec builds, sequence number aside.
// Anything else is answered with EINVAL and recorded in `unknown`.
import { setTimeout as sleep } from 'node:timers/promises';
import { getFamilyRequest } from '../../src/kernel/genl/ctrl.js';
import { IPVS_GENL_NAME, getDestsRequest, getServicesRequest } from '../../src/kernel/genl/ipvs.js';
import type { NetlinkSessions, NativeError, NativeReply, NativeSession } from '../../src/kernel/native.js';
import { NETLINK_GENERIC, NETLINK_ROUTE, NLMSG_ERROR, NLMSG_HDRLEN } from '../../src/kernel/nl/message.js';
import { getLinkRequest } from '../../src/kernel/rtnl/link.js';
import { AF_BRIDGE, AF_INET, AF_UNSPEC, getNeighRequest } from '../../src/kernel/rtnl/neigh.js';
import { getNeighTableRequest } from '../../src/kernel/rtnl/neightbl.js';
import { getAddrRequest } from '../../src/kernel/rtnl/addr.js';
import { AF_INET6, IPPROTO_UDP, NETLINK_SOCK_DIAG, getInetSocketsRequest } from '../../src/kernel/diag/inet.js';
import { type Capture, mtuCapture, diagCapture, snmpCapture, ipvsCapture, ipvsDestKeys, ipvsFamily, neighCapture, rtnlCapture } from './captures.js';

/** What a request asks: the capture that answers it. */
export type RequestKind = 'links' | 'fdb' | 'neigh' | 'neighCounts' | 'neighTables' | 'udp4' | 'udp6' | 'addrs' | 'family' | 'services' | `dests-${number}`;

/** How a request is answered instead of with its capture. */
export type Override =
  /** NLMSG_ERROR carrying -errno, echoing the request's header (built here, as the kernel builds it) */
  | { netlinkErrno: number }
  /** the addon's own failure for this request (e.g. ETIMEDOUT) */
  | { native: NativeError };

export interface ReplayOptions {
  /** "absent": CTRL_CMD_GETFAMILY("IPVS") is answered with family-absent.bin (the kernel's ENOENT) */
  ipvs?: 'present' | 'absent';
  /** errno for open() of a namespace path (e.g. ENOENT: the namespace went away) */
  openError?: (path: string | null) => string | undefined;
  /** answer a request otherwise than with its capture */
  override?: (path: string | null, kind: RequestKind) => Override | undefined;
  /** wait this long before answering an exchange in this namespace */
  delayMs?: (path: string | null) => number;
  /** the most requests one exchange takes (the addon's is 8) */
  maxRequests?: number;
  /** the most namespaces one openMany() takes (the addon's is 256) */
  maxBatch?: number;
  /** answer a /proc/net file read on entry otherwise than with its capture (snmp: test/fixtures/diag/snmp.txt) */
  procNetFile?: (path: string | null, name: string) => Buffer | NativeError | undefined;
}

interface Handle {
  id: number;
  path: string | null;
  ports: Map<number, number>;
  closed: boolean;
}

export interface ExchangeRecord {
  path: string | null;
  kinds: Array<RequestKind | 'unknown'>;
}

const ERRNO: Record<string, number> = { EPERM: 1, ENOENT: 2, EACCES: 13, EINVAL: 22, ETIMEDOUT: 110 };

/** The session's socket for each protocol has the port id of the capture made first on that protocol. */
const SESSION_PORTS = new Map([[NETLINK_ROUTE, rtnlCapture('links').port], [NETLINK_GENERIC, ipvsCapture('services').port],
  [NETLINK_SOCK_DIAG, diagCapture('udp4').port]]);

export class ReplayNative implements NetlinkSessions {
  readonly maxRequests: number;
  readonly maxProtocols = 4;
  readonly maxBatch: number;
  /** every openMany(): how many namespaces it opened in one trip */
  readonly batches: number[] = [];
  /** every open(), in order, successful or not */
  readonly opens: Array<{ path: string | null; protocols: number[]; files: string[]; ok: boolean }> = [];
  /** every exchange(), in order */
  readonly exchanges: ExchangeRecord[] = [];
  /** close() calls, by the path of the session closed */
  readonly closes: Array<string | null> = [];
  /** requests that matched no capture */
  readonly unknown: Array<{ path: string | null; protocol: number; message: Uint8Array }> = [];
  private nextId = 1;
  private readonly live = new Set<Handle>();
  private inFlight = new Set<Promise<unknown>>();
  private readonly templates: Array<{ kind: RequestKind; protocol: number; bytes: Uint8Array; capture: Capture }>;

  constructor(private readonly opts: ReplayOptions = {}) {
    this.maxRequests = opts.maxRequests ?? 8;
    this.maxBatch = opts.maxBatch ?? 256;
    const family = ipvsFamily().id;
    this.templates = [
      { kind: 'links', protocol: NETLINK_ROUTE, bytes: getLinkRequest(0), capture: rtnlCapture('links') },
      { kind: 'fdb', protocol: NETLINK_ROUTE, bytes: getNeighRequest(0, AF_BRIDGE), capture: rtnlCapture('fdb') },
      { kind: 'neigh', protocol: NETLINK_ROUTE, bytes: getNeighRequest(0, AF_INET), capture: rtnlCapture('neigh') },
      { kind: 'neighCounts', protocol: NETLINK_ROUTE, bytes: getNeighRequest(0, AF_UNSPEC), capture: neighCapture('neigh-unspec') },
      { kind: 'neighTables', protocol: NETLINK_ROUTE, bytes: getNeighTableRequest(0), capture: neighCapture('neightbl') },
      { kind: 'udp4', protocol: NETLINK_SOCK_DIAG, bytes: getInetSocketsRequest(0, AF_INET, IPPROTO_UDP), capture: diagCapture('udp4') },
      { kind: 'udp6', protocol: NETLINK_SOCK_DIAG, bytes: getInetSocketsRequest(0, AF_INET6, IPPROTO_UDP), capture: diagCapture('udp6') },
      { kind: 'addrs', protocol: NETLINK_ROUTE, bytes: getAddrRequest(0), capture: mtuCapture('host-addrs') },
      { kind: 'family', protocol: NETLINK_GENERIC, bytes: getFamilyRequest(0, IPVS_GENL_NAME),
        capture: ipvsCapture(opts.ipvs === 'absent' ? 'family-absent' : 'family') },
      { kind: 'services', protocol: NETLINK_GENERIC, bytes: getServicesRequest(family, 0), capture: ipvsCapture('services') },
      ...ipvsDestKeys().map((key, i) => ({
        kind: `dests-${i}` as const, protocol: NETLINK_GENERIC, bytes: getDestsRequest(family, 0, key), capture: ipvsCapture(`dests-${i}`),
      })),
    ];
  }

  /** open() calls per namespace path */
  opensOf(path: string | null): number {
    return this.opens.filter((o) => o.path === path).length;
  }

  /** sessions opened and not closed yet */
  get openSessions(): number {
    return this.live.size;
  }

  /** the kinds of every request sent, in order (optionally for one path) */
  kindsSent(path?: string | null): string[] {
    return this.exchanges.filter((e) => path === undefined || e.path === path).flatMap((e) => e.kinds);
  }

  /**
   * Resolves when no exchange is being answered (late answers after a deadline
   * included) and their callers had a turn to go on (and close their sessions).
   */
  async idle(): Promise<void> {
    do {
      await Promise.allSettled([...this.inFlight]);
      await new Promise((resolve) => setImmediate(resolve));
    } while (this.inFlight.size > 0);
  }

  counters(): { nsEntries: number } {
    return { nsEntries: this.opens.filter((o) => o.ok && o.path !== null).length };
  }

  async open(nsPath: string | null, protocols: number[], timeoutMs: number, procNetFiles: string[] | null = [],
    requests?: Array<[protocol: number, msg: Uint8Array]> | null,
    // no link watches here (no watchChanged): a LinkFactsCache over this addon reads every namespace in full
    _watch?: boolean): Promise<NativeSession | (NativeError & { namespace: true })> {
    procNetFiles ??= [];
    if (protocols.length === 0 || protocols.length > this.maxProtocols) throw new TypeError('1 to 4 protocols');
    if (requests != null && (requests.length === 0 || requests.length > this.maxRequests)) throw new TypeError('first requests: 1 to maxRequests [protocol, Uint8Array]');
    if (procNetFiles.length > 2) throw new TypeError('procNetFiles: at most 2 names of /proc/net files ([a-z0-9_])');
    const errno = this.opts.openError?.(nsPath);
    this.opens.push({ path: nsPath, protocols: [...protocols], files: [...procNetFiles], ok: !errno });
    if (errno) return { errno, syscall: 'open', message: `${errno} (replayed)`, namespace: true };
    const ports = new Map(protocols.map((p) => {
      const port = SESSION_PORTS.get(p);
      if (port === undefined) throw new Error(`replay: no capture for netlink protocol ${p}`);
      return [p, port] as const;
    }));
    const handle: Handle = { id: this.nextId++, path: nsPath, ports, closed: false };
    this.live.add(handle);
    const files = procNetFiles.map((name): Buffer | NativeError => this.opts.procNetFile?.(nsPath, name)
      ?? (name === 'snmp' ? snmpCapture() : { errno: 'ENOENT', syscall: 'open(proc)', message: `replay: no capture of /proc/net/${name}` }));
    const opened: NativeSession = { handle, ports: protocols.map((p) => ports.get(p)!), files };
    // the addon sends a first round with the opening, in the same trip, as exchange() would
    if (requests) opened.replies = await this.exchange(handle, requests, timeoutMs);
    return opened;
  }

  /** as the addon: each entry opened in order, the results together */
  async openMany(entries: Array<Parameters<NetlinkSessions['open']>>, budgetMs?: number): Promise<Array<NativeSession | (NativeError & { namespace: true })>> {
    if (entries.length === 0 || entries.length > this.maxBatch) throw new TypeError('openMany: 1 to maxBatch entries');
    this.batches.push(entries.length);
    const until = budgetMs !== undefined ? performance.now() + budgetMs : Infinity;
    const out: Array<NativeSession | (NativeError & { namespace: true })> = [];
    for (const args of entries) {
      // as the addon: once the budget is spent, the rest are not entered
      out.push(performance.now() >= until
        ? { errno: 'ETIMEDOUT', syscall: 'deadline', message: 'not entered: the batch budget was spent (replayed)', namespace: true }
        : await this.open(...args));
    }
    return out;
  }

  exchange(handle: unknown, requests: Array<[protocol: number, msg: Uint8Array]>, _timeoutMs: number): Promise<NativeReply[]> {
    const h = handle as Handle;
    if (h.closed) return Promise.reject(new Error('replay: exchange on a closed session'));
    if (requests.length === 0 || requests.length > this.maxRequests) return Promise.reject(new TypeError('1 to maxRequests requests'));
    const record: ExchangeRecord = { path: h.path, kinds: [] };
    this.exchanges.push(record);
    const replies = requests.map(([protocol, msg]) => this.answer(h, protocol, msg, record));
    const delay = this.opts.delayMs?.(h.path) ?? 0;
    const p = (delay > 0 ? sleep(delay) : Promise.resolve()).then(() => replies);
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
    return p;
  }

  close(handle: unknown): void {
    const h = handle as Handle;
    this.closes.push(h.path);
    h.closed = true;
    this.live.delete(h);
  }

  private answer(h: Handle, protocol: number, msg: Uint8Array, record: ExchangeRecord): NativeReply {
    const port = h.ports.get(protocol);
    const t = this.templates.find((c) => c.protocol === protocol && sameRequest(c.bytes, msg));
    if (port === undefined || !t) {
      record.kinds.push('unknown');
      this.unknown.push({ path: h.path, protocol, message: msg });
      return { errno: 'EINVAL', syscall: 'send', message: 'replay: no capture answers this request' };
    }
    record.kinds.push(t.kind);
    const seq = new DataView(msg.buffer, msg.byteOffset, msg.byteLength).getUint32(8, true);
    const override = this.opts.override?.(h.path, t.kind);
    if (override && 'native' in override) return override.native;
    if (override) return errorReply(msg, seq, port, override.netlinkErrno);
    return readdress(t.capture.bytes, seq, port);
  }
}

/** The same request but for the sequence number. */
function sameRequest(template: Uint8Array, msg: Uint8Array): boolean {
  if (template.length !== msg.length) return false;
  for (let i = 0; i < msg.length; i++) {
    if (i >= 8 && i < 12) continue;
    if (template[i] !== msg[i]) return false;
  }
  return true;
}

/** A copy of a captured reply with every message header addressed to (seq, port). */
function readdress(captured: Uint8Array, seq: number, port: number): Buffer {
  const out = Buffer.from(captured);
  let off = 0;
  while (off + NLMSG_HDRLEN <= out.length) {
    const len = out.readUInt32LE(off);
    out.writeUInt32LE(seq, off + 8);
    out.writeUInt32LE(port, off + 12);
    if (len < NLMSG_HDRLEN) break;
    off += (len + 3) & ~3;
  }
  return out;
}

/** NLMSG_ERROR as the kernel sends it without NLM_F_ACK_TLVS: -errno, then the request's header. */
function errorReply(request: Uint8Array, seq: number, port: number, errno: number): Buffer {
  const out = Buffer.alloc(NLMSG_HDRLEN + 4 + NLMSG_HDRLEN);
  out.writeUInt32LE(out.length, 0);
  out.writeUInt16LE(NLMSG_ERROR, 4);
  out.writeUInt16LE(0x100, 6); // NLM_F_CAPPED: only the request's header is echoed
  out.writeUInt32LE(seq, 8);
  out.writeUInt32LE(port, 12);
  out.writeInt32LE(-errno, 16);
  out.set(request.subarray(0, NLMSG_HDRLEN), 20);
  return out;
}

export const errnoOf = (name: string): number => {
  const n = ERRNO[name];
  if (n === undefined) throw new Error(`errno ${name} not in the replay's table`);
  return n;
};
