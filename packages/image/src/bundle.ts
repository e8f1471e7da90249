/**
 * Image → OCI runtime bundle: `dir/config.json` + `dir/rootfs`.
 *
 * - copy mode (default): the layers are unpacked into `dir/rootfs`.
 * - overlay mode (root only, needs a store): the store keeps every layer
 *   unpacked once, keyed by ChainID; the bundle's rootfs is an overlay mount
 *   of those directories with a fresh `dir/overlay/{upper,work}`. Layers
 *   shared between images and bundles are never unpacked or copied again.
 *   The mount lives in the caller's mount namespace until `removeBundle`.
 *
 * A failed createBundle leaves nothing behind (no mount, no files, no lease).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { join, resolve as resolvePath } from 'node:path';
import type { Config } from '@ts-oci/spec';
import { type ConvertOptions, imageConfigToRuntimeConfig } from './convert.js';
import { ImageError } from './errors.js';
import { type LocatedImage, locateImage, withResolved } from './locate.js';
import { type OverlayMounter, utilLinuxMounter } from './overlay.js';
import { layerEventsOnly, type ProgressListener, resolvedEvent } from './progress.js';
import type { RegistryClient, RegistryClientOptions } from './registry/index.js';
import type { ImageSource, PlatformSelector, ResolvedImage } from './source.js';
import { isTransportReference, openImageSource } from './sources/open.js';
import { ImageStore } from './store/store.js';
import type { ApplyStats } from './unpack/apply.js';
import { discardDir, prepareEmptyDir, type UnpackOptions, unpackImage } from './unpack/unpack.js';

/** The bundle's record of how it was made (read by removeBundle). */
export const BUNDLE_RECORD = '.tsoci-bundle.json';

export interface CreateBundleOptions {
  /**
   * The image: a name (or manifest digest) in `store`, an image reference
   * (`oci:DIR:TAG`, `oci-archive:…`, `docker-archive:…`, `docker://…`,
   * registered transports), or an open ImageSource. With `pull`, a bare
   * name missing from the store comes from a registry (see locate.ts).
   */
  image: string | ImageSource;
  /** The store holding `image` (required for overlay mode). */
  store?: ImageStore | string;
  /** The bundle directory (created; must be absent or empty). */
  dir: string;
  /**
   * Overlay mode (see the module comment). Default false. `'auto'`: overlay
   * when running as root and the image is (or, pulled, gets) in the store;
   * else copy mode.
   */
  overlay?: boolean | 'auto';
  platform?: PlatformSelector;
  /** How config.json is generated (args, env, user, rootless, …). */
  config?: ConvertOptions;
  /** Copy mode: how layers are unpacked (owners, xattrs, unsafe paths). */
  unpack?: Omit<UnpackOptions, 'platform' | 'onProgress'>;
  /**
   * Registry images (`docker://…`, and with `pull` bare names the store
   * lacks) are pulled into `store` first when there is one, so later
   * bundles share their blobs and layers; without a store they are
   * streamed straight into the rootfs. Default false: a bare name must be
   * in the store.
   */
  pull?: boolean;
  /** The registry client for registry images, or its options. */
  registry?: RegistryClient | RegistryClientOptions;
  /**
   * resolving, resolved, then per layer the download (a pull into the
   * store) and unpack events, done once config.json is written (see
   * progress.ts). `reference` is the `image` given.
   */
  onProgress?: ProgressListener;
  /** Makes the overlay mount (default: mount(8), see overlay.ts). */
  mounter?: OverlayMounter;
  /**
   * Stops the bundle at any point, also in the middle of a layer; nothing
   * is left behind (as after any failure) and the call rejects with the
   * signal's reason. A registry client made from `registry` options gets
   * it too.
   */
  signal?: AbortSignal;
}

export interface Bundle {
  dir: string;
  rootfs: string;
  config: Config;
  image: ResolvedImage;
  overlay: boolean;
  /** Copy mode: per-layer statistics. Overlay mode: layers unpacked now (undefined: already there). */
  layers: (ApplyStats | undefined)[];
}

interface BundleRecord {
  overlay: boolean;
  store?: string;
  manifest: string;
  chainIds?: string[];
}

const isRoot = () => process.getuid?.() === 0;

/** The registry client or its options, with `options.signal` when it makes the client. */
function registryFor(
  options: CreateBundleOptions,
): RegistryClient | RegistryClientOptions | undefined {
  const { registry, signal } = options;
  const isClient = typeof (registry as RegistryClient | undefined)?.getManifest === 'function';
  if (signal === undefined || isClient) return registry;
  return { ...registry, signal };
}

/** Where `options.image` is read from. */
async function locate(
  options: CreateBundleOptions,
  store: ImageStore | undefined,
): Promise<LocatedImage> {
  const image = options.image;
  if (typeof image !== 'string') return { kind: 'source', source: image };
  if (options.pull === true || image.startsWith('docker://')) {
    return locateImage(image, {
      ...(store ? { store } : {}),
      registry: options.pull === true,
      ...(registryFor(options) ? { client: registryFor(options) } : {}),
    });
  }
  // A store name (or digest) as given, or a transport reference.
  if (store !== undefined && !isTransportReference(image)) return { kind: 'store', name: image };
  return { kind: 'source', source: await openImageSource(image) };
}

