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
 * The collector is reached the documented way (`v8.setFlagsFromString
 * ('--expose-gc')`, then `gc` of a new context); where that is not possible
 * this does nothing.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Bytes streamed between two collections. */
const EVERY = 4 * 1024 * 1024;

type Gc = (options?: { type?: 'minor' | 'major' }) => void;

let collector: { gc: Gc | undefined } | undefined;

function gcFunction(): Gc | undefined {
  if (collector === undefined) {
    collector = { gc: undefined };
    try {
      const existing = (globalThis as { gc?: Gc }).gc;
      if (typeof existing === 'function') {
        collector.gc = existing;
      } else {
        setFlagsFromString('--expose-gc');
        const gc = runInNewContext('typeof gc === "function" ? gc : undefined') as Gc | undefined;
        if (typeof gc === 'function') collector.gc = gc;
      }
    } catch {
      // no collector: buffers are freed at V8's own pace
    }
  }
  return collector.gc;
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
