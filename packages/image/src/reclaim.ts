/**
 * Returning streamed buffers to the allocator early. Every chunk a stream
 * hands out (a decompressor's output, a socket read) is a fresh ArrayBuffer,
 * used for microseconds; V8 frees dead ones only when it collects garbage,
 * which an allocation pattern of few JavaScript objects and many large
 * buffers triggers only after ~32 MB of them piled up. That pile was a third
 * of the peak RSS of an unpack or a pull. A young-generation collection
 * (scavenge, ~0.2 ms here: little lives in the young generation) every
 * few MiB of streamed bytes keeps it at a few MiB.
 *
 * The collector is the host process's: `gc` on the global object, which
 * `node --expose-gc` gives (the tsoci CLI exposes it for its image
 * commands). A library does not set V8 flags in its caller's process, so
 * without it this does nothing and buffers are freed at V8's own pace.
 */

/** Bytes streamed between two collections. */
const EVERY = 4 * 1024 * 1024;

type Gc = (options?: { type?: 'minor' | 'major' }) => void;

function gcFunction(): Gc | undefined {
  const gc = (globalThis as { gc?: unknown }).gc;
  return typeof gc === 'function' ? (gc as Gc) : undefined;
}

/** Counts streamed bytes and runs a young-generation collection every few MiB. */
export class BufferReclaimer {
  #bytes = 0;

  add(bytes: number): void {
    this.#bytes += bytes;
    if (this.#bytes < EVERY) return;
    this.#bytes = 0;
    try {
      gcFunction()?.({ type: 'minor' });
    } catch {
      // a collector that refuses is only a lost optimisation
    }
  }
}
