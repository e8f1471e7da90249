/**
 * One image layer, from its (compressed) blob to files: the blob's digest and
 * size are verified as it streams, it is decompressed, the uncompressed tar
 * is checked against the config's DiffID, and the entries are applied. Any
 * mismatch fails; callers discard what was written.
 *
 * A blob in a local file (store, layout, archive) is read with two reused
 * buffers instead of a stream: each chunk is hashed and handed to the next
 * stage, whose write callback means the chunk was fully consumed, before its
 * buffer is refilled. That keeps memory flat whatever the layer size
 * (streams allocate a fresh buffer per chunk, and Node gives that memory back
 * only at the next full GC).
 */
import { close as closeCallback, open as openCallback, read as readCallback } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import type { Descriptor } from '@ts-oci/spec';
import { hasherFor, isSelfVerifying, parseDigest, verifyStream } from '../digest.js';
import { describe, ImageError } from '../errors.js';
import { type Compression, decompressor, layerCompression } from '../media.js';
import type { ByteCounter } from '../progress.js';
import type { FileRange } from '../source.js';
import { TarParser } from '../tar/parser.js';
import { type ApplyOptions, type ApplyStats, LayerApplier } from './apply.js';

const openFd = promisify(openCallback);
const closeFd = promisify(closeCallback);
const CHUNK = 256 * 1024;

function readAt(fd: number, buffer: Buffer, position: number, length: number): Promise<number> {
  return new Promise((resolve, reject) => {
    readCallback(fd, buffer, 0, length, position, (error, n) =>
      error ? reject(error) : resolve(n),
    );
  });
}

function write(stream: Writable, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.write(chunk, (error) => (error ? reject(error) : resolve()));
  });
}

/** A blob: a stream, or a byte range of a local file. */
export type BlobInput = Readable | FileRange;

function isRange(input: BlobInput): input is FileRange {
  return (
    typeof (input as FileRange).path === 'string' && typeof (input as Readable).pipe !== 'function'
  );
}

/**
 * Feeds a file range into `head`, verifying digest and size on the way; the
 * buffers are reused, so `head` must consume each chunk before calling back.
 */
async function feedFile(
  range: FileRange,
  head: Writable,
  layer: Descriptor,
  what: string,
  aborted: Promise<never>,
  counter: ByteCounter | undefined,
): Promise<void> {
  const hash = hasherFor(layer.digest);
  const { algorithm } = parseDigest(layer.digest);
  const fd = await openFd(range.path, 'r');
  try {
    const buffers = [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)];
    let offset = 0;
    let which = 0;
    const next = () => {
      const length = Math.min(CHUNK, range.length - offset);
      return length <= 0
        ? Promise.resolve(0)
        : readAt(fd, buffers[which] as Buffer, range.start + offset, length);
    };
    let pending = next();
    for (;;) {
      const n = await pending;
      if (n === 0) break;
      const chunk = (buffers[which] as Buffer).subarray(0, n);
      offset += n;
      which ^= 1;
      pending = next();
      // The write first: a decompressor starts on the chunk in the thread pool
      // while this thread hashes it (both only read it).
      const written = write(head, chunk);
      hash.update(chunk);
      // A stream that fails mid-write may never call back: stop on the failure instead.
      await Promise.race([written, aborted]);
      counter?.add(n);
    }
    if (offset !== range.length || offset !== layer.size) {
      throw new ImageError(
        'EIMAGE_DIGEST',
        `size mismatch for ${what} (${layer.digest}): expected ${layer.size} bytes, got ${offset}`,
      );
    }
    const actual = `${algorithm}:${hash.digest('hex')}`;
    if (actual !== layer.digest) {
      throw new ImageError(
        'EIMAGE_DIGEST',
        `digest mismatch for ${what} (${layer.digest}): content has digest ${actual}`,
      );
    }
  } finally {
    await closeFd(fd);
  }
}

