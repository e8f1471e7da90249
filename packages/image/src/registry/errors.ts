/**
 * Errors of the registry client. Every failure is a TsociError with a stable
 * code; messages name the reference, the URL and the HTTP status involved.
 */
import { TsociError } from '@ts-oci/spec';

export const REGISTRY_ERROR_CODES = {
  /** 401/403 from the registry or its token service, or no credentials where some are required. */
  auth: 'EREGISTRY_AUTH',
  /** 404: the manifest, blob or repository does not exist. */
  notFound: 'EREGISTRY_NOT_FOUND',
  /** Any other HTTP failure (unexpected status, connection failure), after retries. */
  http: 'EREGISTRY_HTTP',
  /** Content does not match its digest or size. */
  digest: 'EREGISTRY_DIGEST',
  /** A manifest the client cannot use (unsupported media type, invalid, too large). */
  manifest: 'EREGISTRY_MANIFEST',
  /** No manifest of an index matches the requested platform, or a platform string is invalid. */
  platform: 'EREGISTRY_PLATFORM',
  /** A credentials file or credential helper that cannot be read or parsed. */
  credentials: 'EREGISTRY_CREDENTIALS',
} as const;

export type RegistryErrorCode = (typeof REGISTRY_ERROR_CODES)[keyof typeof REGISTRY_ERROR_CODES];

/** One entry of a distribution-spec error body (`{"errors":[{code,message,detail}]}`). */
export interface RegistryErrorEntry {
  code: string;
  message?: string;
  detail?: unknown;
}

export interface RegistryErrorDetails {
  /** The request that failed, if any (method and URL). */
  method?: string;
  url?: string;
  /** The final HTTP status, if a response was received. */
  status?: number;
  /** Errors the registry listed in its response body. */
  registryErrors?: readonly RegistryErrorEntry[];
  cause?: unknown;
}

export class RegistryError extends TsociError {
  readonly method: string | undefined;
  readonly url: string | undefined;
  readonly status: number | undefined;
  readonly registryErrors: readonly RegistryErrorEntry[];

  constructor(code: RegistryErrorCode, message: string, details: RegistryErrorDetails = {}) {
    super(code, message, details.cause === undefined ? undefined : { cause: details.cause });
    this.method = details.method;
    this.url = details.url;
    this.status = details.status;
    this.registryErrors = details.registryErrors ?? [];
  }
}

/** An image reference that does not follow the grammar. `reason` says which rule. */
export class InvalidReferenceError extends TsociError {
  static readonly CODE = 'EREFERENCE_INVALID';
  readonly input: string;
  readonly reason: string;

  constructor(input: string, reason: string) {
    super(
      InvalidReferenceError.CODE,
      `invalid image reference ${JSON.stringify(input)}: ${reason}`,
    );
    this.input = input;
    this.reason = reason;
  }
}
