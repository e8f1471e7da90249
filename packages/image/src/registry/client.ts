/**
 * A client for registries speaking the OCI distribution spec (v1.1) and
 * Docker's registry API v2: manifests (OCI and Docker schema 2, images and
 * indexes, by tag or digest), blobs (streamed, verified, resumed after a
 * dropped connection), existence checks, monolithic and chunked blob uploads,
 * cross-repository mounts, and manifest pushes.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pipeline as pipelineCallback, Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type Descriptor,
  DOCKER_MEDIA_TYPES,
  type Index,
  type Manifest,
  OCI_MEDIA_TYPES,
  parseIndex,
  parseManifest,
  SpecValidationError,
} from '@ts-oci/spec';
import { markSelfVerifying } from '../digest.js';
import { markFileWriter } from '../file-writer.js';
import { formatPlatform, hostPlatform, selectPlatform } from '../platform.js';
import type { PlatformSelector } from '../source.js';
import { repositoryScope } from './auth.js';
import { BlobStream } from './blob-stream.js';
import { type CredentialProvider, type Credentials, DockerCredentials } from './credentials.js';
import { computeDigest, DigestVerifier, digestAlgorithm, verifyingStream } from './digest.js';
import { RegistryError } from './errors.js';
import type { HttpResponse } from './http.js';
import { type ImageReference, toReference } from './reference.js';
import {
  cancelBody,
  isRetryableNetworkError,
  type RegistryMatcher,
  type RequestBody,
  readLimitedText,
  Transport,
  type TransportOptions,
} from './transport.js';

/** Manifest media types this client accepts, most preferred first (the Accept header). */
export const MANIFEST_MEDIA_TYPES: readonly string[] = [
  OCI_MEDIA_TYPES.imageIndex,
  OCI_MEDIA_TYPES.imageManifest,
  DOCKER_MEDIA_TYPES.manifestListV2,
  DOCKER_MEDIA_TYPES.manifestV2,
];
const INDEX_TYPES: readonly string[] = [
  OCI_MEDIA_TYPES.imageIndex,
  DOCKER_MEDIA_TYPES.manifestListV2,
];
const SCHEMA1_TYPES: readonly string[] = [
  DOCKER_MEDIA_TYPES.manifestV1,
  DOCKER_MEDIA_TYPES.manifestV1Signed,
];
/** Content-Types that say nothing about which manifest it is. */
const GENERIC_TYPES = new Set(['', 'application/json', 'text/plain', 'application/octet-stream']);

export interface RegistryClientOptions {
  /** Registries (`host:port` as in references) spoken to over plain http; `true` for all. Default: none. */
  plainHttp?: RegistryMatcher;
  /** Registries whose TLS certificate is not verified; `true` for all. Default: none. */
  insecure?: RegistryMatcher;
  /** Extra CA certificates (PEM) trusted besides the system's. */
  ca?: string | Buffer | readonly (string | Buffer)[];
  /** Fixed credentials for every registry, a provider, or loaded Docker credentials. Default: anonymous. */
  credentials?: Credentials | CredentialProvider | DockerCredentials;
  /** Blob transfers at once in pushImage/pullToOciLayout (default 6, as skopeo's parallel downloads). */
  concurrency?: number;
  /** Retries of a transient failure after the first attempt (default 3). */
  retries?: number;
  /** First backoff delay in ms (default 200); doubles per retry. */
  retryDelayMs?: number;
  /** Longest backoff in ms, also the cap on Retry-After (default 10 000). */
  maxRetryDelayMs?: number;
  /** Largest manifest accepted, in bytes (default 4 MiB, as the distribution spec suggests). */
  maxManifestBytes?: number;
  /**
   * Upload blobs in PATCH chunks of this many bytes (default 0: one monolithic
   * PUT). The registry's `OCI-Chunk-Min-Length` raises it when larger.
   */
  chunkSize?: number;
  /** The User-Agent header (default `tsoci`). */
  userAgent?: string;
  /** Aborts everything this client does. */
  signal?: AbortSignal;
  /**
   * A connection that stays silent this long (no response, or a body that
   * stalls) is dropped and the request retried, a blob resumed (default 300 000).
   */
  idleTimeoutMs?: number;
}

