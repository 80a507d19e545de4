// One kernel snapshot: for every namespace, one trip into it (links, bridge
// FDB, neighbours), bounded by a deadline and a concurrency limit. A namespace
// that fails is recorded with a reason; it never fails the whole snapshot.
import { DecodeError } from './nl/attr.js';
import { DumpInterruptedError, NETLINK_ROUTE, NetlinkError, allocSeq, parseReply } from './nl/message.js';
import type { ExchangeResult, NativeBinding, NativeError } from './native.js';
import type { NetnsRef } from './netns.js';
import { type Link, decodeLinks, getLinkRequest } from './rtnl/link.js';
import { AF_BRIDGE, AF_INET, NTF_SELF, type Neighbour, decodeNeighbours, getNeighRequest } from './rtnl/neigh.js';

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

export interface NsSample {
  ref: NetnsRef;
  links: Link[];
  fdb: Neighbour[];
  /** IPv4 neighbours; read only where they matter (overlay namespaces) */
  neigh: Neighbour[];
  /** extra per-namespace data read by optional readers (IPVS) */
  extra: Map<string, unknown>;
  error?: SampleError;
  /** optional readers that failed here; the rest of the sample stands */
  readerErrors?: Array<{ reader: string; error: SampleError }>;
  durationSeconds: number;
}

/** A reader that needs its own trip into a namespace (IPVS over generic netlink). */
export interface NsReader {
  name: string;
  applies(ref: NetnsRef): boolean;
  read(native: NativeBinding, ref: NetnsRef, timeoutMs: number): Promise<unknown>;
  /** once per scrape, before any namespace is read (e.g. resolve a generic netlink family) */
  prepare?(native: NativeBinding, timeoutMs: number): Promise<unknown>;
}

export interface SamplerOptions {
  concurrency: number;
  /** upper bound for one netlink exchange */
  timeoutMs: number;
  readers?: NsReader[];
}

export function classifyNativeError(errno: string, syscall: string): FailureReason {
  if (errno === 'ENOENT' || (syscall === 'nsfs' && errno === 'EINVAL')) return 'vanished';
  if (errno === 'EPERM' || errno === 'EACCES') return 'permission';
  if (errno === 'ETIMEDOUT') return 'timeout';
  return 'syscall';
}

export function classifyError(err: unknown): SampleError {
  if (err instanceof SampleError) return err;
  if (err instanceof DecodeError) return new SampleError('decode', err.message);
  if (err instanceof NetlinkError) {
    const reason = err.code === 'EPERM' || err.code === 'EACCES' ? 'permission' : 'netlink';
    return new SampleError(reason, err.message);
  }
  return new SampleError('syscall', (err as Error).message ?? String(err));
}

type Reply = Buffer | NativeError;

/** The per-request replies of an exchange; a namespace-level failure becomes a SampleError. */
export function repliesOf(result: ExchangeResult, subject: string): Reply[] {
  if (!Array.isArray(result)) {
    throw new SampleError(classifyNativeError(result.errno, result.syscall), `${subject}: ${result.syscall}: ${result.message}`);
  }
  return result;
}

/** One request's reply bytes; its failure becomes a SampleError naming what was asked. */
export function replyBytes(item: Reply | undefined, subject: string, what: string): Buffer {
  if (item === undefined) throw new SampleError('syscall', `${subject}: ${what}: no reply`);
  if (!(item instanceof Uint8Array)) {
    throw new SampleError(classifyNativeError(item.errno, item.syscall), `${subject}: ${what}: ${item.syscall}: ${item.message}`);
  }
  return item;
}

