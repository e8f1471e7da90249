/**
 * The local image store: a directory that is itself a valid OCI image layout
 * (image-layout.md), so that skopeo (`oci:DIR:NAME`) and umoci read it:
 *
 *   oci-layout, index.json           names are `org.opencontainers.image.ref.name` annotations
 *   blobs/<alg>/<encoded>            every blob verified (digest and size) before it lands here
 *   tsoci/                           this package's private state (layout readers ignore it)
 *     ingest/                        blobs being received (renamed into blobs/ once verified)
 *     layers/<chain-id hex>/diff     layers unpacked for overlay mounts, one per ChainID
 *     l/<short>                      short symlinks to layers/*\/diff (mount options are ≤ 1 page)
 *     leases/<id>.json               overlay bundles using layers (gc keeps their layers)
 *     lock                           serialises index.json updates and gc
 */
import { mkdirSync, readFileSync, readlinkSync, symlinkSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { join, resolve as resolvePath } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type Descriptor, type Index, parseIndex } from '@ts-oci/spec';
import { chainIds } from '../chain.js';
import {
  isSelfVerifying,
  parseDigest,
  sha256Digest,
  verifyBytes,
  verifyStream,
} from '../digest.js';
import { ImageError } from '../errors.js';
import { fileWriterOf } from '../file-writer.js';
import { ByteCounter, layerPosition, type ProgressListener, resolvedEvent } from '../progress.js';
import {
  type BlobReader,
  INDEX_TYPES,
  MANIFEST_TYPES,
  readJson,
  resolveDescriptor,
} from '../resolve.js';
import type { FileRange, ImageSource, PlatformSelector, ResolvedImage } from '../source.js';
import { DirFiles } from '../sources/files.js';
import { layoutBlobPath, REF_NAME, readLayoutIndex, selectEntry } from '../sources/oci-layout.js';
import { openImageSource } from '../sources/open.js';
import type { ApplyStats } from '../unpack/apply.js';
import { applyLayerBlob, type BlobInput } from '../unpack/layer.js';
import {
  exists,
  existsNow,
  mapLimit,
  randomName,
  replaceFileSync,
  SyncFileSink,
  withLock,
  writeFileAtomic,
} from './fsutil.js';

