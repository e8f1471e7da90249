/**
 * `docker save` archives as image sources, in both shapes:
 *
 * - classic (Docker < 25, skopeo's docker-archive): `manifest.json`,
 *   `repositories`, `<id>.json` configs and `<id>/layer.tar` (or
 *   `<digest>.tar`) uncompressed layers. There is no manifest: one is
 *   synthesised (OCI media types, so that umoci and skopeo read the result);
 *   an uncompressed layer's digest is its DiffID, checked while it streams.
 * - OCI-carrying (Docker ≥ 25): `index.json`, `oci-layout` and
 *   `blobs/sha256/…` beside `manifest.json`. The image is chosen through
 *   `manifest.json` (RepoTags), and its real OCI manifest is used when the
 *   layout holds one for the same config.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { PassThrough } from 'node:stream';
import {
  type Descriptor,
  type DockerArchiveManifestEntry,
  type Manifest,
  OCI_MEDIA_TYPES,
  parseDockerArchiveManifest,
  parseImageConfig,
  parseManifest,
} from '@ts-oci/spec';
import { parseDigest, sha256Digest, verifyBytes } from '../digest.js';
import { ImageError } from '../errors.js';
import { sniffCompression } from '../media.js';
import { formatPlatform, platformScore } from '../platform.js';
import { checkImage, MANIFEST_TYPES, readJson, resolveDescriptor } from '../resolve.js';
import type { FileRange, ImageSource, PlatformSelector, ResolvedImage } from '../source.js';
import type { ArchiveFiles } from './archive.js';
import { layoutBlobPath } from './oci-layout.js';

/** `docker.io/library/busybox` and `busybox:latest` name the same image. */
export function normalizeDockerName(name: string): string {
  let n = name.trim();
  if (!/@/.test(n) && !/:[^/]+$/.test(n)) n = `${n}:latest`;
  for (const prefix of ['docker.io/', 'index.docker.io/', 'registry-1.docker.io/']) {
    if (n.startsWith(prefix)) n = n.slice(prefix.length);
  }
  if (n.startsWith('library/')) n = n.slice('library/'.length);
  return n;
}

export interface DockerArchiveSelector {
  /** A name from RepoTags, e.g. `busybox:latest`. */
  name?: string;
  /** The position in manifest.json (skopeo's `@N`). */
  index?: number;
}

export class DockerArchiveSource implements ImageSource {
  readonly reference: string;
  readonly #files: ArchiveFiles;
  readonly #selector: DockerArchiveSelector;
  /** digest → archive member, for synthesised manifests. */
  readonly #members = new Map<string, string>();
  /** digest → bytes of documents we made or read (manifest, config). */
  readonly #documents = new Map<string, Uint8Array>();

  constructor(files: ArchiveFiles, reference: string, selector: DockerArchiveSelector = {}) {
    this.#files = files;
    this.reference = reference;
    this.#selector = selector;
  }

