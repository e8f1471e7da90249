/**
 * OCI image layouts (image-layout.md) as image sources: a directory (`oci:`)
 * or a tar of one (`oci-archive:`). A tag selects the index.json entry whose
 * `org.opencontainers.image.ref.name` annotation equals it.
 */
import type { Readable } from 'node:stream';
import { type Descriptor, type Index, parseImageLayout, parseIndex } from '@ts-oci/spec';
import { parseDigest } from '../digest.js';
import { ImageError } from '../errors.js';
import { hostPlatform, selectPlatform } from '../platform.js';
import { type BlobReader, readJson, resolveDescriptor } from '../resolve.js';
import type { FileRange, ImageSource, PlatformSelector, ResolvedImage } from '../source.js';
import type { Files } from './files.js';

export const REF_NAME = 'org.opencontainers.image.ref.name';

/** `blobs/<alg>/<encoded>` of a digest (validated, so it cannot leave the layout). */
export function layoutBlobPath(digest: string): string {
  const { algorithm, encoded } = parseDigest(digest);
  return `blobs/${algorithm}/${encoded}`;
}

/** Reads and checks `oci-layout` and `index.json`. */
export async function readLayoutIndex(files: Files): Promise<Index> {
  if ((await files.size('oci-layout')) === undefined) {
    throw new ImageError(
      'EIMAGE_NOT_FOUND',
      `${files.description} is not an OCI image layout (no oci-layout file)`,
    );
  }
  parseImageLayout(readJson(await files.read('oci-layout'), `${files.description}/oci-layout`), {
    document: `${files.description}/oci-layout`,
  });
  return parseIndex(readJson(await files.read('index.json'), `${files.description}/index.json`), {
    document: `${files.description}/index.json`,
  });
}

/** Picks the index.json entry for `tag` (or the only / the platform's one when there is no tag). */
export function selectEntry(
  index: Index,
  tag: string | undefined,
  platform: PlatformSelector | undefined,
  where: string,
): Descriptor {
  const named = (d: Descriptor) => d.annotations?.[REF_NAME];
  let candidates = index.manifests;
  if (tag !== undefined) {
    candidates = candidates.filter((d) => named(d) === tag);
    if (candidates.length === 0) {
      const names = index.manifests.map(named).filter((n) => n !== undefined);
      throw new ImageError(
        'EIMAGE_NOT_FOUND',
        `${where}: no image named ${JSON.stringify(tag)} (names: ${names.length > 0 ? names.join(', ') : 'none'})`,
      );
    }
  }
  if (candidates.length === 0)
    throw new ImageError('EIMAGE_NOT_FOUND', `${where}: the index lists no images`);
  if (candidates.length === 1) return candidates[0] as Descriptor;
  if (candidates.every((d) => d.platform !== undefined)) {
    const chosen = selectPlatform(candidates, platform ?? hostPlatform());
    if (chosen !== undefined) return chosen;
    throw new ImageError('EIMAGE_PLATFORM', `${where}: no image for the requested platform`);
  }
  const names = candidates.map((d) => named(d) ?? d.digest);
  throw new ImageError(
    'EIMAGE_AMBIGUOUS',
    `${where}: ${candidates.length} images match; name one of: ${names.join(', ')}`,
  );
}

export class OciLayoutSource implements ImageSource {
  readonly reference: string;
  readonly #files: Files;
  readonly #tag: string | undefined;

  constructor(files: Files, reference: string, tag?: string) {
    this.#files = files;
    this.reference = reference;
    this.#tag = tag;
  }

  readonly #read: BlobReader = (d) => this.#files.read(layoutBlobPath(d.digest));

  async resolve(platform?: PlatformSelector): Promise<ResolvedImage> {
    const index = await readLayoutIndex(this.#files);
    const entry = selectEntry(index, this.#tag, platform, this.reference);
    return resolveDescriptor(this.#read, entry, { platform, where: this.reference });
  }

  async openBlob(descriptor: Descriptor): Promise<Readable> {
    try {
      return await this.#files.open(layoutBlobPath(descriptor.digest));
    } catch (error) {
      if (error instanceof ImageError && error.code === 'EIMAGE_NOT_FOUND') {
        throw new ImageError(
          'EIMAGE_NOT_FOUND',
          `${this.reference}: blob ${descriptor.digest} is missing`,
        );
      }
      throw error;
    }
  }

  async blobFile(descriptor: Descriptor): Promise<FileRange | undefined> {
    try {
      return await this.#files.range(layoutBlobPath(descriptor.digest));
    } catch {
      return undefined;
    }
  }

  async close(): Promise<void> {
    await this.#files.close();
  }
}
