/**
 * The contract every image source implements: OCI layouts and archives, docker
 * archives (this package) and registries (`./registry/`). A source only finds
 * and reads content; digest verification is the consumer's job (ImageStore and
 * unpackImage verify every byte they read, see `verify.ts`), so a source may
 * hand out raw, unverified streams.
 */
import type { Readable } from 'node:stream';
import type { Descriptor, ImageConfig, Manifest } from '@ts-oci/spec';

/** The platform an image is wanted for (image-index.md `platform`). */
export interface PlatformSelector {
  os: string;
  architecture: string;
  variant?: string;
}

/** One image manifest resolved for a platform, with its config and layers. */
export interface ResolvedImage {
  /**
   * The manifest's own descriptor: mediaType, digest of `manifestBytes`, size,
   * and the platform when it was chosen from an index. Sources that synthesise
   * the manifest (classic docker-archive) compute digest and size from their
   * bytes.
   */
  manifestDescriptor: Descriptor;
  /** The manifest exactly as stored (its digest is `manifestDescriptor.digest`). */
  manifestBytes: Uint8Array;
  manifest: Manifest;
  /** The config exactly as stored (its digest is `manifest.config.digest`). */
  configBytes: Uint8Array;
  config: ImageConfig;
  /** `manifest.layers`, base layer first. */
  layers: Descriptor[];
}

export interface ImageSource {
  /** A human-readable name of what this source reads, e.g. `oci:/srv/img:latest`. */
  readonly reference: string;
  /**
   * Finds the image manifest for `platform` (default: the host, see
   * `hostPlatform()`), following indexes. Manifest and config bytes are
   * verified against their descriptors by the source (they are small), and
   * parsed with @ts-oci/spec's parsers.
   *
   * Errors: ImageError EIMAGE_NOT_FOUND (no such image/tag/blob),
   * EIMAGE_PLATFORM (no manifest for the platform), EIMAGE_MEDIA_TYPE,
   * EIMAGE_DIGEST, EIMAGE_INVALID; SpecValidationError for invalid documents.
   */
  resolve(platform?: PlatformSelector): Promise<ResolvedImage>;
  /**
   * The bytes of a blob as stored (compressed layers stay compressed). May be
   * unverified: callers wrap it with `verifyStream(descriptor)`. Rejects with
   * EIMAGE_NOT_FOUND when the blob is missing.
   */
  openBlob(descriptor: Descriptor): Promise<Readable>;
  /** Releases whatever the source holds open (temp dirs, file handles, sockets). Idempotent. */
  close(): Promise<void>;
}

/** Where a blob lies in a local file. */
export interface FileRange {
  path: string;
  start: number;
  length: number;
}

/**
 * Optional for sources: the local file range of a blob, so unpacking can read
 * it with reused buffers (flat memory). Sources that keep blobs in files
 * (layouts, archives, the store) implement it; others need not.
 */
export interface LocalBlobSource {
  blobFile(descriptor: Descriptor): Promise<FileRange | undefined>;
}

/** Whether `source` can tell where its blobs lie on disk. */
export function hasLocalBlobs(source: object): source is LocalBlobSource {
  return typeof (source as Partial<LocalBlobSource>).blobFile === 'function';
}
