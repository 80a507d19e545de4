// ChunkFeed: one body produced once, read by any number of responses while it is still being produced.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ChunkFeed } from '../../src/web/chunk-feed.js';

const chunk = (s: string) => Buffer.from(s);

async function* slowly(parts: string[], failAfter?: number): AsyncGenerator<Buffer> {
  for (const [i, p] of parts.entries()) {
    if (i === failAfter) throw new Error('render failed');
    yield chunk(p);
    await nextTurn();
  }
}

describe('ChunkFeed', () => {
  it('gives every reader every chunk in order: one from the start, one joining half way, one after the end', async () => {
    const feed = new ChunkFeed(slowly(['a', 'b', 'c', 'd']));
    const first = feed.all();
    await nextTurn();
    await nextTurn();
    const joined = feed.all();
    const texts = async (p: Promise<Buffer[]>) => (await p).map(String);
    expect(await texts(first)).toEqual(['a', 'b', 'c', 'd']);
    expect(await texts(joined)).toEqual(['a', 'b', 'c', 'd']);
    expect(await texts(feed.all())).toEqual(['a', 'b', 'c', 'd']);
  });

  it('hands out the first chunks before the source has finished', async () => {
    let produced = 0;
    const feed = new ChunkFeed((async function* () {
      for (const p of ['x', 'y', 'z']) {
        produced++;
        yield chunk(p);
        await nextTurn();
      }
    })());
    const it = feed.read();
    expect(String((await it.next()).value)).toBe('x');
    expect(produced).toBeLessThan(3);
  });

  it("throws the source's error to every reader, after the chunks that came before it", async () => {
    const feed = new ChunkFeed(slowly(['a', 'b', 'c'], 2));
    const seen: string[] = [];
    await expect((async () => {
      for await (const c of feed.read()) seen.push(String(c));
    })()).rejects.toThrow('render failed');
    expect(seen).toEqual(['a', 'b']);
    await expect(feed.all()).rejects.toThrow('render failed');
  });

  it('takes a synchronous iterable, and an empty one ends at once', async () => {
    expect((await new ChunkFeed([chunk('one')]).all()).map(String)).toEqual(['one']);
    expect(await new ChunkFeed([]).all()).toEqual([]);
  });
});
