/**
 * A streaming tar reader: a Writable that decodes entries as bytes arrive and
 * hands them to a handler, never holding more than one header (or one pax
 * record set) in memory. Handlers may be synchronous (the fast path: no
 * promise per entry) or return a promise to pause the stream.
 *
 * The archive may end with the end-of-archive marker (one zero block is
 * enough) or without it, right after an entry's complete content, with or
 * without the zero padding to the next block: Go's archive/tar writes that
 * padding only when the next header or Close comes, so writers that never
 * close it (`umoci insert` 0.4) stop after the last entry's content; Go's
 * reader (umoci, containerd) accepts that. (A layer's DiffID is verified
 * over the whole stream, so a stream cut short in transit still fails.) A
 * stream that stops anywhere else (inside a header or an entry's content, or
 * between a pax / long-name header and its entry) lost data and is reported
 * as truncated (EIMAGE_INVALID).
 */
import { Writable } from 'node:stream';
import { ImageError } from '../errors.js';
import { BufferReclaimer } from '../reclaim.js';
import { BLOCK, HeaderDecoder, padded, type TarEntry } from './header.js';

export interface TarHandler {
  /** A new entry; for files, `data()` calls follow with exactly `entry.size` bytes. */
  entry(entry: TarEntry): void | Promise<void>;
  /** Content of the current entry (a view into the input: use it before returning). */
  data(chunk: Buffer): void;
  /** The current entry is complete. */
  entryEnd(): void | Promise<void>;
}

type State = 'header' | 'data' | 'meta' | 'skip' | 'end';

function isPromise(value: unknown): value is Promise<void> {
  return typeof value === 'object' && value !== null && 'then' in value;
}

export class TarParser extends Writable {
  readonly #handler: TarHandler;
  readonly #decoder = new HeaderDecoder();
  #state: State = 'header';
  readonly #header = Buffer.alloc(BLOCK);
  #headerLength = 0;
  /** Bytes left in the current data/meta/skip section. */
  #remaining = 0;
  /** Padding to skip after the current data/meta section. */
  #padding = 0;
  /** What the current skip section is: an entry's padding, or part of a metadata header. */
  #skipping: 'padding' | 'header' = 'padding';
  #meta: Buffer | undefined;
  #metaLength = 0;
  #entries = 0;
  readonly #reclaimer = new BufferReclaimer();
  /** Name and size of the last entry, for saying where a truncated archive stops. */
  #last: { name: string; size: number } | undefined;

  constructor(handler: TarHandler) {
    super({ highWaterMark: 256 * 1024 });
    this.#handler = handler;
  }

  /** Entries seen so far. */
  get entries(): number {
    return this.#entries;
  }