  #select(entries: DockerArchiveManifestEntry[]): DockerArchiveManifestEntry {
    const { name, index } = this.#selector;
    if (index !== undefined) {
      const entry = entries[index];
      if (entry === undefined) {
        throw new ImageError(
          'EIMAGE_NOT_FOUND',
          `${this.reference}: no image @${index} (the archive has ${entries.length})`,
        );
      }
      return entry;
    }
    if (name !== undefined) {
      const wanted = normalizeDockerName(name);
      const entry = entries.find((e) =>
        (e.RepoTags ?? []).some((t) => normalizeDockerName(t) === wanted),
      );
      if (entry === undefined) {
        const tags = entries.flatMap((e) => e.RepoTags ?? []);
        throw new ImageError(
          'EIMAGE_NOT_FOUND',
          `${this.reference}: no image named ${JSON.stringify(name)} (tags: ${tags.join(', ') || 'none'})`,
        );
      }
      return entry;
    }
    if (entries.length === 1) return entries[0] as DockerArchiveManifestEntry;
    if (entries.length === 0)
      throw new ImageError('EIMAGE_NOT_FOUND', `${this.reference}: the archive holds no image`);
    throw new ImageError(
      'EIMAGE_AMBIGUOUS',
      `${this.reference}: the archive holds ${entries.length} images; name one (tags: ${entries
        .flatMap((e) => e.RepoTags ?? [])
        .join(', ')}) or use @N`,
    );
  }

  async resolve(platform?: PlatformSelector): Promise<ResolvedImage> {
    const files = this.#files;
    if ((await files.size('manifest.json')) === undefined) {
      const hint = files.has('index.json')
        ? ' (it looks like an OCI archive: use oci-archive:)'
        : '';
      throw new ImageError(
        'EIMAGE_NOT_FOUND',
        `${this.reference}: not a docker-archive, no manifest.json${hint}`,
      );
    }
    const entries = parseDockerArchiveManifest(
      readJson(await files.read('manifest.json'), `${this.reference}/manifest.json`),
      {
        document: `${this.reference}/manifest.json`,
      },
    );
    const entry = this.#select(entries);
    const configBytes = await files.read(entry.Config);
    const configDigest = sha256Digest(configBytes);

    // The OCI-carrying shape: use the real manifest for this config if there is one.
    if (files.has('index.json') && files.has('oci-layout')) {
      const found = await this.#findOciManifest(configDigest, platform);
      if (found !== undefined) return found;
    }

    const config = parseImageConfig(readJson(configBytes, `${this.reference}: ${entry.Config}`), {
      document: `${this.reference}: ${entry.Config}`,
    });
    if (platform !== undefined && platformScore(platform, config) === 0) {
      throw new ImageError(
        'EIMAGE_PLATFORM',
        `${this.reference}: the image is for ${formatPlatform(config)}, not ${formatPlatform(platform)}`,
      );
    }
    const layerPaths = entry.Layers ?? [];
    const layers: Descriptor[] = [];
    for (const [i, path] of layerPaths.entries()) {
      const size = await files.size(path);
      if (size === undefined) {
        throw new ImageError(
          'EIMAGE_NOT_FOUND',
          `${this.reference}: layer ${path} is missing from the archive`,
        );
      }
      const compression = sniffCompression(await files.head(path, 8));
      let digest: string;
      let mediaType: string;
      if (compression === 'none') {
        // An uncompressed layer is its own diff: its digest is the DiffID (verified when read).
        const diffId = config.rootfs.diff_ids[i];
        if (diffId === undefined) {
          throw new ImageError(
            'EIMAGE_INVALID',
            `${this.reference}: ${layerPaths.length} layers but ${config.rootfs.diff_ids.length} diff_ids`,
          );
        }
        parseDigest(diffId);
        digest = diffId;
        mediaType = OCI_MEDIA_TYPES.layer;
      } else if (compression === 'gzip' || compression === 'zstd') {
        digest = await this.#hashMember(path);
        mediaType = compression === 'gzip' ? OCI_MEDIA_TYPES.layerGzip : OCI_MEDIA_TYPES.layerZstd;
      } else {
        throw new ImageError(
          'EIMAGE_MEDIA_TYPE',
          `${this.reference}: layer ${path} is ${compression}-compressed (unsupported)`,
        );
      }
      this.#members.set(digest, path);
      layers.push({ mediaType, digest, size });
    }
    const manifest: Manifest = {
      schemaVersion: 2,
      mediaType: OCI_MEDIA_TYPES.imageManifest,
      config: {
        mediaType: OCI_MEDIA_TYPES.imageConfig,
        digest: configDigest,
        size: configBytes.length,
      },
      layers,
    };
    if (layers.length === 0) {
      throw new ImageError('EIMAGE_INVALID', `${this.reference}: the image has no layers`);
    }
    const manifestBytes = Buffer.from(JSON.stringify(manifest));
    parseManifest(JSON.parse(manifestBytes.toString()));
    checkImage(manifest, config, this.reference);
    const manifestDigest = sha256Digest(manifestBytes);
    this.#documents.set(manifestDigest, manifestBytes);
    this.#documents.set(configDigest, configBytes);
    return {
      manifestDescriptor: {
        mediaType: OCI_MEDIA_TYPES.imageManifest,
        digest: manifestDigest,
        size: manifestBytes.length,
        platform: {
          architecture: config.architecture,
          os: config.os,
          ...(config.variant ? { variant: config.variant } : {}),
        },
      },
      manifestBytes,
      manifest,
      configBytes,
      config,
      layers,
    };
  }

  async #hashMember(path: string): Promise<string> {
    const hash = createHash('sha256');
    const stream = await this.#files.open(path);
    for await (const chunk of stream) hash.update(chunk as Buffer);
    return `sha256:${hash.digest('hex')}`;
  }

  async #findOciManifest(
    configDigest: string,
    platform: PlatformSelector | undefined,
  ): Promise<ResolvedImage | undefined> {
    const read = async (d: Descriptor) => this.#files.read(layoutBlobPath(d.digest));
    const index = readJson(
      await this.#files.read('index.json'),
      `${this.reference}/index.json`,
    ) as {
      manifests?: Descriptor[];
    };
    for (const d of index.manifests ?? []) {
      if (!MANIFEST_TYPES.includes(d.mediaType)) continue;
      let bytes: Uint8Array;
      try {
        bytes = await read(d);
        verifyBytes(bytes, { digest: d.digest, size: d.size });
      } catch {
        continue;
      }
      const value = readJson(bytes, `${this.reference}: manifest ${d.digest}`) as {
        config?: { digest?: string };
      };
      if (value.config?.digest !== configDigest) continue;
      return resolveDescriptor(read, d, { platform, where: this.reference });
    }
    return undefined;
  }

  async openBlob(descriptor: Descriptor): Promise<Readable> {
    const doc = this.#documents.get(descriptor.digest);
    if (doc !== undefined) {
      const s = new PassThrough();
      s.end(doc);
      return s;
    }
    const member = this.#members.get(descriptor.digest) ?? layoutBlobPath(descriptor.digest);
    try {
      return await this.#files.open(member);
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
    if (this.#documents.has(descriptor.digest)) return undefined;
    const member = this.#members.get(descriptor.digest) ?? layoutBlobPath(descriptor.digest);
    try {
      return await this.#files.range(member);
    } catch {
      return undefined;
    }
  }

  async close(): Promise<void> {
    await this.#files.close();
  }
}
