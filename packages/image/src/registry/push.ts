/**
 * Pushing a whole image (a manifest, or an index with its manifests) to a
 * registry: every blob first (bounded concurrency, skipping those the
 * repository already has, optionally mounting them from another repository),
 * child manifests by digest, and the root manifest last, under the tag.
 */
import type { Readable } from 'node:stream';
import {
  type Descriptor,
  DOCKER_MEDIA_TYPES,
  OCI_MEDIA_TYPES,
  parseIndex,
  parseManifest,
} from '@ts-oci/spec';
import type { PushBlobResult, RegistryClient } from './client.js';
import { computeDigest, digestAlgorithm } from './digest.js';
import { RegistryError } from './errors.js';
import { mapLimit } from './limit.js';
import { ImageReference, toReference } from './reference.js';

/** What pushImage reads: the root document and any blob it refers to. */
export interface PushSource {
  /** The root manifest or index, exactly as it is to be stored, and its media type. */
  manifest: { bytes: Uint8Array; mediaType: string };
  /**
   * The content of a descriptor the image refers to: configs, layers, and (for
   * an index) the child manifests. Called once per upload attempt; a stream
   * is consumed whole or destroyed.
   */
  openBlob(descriptor: Descriptor): Readable | Uint8Array | Promise<Readable | Uint8Array>;
}

export interface PushImageOptions {
  /** Try to mount blobs from this repository of the same registry before uploading. */
  mountFrom?: string;
  signal?: AbortSignal;
  /** Called after each blob is handled. */
  onBlob?: (descriptor: Descriptor, result: PushBlobResult | 'skipped') => void;
}

export interface PushImageResult {
  /** The reference pushed, pinned to the root manifest's digest. */
  reference: ImageReference;
  digest: string;
  /** How many blobs were uploaded, already present, mounted, or skipped (non-distributable). */
  blobs: Record<PushBlobResult | 'skipped', number>;
}

const INDEX_TYPES: readonly string[] = [
  OCI_MEDIA_TYPES.imageIndex,
  DOCKER_MEDIA_TYPES.manifestListV2,
];
const MANIFEST_TYPES: readonly string[] = [
  OCI_MEDIA_TYPES.imageManifest,
  DOCKER_MEDIA_TYPES.manifestV2,
];
const NON_DISTRIBUTABLE: readonly string[] = [
  OCI_MEDIA_TYPES.layerNondistributable,
  OCI_MEDIA_TYPES.layerNondistributableGzip,
  OCI_MEDIA_TYPES.layerNondistributableZstd,
  DOCKER_MEDIA_TYPES.layerForeignGzip,
];

async function readAll(
  content: Readable | Uint8Array,
  limit: number,
  what: string,
): Promise<Buffer> {
  if (content instanceof Uint8Array) return Buffer.from(content);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of content) {
    total += (chunk as Buffer).length;
    if (total > limit) {
      content.destroy();
      throw new RegistryError('EREGISTRY_MANIFEST', `${what}: larger than ${limit} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, total);
}

function parseDocument(bytes: Uint8Array, mediaType: string, what: string): Descriptor[] {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (error) {
    throw new RegistryError('EREGISTRY_MANIFEST', `${what} is not valid JSON`, { cause: error });
  }
  if (INDEX_TYPES.includes(mediaType)) return parseIndex(doc, { document: what }).manifests;
  if (MANIFEST_TYPES.includes(mediaType)) {
    const manifest = parseManifest(doc, { document: what });
    return [manifest.config, ...manifest.layers];
  }
  throw new RegistryError(
    'EREGISTRY_MANIFEST',
    `${what}: cannot push media type ${JSON.stringify(mediaType)} (supported: ${[...MANIFEST_TYPES, ...INDEX_TYPES].join(', ')})`,
  );
}

/**
 * Pushes `source` to `reference` (which names the tag; without a tag the
 * root is pushed by digest). Blobs are verified against their descriptors
 * while they are uploaded.
 */
export async function pushImage(
  client: RegistryClient,
  reference: ImageReference | string,
  source: PushSource,
  options: PushImageOptions = {},
): Promise<PushImageResult> {
  const ref = toReference(reference);
  const blobs: PushImageResult['blobs'] = { uploaded: 0, exists: 0, mounted: 0, skipped: 0 };
  const started = new Map<string, Promise<void>>();
  const signal = options.signal;

  const pushBlobOnce = (descriptor: Descriptor): Promise<void> => {
    let pending = started.get(descriptor.digest);
    if (pending === undefined) {
      pending = (async () => {
        if (
          NON_DISTRIBUTABLE.includes(descriptor.mediaType) &&
          (descriptor.urls?.length ?? 0) > 0
        ) {
          blobs.skipped++;
          options.onBlob?.(descriptor, 'skipped');
          return;
        }
        const result = await client.pushBlob(
          ref,
          descriptor,
          async () => {
            const content = await source.openBlob(descriptor);
            return content instanceof Uint8Array
              ? (async function* () {
                  yield content;
                })()
              : content;
          },
          {
            ...(options.mountFrom === undefined ? {} : { mountFrom: options.mountFrom }),
            ...(signal ? { signal } : {}),
          },
        );
        blobs[result]++;
        options.onBlob?.(descriptor, result);
      })();
      started.set(descriptor.digest, pending);
    }
    return pending;
  };

  /** Pushes the blobs of one manifest, or recursively the manifests of an index. */
  const pushTree = async (
    bytes: Uint8Array,
    mediaType: string,
    what: string,
    depth: number,
  ): Promise<void> => {
    if (depth > 8)
      throw new RegistryError('EREGISTRY_MANIFEST', `${what}: indexes nested too deeply`);
    const children = parseDocument(bytes, mediaType, what);
    if (MANIFEST_TYPES.includes(mediaType)) {
      await mapLimit(children, client.concurrency, (d) => pushBlobOnce(d));
      return;
    }
    for (const child of children) {
      const childWhat = `manifest ${child.digest} of ${what}`;
      const content = await source.openBlob(child);
      const childBytes = await readAll(content, 4 * 1024 * 1024, childWhat);
      const actual = computeDigest(childBytes, digestAlgorithm(child.digest));
      if (actual !== child.digest || childBytes.length !== child.size) {
        throw new RegistryError(
          'EREGISTRY_DIGEST',
          `${childWhat}: content does not match its descriptor (digest ${actual}, ${childBytes.length} bytes)`,
        );
      }
      await pushTree(childBytes, child.mediaType, childWhat, depth + 1);
      await client.pushManifest(
        new ImageReference(ref.registry, ref.repository, undefined, child.digest),
        childBytes,
        child.mediaType,
        signal ? { signal } : {},
      );
    }
  };

  const { bytes, mediaType } = source.manifest;
  if (
    ref.digest !== undefined &&
    computeDigest(bytes, digestAlgorithm(ref.digest)) !== ref.digest
  ) {
    throw new RegistryError(
      'EREGISTRY_DIGEST',
      `image ${ref}: the manifest's digest is not ${ref.digest}`,
    );
  }
  await pushTree(bytes, mediaType, `image ${ref}`, 0);
  // With a digest in the reference, pushManifest checks it before sending.
  const digest = await client.pushManifest(ref, bytes, mediaType, signal ? { signal } : {});
  return { reference: ref.withDigest(digest), digest, blobs };
}
