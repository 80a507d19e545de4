// One kernel snapshot: for every namespace, one trip into it for everything the
// enabled collectors need, bounded by a deadline and a concurrency limit. A
// namespace that fails is recorded with a reason; it never fails the snapshot.
import type { NetlinkSessions } from './native.js';
import type { NetnsRef } from './netns.js';
import { DumpInterruptedError } from './nl/message.js';
import type { CompleteContext, NsData, NsReader, NsSample } from './readers/types.js';
import { NsSession, type OpenRequest, type OpenedSession, SampleError, classifyError } from './session.js';

export interface SamplerOptions {
  concurrency: number;
  /** upper bound for one netlink exchange */
  timeoutMs: number;
  /** what to read, in order (readers/index.ts); links first where anything needs it */
  readers: readonly NsReader[];
  /**
   * namespaces opened per trip to the pool (1: one trip each). Batches trade a little latency per
   * namespace for far fewer hand-offs between the main thread and the pool.
   */
  batchSize?: number;
}

const emptySample = (ref: NetnsRef): NsSample => ({ ref, links: [], fdb: [], neigh: [], durationSeconds: 0 });

async function runReader<K extends keyof NsData>(reader: NsReader<K>, firstRound: Parameters<NsReader['complete']>[0], ctx: CompleteContext,
  data: Partial<NsData>): Promise<void> {
  let replies = firstRound;
  // a dump that raced a change is asked once more
  if (replies.some((r) => r instanceof DumpInterruptedError)) replies = await ctx.session.exchange(reader.requests(ctx.ref));
  data[reader.need] = await reader.complete(replies, ctx);
}

/** What one namespace's readers ask for on entry: the first round of each, and the /proc/net files. */
interface NsPlan {
  ref: NetnsRef;
  readers: NsReader[];
  rounds: ReturnType<NsReader['requests']>[];
  open: OpenRequest;
}

function planNamespace(ref: NetnsRef, opts: SamplerOptions): NsPlan {
  const readers = opts.readers.filter((r) => r.applies(ref));
  const rounds = readers.map((r) => r.requests(ref));
  return {
    ref, readers, rounds,
    open: {
      ref, protocols: readers.map((r) => r.protocol), timeoutMs: opts.timeoutMs, requests: rounds.flat(),
      procNetFiles: readers.flatMap((r) => r.procNetFiles ?? []), watch: readers.some((r) => r.watch?.(ref)),
    },
  };
}

/** Every reader of an opened namespace completes its data from its first round (and more exchanges if it needs them). */
async function completeNamespace(plan: NsPlan, opened: OpenedSession | SampleError, sample: NsSample): Promise<void> {
  if (opened instanceof Error) throw opened;
  const { session, replies } = opened;
  try {
    let offset = 0;
    for (const [i, reader] of plan.readers.entries()) {
      const mine = replies.slice(offset, (offset += plan.rounds[i]!.length));
      const partial = (error: SampleError) => (sample.readerErrors ??= []).push({ need: reader.need, error });
      try {
        await runReader(reader, mine, { session, ref: plan.ref, sample, partial }, sample);
      } catch (err) {
        // without its interfaces a namespace has nothing to show; any other reader fails alone
        if (reader.need === 'links') throw err;
        (sample.readerErrors ??= []).push({ need: reader.need, error: classifyError(err) });
      }
    }
  } finally {
    session.close();
  }
}

export async function sampleNamespace(native: NetlinkSessions, ref: NetnsRef, opts: SamplerOptions): Promise<NsSample> {
  const started = performance.now();
  const sample = emptySample(ref);
  const plan = planNamespace(ref, opts);
  try {
    // every reader's first round goes out with the opening of the sockets, in one trip to the pool:
    // links, FDB, neighbours and IPVS services together (and the /proc/net files readers read inside)
    if (plan.readers.length > 0) {
      const { ref: r, protocols, timeoutMs, requests, procNetFiles, watch } = plan.open;
      await completeNamespace(plan, await NsSession.openWith(native, r, protocols, timeoutMs, requests, procNetFiles, watch), sample);
    }
  } catch (err) {
    sample.error = classifyError(err);
  }
  sample.durationSeconds = (performance.now() - started) / 1000;
  return sample;
}

/**
 * sampleNamespace() for several namespaces with one trip to the pool for all
 * their openings (NsSession.openMany); each namespace then completes on its
 * own, and fails on its own. durationSeconds is the batch's time so far.
 */
export async function sampleBatch(native: NetlinkSessions, refs: readonly NetnsRef[], opts: SamplerOptions): Promise<NsSample[]> {
  const started = performance.now();
  const plans = refs.map((ref) => planNamespace(ref, opts));
  const samples = refs.map(emptySample);
  const toOpen = plans.flatMap((p, i) => (p.readers.length > 0 ? [i] : []));
  let opened: Array<OpenedSession | SampleError> = [];
  try {
    // the batch stops entering namespaces once the budget is spent: a stalled one holds the pool thread no longer
    if (toOpen.length > 0) opened = await NsSession.openMany(native, toOpen.map((i) => plans[i]!.open), opts.timeoutMs);
  } catch (err) {
    // the batch as a whole failed (the addon refused it): every namespace in it failed the same way
    const error = classifyError(err);
    for (const i of toOpen) samples[i]!.error = error;
  }
  for (const [k, i] of toOpen.entries()) {
    const result = opened[k];
    if (result === undefined) continue;
    try {
      await completeNamespace(plans[i]!, result, samples[i]!);
    } catch (err) {
      samples[i]!.error = classifyError(err);
    }
    samples[i]!.durationSeconds = (performance.now() - started) / 1000;
  }
  return samples;
}

/**
 * Sample every namespace, at most `concurrency` at a time. Namespaces not
 * started before the deadline are returned with reason "deadline"; the ones
 * still in flight when it passes are reported the same way and their late
 * answers dropped.
 */
export async function sampleAll(native: NetlinkSessions, refs: NetnsRef[], opts: SamplerOptions, deadline: number): Promise<NsSample[]> {
  const results: NsSample[] = new Array(refs.length);
  let next = 0;
  const lateSample = (ref: NetnsRef): NsSample => ({
    ...emptySample(ref),
    error: new SampleError('deadline', `${ref.name}: not read before the scrape deadline`),
  });
  // namespaces are taken `batch` at a time (one trip to the pool for their openings), but never so many
  // that a worker is left without any: with fewer namespaces than that, batches shrink
  const batch = Math.max(1, Math.min(opts.batchSize ?? 1, native.maxBatch, Math.ceil(refs.length / Math.max(1, opts.concurrency))));
  const worker = async () => {
    while (next < refs.length) {
      const from = next;
      next = Math.min(refs.length, from + batch);
      const remaining = deadline - performance.now();
      if (remaining <= 0) {
        for (let i = from; i < next; i++) results[i] = lateSample(refs[i]!);
        continue;
      }
      const timeoutMs = Math.max(1, Math.min(opts.timeoutMs, Math.floor(remaining)));
      if (next - from === 1) {
        results[from] = await sampleNamespace(native, refs[from]!, { ...opts, timeoutMs });
      } else {
        const samples = await sampleBatch(native, refs.slice(from, next), { ...opts, timeoutMs });
        samples.forEach((sample, k) => { results[from + k] = sample; });
      }
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
