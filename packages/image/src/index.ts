/**
 * @ts-oci/image: image sources (OCI layouts and archives, docker-save
 * archives, registries), a verified local store that is an OCI layout,
 * layer unpacking with whiteouts (copy and overlay modes), and conversion
 * of an image config into a runtime bundle.
 */

export { type Bundle, type CreateBundleOptions, createBundle, removeBundle } from './bundle.js';
export { chainIds } from './chain.js';
export {
  ANNOTATIONS,
  type ConvertOptions,
  imageConfigToRuntimeConfig,
  type ResolvedUser,
  resolveImageUser,
} from './convert.js';
export {
  type Expected,
  parseDigest,
  VerifyStream,
  type VerifyStreamOptions,
  verifyBytes,
  verifyStream,
} from './digest.js';
export { IMAGE_ERROR_CODES, ImageError, type ImageErrorCode } from './errors.js';
export {
  type LocatedImage,
  type LocateOptions,
  locateImage,
  storeCandidates,
} from './locate.js';
export { type Compression, LAYER_MEDIA_TYPES, layerCompression } from './media.js';
export {
  mountOverlay,
  type OverlayMounter,
  type OverlayMountSpec,
  overlayOptions,
  unmount,
  utilLinuxMounter,
} from './overlay.js';
export { formatPlatform, hostPlatform, platformScore, selectPlatform } from './platform.js';
export type {
  ImageProgressEvent,
  ImageProgressType,
  LayerPosition,
  ProgressListener,
} from './progress.js';
export * from './registry/index.js';
export { resolveDescriptor } from './resolve.js';
export type { ImageSource, PlatformSelector, ResolvedImage } from './source.js';
export {
  isTransportReference,
  openImageSource,
  parseImageReference,
  registerTransport,
  type TransportOpener,
  type TransportReference,
} from './sources/open.js';
export {
  type GcOptions,
  type GcResult,
  ImageStore,
  type ImportOptions,
  type ImportResult,
  type StoredImage,
  type UnpackedLayers,
  validateImageName,
} from './store/store.js';
export { type ApplyOptions, type ApplyStats, applyLayer } from './unpack/apply.js';
export { type UnpackOptions, type UnpackResult, unpackImage } from './unpack/unpack.js';