export async function createBundle(options: CreateBundleOptions): Promise<Bundle> {
  const dir = resolvePath(options.dir);
  const store = typeof options.store === 'string' ? new ImageStore(options.store) : options.store;
  const mounter = options.mounter ?? utilLinuxMounter;
  const wanted = options.overlay ?? false;
  if (wanted === true && store === undefined) {
    throw new ImageError(
      'EIMAGE_OVERLAY',
      'overlay bundles need an image store (the layers live there)',
    );
  }
  if (wanted === true && typeof options.image !== 'string') {
    throw new ImageError(
      'EIMAGE_OVERLAY',
      'overlay bundles are made from an image name in the store',
    );
  }
  if (wanted === true && !isRoot()) {
    throw new ImageError(
      'EIMAGE_OVERLAY',
      'overlay bundles need root (overlay mounts, overlay whiteouts)',
    );
  }
  const emit = options.onProgress;
  const layerEmit = layerEventsOnly(emit);
  const label = typeof options.image === 'string' ? options.image : options.image.reference;
  const created = await prepareEmptyDir(dir, 'bundle directory', 0o711);
  const rootfs = join(dir, 'rootfs');
  let mounted = false;
  let leased = false;
  let close: (() => Promise<void>) | undefined;
  try {
    emit?.({ type: 'resolving', reference: label });
    let located = await locate(options, store);
    if (located.kind === 'source' && typeof options.image === 'string') {
      const opened = located.source;
      close = () => opened.close();
    }
    let image =
      located.kind === 'store'
        ? await (store as ImageStore).resolve(located.name, options.platform)
        : await located.source.resolve(options.platform);
    emit?.(resolvedEvent(label, image));
    if (located.kind === 'source' && located.registry && store && options.pull === true) {
      // Into the store first (a later bundle reuses it), then from there.
      const name = located.registry.toString();
      const imported = await store.import(withResolved(located.source, image), name, {
        ...(options.platform ? { platform: options.platform } : {}),
        ...(layerEmit ? { onProgress: layerEmit } : {}),
      });
      image = imported.image;
      located = { kind: 'store', name };
    }
    const overlay = wanted === 'auto' ? located.kind === 'store' && isRoot() : wanted;
    if (overlay && located.kind !== 'store') {
      throw new ImageError(
        'EIMAGE_OVERLAY',
        `overlay bundles are made from images in the store, and ${label} is not one`,
      );
    }
    let layers: (ApplyStats | undefined)[];
    let record: BundleRecord;
    if (overlay && located.kind === 'store') {
      const s = store as ImageStore;
      const unpacked = await s.unpackLayers(image, {
        name: located.name,
        ...(layerEmit ? { onProgress: layerEmit } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      options.signal?.throwIfAborted();
      const upper = join(dir, 'overlay', 'upper');
      const work = join(dir, 'overlay', 'work');
      mkdirSync(upper, { recursive: true, mode: 0o755 });
      mkdirSync(work, { mode: 0o700 });
      mkdirSync(rootfs, { mode: 0o755 });
      await s.addLease(dir, unpacked.chainIds);
      leased = true;
      await mounter.mount({
        lower: [...unpacked.shortNames].reverse(),
        upper,
        work,
        target: rootfs,
        cwd: unpacked.shortRoot,
      });
      mounted = true;
      layers = unpacked.unpacked;
      record = {
        overlay: true,
        store: s.dir,
        manifest: image.manifestDescriptor.digest,
        chainIds: unpacked.chainIds,
      };
    } else {
      const from: ImageStore | ImageSource =
        located.kind === 'store' ? (store as ImageStore) : withResolved(located.source, image);
      const result = await unpackImage(
        from,
        located.kind === 'store' ? located.name : undefined,
        rootfs,
        {
          ...options.unpack,
          ...(options.signal ? { signal: options.signal } : {}),
          ...(options.platform ? { platform: options.platform } : {}),
          ...(layerEmit ? { onProgress: layerEmit } : {}),
        },
      );
      image = result.image;
      layers = result.layers;
      record = { overlay: false, manifest: image.manifestDescriptor.digest };
      if (store !== undefined) record.store = store.dir;
    }
    options.signal?.throwIfAborted();
    const config = imageConfigToRuntimeConfig(image.config, rootfs, options.config);
    // Plain writes: the directory is this call's until it returns and is
    // removed whole on failure, so a temp file, rename or fsync would guard
    // nothing (the store's own records keep theirs). O_EXCL still refuses a
    // file that appeared meanwhile.
    writeFileSync(join(dir, BUNDLE_RECORD), `${JSON.stringify(record)}\n`, {
      flag: 'wx',
      mode: 0o644,
    });
    writeFileSync(join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`, {
      flag: 'wx',
      mode: 0o644,
    });
    emit?.({ type: 'done', reference: label, digest: image.manifestDescriptor.digest });
    return { dir, rootfs, config, image, overlay, layers };
  } catch (error) {
    if (mounted) await mounter.unmount(rootfs).catch(() => {});
    if (leased) await (store as ImageStore).removeLease(dir).catch(() => {});
    await discardDir(dir, created).catch(() => {});
    throw error;
  } finally {
    await close?.();
  }
}

/**
 * Removes a bundle made by createBundle: unmounts an overlay rootfs, drops
 * its lease in the store, deletes the directory. Refuses directories that
 * createBundle did not make.
 */
export async function removeBundle(
  dir: string,
  options: { mounter?: OverlayMounter } = {},
): Promise<void> {
  const abs = resolvePath(dir);
  let record: BundleRecord;
  try {
    record = JSON.parse(await fs.readFile(join(abs, BUNDLE_RECORD), 'utf8')) as BundleRecord;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new ImageError(
        'EIMAGE_NOT_FOUND',
        `${abs} is not a bundle made by createBundle (no ${BUNDLE_RECORD})`,
      );
    }
    throw error;
  }
  if (record.overlay) {
    await (options.mounter ?? utilLinuxMounter).unmount(join(abs, 'rootfs'));
    if (record.store !== undefined) await new ImageStore(record.store).removeLease(abs);
  }
  await fs.rm(abs, { recursive: true, force: true });
}
