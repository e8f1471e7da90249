/**
 * The errors of @ts-oci/image. Every failure is an ImageError (a TsociError)
 * with one of the stable codes below; messages name the object that was wrong
 * (a digest, a path inside an archive, an image name).
 */
import { TsociError } from '@ts-oci/spec';

export const IMAGE_ERROR_CODES = {
  /** Content does not match its descriptor's digest or size. */
  digest: 'EIMAGE_DIGEST',
  /** An image, a name, a blob or a file inside an archive does not exist. */
  notFound: 'EIMAGE_NOT_FOUND',
  /** A media type that is unknown or not supported where it appears. */
  mediaType: 'EIMAGE_MEDIA_TYPE',
  /** An archive entry or path that would leave its root (refused, never followed). */
  unsafePath: 'EIMAGE_UNSAFE_PATH',
  /** A malformed document or archive: bad JSON, truncated tar, broken compression. */
  invalid: 'EIMAGE_INVALID',
  /** An image reference (`oci:DIR:TAG`, …) that cannot be parsed. */
  reference: 'EIMAGE_REFERENCE',
  /** No manifest for the requested platform. */
  platform: 'EIMAGE_PLATFORM',
  /** More than one image matches where exactly one is needed. */
  ambiguous: 'EIMAGE_AMBIGUOUS',
  /** Config.User names a user or group the image's /etc/passwd or /etc/group lacks. */
  user: 'EIMAGE_USER',
  /** An operation on the filesystem (unpack, store write, mount) failed. */
  io: 'EIMAGE_IO',
  /** The store or a bundle is in the way (e.g. the bundle dir is not empty). */
  exists: 'EIMAGE_EXISTS',
  /** Overlay mounts (or their whiteouts) are not possible here. */
  overlay: 'EIMAGE_OVERLAY',
} as const;

export type ImageErrorCode = (typeof IMAGE_ERROR_CODES)[keyof typeof IMAGE_ERROR_CODES];

export class ImageError extends TsociError {
  declare readonly code: ImageErrorCode;

  constructor(code: ImageErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** Message text of anything thrown. */
export function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
