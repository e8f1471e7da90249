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
import * as fs from 'node:fs/promises';
import { join, resolve as resolvePath } from 'node:path';
import type { Config } from '@ts-oci/spec';
import { type ConvertOptions, imageConfigToRuntimeConfig } from './convert.js';
import { ImageError } from './errors.js';
import { mountOverlay, unmount } from './overlay.js';
import type { ImageSource, PlatformSelector, ResolvedImage } from './source.js';
import { openImageSource } from './sources/open.js';
import { writeFileAtomic } from './store/fsutil.js';
import { ImageStore } from './store/store.js';
import type { ApplyStats } from './unpack/apply.js';
import { discardDir, prepareEmptyDir, type UnpackOptions, unpackImage } from './unpack/unpack.js';

/** The bundle's record of how it was made (read by removeBundle). */
export const BUNDLE_RECORD = '.tsoci-bundle.json';

export interface CreateBundleOptions {
  /**
   * The image: a name (or manifest digest) in `store`, an image reference
   * (`oci:DIR:TAG`, `oci-archive:…`, `docker-archive:…`, registered
   * transports) when there is no store, or an open ImageSource.
   */
  image: string | ImageSource;
  /** The store holding `image` (required for overlay mode). */
  store?: ImageStore | string;
  /** The bundle directory (created; must be absent or empty). */
  dir: string;
  /** Overlay mode (see the module comment). Default false. */
  overlay?: boolean;
  platform?: PlatformSelector;
  /** How config.json is generated (args, env, user, rootless, …). */
  config?: ConvertOptions;
  /** Copy mode: how layers are unpacked (owners, xattrs, unsafe paths). */
  unpack?: Omit<UnpackOptions, 'platform'>;
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

export async function createBundle(options: CreateBundleOptions): Promise<Bundle> {
  const dir = resolvePath(options.dir);
  const store = typeof options.store === 'string' ? new ImageStore(options.store) : options.store;
  const overlay = options.overlay === true;
  if (overlay && store === undefined) {
    throw new ImageError(
      'EIMAGE_OVERLAY',
      'overlay bundles need an image store (the layers live there)',
    );
  }
  if (overlay && typeof options.image !== 'string') {
    throw new ImageError(
      'EIMAGE_OVERLAY',
      'overlay bundles are made from an image name in the store',
    );
  }
  if (overlay && process.getuid?.() !== 0) {
    throw new ImageError(
      'EIMAGE_OVERLAY',
      'overlay bundles need root (overlay mounts, overlay whiteouts)',
    );
  }
  const created = await prepareEmptyDir(dir, 'bundle directory', 0o711);
  const rootfs = join(dir, 'rootfs');
  let mounted = false;
  let leased = false;
  try {
    let image: ResolvedImage;
    let layers: (ApplyStats | undefined)[];
    let record: BundleRecord;
    if (overlay) {
      const s = store as ImageStore;
      image = await s.resolve(options.image as string, options.platform);
      const unpacked = await s.unpackLayers(image, { name: options.image as string });
      const upper = join(dir, 'overlay', 'upper');
      const work = join(dir, 'overlay', 'work');
      await fs.mkdir(upper, { recursive: true, mode: 0o755 });
      await fs.mkdir(work, { mode: 0o700 });
      await fs.mkdir(rootfs, { mode: 0o755 });
      await s.addLease(dir, unpacked.chainIds);
      leased = true;
      await mountOverlay({
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
      let from: ImageStore | ImageSource;
      let close: (() => Promise<void>) | undefined;
      if (store !== undefined && typeof options.image === 'string') from = store;
      else if (typeof options.image === 'string') {
        const source = await openImageSource(options.image);
        from = source;
        close = () => source.close();
      } else from = options.image;
      try {
        const result = await unpackImage(
          from,
          typeof options.image === 'string' ? options.image : undefined,
          rootfs,
          { ...options.unpack, ...(options.platform ? { platform: options.platform } : {}) },
        );
        image = result.image;
        layers = result.layers;
      } finally {
        await close?.();
      }
      record = { overlay: false, manifest: image.manifestDescriptor.digest };
      if (store !== undefined) record.store = store.dir;
    }
    const config = imageConfigToRuntimeConfig(image.config, rootfs, options.config);
    await writeFileAtomic(join(dir, BUNDLE_RECORD), `${JSON.stringify(record)}\n`);
    await writeFileAtomic(join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
    return { dir, rootfs, config, image, overlay, layers };
  } catch (error) {
    if (mounted) await unmount(rootfs).catch(() => {});
    if (leased) await (store as ImageStore).removeLease(dir).catch(() => {});
    await discardDir(dir, created).catch(() => {});
    throw error;
  }
}

/**
 * Removes a bundle made by createBundle: unmounts an overlay rootfs, drops
 * its lease in the store, deletes the directory. Refuses directories that
 * createBundle did not make.
 */
export async function removeBundle(dir: string): Promise<void> {
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
    await unmount(join(abs, 'rootfs'));
    if (record.store !== undefined) await new ImageStore(record.store).removeLease(abs);
  }
  await fs.rm(abs, { recursive: true, force: true });
}