interface FetchedBase {
  /** The reference, pinned to the manifest's digest. */
  reference: ImageReference;
  /** The manifest's descriptor: media type, digest and size of `bytes`. */
  descriptor: Descriptor;
  /** The manifest exactly as served (its digest is `descriptor.digest`). */
  bytes: Buffer;
}

export type FetchedManifest =
  | (FetchedBase & { kind: 'manifest'; manifest: Manifest })
  | (FetchedBase & { kind: 'index'; index: Index });

/** A manifest as served, verified but not parsed. */
export interface RawManifest extends FetchedBase {}

export type BlobSource =
  | Uint8Array
  | (() => Readable | AsyncIterable<Uint8Array> | Promise<Readable | AsyncIterable<Uint8Array>>);

export type PushBlobResult = 'exists' | 'mounted' | 'uploaded';

export interface RequestOptions {
  signal?: AbortSignal;
}

function toProvider(
  credentials: RegistryClientOptions['credentials'],
): CredentialProvider | undefined {
  if (credentials === undefined) return undefined;
  if (typeof credentials === 'function') return credentials;
  if (credentials instanceof DockerCredentials) return credentials.provider;
  const fixed = { ...credentials };
  return () => fixed;
}

function header(response: HttpResponse, name: string): string | undefined {
  return response.headers.get(name) ?? undefined;
}

