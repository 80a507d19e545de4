// A namespace's netlink sockets for one scrape, and how a failure is classified.
// A session enters its namespace once, serves as many rounds of requests as the
// readers need (IPVS asks for services, then their destinations), and is closed
// before the scrape ends: a socket kept open would pin a deleted namespace.
import { DecodeError } from './nl/attr.js';
import { DumpInterruptedError, NetlinkError, type NlMessage, parseReply } from './nl/message.js';
import type { NsWatch, NativeError, NativeReply, NativeSession, NetlinkSessions } from './native.js';
import type { NetnsRef } from './netns.js';

export type FailureReason =
  | 'vanished'      // the namespace file went away or is no longer a namespace
  | 'permission'    // EPERM/EACCES entering or talking to it
  | 'timeout'       // netlink did not answer in time
  | 'deadline'      // the scrape's deadline passed before it was read
  | 'decode'        // a reply the codec could not make sense of
  | 'netlink'       // the kernel answered with an error
  | 'syscall';      // any other system call failure

export class SampleError extends Error {
  constructor(readonly reason: FailureReason, message: string) {
    super(message);
    this.name = 'SampleError';
  }
}

export function classifyNativeError(e: NativeError): FailureReason {
  if (e.syscall === 'deadline') return 'deadline';
  if (e.errno === 'ENOENT' || (e.syscall === 'nsfs' && e.errno === 'EINVAL')) return 'vanished';
  if (e.errno === 'EPERM' || e.errno === 'EACCES') return 'permission';
  if (e.errno === 'ETIMEDOUT') return 'timeout';
  return 'syscall';
}

export function classifyError(err: unknown): SampleError {
  if (err instanceof SampleError) return err;
  if (err instanceof DecodeError) return new SampleError('decode', err.message);
  if (err instanceof DumpInterruptedError) return new SampleError('netlink', err.message);
  if (err instanceof NetlinkError) {
    const reason = err.code === 'EPERM' || err.code === 'EACCES' ? 'permission' : 'netlink';
    return new SampleError(reason, err.message);
  }
  return new SampleError('syscall', (err as Error).message ?? String(err));
}

/** One netlink request: its protocol, its bytes (built with `seq`), and what it asks, for messages. */
export interface NlRequest {
  protocol: number;
  seq: number;
  message: Uint8Array;
  what: string;
}

let nextSeq = 1;
/** Sequence numbers are unique across every session of this process. */
export function allocSeq(): number {
  nextSeq = (nextSeq % 0x7fffffff) + 1;
  return nextSeq;
}

export class NsSession {
  private closed = false;
  /** the watch made on entry, until someone takes it (closed with the session otherwise) */
  private watch?: NsWatch;
  /** the namespace's inode number as the addon saw it on entry (undefined: the addon does not say) */
  ino?: number;

  private constructor(
    private readonly native: NetlinkSessions,
    private readonly handle: unknown,
    private readonly ports: ReadonlyMap<number, number>,
    /** the namespace's label, for messages */
    readonly subject: string,
    private readonly timeoutMs: number,
    private readonly files: ReadonlyMap<string, Buffer | NativeError>,
  ) {}

  /**
   * Enter `path` once (null: our own namespace), open one socket per protocol, and read the
   * /proc/thread-self/net files named (e.g. "snmp") while there; a failure to enter is a SampleError.
   */
  static async open(native: NetlinkSessions, ref: Pick<NetnsRef, 'name' | 'path'>, protocols: readonly number[], timeoutMs: number,
    procNetFiles: readonly string[] = []): Promise<NsSession> {
    return (await NsSession.openWith(native, ref, protocols, timeoutMs, [], procNetFiles)).session;
  }

  /**
   * open(), with a first round of requests sent in the same trip to the pool
   * thread (up to the addon's limit; the rest, if any, in exchanges after it):
   * one hand-off per namespace instead of two.
   */
  static async openWith(native: NetlinkSessions, ref: Pick<NetnsRef, 'name' | 'path'>, protocols: readonly number[], timeoutMs: number,
    requests: readonly NlRequest[], procNetFiles: readonly string[] = [], watch = false): Promise<OpenedSession> {
    const plan = planOpen(native, ref, protocols, timeoutMs, requests, procNetFiles, watch);
    return NsSession.adopt(native, plan, await native.open(...plan.args));
  }

  /**
   * openWith() for many namespaces in one trip to the pool (the addon's openMany, at most maxBatch of them):
   * each namespace's session, or why it could not be opened, in the order given. Namespaces not started
   * within `budgetMs` are not entered: they fail with reason "deadline".
   */
  static async openMany(native: NetlinkSessions, opens: ReadonlyArray<OpenRequest>, budgetMs?: number): Promise<Array<OpenedSession | SampleError>> {
    const plans = opens.map((o) => planOpen(native, o.ref, o.protocols, o.timeoutMs, o.requests, o.procNetFiles ?? [], o.watch ?? false));
    const opened = await native.openMany(plans.map((p) => p.args), budgetMs);
    return Promise.all(plans.map(async (plan, i) => {
      try {
        return await NsSession.adopt(native, plan, opened[i]!);
      } catch (err) {
        return classifyError(err);
      }
    }));
  }