const REF_RE =
  /^[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*(?:\/[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*)*$/;

/** Checks an image name against the ref.name grammar (annotations.md). */
export function validateImageName(name: string): void {
  if (!REF_RE.test(name)) {
    throw new ImageError(
      'EIMAGE_REFERENCE',
      `invalid image name ${JSON.stringify(name)} (annotations.md ref grammar: components of [A-Za-z0-9] joined by one of -._:@+ or "--", separated by "/")`,
    );
  }
}

/** One named image in the store. */
export interface StoredImage {
  name: string;
  /** The index.json entry: the manifest (or index) descriptor, with its platform. */
  descriptor: Descriptor;
}

export interface ImportOptions {
  platform?: PlatformSelector;
  /** Called as each blob is in place. */
  onBlob?: (descriptor: Descriptor, status: 'stored' | 'present') => void;
  /**
   * resolving, resolved, layer-download-start/progress/done per layer
   * (`cached` when the store had the blob), done (see progress.ts).
   */
  onProgress?: ProgressListener;
}

export interface ImportResult extends StoredImage {
  image: ResolvedImage;
  /** Blobs written by this import (others were already present). */
  stored: number;
  present: number;
}

export interface GcOptions {
  /**
   * Blobs, ingest files and unpack directories younger than this are kept
   * even when unreferenced: an import running concurrently may be about to
   * reference them. Default one hour; 0 collects everything.
   */
  graceMs?: number;
}

export interface GcResult {
  removedBlobs: string[];
  removedLayers: string[];
  freedBytes: number;
}

/** The unpacked layers of one image, for overlay mounts. */
export interface UnpackedLayers {
  chainIds: string[];
  /** Absolute `diff` directories, base layer first. */
  dirs: string[];
  /** Short names relative to `shortRoot` (`l/<id>`), base layer first. */
  shortNames: string[];
  /** The directory `shortNames` are relative to. */
  shortRoot: string;
  /** Per layer: stats when unpacked now, undefined when it already was. */
  unpacked: (ApplyStats | undefined)[];
}

const EMPTY_INDEX: Index = { schemaVersion: 2, manifests: [] };

function code(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

export class ImageStore {
  readonly dir: string;
  readonly #private: string;
  #initialized: Promise<void> | undefined;

  constructor(dir: string) {
    this.dir = resolvePath(dir);
    this.#private = join(this.dir, 'tsoci');
  }

  /** Creates the layout if it does not exist (idempotent; mutating methods call it). */
  init(): Promise<void> {
    this.#initialized ??= this.#init().catch((error) => {
      this.#initialized = undefined;
      throw error;
    });
    return this.#initialized;
  }

  async #init(): Promise<void> {
    // Synchronous: on an existing store these are a few stat-sized calls,
    // each cheaper than a thread-pool round trip.
    mkdirSync(join(this.dir, 'blobs', 'sha256'), { recursive: true });
    for (const sub of ['ingest', 'layers', 'l', 'leases']) {
      mkdirSync(join(this.#private, sub), { recursive: true });
    }
    const layoutFile = join(this.dir, 'oci-layout');
    if (!existsNow(layoutFile)) {
      await writeFileAtomic(layoutFile, JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    }
    const indexFile = join(this.dir, 'index.json');
    if (!existsNow(indexFile)) {
      await withLock(this.#lockPath, async () => {
        if (!(await exists(indexFile)))
          await writeFileAtomic(indexFile, JSON.stringify(EMPTY_INDEX));
      });
    }
  }

  get #lockPath(): string {
    return join(this.#private, 'lock');
  }

  /** Where a blob is (or would be) stored. */
  blobPath(digest: string): string {
    return join(this.dir, layoutBlobPath(digest));
  }

  async hasBlob(descriptor: Pick<Descriptor, 'digest' | 'size'>): Promise<boolean> {
    try {
      const st = await fs.stat(this.blobPath(descriptor.digest));
      return st.isFile() && st.size === descriptor.size;
    } catch (error) {
      if (code(error) === 'ENOENT') return false;
      throw error;
    }
  }

  /** The raw bytes of a blob (the caller verifies; see verifyStream). */
  async openBlob(descriptor: Descriptor): Promise<Readable> {
    return new DirFiles(this.dir).open(layoutBlobPath(descriptor.digest)).catch((error) => {
      if (error instanceof ImageError && error.code === 'EIMAGE_NOT_FOUND') {
        throw new ImageError(
          'EIMAGE_NOT_FOUND',
          `store ${this.dir}: blob ${descriptor.digest} is missing`,
        );
      }
      throw error;
    });
  }

  /** Where a stored blob lies (for unpacking with reused buffers). */
  async blobFile(descriptor: Descriptor): Promise<FileRange | undefined> {
    try {
      const path = this.blobPath(descriptor.digest);
      const st = await fs.stat(path);
      return st.isFile() ? { path, start: 0, length: st.size } : undefined;
    } catch {
      return undefined;
    }
  }

  async #readIndex(): Promise<Index> {
    if (!existsNow(join(this.dir, 'index.json'))) return { ...EMPTY_INDEX, manifests: [] };
    return readLayoutIndex(new DirFiles(this.dir));
  }

  /**
   * Stores a blob from a stream, verified on the way: it appears under its
   * digest only when complete and correct; on any failure nothing is left.
   */
  async putBlob(
    descriptor: Descriptor,
    open: () => Promise<Readable>,
    what?: string,
    progress: { onStart?: () => void; counter?: ByteCounter } = {},
  ): Promise<'stored' | 'present'> {
    await this.init();
    parseDigest(descriptor.digest);
    if (await this.hasBlob(descriptor)) return 'present';
    const temp = join(this.#private, 'ingest', randomName(''));
    try {
      progress.onStart?.();
      const source = await open();
      // A registry blob stream verifies itself and writes itself into the
      // file from reused buffers: no stream stages, no per-chunk allocations.
      const writeFile = isSelfVerifying(source, descriptor) ? fileWriterOf(source) : undefined;
      if (writeFile !== undefined) {
        const file = await fs.open(temp, 'wx', 0o644);
        try {
          const counter = progress.counter;
          await writeFile(file.fd, counter ? { onBytes: (n) => counter.add(n) } : {});
          await file.sync();
        } finally {
          await file.close();
        }
        await fs.rename(temp, this.blobPath(descriptor.digest));
        return 'stored';
      }
      const stages: NodeJS.ReadWriteStream[] = [];
      if (progress.counter) stages.push(progress.counter.stream() as NodeJS.ReadWriteStream);
      // A stream that verifies itself (the registry client's) is not hashed twice.
      if (!isSelfVerifying(source, descriptor)) {
        stages.push(
          verifyStream({
            digest: descriptor.digest,
            size: descriptor.size,
            what: what ?? `blob ${descriptor.digest}`,
          }) as NodeJS.ReadWriteStream,
        );
      }
      // Written with synchronous writes and fsynced before the pipeline ends.
      await pipeline([source, ...stages, new SyncFileSink(temp)]);
      await fs.rename(temp, this.blobPath(descriptor.digest));
      return 'stored';
    } catch (error) {
      await fs.rm(temp, { force: true });
      throw error;
    }
  }

  /** Stores a small blob from memory (verified). */
  async putBlobBytes(
    descriptor: Descriptor,
    bytes: Uint8Array,
    what?: string,
  ): Promise<'stored' | 'present'> {
    await this.init();
    verifyBytes(bytes, {
      digest: descriptor.digest,
      size: descriptor.size,
      what: what ?? `blob ${descriptor.digest}`,
    });
    if (await this.hasBlob(descriptor)) return 'present';
    const path = this.blobPath(descriptor.digest);
    await fs.mkdir(join(path, '..'), { recursive: true });
    await writeFileAtomic(path, bytes);
    return 'stored';
  }

  /**
   * Copies an image from a source (or an image reference such as
   * `oci-archive:img.tar`) into the store under `name`. Layers first, then
   * config, manifest, and last the index entry: a failure at any point
   * leaves the index untouched and no partial blob (complete, verified
   * blobs of an interrupted import stay until `gc`). An existing image of
   * the same name is replaced.
   */
  async import(
    source: ImageSource | string,
    name: string,
    options: ImportOptions = {},
  ): Promise<ImportResult> {
    validateImageName(name);
    if (typeof source === 'string') {
      const opened = await openImageSource(source);
      try {
        return await this.import(opened, name, options);
      } finally {
        await opened.close();
      }
    }
    const emit = options.onProgress;
    emit?.({ type: 'resolving', reference: source.reference });
    const image = await source.resolve(options.platform);
    emit?.(resolvedEvent(source.reference, image));
    // After the resolve: an image that cannot be found leaves no store behind.
    await this.init();
    let stored = 0;
    let present = 0;
    const count = (d: Descriptor, s: 'stored' | 'present') => {
      if (s === 'stored') stored++;
      else present++;
      options.onBlob?.(d, s);
    };
    await mapLimit(image.layers, 3, async (layer, i) => {
      const what = `${source.reference}: layer ${i}`;
      const position = layerPosition(image.layers, i);
      const counter = emit ? new ByteCounter(emit, 'layer-download-progress', position) : undefined;
      const status = await this.putBlob(layer, () => source.openBlob(layer), what, {
        onStart: () => emit?.({ type: 'layer-download-start', ...position }),
        ...(counter ? { counter } : {}),
      });
      emit?.({
        type: 'layer-download-done',
        ...position,
        bytes: counter?.bytes ?? 0,
        cached: status === 'present',
      });
      count(layer, status);
    });
    count(
      image.manifest.config,
      await this.putBlobBytes(
        image.manifest.config,
        image.configBytes,
        `${source.reference}: config`,
      ),
    );
    count(
      image.manifestDescriptor,
      await this.putBlobBytes(
        image.manifestDescriptor,
        image.manifestBytes,
        `${source.reference}: manifest`,
      ),
    );
    const descriptor: Descriptor = {
      mediaType: image.manifestDescriptor.mediaType,
      digest: image.manifestDescriptor.digest,
      size: image.manifestDescriptor.size,
      ...(image.manifestDescriptor.platform ? { platform: image.manifestDescriptor.platform } : {}),
      annotations: { [REF_NAME]: name },
    };
    await this.#updateIndex((index) => {
      index.manifests = index.manifests.filter((d) => d.annotations?.[REF_NAME] !== name);
      index.manifests.push(descriptor);
    });
    emit?.({ type: 'done', reference: source.reference, digest: descriptor.digest });
    return { name, descriptor, image, stored, present };
  }

  async #updateIndex(mutate: (index: Index) => void): Promise<void> {
    await withLock(this.#lockPath, async () => {
      const index = await this.#readIndex();
      mutate(index);
      if (index.mediaType === undefined)
        index.mediaType = 'application/vnd.oci.image.index.v1+json';
      parseIndex(index, { document: `${this.dir}/index.json` });
      await writeFileAtomic(join(this.dir, 'index.json'), `${JSON.stringify(index, null, 2)}\n`);
    });
  }

  /** The named images (index.json entries with a ref.name), in index order. */
  async list(): Promise<StoredImage[]> {
    const index = await this.#readIndex();
    const out: StoredImage[] = [];
    for (const descriptor of index.manifests) {
      const name = descriptor.annotations?.[REF_NAME];
      if (name !== undefined) out.push({ name, descriptor });
    }
    return out;
  }

  /** The index.json entry for `name` (or a manifest digest). */
  async entry(name: string, platform?: PlatformSelector): Promise<Descriptor> {
    const index = await this.#readIndex();
    if (
      /^[a-z0-9]+:[a-f0-9]+$/.test(name) &&
      !index.manifests.some((d) => d.annotations?.[REF_NAME] === name)
    ) {
      const byDigest = index.manifests.find((d) => d.digest === name);
      if (byDigest !== undefined) return byDigest;
    }
    return selectEntry(index, name, platform, `store ${this.dir}`);
  }

  // Documents only (manifests, indexes, configs), read synchronously as
  // DirFiles reads them.
  readonly #read: BlobReader = async (d) => {
    try {
      return readFileSync(this.blobPath(d.digest));
    } catch (error) {
      if (code(error) === 'ENOENT') {
        throw new ImageError(
          'EIMAGE_NOT_FOUND',
          `store ${this.dir}: blob ${d.digest} (${d.mediaType}) is missing`,
        );
      }
      throw error;
    }
  };

  /** Resolves a stored image (by name or manifest digest) to its manifest, config and layers. */
  async resolve(name: string, platform?: PlatformSelector): Promise<ResolvedImage> {
    const entry = await this.entry(name, platform);
    return resolveDescriptor(this.#read, entry, { platform, where: `store ${this.dir} (${name})` });
  }

  /** A stored image as an ImageSource (e.g. to import it into another store). */
  source(name: string): ImageSource {
    return {
      reference: `oci:${this.dir}:${name}`,
      resolve: (platform) => this.resolve(name, platform),
      openBlob: (d) => this.openBlob(d),
      close: async () => {},
    };
  }

  /** Removes a name from the index; its blobs and layers go at the next `gc`. Returns whether it existed. */
  async remove(name: string): Promise<boolean> {
    await this.init();
    let found = false;
    await this.#updateIndex((index) => {
      const before = index.manifests.length;
      index.manifests = index.manifests.filter((d) => d.annotations?.[REF_NAME] !== name);
      found = index.manifests.length !== before;
    });
    return found;
  }

  // ----- unpacked layers (overlay mode) -----

  /** The directory of the unpacked layer with this ChainID. */
  layerPath(chainId: string): string {
    return join(this.#private, 'layers', parseDigest(chainId).encoded, 'diff');
  }

  #shortName(chainId: string): string {
    return `l/${parseDigest(chainId).encoded.slice(0, 20)}`;
  }

  /**
   * Makes sure every layer of `image` is unpacked in overlay form (each into
   * its own directory, keyed by ChainID, whiteouts as overlayfs whiteouts).
   * Layers already unpacked are not touched again: an image that shares its
   * base with another unpacks only its own layers. Needs root. `name` (the
   * image's name, when the caller knows it) is used in error messages.
   * `onProgress` receives layer-unpack-start/progress/done per layer (done
   * with `cached: true` for layers that were unpacked already).
   */
  async unpackLayers(
    image: ResolvedImage,
    options: {
      open?: (d: Descriptor) => Promise<BlobInput>;
      name?: string;
      onProgress?: ProgressListener;
      /** Stops mid-layer; the layer being unpacked is removed (see ApplyOptions). */
      signal?: AbortSignal;
    } = {},
  ): Promise<UnpackedLayers> {
    const emit = options.onProgress;
    await this.init();
    const ids = chainIds(image.config.rootfs.diff_ids);
    const dirs = ids.map((id) => this.layerPath(id));
    const shortNames = ids.map((id) => this.#shortName(id));
    const unpacked: (ApplyStats | undefined)[] = [];
    for (const [i, id] of ids.entries()) {
      const dir = dirs[i] as string;
      const position = layerPosition(image.layers, i);
      const cached = () =>
        emit?.({ type: 'layer-unpack-done', ...position, bytes: 0, cached: true });
      if (existsNow(dir)) {
        await this.#ensureShortLink(id);
        unpacked.push(undefined);
        cached();
        continue;
      }
      const layer = image.layers[i] as Descriptor;
      const open =
        options.open ??
        (async (d: Descriptor): Promise<BlobInput> =>
          (await this.blobFile(d)) ?? (await this.openBlob(d)));
      const hex = parseDigest(id).encoded;
      const temp = join(this.#private, 'layers', randomName(`.tmp-${hex.slice(0, 12)}-`));
      const tempDiff = join(temp, 'diff');
      await fs.mkdir(tempDiff, { recursive: true, mode: 0o755 });
      let stats: ApplyStats;
      const counter = emit ? new ByteCounter(emit, 'layer-unpack-progress', position) : undefined;
      try {
        emit?.({ type: 'layer-unpack-start', ...position });
        stats = await applyLayerBlob(
          await open(layer),
          layer,
          image.config.rootfs.diff_ids[i],
          tempDiff,
          {
            mode: 'overlay',
            lowerDirs: dirs.slice(0, i).reverse(),
            ...(options.signal ? { signal: options.signal } : {}),
          },
          `${this.dir} (${options.name ?? image.manifestDescriptor.digest}): layer ${i} (${layer.digest})`,
          counter,
        );
        await fs.writeFile(
          join(temp, 'layer.json'),
          JSON.stringify({
            chainId: id,
            diffId: image.config.rootfs.diff_ids[i],
            digest: layer.digest,
          }),
        );
        await fs.rename(temp, join(dir, '..'));
      } catch (error) {
        await fs.rm(temp, { recursive: true, force: true });
        // Someone else unpacked the same layer meanwhile: theirs is as good as ours.
        if ((code(error) === 'ENOTEMPTY' || code(error) === 'EEXIST') && (await exists(dir))) {
          await this.#ensureShortLink(id);
          unpacked.push(undefined);
          cached();
          continue;
        }
        throw error;
      }
      await this.#ensureShortLink(id);
      unpacked.push(stats);
      emit?.({
        type: 'layer-unpack-done',
        ...position,
        bytes: counter?.bytes ?? layer.size,
        cached: false,
        stats,
      });
    }
    return { chainIds: ids, dirs, shortNames, shortRoot: this.#private, unpacked };
  }

  async #ensureShortLink(chainId: string): Promise<void> {
    const link = join(this.#private, this.#shortName(chainId));
    const target = `../layers/${parseDigest(chainId).encoded}/diff`;
    try {
      if (readlinkSync(link) === target) return;
      throw new ImageError(
        'EIMAGE_IO',
        `store ${this.dir}: short layer name ${link} is taken by another layer`,
      );
    } catch (error) {
      if (code(error) !== 'ENOENT') throw error;
    }
    try {
      symlinkSync(target, link);
    } catch (error) {
      if (code(error) !== 'EEXIST') throw error;
    }
  }

  /**
   * Records that the overlay bundle at `bundleDir` uses these layers (gc
   * keeps them). Renamed into place, so gc never reads half a lease, but not
   * fsynced: a lease protects a mount, and no mount survives a crash.
   */
  async addLease(bundleDir: string, ids: readonly string[]): Promise<string> {
    await this.init();
    const id = sha256Digest(resolvePath(bundleDir)).slice(7, 39);
    replaceFileSync(
      join(this.#private, 'leases', `${id}.json`),
      JSON.stringify({ bundle: resolvePath(bundleDir), chainIds: ids }),
    );
    return id;
  }

  async removeLease(bundleDir: string): Promise<void> {
    const id = sha256Digest(resolvePath(bundleDir)).slice(7, 39);
    await fs.rm(join(this.#private, 'leases', `${id}.json`), { force: true });
  }

  // ----- garbage collection -----

  /**
   * Removes blobs no named image reaches (manifests, indexes, configs,
   * layers), unpacked layers no named image or live bundle lease uses, and
   * leftovers of interrupted imports and unpacks.
   */
  async gc(options: GcOptions = {}): Promise<GcResult> {
    await this.init();
    const graceMs = options.graceMs ?? 60 * 60 * 1000;
    const young = async (path: string) => {
      try {
        return Date.now() - (await fs.lstat(path)).mtimeMs < graceMs;
      } catch {
        return false;
      }
    };
    return withLock(this.#lockPath, async () => {
      const index = await this.#readIndex();
      const keepBlobs = new Set<string>();
      const keepChains = new Set<string>();
      const walk = async (d: Descriptor, depth: number): Promise<void> => {
        if (depth > 8 || keepBlobs.has(d.digest)) return;
        keepBlobs.add(d.digest);
        if (!INDEX_TYPES.includes(d.mediaType) && !MANIFEST_TYPES.includes(d.mediaType)) return;
        let doc: { manifests?: Descriptor[]; config?: Descriptor; layers?: Descriptor[] };
        let bytes: Uint8Array;
        try {
          bytes = await this.#read(d);
        } catch {
          return; // a missing blob keeps nothing else alive
        }
        try {
          doc = readJson(bytes, d.digest) as typeof doc;
        } catch {
          return;
        }
        for (const m of doc.manifests ?? []) await walk(m, depth + 1);
        if (doc.config !== undefined) {
          keepBlobs.add(doc.config.digest);
          try {
            const config = readJson(await this.#read(doc.config), doc.config.digest) as {
              rootfs?: { diff_ids?: string[] };
            };
            for (const id of chainIds(config.rootfs?.diff_ids ?? [])) keepChains.add(id);
          } catch {
            // unreadable config: its layers are not kept by it
          }
        }
        for (const l of doc.layers ?? []) keepBlobs.add(l.digest);
      };
      for (const d of index.manifests) await walk(d, 0);

      // Leases of bundles that still exist keep their layers.
      const leaseDir = join(this.#private, 'leases');
      for (const file of await fs.readdir(leaseDir)) {
        try {
          const lease = JSON.parse(await fs.readFile(join(leaseDir, file), 'utf8')) as {
            bundle: string;
            chainIds: string[];
          };
          if (await exists(lease.bundle)) for (const id of lease.chainIds) keepChains.add(id);
          else await fs.rm(join(leaseDir, file), { force: true });
        } catch {
          await fs.rm(join(leaseDir, file), { force: true });
        }
      }

      const result: GcResult = { removedBlobs: [], removedLayers: [], freedBytes: 0 };
      const blobsDir = join(this.dir, 'blobs');
      for (const alg of await fs.readdir(blobsDir)) {
        for (const enc of await fs.readdir(join(blobsDir, alg))) {
          const digest = `${alg}:${enc}`;
          if (keepBlobs.has(digest)) continue;
          const path = join(blobsDir, alg, enc);
          const st = await fs.lstat(path);
          if (!st.isFile() || (await young(path))) continue;
          await fs.rm(path, { force: true });
          result.removedBlobs.push(digest);
          result.freedBytes += st.size;
        }
      }
      const keepHex = new Set([...keepChains].map((id) => id.slice(id.indexOf(':') + 1)));
      const layersDir = join(this.#private, 'layers');
      for (const name of await fs.readdir(layersDir)) {
        if (keepHex.has(name)) continue;
        if (name.startsWith('.tmp-') && (await young(join(layersDir, name)))) continue;
        await fs.rm(join(layersDir, name), { recursive: true, force: true });
        if (!name.startsWith('.tmp-')) result.removedLayers.push(`sha256:${name}`);
      }
      const shortDir = join(this.#private, 'l');
      for (const name of await fs.readdir(shortDir)) {
        if (!(await exists(join(shortDir, name, '.')).catch(() => false))) {
          await fs.rm(join(shortDir, name), { force: true });
        }
      }
      for (const name of await fs.readdir(join(this.#private, 'ingest'))) {
        const path = join(this.#private, 'ingest', name);
        if (!(await young(path))) await fs.rm(path, { force: true });
      }
      return result;
    });
  }
}