  /**
   * Each chunk is processed in a later macrotask, not inside the write that
   * brought it. The handler's work is long and synchronous (file-system
   * calls); a producer on the thread pool (a decompressor) hands over its
   * output from inside its own completion callback and only then starts on
   * the next piece. Returning at once lets it decompress the next piece
   * while this thread writes files: a 244 MB gzip image unpacked 13 %
   * faster (23 % with the DiffID hash deferred too). A chunk still pending when the stream is destroyed is
   * dropped unprocessed (its callback still runs), so nothing is written
   * after a failure.
   */
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (e?: Error | null) => void) {
    setImmediate(() => {
      if (this.destroyed) callback();
      else this.#consume(chunk, callback);
    });
  }

  #consume(chunk: Buffer, callback: (e?: Error | null) => void): void {
    let result: void | Promise<void>;
    try {
      result = this.#process(chunk, 0);
    } catch (error) {
      callback(error as Error);
      return;
    }
    // The chunks consumed so far (a decompressor's output) are dead: free them early.
    this.#reclaimer.add(chunk.length);
    if (isPromise(result)) result.then(() => callback(), callback);
    else callback();
  }

  override _final(callback: (e?: Error | null) => void): void {
    if (this.#state === 'end' || this.#atEntryBoundary()) {
      callback();
      return;
    }
    callback(
      new ImageError(
        'EIMAGE_INVALID',
        this.#entries === 0 &&
          this.#state === 'header' &&
          this.#headerLength === 0 &&
          !this.#decoder.awaitingEntry
          ? 'not a tar archive: no entries and no end-of-archive marker'
          : `truncated tar archive: ${this.#whereStopped()}`,
      ),
    );
  }

  /**
   * The stream stopped cleanly after a complete entry (no end-of-archive
   * marker), possibly before or inside that entry's zero padding.
   */
  #atEntryBoundary(): boolean {
    if (this.#entries === 0 || this.#decoder.awaitingEntry) return false;
    if (this.#state === 'skip') return this.#skipping === 'padding';
    return this.#state === 'header' && this.#headerLength === 0;
  }

  #whereStopped(): string {
    const n = this.#entries;
    const last = this.#last;
    const after = last === undefined ? '' : ` (after ${JSON.stringify(last.name)})`;
    if (this.#state === 'data' && last !== undefined) {
      return `stream ended inside the content of entry ${n} (${JSON.stringify(last.name)}, ${last.size} bytes), ${this.#remaining} bytes short`;
    }
    if (this.#state === 'header' && this.#headerLength > 0) {
      return `stream ended inside the header of entry ${n + 1} (${this.#headerLength} of ${BLOCK} bytes)${after}`;
    }
    if (this.#state === 'header') {
      return `stream ended between the pax or GNU long-name header of entry ${n + 1} and the entry itself${after}`;
    }
    return `stream ended inside the pax or GNU long-name header of entry ${n + 1}${after}`;
  }

  /** Processes `chunk` from `offset`; returns a promise only when a handler did. */
  #process(chunk: Buffer, offset: number): void | Promise<void> {
    let off = offset;
    while (off < chunk.length) {
      switch (this.#state) {
        case 'end':
          // Whatever follows the marker (record padding) is ignored.
          return;
        case 'header': {
          const n = Math.min(BLOCK - this.#headerLength, chunk.length - off);
          chunk.copy(this.#header, this.#headerLength, off, off + n);
          this.#headerLength += n;
          off += n;
          if (this.#headerLength < BLOCK) return;
          this.#headerLength = 0;
          const result = this.#decoder.header(this.#header);
          if (result.kind === 'end') {
            this.#state = 'end';
            return;
          }
          if (result.kind === 'meta') {
            this.#state = 'meta';
            this.#remaining = result.size;
            this.#padding = padded(result.size) - result.size;
            this.#meta = Buffer.allocUnsafe(result.size);
            this.#metaLength = 0;
            if (result.size === 0) this.#endMeta();
            break;
          }
          if (result.kind === 'skip') {
            this.#state = 'skip';
            this.#skipping = 'header';
            this.#remaining = padded(result.size);
            break;
          }
          const entry = result.entry;
          this.#entries++;
          this.#last = { name: entry.name, size: entry.size };
          const r = this.#handler.entry(entry);
          if (entry.size > 0) {
            this.#state = 'data';
            this.#remaining = entry.size;
            this.#padding = padded(entry.size) - entry.size;
          }
          if (isPromise(r)) return r.then(() => this.#afterEntry(chunk, off, entry));
          if (entry.size === 0) {
            this.#state = 'header';
            const r2 = this.#handler.entryEnd();
            if (isPromise(r2)) return r2.then(() => this.#process(chunk, off));
          }
          break;
        }
        case 'data': {
          const n = Math.min(this.#remaining, chunk.length - off);
          this.#handler.data(chunk.subarray(off, off + n));
          this.#remaining -= n;
          off += n;
          if (this.#remaining === 0) {
            this.#state = 'skip';
            this.#skipping = 'padding';
            this.#remaining = this.#padding;
            const r = this.#handler.entryEnd();
            if (isPromise(r)) return r.then(() => this.#process(chunk, off));
          }
          break;
        }
        case 'meta': {
          const meta = this.#meta as Buffer;
          const n = Math.min(this.#remaining, chunk.length - off);
          chunk.copy(meta, this.#metaLength, off, off + n);
          this.#metaLength += n;
          this.#remaining -= n;
          off += n;
          if (this.#remaining === 0) this.#endMeta();
          break;
        }
        case 'skip': {
          const n = Math.min(this.#remaining, chunk.length - off);
          this.#remaining -= n;
          off += n;
          if (this.#remaining === 0) this.#state = 'header';
          break;
        }
      }
    }
    if (this.#state === 'skip' && this.#remaining === 0) this.#state = 'header';
  }

  #endMeta(): void {
    this.#decoder.meta(this.#meta as Buffer);
    this.#meta = undefined;
    this.#state = 'skip';
    this.#skipping = 'header';
    this.#remaining = this.#padding;
  }

  /** Continues after an asynchronous `entry()`: header-only entries end at once. */
  #afterEntry(chunk: Buffer, off: number, entry: TarEntry): void | Promise<void> {
    if (entry.size === 0) {
      this.#state = 'header';
      const r = this.#handler.entryEnd();
      if (isPromise(r)) return r.then(() => this.#process(chunk, off));
    }
    return this.#process(chunk, off);
  }
}
