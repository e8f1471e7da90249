// The registry part of @ts-oci/image's public API (re-exported by ../index.ts).

export {
  type BlobSource,
  type FetchedManifest,
  MANIFEST_MEDIA_TYPES,
  type PushBlobResult,
  type RawManifest,
  RegistryClient,
  type RegistryClientOptions,
  type RequestOptions,
} from './client.js';
export {
  type CredentialFileOptions,
  type CredentialProvider,
  type Credentials,
  credentialFilePaths,
  DockerCredentials,
  dockerCredentialProvider,
  type LoadCredentialsOptions,
  loadDockerCredentials,
  normalizeRegistryKey,
  parseCredentialFile,
} from './credentials.js';
export {
  computeDigest,
  type DigestTarget,
  DigestVerifier,
  digestAlgorithm,
  verifyingStream,
} from './digest.js';
export {
  InvalidReferenceError,
  REGISTRY_ERROR_CODES,
  RegistryError,
  type RegistryErrorCode,
  type RegistryErrorEntry,
} from './errors.js';
export {
  type PullToOciLayoutOptions,
  type PullToOciLayoutResult,
  pullToOciLayout,
} from './pull.js';
export { type PushImageOptions, type PushImageResult, type PushSource, pushImage } from './push.js';
export {
  DEFAULT_TAG,
  DOCKER_HUB_REGISTRY,
  digestProblem,
  ImageReference,
  parseReference,
  toReference,
} from './reference.js';
export { RegistrySource, toImageSourceError } from './source.js';
export type { RegistryMatcher } from './transport.js';
