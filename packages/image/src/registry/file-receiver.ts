/**
 * Writes a blob's body to a file descriptor from reused memory: socket
 * reads land in a 1 MiB batch buffer (./wire.ts reads straight into it),
 * are hashed where they lie, and a full batch goes to the thread pool to be
 * written while the next one fills. The main thread only hashes; the copy
 * into the page cache runs beside it on another core. Nothing is allocated
 * per read, so there is nothing for the garbage collector to free.
 *
 * Writes are positional and one at a time per file. When two batches wait
 * for the disk, the connection is paused; bytes that still arrive (a TLS
 * record already decrypted) go into a further batch, so no byte is ever
 * dropped or overwritten.
 */
import { write } from 'node:fs';
import type { DigestVerifier } from './digest.js';
import type { BodyControl } from './wire.js';

/** Batch size: large reads, few writes, ≈ 2–3 MiB per download in flight. */
const BATCH = 1024 * 1024;
/** A batch with less room than this is written out: reads stay large. */
const MIN_READ = 64 * 1024;
/** Batches queued or being written before the connection is paused. */
const MAX_PENDING = 2;

export class FileReceiver {
  readonly #fd: number;
  readonly #verifier: DigestVerifier;
  readonly #onBytes: ((n: number) => void) | undefined;
  #batch: Buffer = Buffer.allocUnsafe(BATCH);
  #used = 0;
  readonly #free: Buffer[] = [];
  readonly #queue: { buffer: Buffer; length: number }[] = [];
  #writing = false;
  /** File offset of the next batch written. */
  #position = 0;
  #writeError: Error | undefined;
  #callbackError: Error | undefined;
  #idle: (() => void) | undefined;
  #control: BodyControl | undefined;
  #paused = false;
  /** Bytes at the start of the current response that were received before (a 200 to a Range request). */
  #skip = 0;

  constructor(fd: number, verifier: DigestVerifier, onBytes?: (n: number) => void) {
    this.#fd = fd;
    this.#verifier = verifier;
    this.#onBytes = onBytes;
  }

  /** A failure that ends the download as it is (a failed write, a throwing onBytes). */
  get fatal(): Error | undefined {
    return this.#writeError ?? this.#callbackError;
  }

  /** A new connection delivers from here on; its first `skip` bytes are dropped. */
  attach(control: BodyControl, skip: number): void {
    this.#control = control;
    this.#skip = skip;
    this.#paused = false;
    if (this.#pending() >= MAX_PENDING) this.#pause();
  }

  target(): Uint8Array {
    return this.#batch.subarray(this.#used);
  }

  /** Hashes and places body bytes; throws what the verifier or a failed write throws. */
  data(segment: Uint8Array): void {
    if (this.#writeError !== undefined) throw this.#writeError;
    let bytes = segment;
    if (this.#skip > 0) {
      const n = Math.min(this.#skip, bytes.length);
      this.#skip -= n;
      if (n === bytes.length) return;
      bytes = bytes.subarray(n);
    }
    this.#verifier.update(bytes);
    try {
      this.#onBytes?.(bytes.length);
    } catch (error) {
      this.#callbackError ??= error as Error;
      throw error;
    }
    const batch = this.#batch;
    if (bytes.buffer === batch.buffer && bytes.byteOffset === batch.byteOffset + this.#used) {
      this.#used += bytes.length; // read in place: nothing to copy
    } else {
      // Bytes from elsewhere (the read that carried the response head), or
      // moved left past chunked framing: copy them in.
      let offset = 0;
      while (offset < bytes.length) {
        const n = Math.min(bytes.length - offset, BATCH - this.#used);
        this.#batch.set(bytes.subarray(offset, offset + n), this.#used);
        this.#used += n;
        offset += n;
        if (this.#used === BATCH) this.#submit();
      }
    }
    if (BATCH - this.#used < MIN_READ) this.#submit();
  }

  #pending(): number {
    return this.#queue.length + (this.#writing ? 1 : 0);
  }

  #pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    this.#control?.pause();
  }

  #submit(): void {
    if (this.#used === 0 || this.#writeError !== undefined) return;
    this.#queue.push({ buffer: this.#batch, length: this.#used });
    this.#batch = this.#free.pop() ?? Buffer.allocUnsafe(BATCH);
    this.#used = 0;
    this.#pump();
    if (this.#pending() >= MAX_PENDING) this.#pause();
  }

  #pump(): void {
    if (this.#writing) return;
    const next = this.#queue.shift();
    if (next === undefined) {
      const idle = this.#idle;
      this.#idle = undefined;
      idle?.();
      return;
    }
    this.#writing = true;
    this.#writeAll(next.buffer, 0, next.length, (error) => {
      this.#writing = false;
      if (error) {
        this.#writeError ??= error;
        this.#queue.length = 0;
        this.#control?.abort(error);
      } else {
        this.#free.push(next.buffer);
      }
      if (this.#paused && this.#pending() < MAX_PENDING && this.#writeError === undefined) {
        this.#paused = false;
        this.#control?.resume();
      }
      this.#pump();
    });
  }

  #writeAll(buffer: Buffer, offset: number, length: number, done: (e?: Error) => void): void {
    write(this.#fd, buffer, offset, length, this.#position, (error, written) => {
      if (error) {
        done(error);
        return;
      }
      this.#position += written;
      if (written < length) this.#writeAll(buffer, offset + written, length - written, done);
      else done();
    });
  }

  /** Writes what is left and waits for every write; rejects with a write's error. */
  async flush(): Promise<void> {
    this.#submit();
    await this.settle();
    if (this.#writeError !== undefined) throw this.#writeError;
  }

  /** Waits until no write is in flight (after a failure, before the file is closed). */
  settle(): Promise<void> {
    if (!this.#writing && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const previous = this.#idle;
      this.#idle = () => {
        previous?.();
        resolve();
      };
    });
  }
}