  private static async adopt(native: NetlinkSessions, plan: OpenPlan, opened: NativeSession | (NativeError & { namespace: true })): Promise<OpenedSession> {
    const { ref, distinct, names, first, rest } = plan;
    if ('errno' in opened) {
      throw new SampleError(classifyNativeError(opened), `${ref.name}: ${opened.syscall}: ${opened.message}`);
    }
    const ports = new Map(distinct.map((p, i) => [p, opened.ports[i]!]));
    const files = new Map(names.map((n, i) => [n, opened.files?.[i] ?? { errno: 'EINVAL', syscall: 'open', message: 'not read' }]));
    const session = new NsSession(native, opened.handle, ports, ref.name, plan.timeoutMs, files);
    session.ino = opened.ino;
    session.watch = opened.watch;
    if (first.length === 0) return { session, replies: [] };
    try {
      // an addon that does not take requests with open() answers them in an exchange
      const replies = opened.replies
        ? first.map((r, i) => session.parse(r, opened.replies![i]))
        : await session.exchange(first);
      if (rest.length > 0) replies.push(...await session.exchange(rest));
      return { session, replies };
    } catch (err) {
      session.close();
      throw err;
    }
  }

  /**
   * The namespace's /proc/net/<name> as read on entry (asked for at open()), or why it could not be read.
   * The bytes are the kernel's text; parsing is the caller's.
   */
  procNetFile(name: string): Buffer | SampleError {
    const f = this.files.get(name);
    if (f === undefined) return new SampleError('syscall', `${this.subject}: /proc/net/${name} was not asked for when the namespace was entered`);
    if (f instanceof Uint8Array) return f;
    return new SampleError(classifyNativeError(f), `${this.subject}: ${f.syscall}: /proc/net/${name}: ${f.message}`);
  }

  /**
   * Send the requests (in rounds of the addon's limit) and parse each reply:
   * messages per request, or the request's own error (a SampleError, or the
   * codec's NetlinkError/DumpInterruptedError for the caller to judge).
   */
  async exchange(requests: readonly NlRequest[]): Promise<Array<NlMessage[] | Error>> {
    if (this.closed) throw new SampleError('syscall', `${this.subject}: session already closed`);
    const out: Array<NlMessage[] | Error> = [];
    const max = this.native.maxRequests;
    for (let i = 0; i < requests.length; i += max) {
      const batch = requests.slice(i, i + max);
      const replies = await this.native.exchange(this.handle, batch.map((r) => [r.protocol, r.message]), this.timeoutMs);
      batch.forEach((r, j) => out.push(this.parse(r, replies[j])));
    }
    return out;
  }

  /** exchange(), throwing the first failure. */
  async exchangeAll(requests: readonly NlRequest[]): Promise<NlMessage[][]> {
    const replies = await this.exchange(requests);
    return replies.map((r) => {
      if (r instanceof Error) throw r;
      return r;
    });
  }

  /** The watch asked for on entry (OpenRequest.watch), now the caller's to close; undefined if none was made. */
  takeWatch(): NsWatch | undefined {
    const w = this.watch;
    this.watch = undefined;
    return w;
  }

  close(): void {
    if (this.watch) this.native.closeWatch?.(this.takeWatch()!);
    if (this.closed) return;
    this.closed = true;
    this.native.close(this.handle);
  }

  private parse(r: NlRequest, reply: NativeReply | undefined): NlMessage[] | Error {
    if (reply === undefined) return new SampleError('syscall', `${this.subject}: ${r.what}: no reply`);
    if (!(reply instanceof Uint8Array)) {
      return new SampleError(classifyNativeError(reply), `${this.subject}: ${reply.syscall}: ${r.what}: ${reply.message}`);
    }
    try {
      return parseReply(reply, { seq: r.seq, port: this.ports.get(r.protocol)! }, r.what);
    } catch (err) {
      return err as Error;
    }
  }
}

/** A namespace to open: what openWith() takes. */
export interface OpenRequest {
  ref: Pick<NetnsRef, 'name' | 'path'>;
  protocols: readonly number[];
  timeoutMs: number;
  requests: readonly NlRequest[];
  procNetFiles?: readonly string[];
  /** make a watch of the namespace's links and FDB on entry (NsSession.takeWatch) */
  watch?: boolean;
}

/** An open session and the replies to its first requests (messages, or each request's own error). */
export interface OpenedSession {
  session: NsSession;
  replies: Array<NlMessage[] | Error>;
}

interface OpenPlan {
  ref: Pick<NetnsRef, 'name' | 'path'>;
  timeoutMs: number;
  distinct: number[];
  names: string[];
  /** sent with the opening; `rest` in exchanges after it */
  first: readonly NlRequest[];
  rest: readonly NlRequest[];
  /** the addon's open() arguments */
  args: Parameters<NetlinkSessions['open']>;
}

function planOpen(native: NetlinkSessions, ref: Pick<NetnsRef, 'name' | 'path'>, protocols: readonly number[], timeoutMs: number,
  requests: readonly NlRequest[], procNetFiles: readonly string[], watch: boolean): OpenPlan {
  const distinct = [...new Set(protocols)];
  const names = [...new Set(procNetFiles)];
  const first = requests.slice(0, native.maxRequests);
  const args: OpenPlan['args'] = [ref.path, distinct, timeoutMs, names.length > 0 ? names : null,
    first.length > 0 ? first.map((r) => [r.protocol, r.message]) : null, watch];
  return { ref, timeoutMs, distinct, names, first, rest: requests.slice(first.length), args };
}

/** Open a session, run `fn`, and close it whatever happens. */
export async function withSession<T>(native: NetlinkSessions, ref: Pick<NetnsRef, 'name' | 'path'>, protocols: readonly number[],
  timeoutMs: number, fn: (s: NsSession) => Promise<T>, procNetFiles: readonly string[] = []): Promise<T> {
  const session = await NsSession.open(native, ref, protocols, timeoutMs, procNetFiles);
  try {
    return await fn(session);
  } finally {
    session.close();
  }
}
