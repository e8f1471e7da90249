/**
 * The metadata files of a `docker save` archive (Docker image spec v1.2
 * layout): `manifest.json` and the legacy `repositories`. Neither has an
 * official JSON schema; the shapes follow what docker writes.
 */

import { show } from '../internal/show.js';
import * as z from '../internal/z.js';
import { mapOf, stringMap } from '../internal/zod.js';
import { DescriptorSchema } from './descriptor.js';

/**
 * A file inside the archive. Checked here so that a hostile manifest.json is
 * refused up front; readers must still resolve these paths safely.
 */
const ArchivePathSchema = z.string().check((ctx) => {
  const v = ctx.value;
  if (v === '' || v.startsWith('/') || v.split('/').includes('..')) {
    ctx.issues.push({
      code: 'custom',
      input: v,
      message: `expected a relative path inside the archive, got ${show(v)}`,
    });
  }
});

export const DockerArchiveManifestEntrySchema = z.looseObject({
  Config: ArchivePathSchema,
  // docker writes null for an image saved by id (no tags).
  RepoTags: z.array(z.string()).nullish(),
  // ... and null for an image without layers.
  Layers: z.array(ArchivePathSchema).nullable(),
  Parent: z.string().optional(),
  /** Descriptors of foreign (non-distributable) layers, keyed by DiffID. */
  LayerSources: mapOf(DescriptorSchema).optional(),
});
export type DockerArchiveManifestEntry = z.output<typeof DockerArchiveManifestEntrySchema>;

export const DockerArchiveManifestSchema = z.array(DockerArchiveManifestEntrySchema);

/** The `manifest.json` of a `docker save` archive: one entry per saved image. */
export type DockerArchiveManifest = z.output<typeof DockerArchiveManifestSchema>;

export const DockerRepositoriesSchema = mapOf(stringMap());

/** The legacy `repositories` file: repository name → tag → top layer id. */
export type DockerRepositories = z.output<typeof DockerRepositoriesSchema>;
