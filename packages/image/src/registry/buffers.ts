/**
 * Reused read buffers. A blob download reads into memory taken from here and
 * gives it back when its connection is closed, so a pull allocates as many
 * buffers as it runs downloads at once, not one per layer: V8 frees an unused
 * ArrayBuffer only at a full collection, which external memory alone triggers
 * late (a 100-layer pull would have held 100 MiB of dead batches).
 */
export class BufferPool {
  readonly size: number;
  readonly #max: number;
  readonly #free: Buffer[] = [];

  /** Buffers of `size` bytes; at most `max` are kept for reuse. */
  constructor(size: number, max: number) {
    this.size = size;
    this.#max = max;
  }

  take(): Buffer {
    return this.#free.pop() ?? Buffer.allocUnsafe(this.size);
  }

  /** Only once nothing can write into `buffer` any more (its socket is closed). */
  give(buffer: Buffer): void {
    if (this.#free.length < this.#max && buffer.length === this.size) this.#free.push(buffer);
  }
}
