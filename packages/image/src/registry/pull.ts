/**
 * Pulling an image from a registry into an OCI image layout directory
 * (image-layout.md): `oci-layout`, `index.json`, `blobs/<alg>/<encoded>`.
 * Blobs are downloaded with bounded concurrency and verified while they
 * stream; each lands under its final name only once verified, so an
 * interrupted or failed pull leaves no partial blob behind. Blobs already in
 * the layout are hashed and kept when they match.
 */
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Descriptor, type Index, parseIndex } from '@ts-oci/spec';
import { ByteCounter, layerPosition, type ProgressListener, resolvedEvent } from '../progress.js';
import type { PlatformSelector } from '../source.js';
import type { RegistryClient } from './client.js';
import { DigestVerifier } from './digest.js';
import { RegistryError } from './errors.js';
import { mapLimit } from './limit.js';
import { type ImageReference, toReference } from './reference.js';
import { RegistrySource } from './source.js';

const REF_NAME = 'org.opencontainers.image.ref.name';

export interface PullToOciLayoutOptions {
  /** Platform to select from an index (default: the host's). */
  platform?: PlatformSelector;
  /** `org.opencontainers.image.ref.name` in index.json (default: the reference's tag). */
  refName?: string;
  signal?: AbortSignal;
  /** Called after each blob is in place. */
  onBlob?: (descriptor: Descriptor, result: 'downloaded' | 'present') => void;
  /**
   * resolving, resolved, layer-download-start/progress/done per distinct
   * layer (`cached` when the layout had it), done (see ../progress.ts).
   */
  onProgress?: ProgressListener;
}

export interface PullToOciLayoutResult {
  reference: ImageReference;
  /** The manifest's descriptor as written to index.json. */
  descriptor: Descriptor;
  downloaded: number;
  present: number;
}

function blobPath(dir: string, digest: string): string {
  const colon = digest.indexOf(':');
  return join(dir, 'blobs', digest.slice(0, colon), digest.slice(colon + 1));
}

async function hasValidBlob(path: string, descriptor: Descriptor): Promise<boolean> {
  try {
    const st = await stat(path);
    if (!st.isFile() || st.size !== descriptor.size) return false;
    const verifier = new DigestVerifier(descriptor, path);
    for await (const chunk of createReadStream(path)) verifier.update(chunk as Buffer);
    verifier.finish();
    return true;
  } catch {
    return false;
  }
}

async function writeAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const temp = `${path}.${process.pid}.${Date.now()}.partial`;
  await writeFile(temp, bytes, { mode: 0o644 });
  await rename(temp, path);
}

/**
 * Pulls `reference` for one platform into the OCI layout at `dir` (created
 * if needed; an existing layout is added to, replacing an index.json entry of
 * the same ref name).
 */
export async function pullToOciLayout(
  client: RegistryClient,
  reference: ImageReference | string,
  dir: string,
  options: PullToOciLayoutOptions = {},
): Promise<PullToOciLayoutResult> {
  const ref = toReference(reference);
  const source = new RegistrySource(client, ref);
  const emit = options.onProgress;
  emit?.({ type: 'resolving', reference: source.reference });
  const image = await source.resolve(options.platform);
  emit?.(resolvedEvent(source.reference, image));
  await mkdir(join(dir, 'blobs'), { recursive: true });
  const algorithms = new Set(
    [image.manifestDescriptor, image.manifest.config, ...image.layers].map(
      (d) => d.digest.split(':')[0],
    ),
  );
  for (const algorithm of algorithms)
    await mkdir(join(dir, 'blobs', algorithm ?? ''), { recursive: true });

  let downloaded = 0;
  let present = 0;
  const unique = [...new Map(image.layers.map((l) => [l.digest, l])).values()];
  await mapLimit(unique, client.concurrency, async (layer) => {
    const path = blobPath(dir, layer.digest);
    const position = layerPosition(image.layers, image.layers.indexOf(layer));
    if (await hasValidBlob(path, layer)) {
      present++;
      emit?.({ type: 'layer-download-done', ...position, bytes: 0, cached: true });
      options.onBlob?.(layer, 'present');
      return;
    }
    const counter = emit ? new ByteCounter(emit, 'layer-download-progress', position) : undefined;
    emit?.({ type: 'layer-download-start', ...position });
    await client.downloadBlob(ref, layer, path, {
      ...(options.signal ? { signal: options.signal } : {}),
      ...(counter ? { onBytes: (n: number) => counter.add(n) } : {}),
    });
    downloaded++;
    emit?.({ type: 'layer-download-done', ...position, bytes: counter?.bytes ?? 0, cached: false });
    options.onBlob?.(layer, 'downloaded');
  });
  // Documents last: a layout never names a manifest whose blobs are missing.
  await writeAtomic(blobPath(dir, image.manifest.config.digest), image.configBytes);
  await writeAtomic(blobPath(dir, image.manifestDescriptor.digest), image.manifestBytes);

  const layoutFile = join(dir, 'oci-layout');
  await writeAtomic(
    layoutFile,
    Buffer.from(`${JSON.stringify({ imageLayoutVersion: '1.0.0' })}\n`),
  );
  const indexFile = join(dir, 'index.json');
  let index: Index = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [],
  };
  try {
    index = parseIndex(await readFile(indexFile), { document: indexFile });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new RegistryError(
        'EREGISTRY_MANIFEST',
        `cannot add to ${indexFile}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
  }
  const refName = options.refName ?? ref.tag;
  const descriptor: Descriptor = {
    ...image.manifestDescriptor,
    ...(refName === undefined ? {} : { annotations: { [REF_NAME]: refName } }),
  };
  const manifests = index.manifests.filter(
    (m) => refName === undefined || m.annotations?.[REF_NAME] !== refName,
  );
  manifests.push(descriptor);
  await writeAtomic(indexFile, Buffer.from(`${JSON.stringify({ ...index, manifests })}\n`));
  await source.close();
  emit?.({ type: 'done', reference: source.reference, digest: descriptor.digest });
  return { reference: ref.withDigest(descriptor.digest), descriptor, downloaded, present };
}