export async function applyLayerBlob(
  blob: BlobInput,
  layer: Descriptor,
  diffId: string | undefined,
  root: string,
  options: ApplyOptions,
  what: string,
  /** Counts the blob's bytes as they are consumed (progress events). */
  counter?: ByteCounter,
): Promise<ApplyStats> {
  const compression = layerCompression(layer.mediaType, what);
  if (compression === 'none' && diffId !== undefined && diffId !== layer.digest) {
    throw new ImageError(
      'EIMAGE_DIGEST',
      `${what}: an uncompressed layer is its own diff, but its digest ${layer.digest} is not the config's DiffID ${diffId}`,
    );
  }
  const applier = new LayerApplier(root, options);
  const parser = new TarParser(applier);
  const decoder = decompressor(compression);
  // Stages after the blob's own verification.
  const after: NodeJS.ReadWriteStream[] = [];
  if (decoder !== undefined) {
    after.push(decoder as NodeJS.ReadWriteStream);
    if (diffId !== undefined) {
      after.push(
        verifyStream(
          { digest: diffId, what: `${what} (uncompressed, DiffID)` },
          { deferred: true },
        ) as NodeJS.ReadWriteStream,
      );
    }
  }
  const signal = options.signal;
  let unlisten = () => {};
  try {
    signal?.throwIfAborted();
    if (isRange(blob)) {
      const head = (decoder ?? parser) as Writable;
      let downstream: { error: unknown } | undefined;
      let feeding: { error: unknown } | undefined;
      let abort: (error: unknown) => void = () => {};
      const aborted = new Promise<never>((_, reject) => {
        abort = reject;
      });
      aborted.catch(() => {});
      if (signal) {
        const onAbort = () => abort(signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
        unlisten = () => signal.removeEventListener('abort', onAbort);
      }
      const done = (decoder !== undefined ? pipeline([...after, parser]) : finished(parser)).catch(
        (error) => {
          downstream = { error };
          abort(error);
        },
      );
      try {
        await feedFile(blob, head, layer, what, aborted, counter);
      } catch (error) {
        feeding = { error };
      }
      if (feeding === undefined && downstream === undefined) head.end();
      else head.destroy();
      await done;
      // The blob's own digest/size problem comes first; then what went wrong downstream
      // (a write into a destroyed stream is only a consequence).
      if (feeding !== undefined && feeding.error instanceof ImageError) throw feeding.error;
      if (downstream !== undefined) throw downstream.error;
      if (feeding !== undefined) throw feeding.error;
    } else {
      const stages = [
        blob,
        ...(counter ? [counter.stream() as NodeJS.ReadWriteStream] : []),
        // A stream that verifies itself (the registry client's) is not hashed twice.
        ...(isSelfVerifying(blob, layer)
          ? []
          : [
              verifyStream({
                digest: layer.digest,
                size: layer.size,
                what,
              }) as NodeJS.ReadWriteStream,
            ]),
        ...after,
        parser,
      ];
      if (signal) await pipeline(stages, { signal });
      else await pipeline(stages);
    }
    return await applier.finish();
  } catch (error) {
    applier.abort();
    if (!isRange(blob)) blob.destroy();
    if (signal?.aborted) throw signal.reason;
    // A progress listener that threw: its error, not the stream errors it caused.
    if (counter?.failure) throw counter.failure.error;
    throw layerError(error, what, compression);
  } finally {
    unlisten();
  }
}

/**
 * The error of a failed layer, naming the layer: the decompressors and the
 * tar reader do not know which layer they are reading, and an image has many.
 */
function layerError(error: unknown, what: string, compression: Compression): ImageError {
  if (error instanceof ImageError) {
    if (error.message.includes(what)) return error;
    return new ImageError(error.code, `${what}: ${error.message}`, { cause: error });
  }
  const code = (error as NodeJS.ErrnoException).code;
  if (
    code === 'Z_DATA_ERROR' ||
    code === 'Z_BUF_ERROR' ||
    // node:zlib's native zstd decoder (Node ≥ 22.15) reports ZSTD_error_* codes.
    code?.startsWith('ZSTD_error_') ||
    code === 'ERR_STREAM_PREMATURE_CLOSE'
  ) {
    return new ImageError(
      'EIMAGE_INVALID',
      `${what}: corrupt or truncated ${compression} data (${describe(error)})`,
      { cause: error },
    );
  }
  return new ImageError('EIMAGE_IO', `${what}: ${describe(error)}`, { cause: error });
}
