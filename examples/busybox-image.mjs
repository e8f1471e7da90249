// Shared by the examples: a one-layer OCI image layout (image-layout.md) of
// the host's static busybox, built offline with GNU tar and node:zlib, so an
// example can run "an image by reference" without a registry.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { hostPlatform } from '../packages/image/dist/index.js';
import { makeBusyboxRootfs } from './busybox-rootfs.mjs';

function blob(dir, bytes) {
  const hex = createHash('sha256').update(bytes).digest('hex');
  writeFileSync(path.join(dir, 'blobs/sha256', hex), bytes);
  return { digest: `sha256:${hex}`, size: bytes.length };
}

/**
 * Writes an OCI layout at `dir` holding one image tagged `tag`; returns its
 * reference (`oci:DIR:TAG`). `config` is the image config's `config` object
 * (Entrypoint, Cmd, Env, WorkingDir, User, Labels).
 */
export function makeBusyboxImage(dir, { tag = 'latest', config = {} } = {}) {
  const { rootfs, remove } = makeBusyboxRootfs();
  let layer;
  try {
    writeFileSync(path.join(rootfs, 'etc/motd'), 'Welcome to a busybox image made offline.\n');
    layer = execFileSync(
      'tar',
      ['-C', rootfs, '--sort=name', '--numeric-owner', '--owner=0', '--group=0', '-cf', '-', '.'],
      { maxBuffer: 1 << 30 },
    );
  } finally {
    remove();
  }
  mkdirSync(path.join(dir, 'blobs/sha256'), { recursive: true });
  writeFileSync(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const diffId = `sha256:${createHash('sha256').update(layer).digest('hex')}`;
  const layerBlob = blob(dir, gzipSync(layer));
  const imageConfig = blob(
    dir,
    Buffer.from(
      JSON.stringify({
        created: new Date().toISOString(),
        // The platform the image package selects for this host.
        ...hostPlatform(),
        config: { Env: ['PATH=/bin'], Cmd: ['sh'], ...config },
        rootfs: { type: 'layers', diff_ids: [diffId] },
        history: [{ created_by: 'examples/busybox-image.mjs' }],
      }),
    ),
  );
  const manifest = blob(
    dir,
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...imageConfig },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layerBlob }],
      }),
    ),
  );
  writeFileSync(
    path.join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          ...manifest,
          annotations: { 'org.opencontainers.image.ref.name': tag },
        },
      ],
    }),
  );
  return `oci:${dir}:${tag}`;
}