async function readRoute(native: NativeBinding, ref: NetnsRef, timeoutMs: number) {
  const wantNeigh = ref.kind === 'overlay';
  const seqs = [allocSeq(), allocSeq(), allocSeq()];
  const requests: Array<[number, Uint8Array]> = [
    [NETLINK_ROUTE, getLinkRequest(seqs[0]!)],
    [NETLINK_ROUTE, getNeighRequest(seqs[1]!, AF_BRIDGE)],
  ];
  if (wantNeigh) requests.push([NETLINK_ROUTE, getNeighRequest(seqs[2]!, AF_INET)]);
  const replies = repliesOf(await native.exchange(ref.path, requests, timeoutMs), ref.name);
  const links = decodeLinks(parseReply(replyBytes(replies[0], ref.name, 'links'), seqs[0]!, 'RTM_GETLINK'));
  // a device's own (NTF_SELF) address list matters only on vxlan devices, where it holds the remote VTEPs
  const vxlans = new Set(links.filter((l) => l.kind === 'vxlan').map((l) => l.index));
  const fdb = decodeNeighbours(parseReply(replyBytes(replies[1], ref.name, 'fdb'), seqs[1]!, 'RTM_GETNEIGH(bridge)'),
    (ifindex, flags) => (flags & NTF_SELF) === 0 || vxlans.has(ifindex));
  const neigh = wantNeigh
    ? decodeNeighbours(parseReply(replyBytes(replies[2], ref.name, 'neigh'), seqs[2]!, 'RTM_GETNEIGH(inet)'))
    : [];
  return { links, fdb, neigh };
}

export async function sampleNamespace(native: NativeBinding, ref: NetnsRef, opts: SamplerOptions): Promise<NsSample> {
  const started = performance.now();
  const sample: NsSample = { ref, links: [], fdb: [], neigh: [], extra: new Map(), durationSeconds: 0 };
  try {
    // a dump that raced a change is retried once, then reported
    let route;
    try {
      route = await readRoute(native, ref, opts.timeoutMs);
    } catch (err) {
      if (!(err instanceof DumpInterruptedError)) throw err;
      route = await readRoute(native, ref, opts.timeoutMs);
    }
    Object.assign(sample, route);
    for (const reader of opts.readers ?? []) {
      if (!reader.applies(ref)) continue;
      try {
        sample.extra.set(reader.name, await reader.read(native, ref, opts.timeoutMs));
      } catch (err) {
        (sample.readerErrors ??= []).push({ reader: reader.name, error: classifyError(err) });
      }
    }
  } catch (err) {
    sample.error = err instanceof DumpInterruptedError ? new SampleError('netlink', err.message) : classifyError(err);
  }
  sample.durationSeconds = (performance.now() - started) / 1000;
  return sample;
}

/**
 * Sample every namespace, at most `concurrency` at a time. Namespaces not
 * started before the deadline are returned with reason "deadline"; the ones
 * still in flight when it passes are reported the same way and their late
 * answers dropped.
 */
export async function sampleAll(native: NativeBinding, refs: NetnsRef[], opts: SamplerOptions, deadline: number): Promise<NsSample[]> {
  const results: NsSample[] = new Array(refs.length);
  let next = 0;
  const lateSample = (ref: NetnsRef): NsSample => ({
    ref, links: [], fdb: [], neigh: [], extra: new Map(), durationSeconds: 0,
    error: new SampleError('deadline', `${ref.name}: not read before the scrape deadline`),
  });
  const worker = async () => {
    while (next < refs.length) {
      const i = next++;
      const ref = refs[i]!;
      const remaining = deadline - performance.now();
      if (remaining <= 0) {
        results[i] = lateSample(ref);
        continue;
      }
      const timeoutMs = Math.max(1, Math.min(opts.timeoutMs, Math.floor(remaining)));
      results[i] = await sampleNamespace(native, ref, { ...opts, timeoutMs });
    }
  };
  const workers = Array.from({ length: Math.max(1, Math.min(opts.concurrency, refs.length)) }, worker);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, Math.max(0, deadline - performance.now()) + 50);
  });
  await Promise.race([Promise.all(workers), timedOut]);
  clearTimeout(timer);
  // late workers may still write into `results`: hand out a copy
  return refs.map((ref, i) => results[i] ?? lateSample(ref));
}
