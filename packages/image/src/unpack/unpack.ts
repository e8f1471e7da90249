/**
 * Unpacking a whole image into a root filesystem directory: every layer in
 * order, verified as it streams (blob digest, size and DiffID). The rootfs
 * must be absent or empty; if anything fails, what was unpacked is removed
 * again, so there is never a half rootfs.
 */
import { lstatSync, mkdirSync, readdirSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { join, resolve as resolvePath } from 'node:path';
import type { Descriptor } from '@ts-oci/spec';
import { ImageError } from '../errors.js';
import { ByteCounter, layerPosition, type ProgressListener, resolvedEvent } from '../progress.js';
import {
  hasLocalBlobs,
  type ImageSource,
  type PlatformSelector,
  type ResolvedImage,
} from '../source.js';
import type { ImageStore } from '../store/store.js';
import type { ApplyOptions, ApplyStats } from './apply.js';
import { applyLayerBlob, type BlobInput } from './layer.js';

export interface UnpackOptions extends Omit<ApplyOptions, 'mode' | 'lowerDirs'> {
  platform?: PlatformSelector;
  /** resolving, resolved, layer-unpack-start/progress/done per layer, done (see progress.ts). */
  onProgress?: ProgressListener;
}

export interface UnpackResult {
  image: ResolvedImage;
  rootfs: string;
  /** Per layer, base first. */
  layers: ApplyStats[];
}

/** Makes `dir` an empty directory; returns whether we created it. EIMAGE_EXISTS if it has content. */
export async function prepareEmptyDir(dir: string, what: string, mode = 0o755): Promise<boolean> {
  // Synchronous: three short calls, cheaper than thread-pool round trips.
  try {
    mkdirSync(dir, { mode });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const st = lstatSync(dir);
  if (!st.isDirectory())
    throw new ImageError('EIMAGE_EXISTS', `${what} ${dir} exists and is not a directory`);
  if (readdirSync(dir).length > 0)
    throw new ImageError('EIMAGE_EXISTS', `${what} ${dir} is not empty`);
  return false;
}

/** Removes `dir` (if we created it) or its content (if it was there before). */
export async function discardDir(dir: string, created: boolean): Promise<void> {
  if (created) {
    await fs.rm(dir, { recursive: true, force: true });
    return;
  }
  for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
    await fs.rm(join(dir, name), { recursive: true, force: true });
  }
}

function isStore(from: ImageStore | ImageSource): from is ImageStore {
  return typeof (from as ImageStore).unpackLayers === 'function';
}

/**
 * Unpacks an image from a store (by name) or straight from a source into
 * `rootfs`. Owners are set only when running as root (see ApplyOptions).
 */
export async function unpackImage(
  from: ImageStore | ImageSource,
  name: string | undefined,
  rootfs: string,
  options: UnpackOptions = {},
): Promise<UnpackResult> {
  let image: ResolvedImage;
  let open: (d: Descriptor) => Promise<BlobInput>;
  let where: string;
  const emit = options.onProgress;
  if (isStore(from)) {
    if (name === undefined)
      throw new ImageError('EIMAGE_REFERENCE', 'unpacking from a store needs an image name');
    emit?.({ type: 'resolving', reference: name });
    image = await from.resolve(name, options.platform);
    emit?.(resolvedEvent(name, image));
    open = async (d) => (await from.blobFile(d)) ?? (await from.openBlob(d));
    where = `${from.dir} (${name})`;
  } else {
    emit?.({ type: 'resolving', reference: from.reference });
    image = await from.resolve(options.platform);
    emit?.(resolvedEvent(from.reference, image));
    const local = hasLocalBlobs(from) ? from : undefined;
    open = async (d) =>
      (local !== undefined ? await local.blobFile(d) : undefined) ?? (await from.openBlob(d));
    where = from.reference;
  }
  const target = resolvePath(rootfs);
  const created = await prepareEmptyDir(target, 'rootfs');
  const { platform: _platform, onProgress: _onProgress, ...apply } = options;
  const layers: ApplyStats[] = [];
  try {
    for (const [i, layer] of image.layers.entries()) {
      const what = `${where}: layer ${i} (${layer.digest})`;
      const position = layerPosition(image.layers, i);
      const counter = emit ? new ByteCounter(emit, 'layer-unpack-progress', position) : undefined;
      emit?.({ type: 'layer-unpack-start', ...position });
      const stats = await applyLayerBlob(
        await open(layer),
        layer,
        image.config.rootfs.diff_ids[i],
        target,
        { ...apply, mode: 'rootfs' },
        what,
        counter,
      );
      layers.push(stats);
      emit?.({
        type: 'layer-unpack-done',
        ...position,
        bytes: counter?.bytes ?? layer.size,
        cached: false,
        stats,
      });
    }
  } catch (error) {
    await discardDir(target, created);
    throw error;
  }
  emit?.({
    type: 'done',
    reference: isStore(from) ? (name as string) : from.reference,
    digest: image.manifestDescriptor.digest,
  });
  return { image, rootfs: target, layers };
}
