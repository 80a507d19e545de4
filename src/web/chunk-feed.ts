// A body produced once, in chunks, and read by any number of responses while
// it is still being produced: scrapes that joined one collection share its
// rendering, and the first of them is already on the wire while the rest of
// the exposition renders (the socket and the client work on the other core).

export class ChunkFeed {
  private readonly chunks: Buffer[] = [];
  private done = false;
  private error?: unknown;
  private waiting: Array<() => void> = [];

  constructor(source: AsyncIterable<Buffer> | Iterable<Buffer>) {
    void this.pump(source);
  }

  private async pump(source: AsyncIterable<Buffer> | Iterable<Buffer>): Promise<void> {
    try {
      for await (const chunk of source) {
        this.chunks.push(chunk);
        this.wake();
      }
      this.done = true;
    } catch (err) {
      this.error = err;
    }
    this.wake();
  }

  private wake(): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const w of waiting) w();
  }

  /** Every chunk from the first, as it comes; throws what the source threw, after the chunks before it. */
  async *read(): AsyncGenerator<Buffer> {
    for (let i = 0; ; ) {
      if (i < this.chunks.length) {
        yield this.chunks[i++]!;
        continue;
      }
      if (this.error !== undefined) throw this.error;
      if (this.done) return;
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  /** The whole body, once produced. */
  async all(): Promise<Buffer[]> {
    const out: Buffer[] = [];
    for await (const c of this.read()) out.push(c);
    return out;
  }
}
