// One kernel snapshot: for every namespace, one trip into it for everything the
// enabled collectors need, bounded by a deadline and a concurrency limit. A
// namespace that fails is recorded with a reason; it never fails the snapshot.
import type { NetlinkSessions } from './native.js';
import type { NetnsRef } from './netns.js';
import { DumpInterruptedError } from './nl/message.js';
import type { CompleteContext, NsData, NsReader, NsSample } from './readers/types.js';
import { NsSession, SampleError, classifyError } from './session.js';

export interface SamplerOptions {
  concurrency: number;
  /** upper bound for one netlink exchange */
  timeoutMs: number;
  /** what to read, in order (readers/index.ts); links first where anything needs it */
  readers: readonly NsReader[];
}

const emptySample = (ref: NetnsRef): NsSample => ({ ref, links: [], fdb: [], neigh: [], durationSeconds: 0 });

async function runReader<K extends keyof NsData>(reader: NsReader<K>, firstRound: Parameters<NsReader['complete']>[0], ctx: CompleteContext,
  data: Partial<NsData>): Promise<void> {
  let replies = firstRound;
  // a dump that raced a change is asked once more
  if (replies.some((r) => r instanceof DumpInterruptedError)) replies = await ctx.session.exchange(reader.requests(ctx.ref));
  data[reader.need] = await reader.complete(replies, ctx);
}

export async function sampleNamespace(native: NetlinkSessions, ref: NetnsRef, opts: SamplerOptions): Promise<NsSample> {
  const started = performance.now();
  const sample = emptySample(ref);
  const readers = opts.readers.filter((r) => r.applies(ref));
  try {
    if (readers.length > 0) {
      // every reader's first round goes out with the opening of the sockets, in one trip to the pool:
      // links, FDB, neighbours and IPVS services together (and the /proc/net files readers read inside)
      const files = readers.flatMap((r) => r.procNetFiles ?? []);
      const rounds = readers.map((r) => r.requests(ref));
      const { session, replies } = await NsSession.openWith(native, ref, readers.map((r) => r.protocol), opts.timeoutMs, rounds.flat(), files);
      try {
        let offset = 0;
        for (const [i, reader] of readers.entries()) {
          const mine = replies.slice(offset, (offset += rounds[i]!.length));
          const partial = (error: SampleError) => (sample.readerErrors ??= []).push({ need: reader.need, error });
          try {
            await runReader(reader, mine, { session, ref, sample, partial }, sample);
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
  } catch (err) {
    sample.error = classifyError(err);
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
export async function sampleAll(native: NetlinkSessions, refs: NetnsRef[], opts: SamplerOptions, deadline: number): Promise<NsSample[]> {
  const results: NsSample[] = new Array(refs.length);
  let next = 0;
  const lateSample = (ref: NetnsRef): NsSample => ({
    ...emptySample(ref),
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
