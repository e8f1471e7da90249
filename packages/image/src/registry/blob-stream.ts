/**
 * A blob download that verifies itself: every byte is counted and hashed as
 * it arrives (DigestVerifier), the download fails on the first byte beyond
 * the descriptor's size, and it succeeds only when size and digest match. A
 * connection that drops mid-way (a reset, a body cut short, the idle
 * timeout) is resumed with a Range request, a bounded number of times; a
 * server that ignores Range sends everything again and the part already
 * received is skipped.
 *
 * Two ways to take the bytes, chosen by the first use:
 * - as a Readable (any consumer): the response's chunks are pushed on;
 * - `toFile(fd)`: the body goes from the socket into a reused buffer and on
 *   to the file (./file-receiver.ts), with no chunk ever handed out. The
 *   store uses it for pulls (the client marks the stream with
 *   `markFileWriter`, ../file-writer.ts).
 */
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FileWriterOptions } from '../file-writer.js';
import type { DigestVerifier } from './digest.js';
import { RegistryError } from './errors.js';
import { FileReceiver } from './file-receiver.js';
import type { HttpResponse } from './http.js';
import { describeCause, isRetryableNetworkError } from './transport.js';
import { WireResponse } from './wire.js';

export interface BlobStreamOptions {
  /** The first response (status 200, size already checked). */
  first: HttpResponse;
  /** Opens the blob again from `offset` (a 200 or a 206 starting there). */
  reopen: (offset: number) => Promise<HttpResponse>;
  verifier: DigestVerifier;
  /** Names the blob in messages. */
  what: string;
  /** Resumptions after a dropped connection. */
  retries: number;
  /** Delay before the first resumption, doubled for each next one. */
  retryDelayMs: number;
  signal?: AbortSignal | undefined;
  /** Turns errors into the caller's kind (e.g. ImageError for an ImageSource). */
  mapError?: ((error: unknown) => unknown) | undefined;
}

/** 256 KiB: a few socket reads queue up before the response is paused. */
const HIGH_WATER_MARK = 256 * 1024;

export class BlobStream extends Readable {
  readonly #options: BlobStreamOptions;
  #mode: 'new' | 'stream' | 'file' = 'new';
  /** The response being read (stream mode). */
  #body: Readable | undefined;
  #current: HttpResponse | undefined;
  /** Bytes of the current response to drop (already received before a resumption). */
  #skip = 0;
  #resumes = 0;

  constructor(options: BlobStreamOptions) {
    super({ highWaterMark: HIGH_WATER_MARK });
    this.#options = options;
    this.#current = options.first;
  }

  /** The error the download fails with when a connection problem ends it. */
  #failure(error: unknown): unknown {
    const { verifier, signal, retries, what } = this.#options;
    if (
      error instanceof RegistryError ||
      signal?.aborted ||
      !isRetryableNetworkError(error) ||
      this.#resumes >= retries
    ) {
      return error instanceof RegistryError || signal?.aborted
        ? error
        : new RegistryError(
            'EREGISTRY_HTTP',
            `${what}: download failed after ${verifier.received} of ${verifier.target.size} bytes${this.#resumes > 0 ? ` and ${this.#resumes} resumptions` : ''}: ${describeCause(error)}`,
            { cause: error },
          );
    }
    return undefined;
  }

