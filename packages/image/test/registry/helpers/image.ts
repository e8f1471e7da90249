/**
 * Test images built at test time: ustar layers (written here, no tar tool),
 * gzip-compressed, an image config with the layers' diff_ids, and an OCI or
 * Docker schema 2 manifest; plus indexes over several of them.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { Descriptor } from '@ts-oci/spec';

export const sha256 = (bytes: Uint8Array): string =>
  `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

export interface TarEntry {
  path: string;
  type?: 'file' | 'dir' | 'symlink';
  mode?: number;
  content?: Uint8Array;
  target?: string;
}

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

function tarHeader(entry: TarEntry, size: number): Buffer {
  const h = Buffer.alloc(512);
  h.write(entry.path, 0, 100, 'utf8');
  const type = entry.type ?? 'file';
  h.write(octal(entry.mode ?? (type === 'dir' ? 0o755 : 0o644), 8), 100, 'ascii');
  h.write(octal(0, 8), 108, 'ascii');
  h.write(octal(0, 8), 116, 'ascii');
  h.write(octal(size, 12), 124, 'ascii');
  h.write(octal(1_700_000_000, 12), 136, 'ascii');
  h.write('        ', 148, 'ascii');
  h.write(type === 'dir' ? '5' : type === 'symlink' ? '2' : '0', 156, 'ascii');
  if (entry.target) h.write(entry.target, 157, 100, 'utf8');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  h.write('root', 265, 'ascii');
  h.write('root', 297, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return h;
}

export function makeTar(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const content =
      entry.type === 'file' || entry.type === undefined
        ? (entry.content ?? new Uint8Array())
        : new Uint8Array();
    parts.push(tarHeader(entry, content.length));
    parts.push(Buffer.from(content));
    const pad = (512 - (content.length % 512)) % 512;
    parts.push(Buffer.alloc(pad));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export interface BuiltImage {
  mediaType: string;
  manifest: Buffer;
  descriptor: Descriptor;
  config: Buffer;
  configDescriptor: Descriptor;
  layers: { descriptor: Descriptor; bytes: Buffer; diffId: string }[];
  /** Every blob by digest (config and layers). */
  blobs: Map<string, Buffer>;
}

export interface ImageOptions {
  architecture?: string;
  os?: string;
  variant?: string;
  format?: 'oci' | 'docker';
  /** Layers as tar entries (default: one layer with /bin/busybox and /bin/sh). */
  layers?: TarEntry[][];
  /** Pre-built compressed layers (bytes used as is, gzip assumed). */
  rawLayers?: Buffer[];
  /** Extra bytes in the config (to make images differ). */
  label?: string;
}

export function busyboxLayer(): TarEntry[] {
  return [
    { path: 'bin/', type: 'dir' },
    { path: 'bin/busybox', mode: 0o755, content: readFileSync('/bin/busybox') },
    { path: 'bin/sh', type: 'symlink', target: 'busybox' },
  ];
}

export function buildImage(options: ImageOptions = {}): BuiltImage {
  const oci = (options.format ?? 'oci') === 'oci';
  const layerType = oci
    ? 'application/vnd.oci.image.layer.v1.tar+gzip'
    : 'application/vnd.docker.image.rootfs.diff.tar.gzip';
  const layers = (options.rawLayers ?? []).map((bytes) => ({
    bytes,
    diffId: sha256(gunzipSync(bytes)),
  }));
  for (const entries of options.rawLayers ? [] : (options.layers ?? [busyboxLayer()])) {
    const tar = makeTar(entries);
    layers.push({ bytes: gzipSync(tar, { level: 1 }), diffId: sha256(tar) });
  }
  const config = Buffer.from(
    JSON.stringify({
      architecture: options.architecture ?? 'amd64',
      os: options.os ?? 'linux',
      ...(options.variant ? { variant: options.variant } : {}),
      config: { Cmd: ['/bin/sh'], Labels: { 'test.label': options.label ?? 'tsoci' } },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      history: layers.map(() => ({ created_by: 'tsoci test' })),
    }),
  );
  const configDescriptor: Descriptor = {
    mediaType: oci
      ? 'application/vnd.oci.image.config.v1+json'
      : 'application/vnd.docker.container.image.v1+json',
    digest: sha256(config),
    size: config.length,
  };
  const layerDescriptors = layers.map((l) => ({
    descriptor: {
      mediaType: layerType,
      digest: sha256(l.bytes),
      size: l.bytes.length,
    } as Descriptor,
    bytes: l.bytes,
    diffId: l.diffId,
  }));
  const mediaType = oci
    ? 'application/vnd.oci.image.manifest.v1+json'
    : 'application/vnd.docker.distribution.manifest.v2+json';
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      config: configDescriptor,
      layers: layerDescriptors.map((l) => l.descriptor),
    }),
  );
  const blobs = new Map<string, Buffer>([[configDescriptor.digest, config]]);
  for (const l of layerDescriptors) blobs.set(l.descriptor.digest, l.bytes);
  return {
    mediaType,
    manifest,
    descriptor: { mediaType, digest: sha256(manifest), size: manifest.length },
    config,
    configDescriptor,
    layers: layerDescriptors,
    blobs,
  };
}

export interface BuiltIndex {
  mediaType: string;
  bytes: Buffer;
  descriptor: Descriptor;
  images: BuiltImage[];
}

export function buildIndex(images: BuiltImage[], format: 'oci' | 'docker' = 'oci'): BuiltIndex {
  const mediaType =
    format === 'oci'
      ? 'application/vnd.oci.image.index.v1+json'
      : 'application/vnd.docker.distribution.manifest.list.v2+json';
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      manifests: images.map((image) => {
        const config = JSON.parse(image.config.toString()) as {
          architecture: string;
          os: string;
          variant?: string;
        };
        return {
          ...image.descriptor,
          platform: {
            architecture: config.architecture,
            os: config.os,
            ...(config.variant ? { variant: config.variant } : {}),
          },
        };
      }),
    }),
  );
  return {
    mediaType,
    bytes,
    descriptor: { mediaType, digest: sha256(bytes), size: bytes.length },
    images,
  };
}

/** A PushSource over built images (blobs and child manifests from memory). */
export function pushSourceOf(root: BuiltImage | BuiltIndex) {
  const all = new Map<string, Buffer>();
  const images = 'images' in root ? root.images : [root];
  for (const image of images) {
    for (const [d, b] of image.blobs) all.set(d, b);
    all.set(image.descriptor.digest, image.manifest);
  }
  return {
    manifest: { bytes: 'images' in root ? root.bytes : root.manifest, mediaType: root.mediaType },
    openBlob: (descriptor: Descriptor) => {
      const bytes = all.get(descriptor.digest);
      if (bytes === undefined) throw new Error(`test image has no blob ${descriptor.digest}`);
      return bytes;
    },
  };
}