/** Reads a whole body, refusing more than `limit` bytes. */
async function readBounded(response: HttpResponse, limit: number, what: string): Promise<Buffer> {
  const length = Number(response.headers.get('content-length') ?? Number.NaN);
  if (length > limit) {
    cancelBody(response);
    throw new RegistryError(
      'EREGISTRY_MANIFEST',
      `${what}: ${length} bytes is larger than the limit of ${limit}`,
    );
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of response.body) {
    total += (chunk as Buffer).length;
    if (total > limit) {
      cancelBody(response);
      throw new RegistryError(
        'EREGISTRY_MANIFEST',
        `${what}: larger than the limit of ${limit} bytes`,
      );
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, total);
}

/** `sha256:abc…` → checks a Docker-Content-Digest header against the content. */
function checkContentDigest(headerValue: string | undefined, bytes: Buffer, what: string): void {
  if (headerValue === undefined || headerValue === '') return;
  let algorithm: 'sha256' | 'sha512';
  try {
    algorithm = digestAlgorithm(headerValue);
  } catch {
    return; // a digest we cannot compute is ignored, as the spec allows
  }
  const actual = computeDigest(bytes, algorithm);
  if (actual !== headerValue) {
    throw new RegistryError(
      'EREGISTRY_DIGEST',
      `${what}: the registry says its digest is ${headerValue} but the content has ${actual}`,
    );
  }
}

function toBody(source: BlobSource, length: number): RequestBody {
  return {
    length,
    open: () => {
      if (source instanceof Uint8Array) return source;
      return source() as never;
    },
  };
}

function closeQuietly(stream: unknown): void {
  if (stream instanceof Readable) stream.destroy();
}

function toReadable(content: Uint8Array | Readable | AsyncIterable<Uint8Array>): Readable {
  if (content instanceof Readable) return content;
  if (content instanceof Uint8Array) return Readable.from([content], { objectMode: false });
  return Readable.from(content, { objectMode: false });
}

export class RegistryClient {
  readonly options: RegistryClientOptions;
  readonly concurrency: number;
  readonly #transport: Transport;
  readonly #maxManifestBytes: number;

  constructor(options: RegistryClientOptions = {}) {
    this.options = options;
    this.concurrency = Math.max(1, Math.floor(options.concurrency ?? 6));
    this.#maxManifestBytes = options.maxManifestBytes ?? 4 * 1024 * 1024;
    const transportOptions: TransportOptions = {};
    const provider = toProvider(options.credentials);
    if (provider !== undefined) transportOptions.credentials = provider;
    for (const key of [
      'plainHttp',
      'insecure',
      'ca',
      'retries',
      'retryDelayMs',
      'maxRetryDelayMs',
      'userAgent',
      'signal',
      'idleTimeoutMs',
    ] as const) {
      if (options[key] !== undefined)
        (transportOptions as Record<string, unknown>)[key] = options[key];
    }
    this.#transport = new Transport(transportOptions);
  }

  /** The base URL of a registry's API, e.g. `https://registry-1.docker.io`. */
  baseUrl(ref: ImageReference | string): string {
    return this.#transport.baseUrl(toReference(ref));
  }

  #manifestPath(ref: ImageReference, reference = ref.reference): string {
    return `/v2/${ref.repository}/manifests/${reference}`;
  }

  #blobPath(ref: ImageReference, digest: string): string {
    return `/v2/${ref.repository}/blobs/${digest}`;
  }

  /**
   * Fetches a manifest or index as served (verified: against the reference's
   * digest when there is one, and against Docker-Content-Digest when sent).
   * The media type is the document's `mediaType`, else the Content-Type;
   * when both are present they must agree.
   */
  async fetchManifest(
    reference: ImageReference | string,
    options: RequestOptions & { accept?: readonly string[] } = {},
  ): Promise<RawManifest> {
    const ref = toReference(reference);
    const what = `manifest ${ref}`;
    const { response } = await this.#transport.send({
      ref,
      method: 'GET',
      url: this.#manifestPath(ref),
      headers: { accept: (options.accept ?? MANIFEST_MEDIA_TYPES).join(', ') },
      scopes: [repositoryScope(ref.repository, 'pull')],
      expect: [200],
      what,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const bytes = await readBounded(response, this.#maxManifestBytes, what);
    const algorithm = ref.digest === undefined ? 'sha256' : digestAlgorithm(ref.digest);
    const digest = computeDigest(bytes, algorithm);
    if (ref.digest !== undefined && digest !== ref.digest) {
      throw new RegistryError(
        'EREGISTRY_DIGEST',
        `${what}: digest mismatch: the registry served content with digest ${digest}`,
      );
    }
    checkContentDigest(header(response, 'docker-content-digest'), bytes, what);

    let doc: unknown;
    try {
      doc = JSON.parse(bytes.toString('utf8'));
    } catch (error) {
      throw new RegistryError(
        'EREGISTRY_MANIFEST',
        `${what} is not valid JSON: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    const record = doc !== null && typeof doc === 'object' ? (doc as Record<string, unknown>) : {};
    const contentType =
      (header(response, 'content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
    const declared = typeof record.mediaType === 'string' ? record.mediaType : undefined;
    if (record.schemaVersion === 1 || SCHEMA1_TYPES.includes(contentType)) {
      throw new RegistryError(
        'EREGISTRY_MANIFEST',
        `${what}: Docker schema 1 manifests are not supported (push the image again with a current tool)`,
      );
    }
    if (declared !== undefined && !GENERIC_TYPES.has(contentType) && declared !== contentType) {
      throw new RegistryError(
        'EREGISTRY_MANIFEST',
        `${what}: the document declares media type ${declared} but was served as ${contentType}`,
      );
    }
    let mediaType = declared ?? (GENERIC_TYPES.has(contentType) ? '' : contentType);
    if (mediaType === '') {
      // No type anywhere: tell an index from a manifest by its shape.
      mediaType = Array.isArray(record.manifests)
        ? OCI_MEDIA_TYPES.imageIndex
        : OCI_MEDIA_TYPES.imageManifest;
    }
    if (!MANIFEST_MEDIA_TYPES.includes(mediaType)) {
      throw new RegistryError(
        'EREGISTRY_MANIFEST',
        `${what}: unsupported manifest media type ${JSON.stringify(mediaType)} (supported: ${MANIFEST_MEDIA_TYPES.join(', ')})`,
      );
    }
    const descriptor: Descriptor = { mediaType, digest, size: bytes.length };
    return { reference: ref.withDigest(digest), descriptor, bytes };
  }

  /** Fetches and parses a manifest or an index (see fetchManifest). */
  async getManifest(
    reference: ImageReference | string,
    options: RequestOptions & { accept?: readonly string[] } = {},
  ): Promise<FetchedManifest> {
    const raw = await this.fetchManifest(reference, options);
    const document = `manifest ${raw.reference}`;
    try {
      if (INDEX_TYPES.includes(raw.descriptor.mediaType)) {
        return { ...raw, kind: 'index', index: parseIndex(raw.bytes, { document }) };
      }
      return { ...raw, kind: 'manifest', manifest: parseManifest(raw.bytes, { document }) };
    } catch (error) {
      if (error instanceof SpecValidationError) {
        throw new RegistryError('EREGISTRY_MANIFEST', error.message, { cause: error });
      }
      throw error;
    }
  }

  /**
   * The descriptor of a manifest without downloading it (HEAD), or undefined
   * when there is none. Falls back to GET when the registry does not send
   * Docker-Content-Digest.
   */
  async headManifest(
    reference: ImageReference | string,
    options: RequestOptions = {},
  ): Promise<Descriptor | undefined> {
    const ref = toReference(reference);
    const { response } = await this.#transport.send({
      ref,
      method: 'HEAD',
      url: this.#manifestPath(ref),
      headers: { accept: MANIFEST_MEDIA_TYPES.join(', ') },
      scopes: [repositoryScope(ref.repository, 'pull')],
      expect: [200, 404],
      what: `manifest ${ref}`,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    cancelBody(response);
    if (response.status === 404) return undefined;
    const digest = header(response, 'docker-content-digest');
    const size = Number(header(response, 'content-length'));
    const mediaType = (header(response, 'content-type') ?? '').split(';')[0]?.trim() ?? '';
    if (
      digest === undefined ||
      (ref.digest !== undefined && digest !== ref.digest) ||
      !Number.isSafeInteger(size) ||
      !MANIFEST_MEDIA_TYPES.includes(mediaType)
    ) {
      return (await this.fetchManifest(ref, options)).descriptor;
    }
    return { mediaType, digest, size };
  }

  /**
   * The manifest descriptor for a platform (default: the host's): the
   * reference's own manifest, or the best match of its index. An index
   * without a match is EREGISTRY_PLATFORM naming the available platforms.
   */
  async resolvePlatform(
    reference: ImageReference | string,
    platform?: PlatformSelector,
    options: RequestOptions = {},
  ): Promise<{ reference: ImageReference; descriptor: Descriptor; index?: FetchedManifest }> {
    const ref = toReference(reference);
    const top = await this.getManifest(ref, options);
    if (top.kind === 'manifest') return { reference: top.reference, descriptor: top.descriptor };
    const wanted = platform ?? hostPlatform();
    const chosen = selectPlatform(top.index.manifests, wanted);
    if (chosen === undefined) {
      const available = [
        ...new Set(
          top.index.manifests.map((m) =>
            m.platform === undefined ? '(no platform)' : formatPlatform(m.platform),
          ),
        ),
      ];
      throw new RegistryError(
        'EREGISTRY_PLATFORM',
        `image index ${ref}: no manifest for platform ${formatPlatform(wanted)}; available: ${available.join(', ') || '(none)'}`,
      );
    }
    return { reference: ref.withDigest(chosen.digest), descriptor: chosen, index: top };
  }

  /**
   * A blob as a stream, verified while it flows: it errors (EREGISTRY_DIGEST)
   * on the first byte beyond `descriptor.size`, and at the end unless size
   * and digest match, so consumers must treat what they wrote as provisional
   * until the stream ends cleanly (downloadBlob does). A connection dropped
   * mid-way is resumed with a Range request (up to `retries` times). Blobs
   * embedded in the descriptor (`data`) are served without a request.
   */
  async fetchBlob(
    reference: ImageReference | string,
    descriptor: Descriptor,
    options: RequestOptions & { mapError?: (error: unknown) => unknown } = {},
  ): Promise<Readable> {
    const ref = toReference(reference);
    const what = `blob ${descriptor.digest} of ${ref.name}`;
    const verifier = new DigestVerifier(descriptor, what);
    const mapError = (error: unknown): Error => (options.mapError?.(error) ?? error) as Error;
    if (descriptor.data !== undefined) {
      const data = Buffer.from(descriptor.data, 'base64');
      const out = new Readable({ read() {} });
      try {
        verifier.update(data);
        verifier.finish();
        out.push(data);
        out.push(null);
      } catch (error) {
        out.destroy(mapError(error));
      }
      return out;
    }
    const signal = options.signal ?? this.options.signal;
    const open = async (offset: number): Promise<HttpResponse> => {
      const { response } = await this.#transport.send({
        ref,
        method: 'GET',
        url: this.#blobPath(ref, descriptor.digest),
        headers: offset > 0 ? { range: `bytes=${offset}-` } : {},
        scopes: [repositoryScope(ref.repository, 'pull')],
        expect: offset > 0 ? [200, 206] : [200],
        what,
        bulk: true,
        ...(signal ? { signal } : {}),
      });
      const length = header(response, 'content-length');
      const expected = response.status === 206 ? descriptor.size - offset : descriptor.size;
      if (length !== undefined && Number(length) !== expected) {
        cancelBody(response);
        throw new RegistryError(
          'EREGISTRY_DIGEST',
          `${what}: size mismatch: expected ${expected} bytes, the registry announces ${length}`,
        );
      }
      if (response.status === 206) {
        const range = /^bytes ([0-9]+)-/.exec(header(response, 'content-range') ?? '');
        if (range === null || Number(range[1]) !== offset) {
          cancelBody(response);
          throw new RegistryError(
            'EREGISTRY_HTTP',
            `${what}: resuming at byte ${offset} returned the wrong range (${header(response, 'content-range') ?? 'no Content-Range'})`,
          );
        }
      }
      return response;
    };

    const stream = new BlobStream({
      first: await open(0),
      reopen: open,
      verifier,
      what,
      retries: this.options.retries ?? 3,
      retryDelayMs: this.options.retryDelayMs ?? 200,
      signal,
      mapError: options.mapError,
    });
    // It ends only after the verifier passed: consumers need not hash it again;
    // and a consumer that wants a file can have it written directly.
    markFileWriter(stream, (fd, writeOptions) => stream.toFile(fd, writeOptions));
    return markSelfVerifying(stream, descriptor);
  }

  /** A whole blob in memory, verified: for small documents (configs). */
  async readBlob(
    reference: ImageReference | string,
    descriptor: Descriptor,
    options: RequestOptions & { maxBytes?: number } = {},
  ): Promise<Buffer> {
    const limit = options.maxBytes ?? 32 * 1024 * 1024;
    if (descriptor.size > limit) {
      throw new RegistryError(
        'EREGISTRY_HTTP',
        `blob ${descriptor.digest}: ${descriptor.size} bytes is larger than the in-memory limit of ${limit}`,
      );
    }
    const stream = await this.fetchBlob(reference, descriptor, options);
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  /**
   * Downloads a blob to `path`, verified: the content goes to a temporary
   * file beside it, renamed into place only when size and digest match; on
   * any failure the temporary file is removed and `path` is untouched.
   */
  async downloadBlob(
    reference: ImageReference | string,
    descriptor: Descriptor,
    path: string,
    options: RequestOptions & {
      /** A pass-through stream the content flows through (progress counting). */
      through?: () => NodeJS.ReadWriteStream;
      /** Called with the number of new bytes as they arrive (progress counting, without a stream). */
      onBytes?: (n: number) => void;
    } = {},
  ): Promise<void> {
    const temp = join(
      dirname(path),
      `.${basename(path)}.${randomBytes(6).toString('hex')}.partial`,
    );
    try {
      const { through, onBytes, ...request } = options;
      const stream = await this.fetchBlob(reference, descriptor, request);
      if (through === undefined && stream instanceof BlobStream) {
        // Straight from the socket into the file (see BlobStream.toFile).
        const file = await open(temp, 'wx', 0o644);
        try {
          await stream.toFile(file.fd, onBytes ? { onBytes } : {});
        } finally {
          await file.close();
        }
      } else {
        const sink = createWriteStream(temp, { flags: 'wx', mode: 0o644 });
        const count = onBytes
          ? new Transform({
              transform(chunk: Buffer, _encoding, callback) {
                try {
                  onBytes(chunk.length);
                } catch (error) {
                  callback(error as Error);
                  return;
                }
                callback(null, chunk);
              },
            })
          : undefined;
        const stages: NodeJS.ReadWriteStream[] = [];
        if (through) stages.push(through());
        if (count) stages.push(count);
        await pipeline([stream, ...stages, sink]);
      }
      await rename(temp, path);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  }

  /** Whether the repository has the blob (HEAD). */
  async blobExists(
    reference: ImageReference | string,
    descriptor: Pick<Descriptor, 'digest'>,
    options: RequestOptions & { push?: boolean } = {},
  ): Promise<boolean> {
    const ref = toReference(reference);
    const { response } = await this.#transport.send({
      ref,
      method: 'HEAD',
      url: this.#blobPath(ref, descriptor.digest),
      scopes: [repositoryScope(ref.repository, options.push ? 'pull,push' : 'pull')],
      expect: [200, 404],
      what: `blob ${descriptor.digest} of ${ref.name}`,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    cancelBody(response);
    return response.status === 200;
  }

  /**
   * Uploads a blob unless the repository already has it: HEAD, then (with
   * `mountFrom`) a cross-repository mount, else POST + PUT (monolithic) or
   * POST + PATCH… + PUT (`chunkSize`). The content is verified against the
   * descriptor while it is sent; a mismatch is EREGISTRY_DIGEST and the
   * upload is not completed. `source` is opened again for each attempt.
   */
  async pushBlob(
    reference: ImageReference | string,
    descriptor: Descriptor,
    source: BlobSource,
    options: RequestOptions & { mountFrom?: string } = {},
  ): Promise<PushBlobResult> {
    const ref = toReference(reference);
    const what = `blob ${descriptor.digest} to ${ref.name}`;
    digestAlgorithm(descriptor.digest);
    const scopes = [repositoryScope(ref.repository, 'pull,push')];
    if (options.mountFrom !== undefined) scopes.push(repositoryScope(options.mountFrom, 'pull'));
    const signal = options.signal ?? this.options.signal;
    const common = { ref, scopes, what, ...(signal ? { signal } : {}) };
    if (await this.blobExists(ref, descriptor, { push: true, ...(signal ? { signal } : {}) })) {
      return 'exists';
    }

    const retries = this.options.retries ?? 3;
    for (let attempt = 1; ; attempt++) {
      const uploads = `/v2/${ref.repository}/blobs/uploads/`;
      const start =
        options.mountFrom === undefined
          ? uploads
          : `${uploads}?${new URLSearchParams({ mount: descriptor.digest, from: options.mountFrom })}`;
      const started = await this.#transport.send({
        ...common,
        method: 'POST',
        url: start,
        headers: { 'content-length': '0' },
        expect: options.mountFrom === undefined ? [202] : [201, 202],
      });
      if (started.response.status === 201) {
        cancelBody(started.response);
        return 'mounted';
      }
      cancelBody(started.response);
      const location = started.response.headers.get('location');
      if (location === null) {
        throw new RegistryError(
          'EREGISTRY_HTTP',
          `${what}: POST ${started.url} returned no Location`,
          {
            url: started.url,
          },
        );
      }
      const minChunk = Number(started.response.headers.get('oci-chunk-min-length') ?? 0) || 0;
      let verifyError: RegistryError | undefined;
      const body = toBody(source, descriptor.size);
      const verified: RequestBody = {
        length: descriptor.size,
        open: async () => {
          const input = toReadable(await body.open());
          const check = verifyingStream(descriptor, what);
          check.on('error', (error) => {
            if (error instanceof RegistryError) verifyError = error;
          });
          // pipeline destroys the source when the check fails (and vice versa)
          pipelineCallback(input, check, () => {});
          return check;
        },
      };
      try {
        const chunkSize = Math.max(this.options.chunkSize ?? 0, minChunk);
        let url = new URL(location, started.url).href;
        if (chunkSize > 0 && (this.options.chunkSize ?? 0) > 0 && descriptor.size > chunkSize) {
          url = await this.#uploadChunks(url, verified, chunkSize, common);
          const done = new URL(url);
          done.searchParams.set('digest', descriptor.digest);
          const put = await this.#transport.send({
            ...common,
            method: 'PUT',
            url: done.href,
            headers: { 'content-length': '0' },
            expect: [201],
            retries: 0,
          });
          cancelBody(put.response);
          checkUploadDigest(put.response, descriptor.digest, what);
        } else {
          const done = new URL(url);
          done.searchParams.set('digest', descriptor.digest);
          const put = await this.#transport.send({
            ...common,
            method: 'PUT',
            url: done.href,
            headers: { 'content-type': 'application/octet-stream' },
            body: verified,
            expect: [201],
            retries: 0,
          });
          cancelBody(put.response);
          checkUploadDigest(put.response, descriptor.digest, what);
        }
        return 'uploaded';
      } catch (error) {
        // Best effort: tell the registry to drop the session (it would expire anyway).
        await this.#transport
          .send({
            ...common,
            method: 'DELETE',
            url: new URL(location, started.url).href,
            expect: [204, 202, 200, 404],
            retries: 0,
          })
          .then(({ response }) => cancelBody(response))
          .catch(() => {});
        if (verifyError !== undefined) throw verifyError;
        const status = error instanceof RegistryError ? error.status : undefined;
        const transient =
          (error instanceof RegistryError &&
            error.code === 'EREGISTRY_HTTP' &&
            (status === undefined || status >= 500 || status === 429 || status === 408)) ||
          isRetryableNetworkError(error);
        if (!transient || attempt > retries || signal?.aborted) throw error;
        await sleep((this.options.retryDelayMs ?? 200) * 2 ** (attempt - 1));
      }
    }
  }

  async #uploadChunks(
    location: string,
    body: RequestBody,
    chunkSize: number,
    common: { ref: ImageReference; scopes: string[]; what: string; signal?: AbortSignal },
  ): Promise<string> {
    const input = toReadable(await body.open());
    let url = location;
    let offset = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const flush = async (): Promise<void> => {
      const chunk = Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
      const sent = await this.#transport.send({
        ...common,
        method: 'PATCH',
        url,
        headers: {
          'content-type': 'application/octet-stream',
          'content-range': `${offset}-${offset + chunk.length - 1}`,
        },
        body: { length: chunk.length, open: () => chunk },
        expect: [202],
        retries: 0,
      });
      cancelBody(sent.response);
      offset += chunk.length;
      const next = sent.response.headers.get('location');
      if (next !== null) url = new URL(next, sent.url).href;
    };
    try {
      for await (const data of input) {
        let buf = data as Buffer;
        while (buf.length > 0) {
          const take = Math.min(chunkSize - pendingBytes, buf.length);
          pending.push(buf.subarray(0, take));
          pendingBytes += take;
          buf = buf.subarray(take);
          if (pendingBytes === chunkSize) await flush();
        }
      }
      if (pendingBytes > 0) await flush();
    } finally {
      closeQuietly(input);
    }
    return url;
  }

  /**
   * Pushes a manifest or index under the reference's tag (or its digest when
   * it has no tag). When the document declares a `mediaType` it must equal
   * `mediaType`. Returns the manifest's digest, checked against the
   * registry's Docker-Content-Digest.
   */
  async pushManifest(
    reference: ImageReference | string,
    bytes: Uint8Array,
    mediaType: string,
    options: RequestOptions = {},
  ): Promise<string> {
    const ref = toReference(reference);
    const what = `manifest ${ref}`;
    const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let declared: unknown;
    try {
      declared = (JSON.parse(buffer.toString('utf8')) as { mediaType?: unknown }).mediaType;
    } catch (error) {
      throw new RegistryError('EREGISTRY_MANIFEST', `${what}: not valid JSON`, { cause: error });
    }
    if (declared !== undefined && declared !== mediaType) {
      throw new RegistryError(
        'EREGISTRY_MANIFEST',
        `${what}: the document declares media type ${String(declared)} but is pushed as ${mediaType}`,
      );
    }
    const digest = computeDigest(
      buffer,
      ref.digest === undefined ? 'sha256' : digestAlgorithm(ref.digest),
    );
    if (ref.digest !== undefined && ref.digest !== digest) {
      throw new RegistryError(
        'EREGISTRY_DIGEST',
        `${what}: the manifest's digest is ${digest}, not ${ref.digest}`,
      );
    }
    const target = ref.tag ?? digest;
    const { response } = await this.#transport.send({
      ref,
      method: 'PUT',
      url: this.#manifestPath(ref, target),
      headers: { 'content-type': mediaType },
      body: { length: buffer.length, open: () => buffer },
      scopes: [repositoryScope(ref.repository, 'pull,push')],
      expect: [201],
      what,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    cancelBody(response);
    checkUploadDigest(response, digest, what);
    return digest;
  }

  /** The repository's tags (following `Link` pagination). */
  async listTags(
    reference: ImageReference | string,
    options: RequestOptions = {},
  ): Promise<string[]> {
    const ref = toReference(reference);
    const tags: string[] = [];
    let url: string | undefined = `/v2/${ref.repository}/tags/list`;
    for (let page = 0; url !== undefined && page < 1000; page++) {
      const { response, url: at }: { response: HttpResponse; url: string } =
        await this.#transport.send({
          ref,
          method: 'GET',
          url,
          scopes: [repositoryScope(ref.repository, 'pull')],
          expect: [200],
          what: `tags of ${ref.name}`,
          ...(options.signal ? { signal: options.signal } : {}),
        });
      const text = await readLimitedText(response, 16 * 1024 * 1024);
      let doc: { tags?: unknown };
      try {
        doc = JSON.parse(text) as { tags?: unknown };
      } catch (error) {
        throw new RegistryError('EREGISTRY_HTTP', `tags of ${ref.name}: not valid JSON`, {
          cause: error,
        });
      }
      if (Array.isArray(doc.tags))
        tags.push(...doc.tags.filter((t): t is string => typeof t === 'string'));
      const link = /<([^>]+)>\s*;\s*rel="?next"?/.exec(response.headers.get('link') ?? '');
      url = link?.[1] === undefined ? undefined : new URL(link[1], at).href;
    }
    return tags;
  }
}

function checkUploadDigest(response: HttpResponse, digest: string, what: string): void {
  const returned = response.headers.get('docker-content-digest');
  if (
    returned !== null &&
    returned !== '' &&
    returned.split(':')[0] === digest.split(':')[0] &&
    returned !== digest
  ) {
    throw new RegistryError(
      'EREGISTRY_DIGEST',
      `${what}: the registry stored digest ${returned}, expected ${digest}`,
    );
  }
}
