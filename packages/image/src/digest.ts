/**
 * Digests (descriptor.md#digests): parsing, hashing, and verification of
 * content against a descriptor while it streams.
 */
import { createHash, getHashes, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { ImageError } from './errors.js';

/** The algorithms this package can verify, with node:crypto's name and the encoded length. */
const ALGORITHMS: Readonly<Record<string, { hash: string; hexLength: number }>> = {
  sha256: { hash: 'sha256', hexLength: 64 },
  sha512: { hash: 'sha512', hexLength: 128 },
};

const DIGEST_RE = /^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/;

export interface ParsedDigest {
  algorithm: string;
  encoded: string;
}

/**
 * Splits and checks a digest. Only algorithms this package can compute are
 * accepted (sha256, sha512); anything else is EIMAGE_DIGEST, because content
 * that cannot be verified is never used.
 */
export function parseDigest(digest: string): ParsedDigest {
  const m = DIGEST_RE.exec(digest);
  if (m === null) throw new ImageError('EIMAGE_DIGEST', `invalid digest ${JSON.stringify(digest)}`);
  const algorithm = m[1] as string;
  const encoded = m[2] as string;
  const alg = ALGORITHMS[algorithm];
  if (alg === undefined || !getHashes().includes(alg.hash)) {
    throw new ImageError(
      'EIMAGE_DIGEST',
      `unsupported digest algorithm "${algorithm}" in ${JSON.stringify(digest)}`,
    );
  }
  if (encoded.length !== alg.hexLength || !/^[0-9a-f]+$/.test(encoded)) {
    throw new ImageError(
      'EIMAGE_DIGEST',
      `invalid ${algorithm} digest ${JSON.stringify(digest)} (expected ${alg.hexLength} lowercase hex digits)`,
    );
  }
  return { algorithm, encoded };
}

/** A hash object for the algorithm of `digest`. */
export function hasherFor(digest: string): Hash {
  const { algorithm } = parseDigest(digest);
  return createHash((ALGORITHMS[algorithm] as { hash: string }).hash);
}

/** `sha256:<hex>` of some bytes. */
export function sha256Digest(data: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** What must be verified: a descriptor's digest and (optionally) size. */
export interface Expected {
  digest: string;
  size?: number;
  /** Names the content in error messages, e.g. "layer 2 of oci:/srv/img". */
  what?: string;
}

function label(expected: Expected): string {
  return expected.what === undefined ? expected.digest : `${expected.what} (${expected.digest})`;
}

/** Checks bytes against a digest and size; throws EIMAGE_DIGEST on mismatch. */
export function verifyBytes(data: Uint8Array, expected: Expected): void {
  if (expected.size !== undefined && data.byteLength !== expected.size) {
    throw new ImageError(
      'EIMAGE_DIGEST',
      `size mismatch for ${label(expected)}: expected ${expected.size} bytes, got ${data.byteLength}`,
    );
  }
  const hash = hasherFor(expected.digest);
  hash.update(data);
  const actual = `${parseDigest(expected.digest).algorithm}:${hash.digest('hex')}`;
  if (actual !== expected.digest) {
    throw new ImageError(
      'EIMAGE_DIGEST',
      `digest mismatch for ${label(expected)}: content has digest ${actual}`,
    );
  }
}

export interface VerifyStreamOptions {
  /**
   * Hash each chunk in a later macrotask instead of inside the write that
   * brought it. Behind a producer that works on the thread pool (a
   * decompressor), the write returns at once and the producer starts on its
   * next piece while this thread hashes, instead of waiting for the hash.
   */
  deferred?: boolean;
}

/**
 * A pass-through stream that hashes and counts what flows through it and
 * fails (before signalling the end) when the content does not match: more
 * bytes than `size` fail as soon as they arrive; fewer bytes or a different
 * digest fail at the end. Consumers must therefore treat anything they wrote
 * from the stream as provisional until the stream has finished cleanly.
 */
export class VerifyStream extends Transform {
  readonly expected: Expected;
  #hash: Hash;
  #algorithm: string;
  #bytes = 0;
  readonly #deferred: boolean;
  /** The verified digest, set once the stream has ended successfully. */
  verifiedDigest: string | undefined;

  constructor(expected: Expected, options: VerifyStreamOptions = {}) {
    super();
    this.expected = expected;
    this.#deferred = options.deferred === true;
    this.#algorithm = parseDigest(expected.digest).algorithm;
    this.#hash = hasherFor(expected.digest);
  }

  get bytes(): number {
    return this.#bytes;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#bytes += chunk.byteLength;
    const { size } = this.expected;
    if (size !== undefined && this.#bytes > size) {
      callback(
        new ImageError(
          'EIMAGE_DIGEST',
          `size mismatch for ${label(this.expected)}: expected ${size} bytes, got more`,
        ),
      );
      return;
    }
    if (this.#deferred) {
      setImmediate(() => {
        if (this.destroyed) {
          callback();
          return;
        }
        this.#hash.update(chunk);
        callback(null, chunk);
      });
      return;
    }
    this.#hash.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    const { size } = this.expected;
    if (size !== undefined && this.#bytes !== size) {
      callback(
        new ImageError(
          'EIMAGE_DIGEST',
          `size mismatch for ${label(this.expected)}: expected ${size} bytes, got ${this.#bytes} (truncated?)`,
        ),
      );
      return;
    }
    const actual = `${this.#algorithm}:${this.#hash.digest('hex')}`;
    if (actual !== this.expected.digest) {
      callback(
        new ImageError(
          'EIMAGE_DIGEST',
          `digest mismatch for ${label(this.expected)}: content has digest ${actual}`,
        ),
      );
      return;
    }
    this.verifiedDigest = actual;
    callback();
  }
}

/** A VerifyStream for `expected` (pipe a blob through it). */
export function verifyStream(expected: Expected, options?: VerifyStreamOptions): VerifyStream {
  return new VerifyStream(expected, options);
}

/**
 * Streams this package made that verify themselves: they fail (instead of
 * ending) unless the content has exactly the digest and size recorded here
 * (the registry client's blob streams). A consumer may skip its own
 * VerifyStream for them, so a blob is hashed once, not twice. Only code of
 * this package marks streams (the set is module-private).
 */
const selfVerifying = new WeakMap<object, { digest: string; size: number }>();

/** Records that `stream` errors unless its content matches `expected`. */
export function markSelfVerifying<T extends object>(
  stream: T,
  expected: { digest: string; size: number },
): T {
  selfVerifying.set(stream, { digest: expected.digest, size: expected.size });
  return stream;
}

/** Whether `stream` verifies itself against exactly this digest and size. */
export function isSelfVerifying(
  stream: object,
  expected: { digest: string; size: number },
): boolean {
  const v = selfVerifying.get(stream);
  return v !== undefined && v.digest === expected.digest && v.size === expected.size;
}
