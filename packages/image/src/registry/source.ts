/**
 * A registry image as an ImageSource (../source.ts): `resolve` follows the
 * reference's manifest or index to the manifest for a platform with the
 * package's shared resolver, `openBlob` streams blobs.
 *
 * Errors follow the ImageSource contract where it names a code: a missing
 * manifest or blob is ImageError EIMAGE_NOT_FOUND, a digest mismatch
 * EIMAGE_DIGEST, an unusable manifest EIMAGE_MEDIA_TYPE (the RegistryError is
 * the `cause`). Authentication and transport failures stay RegistryErrors
 * (EREGISTRY_AUTH, EREGISTRY_HTTP).
 */
import type { Readable } from 'node:stream';
import { type Descriptor, DOCKER_MEDIA_TYPES, OCI_MEDIA_TYPES } from '@ts-oci/spec';
import { ImageError } from '../errors.js';
import { resolveDescriptor } from '../resolve.js';
import type { ImageSource, PlatformSelector, ResolvedImage } from '../source.js';
import { RegistryClient, type RegistryClientOptions } from './client.js';
import { dockerCredentialProvider } from './credentials.js';
import { RegistryError } from './errors.js';
import { ImageReference, toReference } from './reference.js';

const MANIFEST_TYPES: readonly string[] = [
  OCI_MEDIA_TYPES.imageIndex,
  OCI_MEDIA_TYPES.imageManifest,
  DOCKER_MEDIA_TYPES.manifestListV2,
  DOCKER_MEDIA_TYPES.manifestV2,
];

/** Largest config (or other document) read into memory. */
const MAX_DOCUMENT_BYTES = 32 * 1024 * 1024;

/** Maps registry errors onto the ImageSource contract's codes (keeping the original as cause). */
export function toImageSourceError(error: unknown): unknown {
  if (!(error instanceof RegistryError)) return error;
  const options = { cause: error };
  switch (error.code) {
    case 'EREGISTRY_NOT_FOUND':
      return new ImageError('EIMAGE_NOT_FOUND', error.message, options);
    case 'EREGISTRY_DIGEST':
      return new ImageError('EIMAGE_DIGEST', error.message, options);
    case 'EREGISTRY_MANIFEST':
      return error.cause instanceof Error &&
        (error.cause as { code?: unknown }).code === 'ESPEC_INVALID'
        ? error.cause
        : new ImageError('EIMAGE_MEDIA_TYPE', error.message, options);
    case 'EREGISTRY_PLATFORM':
      return new ImageError('EIMAGE_PLATFORM', error.message, options);
    default:
      return error;
  }
}

async function mapErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw toImageSourceError(error);
  }
}

export class RegistrySource implements ImageSource {
  readonly reference: string;
  readonly ref: ImageReference;
  readonly client: RegistryClient;
  /** Manifests fetched so far, by digest (the root is fetched by tag, then read by digest). */
  readonly #manifests = new Map<string, Uint8Array>();

  /**
   * A source with its own client. Credentials default to the Docker and
   * containers credential files (read on the first 401, see credentials.ts).
   */
  static open(
    reference: ImageReference | string,
    options: RegistryClientOptions = {},
  ): RegistrySource {
    return new RegistrySource(
      new RegistryClient({ credentials: dockerCredentialProvider(), ...options }),
      reference,
    );
  }

  constructor(client: RegistryClient, reference: ImageReference | string) {
    this.client = client;
    this.ref = toReference(reference);
    this.reference = `docker://${this.ref}`;
  }

  async #read(descriptor: Descriptor): Promise<Uint8Array> {
    if (MANIFEST_TYPES.includes(descriptor.mediaType)) {
      const cached = this.#manifests.get(descriptor.digest);
      if (cached !== undefined) return cached;
      const raw = await this.client.fetchManifest(this.#at(descriptor.digest));
      this.#manifests.set(descriptor.digest, raw.bytes);
      return raw.bytes;
    }
    return this.client.readBlob(this.ref, descriptor, { maxBytes: MAX_DOCUMENT_BYTES });
  }

  #at(digest: string): ImageReference {
    return new ImageReference(this.ref.registry, this.ref.repository, undefined, digest);
  }

  /** The root manifest or index's descriptor (one request; by digest when the reference has one). */
  async head(): Promise<Descriptor> {
    return mapErrors(async () => {
      const raw = await this.client.fetchManifest(this.ref);
      this.#manifests.set(raw.descriptor.digest, raw.bytes);
      return raw.descriptor;
    });
  }

  resolve(platform?: PlatformSelector): Promise<ResolvedImage> {
    return mapErrors(async () => {
      const root = await this.head();
      return resolveDescriptor((d) => this.#read(d), root, {
        platform,
        where: this.reference,
      });
    });
  }

  /** The blob, streamed and verified against the descriptor while it flows. */
  openBlob(descriptor: Descriptor): Promise<Readable> {
    return mapErrors(async () => {
      // Errors raised while streaming are mapped too.
      return this.client.fetchBlob(this.ref, descriptor, { mapError: toImageSourceError });
    });
  }

  async close(): Promise<void> {
    this.#manifests.clear();
  }
}
