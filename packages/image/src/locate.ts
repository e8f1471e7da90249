/**
 * Finding an image from the reference a person typed, the way `tsoci run
 * --image` reads it:
 *
 *   oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:…]   that file or directory
 *   (other registered transports)                                   their opener
 *   docker://[HOST/]NAME[:TAG|@DIGEST]                              a registry
 *   sha256:<64 hex>                                                 a manifest in the store
 *   NAME[:TAG]                                                      the store (as typed, normalised
 *                                                                   `docker.io/library/NAME:TAG`, with
 *                                                                   `:latest`, Docker's short form),
 *                                                                   then (with `registry: true`) a registry
 *
 * No image is read here beyond the store's index: the caller resolves.
 */
import { ImageError } from './errors.js';
import type {
  ImageReference,
  RegistryClient,
  RegistryClientOptions,
  RegistrySource,
} from './registry/index.js';
import type { ImageSource, ResolvedImage } from './source.js';
import { hasLocalBlobs } from './source.js';
import { isTransportReference, openImageSource } from './sources/open.js';
import type { ImageStore } from './store/store.js';

export interface LocateOptions {
  /** Where bare names and digests are looked up. */
  store?: ImageStore;
  /**
   * Whether a bare name missing from the store may come from a registry
   * (default false: EIMAGE_NOT_FOUND). `docker://` references always do.
   */
  registry?: boolean;
  /** The client for registry images (default: anonymous https, Docker's credential files on a 401). */
  client?: RegistryClient | RegistryClientOptions;
}

export type LocatedImage =
  /** In the store under `name` (a ref.name or a manifest digest). */
  | { kind: 'store'; name: string }
  /**
   * Read from `source` (close it when done). `registry` is set for registry
   * images: the normalised reference, the name a pull stores it under.
   */
  | { kind: 'source'; source: ImageSource; registry?: ImageReference };

const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** Whether a bare reference names a tag (`busybox:1.36`, not `localhost:5000/busybox`). */
function hasExplicitTag(text: string): boolean {
  return /:[^/]+$/.test(text.replace(/@.*$/, ''));
}

/**
 * The store names a bare reference may be stored under, most specific
 * first: as typed, normalised (`docker.io/library/busybox:latest`, what a
 * registry pull stores), with `:latest`, and Docker's short form.
 */
export function storeCandidates(text: string, ref?: ImageReference): string[] {
  const out = [text];
  if (ref !== undefined) {
    out.push(ref.toString());
    if (ref.digest === undefined && !hasExplicitTag(text)) out.push(`${text}:${ref.tag}`);
    if (ref.registry === 'docker.io') {
      const short = ref.repository.replace(/^library\//, '');
      out.push(
        `${short}${ref.tag === undefined ? '' : `:${ref.tag}`}${ref.digest === undefined ? '' : `@${ref.digest}`}`,
      );
    }
  }
  return [...new Set(out)];
}

async function registryModule() {
  return import('./registry/index.js');
}

/** A registry client from options (credentials default to Docker's files, read on a 401). */
export async function registryClient(
  client: RegistryClient | RegistryClientOptions | undefined,
): Promise<RegistryClient> {
  const registry = await registryModule();
  if (client instanceof registry.RegistryClient) return client;
  const options = (client ?? {}) as RegistryClientOptions;
  return new registry.RegistryClient({
    credentials: registry.dockerCredentialProvider(),
    ...options,
  });
}

async function parseRegistryReference(text: string, refText: string): Promise<ImageReference> {
  const registry = await registryModule();
  try {
    return registry.parseReference(refText);
  } catch (error) {
    throw new ImageError(
      'EIMAGE_REFERENCE',
      `invalid image reference ${JSON.stringify(text)}: ${(error as { reason?: string }).reason ?? (error as Error).message}`,
      { cause: error },
    );
  }
}

async function registrySource(
  ref: ImageReference,
  options: LocateOptions,
): Promise<RegistrySource> {
  const registry = await registryModule();
  return new registry.RegistrySource(await registryClient(options.client), ref);
}

/** Finds `text` (see the module comment). */
export async function locateImage(
  text: string,
  options: LocateOptions = {},
): Promise<LocatedImage> {
  if (typeof text !== 'string' || text === '') {
    throw new ImageError('EIMAGE_REFERENCE', 'empty image reference');
  }
  if (text.startsWith('docker://')) {
    const ref = await parseRegistryReference(text, text.slice('docker://'.length));
    // Without a client: the `docker` transport as registered (registerTransport may replace it).
    const source =
      options.client === undefined
        ? await openImageSource(text)
        : await registrySource(ref, options);
    return { kind: 'source', source, registry: ref };
  }
  if (isTransportReference(text)) return { kind: 'source', source: await openImageSource(text) };
  const store = options.store;
  if (DIGEST.test(text)) {
    if (store === undefined) {
      throw new ImageError(
        'EIMAGE_REFERENCE',
        `${text}: a digest names an image in a store, and there is none`,
      );
    }
    return { kind: 'store', name: text };
  }
  let ref: ImageReference | undefined;
  let problem: string | undefined;
  try {
    ref = (await registryModule()).parseReference(text);
  } catch (error) {
    problem = (error as { reason?: string }).reason ?? (error as Error).message;
  }
  if (store !== undefined) {
    const names = new Set((await store.list()).map((i) => i.name));
    const found = storeCandidates(text, ref).find((c) => names.has(c));
    if (found !== undefined) return { kind: 'store', name: found };
  }
  const where =
    store === undefined ? 'no image store was given' : `it is not in store ${store.dir}`;
  if (options.registry !== true) {
    throw new ImageError('EIMAGE_NOT_FOUND', `image ${JSON.stringify(text)} not found: ${where}`);
  }
  if (ref === undefined) {
    throw new ImageError(
      'EIMAGE_NOT_FOUND',
      `image ${JSON.stringify(text)} not found (${where}) and it is not a registry reference: ${problem}`,
    );
  }
  return { kind: 'source', source: await registrySource(ref, options), registry: ref };
}

/**
 * `source` with `resolve` answered from an image already resolved (so a
 * registry is not asked twice); local blob files stay reachable.
 */
export function withResolved(source: ImageSource, image: ResolvedImage): ImageSource {
  const out: ImageSource & { blobFile?: unknown } = {
    reference: source.reference,
    resolve: async () => image,
    openBlob: (d) => source.openBlob(d),
    close: () => source.close(),
  };
  if (hasLocalBlobs(source))
    out.blobFile = (d: Parameters<typeof source.blobFile>[0]) => source.blobFile(d);
  return out;
}
