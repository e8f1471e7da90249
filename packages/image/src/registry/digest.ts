/**
 * Digest and size verification while streaming (node:crypto, incremental):
 * content never has to be held whole to be checked.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { RegistryError } from './errors.js';
import { digestProblem } from './reference.js';

/** What is verified: a descriptor's digest and size. */
export interface DigestTarget {
  digest: string;
  size: number;
}

/** The node:crypto algorithm of a digest; EREGISTRY_DIGEST for an unusable digest. */
export function digestAlgorithm(digest: string): 'sha256' | 'sha512' {
  const problem = digestProblem(digest);
  if (problem !== undefined) {
    throw new RegistryError(
      'EREGISTRY_DIGEST',
      `cannot verify digest ${JSON.stringify(digest)}: ${problem}`,
    );
  }
  return digest.startsWith('sha512:') ? 'sha512' : 'sha256';
}

/** `sha256:<hex>` of some bytes. */
export function computeDigest(
  bytes: Uint8Array,
  algorithm: 'sha256' | 'sha512' = 'sha256',
): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

/**
 * Counts and hashes bytes as they pass. `update` throws as soon as more
 * bytes than the expected size arrive (a hostile or broken server cannot
 * make us read without end); `finish` throws unless both size and digest
 * match. `what` names the content in messages ("blob sha256:… of repo").
 */
export class DigestVerifier {
  readonly target: DigestTarget;
  readonly what: string;
  #hash: Hash;
  #received = 0;

  constructor(target: DigestTarget, what: string) {
    this.target = target;
    this.what = what;
    this.#hash = createHash(digestAlgorithm(target.digest));
  }

  get received(): number {
    return this.#received;
  }

  update(chunk: Uint8Array): void {
    this.#received += chunk.length;
    if (this.#received > this.target.size) {
      throw new RegistryError(
        'EREGISTRY_DIGEST',
        `${this.what}: received more than the expected ${this.target.size} bytes`,
      );
    }
    this.#hash.update(chunk);
  }

  /** Throws EREGISTRY_DIGEST unless the size and the digest match. */
  finish(): void {
    if (this.#received !== this.target.size) {
      throw new RegistryError(
        'EREGISTRY_DIGEST',
        `${this.what}: size mismatch: expected ${this.target.size} bytes, got ${this.#received}`,
      );
    }
    const algorithm = this.target.digest.slice(0, this.target.digest.indexOf(':'));
    const actual = `${algorithm}:${this.#hash.digest('hex')}`;
    if (actual !== this.target.digest) {
      throw new RegistryError(
        'EREGISTRY_DIGEST',
        `${this.what}: digest mismatch: expected ${this.target.digest}, got ${actual}`,
      );
    }
  }
}

/**
 * A pass-through stream that verifies what flows through it against
 * `target`: it errors (EREGISTRY_DIGEST) on the first excess byte or, at the
 * end, on a size or digest mismatch. Whoever writes the output somewhere
 * must write to a temporary name and publish it only when the stream ended
 * without error.
 */
export function verifyingStream(target: DigestTarget, what: string): Transform {
  const verifier = new DigestVerifier(target, what);
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      try {
        verifier.update(chunk);
      } catch (error) {
        callback(error as Error);
        return;
      }
      callback(null, chunk);
    },
    flush(callback: TransformCallback) {
      try {
        verifier.finish();
      } catch (error) {
        callback(error as Error);
        return;
      }
      callback();
    },
  });
}