  /** Waits and opens the blob again where the verifier stopped. */
  async #reopen(): Promise<{ response: HttpResponse; skip: number }> {
    const { verifier, signal, retryDelayMs, reopen } = this.#options;
    this.#resumes++;
    await sleep(retryDelayMs * 2 ** (this.#resumes - 1), undefined, signal ? { signal } : {});
    const response = await reopen(verifier.received);
    return { response, skip: response.status === 206 ? 0 : verifier.received };
  }

  #mapped(error: unknown): Error {
    return (this.#options.mapError?.(error) ?? error) as Error;
  }

  // ----- stream mode

  #attach(response: HttpResponse, skip: number): void {
    const body = response.body;
    this.#current = response;
    this.#body = body;
    this.#skip = skip;
    body.on('data', this.#onData);
    body.on('end', this.#onEnd);
    body.on('error', this.#onError);
    body.on('close', this.#onClose);
  }

  #detach(): Readable | undefined {
    const body = this.#body;
    if (body !== undefined) {
      body.off('data', this.#onData);
      body.off('end', this.#onEnd);
      body.off('error', this.#onError);
      body.off('close', this.#onClose);
      this.#body = undefined;
    }
    return body;
  }

  #fail(error: unknown): void {
    this.#detach()?.destroy();
    this.destroy(this.#mapped(error));
  }

  readonly #onData = (chunk: Buffer): void => {
    let data = chunk;
    if (this.#skip > 0) {
      const n = Math.min(this.#skip, data.length);
      this.#skip -= n;
      if (n === data.length) return;
      data = data.subarray(n);
    }
    try {
      this.#options.verifier.update(data);
    } catch (error) {
      this.#fail(error);
      return;
    }
    if (!this.push(data)) this.#body?.pause();
  };

  readonly #onEnd = (): void => {
    this.#detach();
    try {
      this.#options.verifier.finish();
    } catch (error) {
      this.#fail(error);
      return;
    }
    this.push(null);
  };

  readonly #onClose = (): void => {
    // A body closed before its end without an error of its own: the connection went away.
    if (this.#body !== undefined && !this.#body.readableEnded) {
      const error = new Error('the connection closed before the end of the body') as Error & {
        code: string;
      };
      error.code = 'ECONNRESET';
      this.#onError(error);
    }
  };

  readonly #onError = (error: Error): void => {
    this.#detach()?.destroy();
    if (this.destroyed) return;
    const failure = this.#failure(error);
    if (failure !== undefined) {
      this.#fail(failure);
      return;
    }
    this.#reopen().then(
      ({ response, skip }) => {
        if (this.destroyed) response.cancel();
        else this.#attach(response, skip);
      },
      (reopenError: unknown) => this.#fail(reopenError),
    );
  };

  override _read(): void {
    if (this.#mode === 'new') {
      this.#mode = 'stream';
      this.#attach(this.#options.first, 0);
    }
    this.#body?.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#detach()?.destroy();
    if (this.#mode === 'new') this.#current?.cancel();
    callback(error);
  }

  // ----- file mode

  /**
   * Writes the whole blob to `fd` (from offset 0) instead of streaming it,
   * and resolves once every byte is written and size and digest matched.
   * Only for a stream nothing has been read from (else it rejects at once).
   */
  async toFile(fd: number, options: FileWriterOptions = {}): Promise<void> {
    if (this.#mode !== 'new' || this.destroyed) {
      throw new Error('toFile: the blob stream is in use already');
    }
    this.#mode = 'file';
    const receiver = new FileReceiver(fd, this.#options.verifier, options.onBytes);
    let response = this.#options.first;
    let skip = 0;
    try {
      for (;;) {
        const outcome = await receive(response, receiver, skip);
        if (outcome === 'end') {
          this.#options.verifier.finish();
          receiver.flush();
          break;
        }
        // A failed write or a throwing onBytes ends it as it is: nothing to resume.
        if (receiver.fatal !== undefined) throw receiver.fatal;
        const failure = this.#failure(outcome);
        if (failure !== undefined) throw failure;
        ({ response, skip } = await this.#reopen());
      }
    } catch (error) {
      throw this.#mapped(error);
    } finally {
      // Every connection is closed by now (each ends with its body or its
      // error), so no read can land in the receiver's memory any more.
      receiver.release();
      // The stream itself carries nothing: end it so that nothing waits on it.
      this.destroy();
    }
  }
}

/** One response's body into the receiver: 'end' or the error that stopped it. */
function receive(
  response: HttpResponse,
  receiver: FileReceiver,
  skip: number,
): Promise<'end' | Error> {
  return new Promise((resolve) => {
    receiver.attach(skip);
    if (response instanceof WireResponse) {
      response.receive({
        target: () => receiver.target(),
        data: (segment) => receiver.data(segment),
        end: () => resolve('end'),
        error: resolve,
      });
      return;
    }
    // Any other response: its chunks are copied into the receiver's buffer.
    const body = response.body;
    const onData = (chunk: Buffer) => {
      try {
        receiver.data(chunk);
      } catch (error) {
        body.destroy(error as Error);
      }
    };
    let settled = false;
    const settle = (outcome: 'end' | Error) => {
      if (settled) return;
      settled = true;
      // Nothing more may reach the receiver once this connection is over.
      body.off('data', onData);
      if (outcome !== 'end') body.destroy();
      resolve(outcome);
    };
    body.on('data', onData);
    body.on('end', () => settle('end'));
    body.on('error', settle);
    body.on('close', () => {
      if (body.readableEnded) return;
      const error = new Error('the connection closed before the end of the body') as Error & {
        code: string;
      };
      error.code = 'ECONNRESET';
      settle(error);
    });
  });
}
