/**
 * Following a descriptor down to one image: index → (platform) → manifest →
 * config, verifying every document against its descriptor and checking that
 * the layers are of a kind we can apply, before anything is written anywhere.
 * Shared by every source that stores OCI documents (layouts, archives, the
 * store, and registries).
 */
import {
  type Descriptor,
  DOCKER_MEDIA_TYPES,
  type ImageConfig,
  type Index,
  type Manifest,
  OCI_MEDIA_TYPES,
  parseImageConfig,
  parseIndex,
  parseManifest,
} from '@ts-oci/spec';
import { verifyBytes } from './digest.js';
import { ImageError } from './errors.js';
import { layerCompression } from './media.js';
import { formatPlatform, hostPlatform, platformScore, selectPlatform } from './platform.js';
import type { PlatformSelector, ResolvedImage } from './source.js';

export const INDEX_TYPES: readonly string[] = [
  OCI_MEDIA_TYPES.imageIndex,
  DOCKER_MEDIA_TYPES.manifestListV2,
];
export const MANIFEST_TYPES: readonly string[] = [
  OCI_MEDIA_TYPES.imageManifest,
  DOCKER_MEDIA_TYPES.manifestV2,
];
export const CONFIG_TYPES: readonly string[] = [
  OCI_MEDIA_TYPES.imageConfig,
  DOCKER_MEDIA_TYPES.imageConfig,
];

/** Reads a whole (small) blob; the caller verifies it. */
export type BlobReader = (descriptor: Descriptor) => Promise<Uint8Array>;

/** JSON.parse of document bytes; EIMAGE_INVALID naming `what` when they are not JSON. */
export function readJson(bytes: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (error) {
    throw new ImageError(
      'EIMAGE_INVALID',
      `${what} is not valid JSON: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
}

/** Reads, verifies and parses a JSON document blob. */
export async function readDocument(
  read: BlobReader,
  descriptor: Descriptor,
  what: string,
): Promise<{ bytes: Uint8Array; value: unknown }> {
  const bytes = await read(descriptor);
  verifyBytes(bytes, { digest: descriptor.digest, size: descriptor.size, what });
  return { bytes, value: readJson(bytes, `${what} ${descriptor.digest}`) };
}

export interface ResolveOptions {
  /** The platform wanted; default the host's. */
  platform?: PlatformSelector | undefined;
  /** Names the source in messages. */
  where: string;
}

/** Checks the layer list of a manifest against its config. */
export function checkImage(manifest: Manifest, config: ImageConfig, where: string): void {
  manifest.layers.forEach((layer, i) => {
    layerCompression(layer.mediaType, `${where}: layer ${i} (${layer.digest})`);
  });
  if (config.rootfs.diff_ids.length !== manifest.layers.length) {
    throw new ImageError(
      'EIMAGE_INVALID',
      `${where}: the manifest lists ${manifest.layers.length} layers but the config has ${config.rootfs.diff_ids.length} diff_ids`,
    );
  }
}

/** Follows `descriptor` (an index or a manifest) to one image for the platform. */
export async function resolveDescriptor(
  read: BlobReader,
  start: Descriptor,
  options: ResolveOptions,
): Promise<ResolvedImage> {
  const wanted = options.platform ?? hostPlatform();
  const explicit = options.platform !== undefined;
  let descriptor = start;
  for (let depth = 0; depth < 8; depth++) {
    const { mediaType } = descriptor;
    if (INDEX_TYPES.includes(mediaType)) {
      const { value } = await readDocument(read, descriptor, `${options.where}: image index`);
      const index: Index = parseIndex(value, { document: `image index ${descriptor.digest}` });
      const chosen = selectPlatform(index.manifests, wanted);
      if (chosen === undefined) {
        const available = index.manifests
          .filter((m) => m.platform !== undefined)
          .map((m) => formatPlatform(m.platform as PlatformSelector));
        throw new ImageError(
          'EIMAGE_PLATFORM',
          `${options.where}: no manifest for ${formatPlatform(wanted)} (available: ${available.join(', ') || 'none'})`,
        );
      }
      descriptor = chosen;
      continue;
    }
    if (MANIFEST_TYPES.includes(mediaType)) {
      return await resolveManifest(read, descriptor, wanted, explicit, options.where);
    }
    if (
      mediaType === DOCKER_MEDIA_TYPES.manifestV1 ||
      mediaType === DOCKER_MEDIA_TYPES.manifestV1Signed
    ) {
      throw new ImageError(
        'EIMAGE_MEDIA_TYPE',
        `${options.where}: Docker schema 1 manifests are not supported`,
      );
    }
    throw new ImageError(
      'EIMAGE_MEDIA_TYPE',
      `${options.where}: ${descriptor.digest} has media type ${JSON.stringify(mediaType)}, which is neither an image manifest nor an index`,
    );
  }
  throw new ImageError('EIMAGE_INVALID', `${options.where}: image indexes nested too deeply`);
}

async function resolveManifest(
  read: BlobReader,
  descriptor: Descriptor,
  wanted: PlatformSelector,
  explicit: boolean,
  where: string,
): Promise<ResolvedImage> {
  const doc = await readDocument(read, descriptor, `${where}: manifest`);
  const manifest = parseManifest(doc.value, { document: `image manifest ${descriptor.digest}` });
  if (manifest.mediaType !== undefined && manifest.mediaType !== descriptor.mediaType) {
    throw new ImageError(
      'EIMAGE_MEDIA_TYPE',
      `${where}: manifest ${descriptor.digest} declares media type ${manifest.mediaType} but its descriptor says ${descriptor.mediaType}`,
    );
  }
  if (!CONFIG_TYPES.includes(manifest.config.mediaType)) {
    throw new ImageError(
      'EIMAGE_MEDIA_TYPE',
      `${where}: manifest ${descriptor.digest} is not a container image (config media type ${JSON.stringify(manifest.config.mediaType)})`,
    );
  }
  const configDoc = await readDocument(read, manifest.config, `${where}: image config`);
  const config = parseImageConfig(configDoc.value, {
    document: `image config ${manifest.config.digest}`,
  });
  checkImage(manifest, config, where);
  if (explicit && platformScore(wanted, config) === 0) {
    throw new ImageError(
      'EIMAGE_PLATFORM',
      `${where}: the image is for ${formatPlatform(config)}, not ${formatPlatform(wanted)}`,
    );
  }
  const manifestDescriptor: Descriptor = {
    mediaType: descriptor.mediaType,
    digest: descriptor.digest,
    size: descriptor.size,
    platform: descriptor.platform ?? {
      architecture: config.architecture,
      os: config.os,
      ...(config.variant ? { variant: config.variant } : {}),
    },
  };
  return {
    manifestDescriptor,
    manifestBytes: doc.bytes,
    manifest,
    configBytes: configDoc.bytes,
    config,
    layers: manifest.layers,
  };
}
