/**
 * Containers from image references: the bundle is made by @ts-oci/image's
 * createBundle (the same code `tsoci bundle` and `run --image` use), loaded
 * only when an image is asked for.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type {
  ConvertOptions,
  ImageProgressEvent,
  ImageStore,
  OverlayMounter,
  PlatformSelector,
  RegistryClientOptions,
} from '@ts-oci/image';
import type { Config } from '@ts-oci/spec';
import { ContainerError } from './errors.js';
import * as native from './native.js';
import type { Runtime } from './runtime.js';

/**
 * `@ts-oci/image`'s overlay mounts made in this process through the
 * runtime's addon instead of by starting mount(8)/umount(8) (≈ 5 ms less per
 * bundle). Pass it as `mounter` to createBundle and removeBundle.
 */
export function overlayMounter(): OverlayMounter {
  return {
    mount: async (spec) => {
      const { overlayOptions } = await import('@ts-oci/image');
      native.mountOverlay(overlayOptions(spec), spec.target, spec.cwd);
    },
    unmount: async (target) => {
      native.unmount(target);
    },
  };
}

/** A container from an image reference (see `ContainerSource`). */
export interface ImageContainerSource {
  id: string;
  /**
   * `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]`, `docker-archive:FILE[:NAME:TAG|:@N]`,
   * `docker://[HOST/]NAME[:TAG|@DIGEST]`, a manifest digest in the store, or
   * `NAME[:TAG]`: the image store first, then a registry (pulled into the
   * store when there is one).
   */
  image: string;
  /**
   * Merged over the image's config as `docker run` does: `args` replaces
   * Cmd, `entrypoint` the Entrypoint, `env` entries override the image's,
   * `user`, `cwd`, `hostname`, `readonlyRootfs`, `volumes`.
   */
  overrides?: Omit<ConvertOptions, 'terminal' | 'rootPath' | 'rootless'>;
  /**
   * The last word on the generated config (mounts, resources, namespaces…):
   * change it in place or return a new one. It is validated as config.json is.
   */
  configure?: (config: Config) => Config | undefined;
  /**
   * Make the bundle here and keep it when the container is deleted (it must
   * be absent or empty). Default: `<root>/@bundles/<id>.<random>`, removed
   * with the container (and when create fails).
   */
  bundle?: string;
  /** The image store (default: the Runtime's `imageStore`; none: registry images are not stored). */
  store?: string | ImageStore;
  /** Default: the host's. */
  platform?: PlatformSelector;
  /**
   * `'auto'` (default): as root, store images get an overlay rootfs of the
   * store's shared layers; otherwise the layers are unpacked into the bundle.
   */
  overlay?: boolean | 'auto';
}

/** Where `run --image` and the API put the bundles they own: no container id can contain `@`. */
export const OWNED_BUNDLES_DIR = '@bundles';

/** Options of `prepareImageBundle` that come from the container's options. */
export interface ImageBundleOptions {
  terminal: boolean;
  consoleSize?: { width: number; height: number };
  onProgress?: (event: ImageProgressEvent) => void;
  signal?: AbortSignal;
}

export interface PreparedImageBundle {
  bundle: string;
  /** The container owns the bundle: delete removes it. */
  owned: boolean;
  /** Removes the bundle when it is owned (after a failed create). */
  discard(): Promise<void>;
}

/** Makes the bundle of an image container: createBundle, then the caller's changes to config.json. */
export async function prepareImageBundle(
  rt: Runtime,
  source: ImageContainerSource,
  opts: ImageBundleOptions,
): Promise<PreparedImageBundle> {
  const id = source.id;
  native.validateId(id);
  if (typeof source.image !== 'string' || source.image === '') {
    throw new ContainerError(
      ContainerError.INVALID_PLAN,
      `container ${id}: image must be a non-empty image reference`,
      { id },
    );
  }
  // Before pulling anything: create checks again (atomically), this is the cheap early answer.
  if (existsSync(join(rt.root, id))) {
    throw new ContainerError(ContainerError.EXISTS, `container ${id} already exists`, { id });
  }
  const owned = source.bundle === undefined;
  const dir = owned
    ? join(rt.root, OWNED_BUNDLES_DIR, `${id}.${randomBytes(4).toString('hex')}`)
    : resolve(source.bundle as string);
  if (owned) mkdirSync(dirname(dir), { recursive: true, mode: 0o711 });
  const image = await import('@ts-oci/image');
  const registry: RegistryClientOptions = {
    ...rt.registry,
    ...(opts.signal ? { signal: opts.signal } : {}),
  };
  const bundle = await image.createBundle({
    image: source.image,
    dir,
    pull: true,
    registry,
    overlay: source.overlay ?? 'auto',
    ...(source.store !== undefined || rt.imageStore !== undefined
      ? { store: source.store ?? (rt.imageStore as string) }
      : {}),
    ...(source.platform ? { platform: source.platform } : {}),
    config: {
      ...source.overrides,
      terminal: opts.terminal,
      rootless: process.getuid?.() !== 0,
    },
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    mounter: overlayMounter(),
  });
  const discard = async () => {
    if (owned) await image.removeBundle(dir, { mounter: overlayMounter() });
  };
  try {
    let config = bundle.config;
    if (opts.consoleSize && config.process) config.process.consoleSize = opts.consoleSize;
    if (source.configure) config = source.configure(config) ?? config;
    if (source.configure || opts.consoleSize) {
      // config.json says what runs, also for a kept bundle.
      const temp = join(dir, `.config.json.${process.pid}`);
      writeFileSync(temp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o644 });
      renameSync(temp, join(dir, 'config.json'));
    }
    if (opts.signal?.aborted) throw opts.signal.reason;
  } catch (err) {
    await discard().catch(() => {});
    throw err;
  }
  return { bundle: dir, owned, discard };
}
